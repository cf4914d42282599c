import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base'
import { estimateTokens } from '../../src/llm/tokens.js'

// Accuracy regression guard against gpt-tokenizer's o200k on bench/fixtures (bench/tokens.bench.ts
// reports the full table). Issue 4's floor is 15% mean absolute error overall.
const fixtures: Record<string, string[]> = {
  prose: ['prose-en', 'prose-md'],
  code: ['code-ts', 'code-py'],
  json: ['data-json', 'data-json-compact'],
  cjk: ['cjk-zh', 'cjk-ja'],
}
const paragraphs = (text: string) => text.split(/\n\s*\n/).filter((p) => p.trim().length >= 200)

describe('estimateTokens accuracy against o200k', () => {
  const all: number[] = []
  for (const [category, files] of Object.entries(fixtures)) {
    it(`is within 12% on ${category} and beats chars / 4`, () => {
      const ours: number[] = []
      const quarter: number[] = []
      for (const f of files) {
        const text = readFileSync(new URL(`../../bench/fixtures/${f}.txt`, import.meta.url), 'utf8')
        for (const p of [text, ...paragraphs(text)]) {
          const truth = countTokens(p)
          ours.push(Math.abs(estimateTokens(p) - truth) / truth)
          quarter.push(Math.abs(Math.ceil(p.length / 4) - truth) / truth)
        }
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
      all.push(...ours)
      expect(mean(ours)).toBeLessThan(0.12)
      expect(mean(ours)).toBeLessThan(mean(quarter))
    })
  }
  it('is within 8% overall (issue floor: 15%)', () => {
    expect(all.reduce((a, b) => a + b, 0) / all.length).toBeLessThan(0.08)
  })
})
