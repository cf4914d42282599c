import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { countInputTokens, estimateTokens } from '../../src/llm/tokens.js'
import { ValidationError } from '../../src/errors.js'

describe('estimateTokens', () => {
  it('is 0 for the empty string and at least 1 for anything else', () => {
    expect(estimateTokens('')).toBe(0)
    expect(estimateTokens(' ')).toBe(1)
    expect(estimateTokens('a')).toBe(1)
    expect(estimateTokens('\n')).toBe(1)
  })
  // Expected values are o200k's counts (gpt-tokenizer), which the estimate should land near.
  it.each([
    ['hello', 1],
    ['Hello, world!', 4],
    ['The quick brown fox jumps over the lazy dog.', 10],
    ['const refillPerSecond = options.refillPerSecond ?? 10', 13],
    ['{"id":48213,"name":"Jonas Weber","active":true}', 16],
    ['老城区的南门外有一家开了三十多年的面馆', 16],
    ['駅から歩いて十五分ほどのところに、小さな古本屋がある。', 19],
  ])('estimates %j near o200k (%i tokens)', (text, o200k) => {
    const est = estimateTokens(text)
    expect(Math.abs(est - o200k)).toBeLessThanOrEqual(Math.max(2, o200k * 0.25))
  })
  it('counts CJK far above chars / 4', () => {
    const zh = '近年来，随着大语言模型的普及，越来越多的开发者开始关注如何在有限的上下文窗口内组织输入信息。'
    expect(estimateTokens(zh)).toBeGreaterThan(zh.length * 0.6)
  })
  it('splits camelCase and ALLCAPS like o200k does', () => {
    // One piece per word: refill|Per|Second (o200k then splits `refill` once more: 4 tokens).
    expect(estimateTokens('refillPerSecond')).toBe(3)
    expect(estimateTokens('HTTPSERVERCONFIGURATION')).toBeGreaterThan(estimateTokens('httpserverconfiguration'))
  })
  it('counts digits in groups of three', () => {
    expect(estimateTokens('123')).toBe(1)
    expect(estimateTokens('123456789')).toBe(3)
  })
  it('treats an emoji as one character, not two halves', () => {
    expect(estimateTokens('🎉')).toBe(2)
    expect(estimateTokens('\ud83c')).toBe(2) // a lone high surrogate does not throw
    expect(estimateTokens('\udf89')).toBe(1) // nor a lone low one
  })
  it('grows with the text and is additive within a few tokens', () => {
    const a = 'The lighthouse on the northern point had been automated for eleven years. '
    expect(estimateTokens(a + a)).toBeGreaterThan(estimateTokens(a))
    expect(Math.abs(estimateTokens(a.repeat(100)) - 100 * estimateTokens(a))).toBeLessThanOrEqual(100)
  })
  it('handles a 1 MB text', () => {
    const big = 'word '.repeat(200_000)
    expect(estimateTokens(big)).toBeGreaterThan(150_000)
    expect(estimateTokens(big)).toBeLessThan(250_000)
  })
  it('never returns a negative, fractional or non-finite count (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const n = estimateTokens(s)
        expect(Number.isInteger(n)).toBe(true)
        expect(n).toBeGreaterThanOrEqual(s.length ? 1 : 0)
        expect(n).toBeLessThanOrEqual(Math.max(1, 2 * s.length))
      }),
    )
  })
  it.each([[undefined], [null], [42], [{ text: 'x' }]])('refuses %j with a ValidationError at text', (bad) => {
    expect(() => estimateTokens(bad as unknown as string)).toThrow(ValidationError)
    expect(() => estimateTokens(bad as unknown as string)).toThrow(/^text: /)
  })
})

describe('countInputTokens', () => {
  it('counts a string as it is', () => {
    expect(countInputTokens('Hello, world!')).toBe(estimateTokens('Hello, world!'))
  })
  it('counts an object as its compact JSON, never as [object Object]', () => {
    const seen: string[] = []
    const n = countInputTokens({ title: 'Book 1' }, (t) => (seen.push(t), t.length))
    expect(seen).toEqual(['{"title":"Book 1"}'])
    expect(n).toBe(18)
    expect(countInputTokens({ title: 'Book 1' })).toBe(estimateTokens('{"title":"Book 1"}'))
  })
  it('uses a pluggable exact counter', () => {
    expect(countInputTokens([1, 2, 3], () => 7)).toBe(7)
  })
  it('refuses data that is not JSON', () => {
    expect(() => countInputTokens(undefined as never)).toThrow(ValidationError)
  })
})
