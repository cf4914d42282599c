import { describe, expect, it } from 'vitest'
import { PRICES_READ_ON, builtinModels, inferProvider } from '../../src/llm/models.js'
import { Router } from '../../src/llm/router.js'

describe('builtinModels', () => {
  it('holds the four models of the spec table as documented', () => {
    const byId = new Map(builtinModels().map((m) => [m.id, m]))
    expect(byId.get('gpt-4')).toMatchObject({ provider: 'openai', contextWindow: 8192, quality: 0.95, speed: 0.6 })
    expect(byId.get('gpt-3.5-turbo')).toMatchObject({ provider: 'openai', contextWindow: 4096, quality: 0.75, speed: 0.9 })
    expect(byId.get('claude-3-opus')).toMatchObject({ provider: 'anthropic', contextWindow: 4096, quality: 0.95, speed: 0.7 })
    expect(byId.get('claude-3-sonnet')).toMatchObject({ provider: 'anthropic', contextWindow: 4096, quality: 0.85, speed: 0.85 })
    const price = (id: string) => [byId.get(id)!.inputPricePer1K, byId.get(id)!.outputPricePer1K]
    expect(price('gpt-4')).toEqual([0.03, 0.06])
    expect(price('gpt-3.5-turbo')[0]).toBeCloseTo(0.0015, 10)
    expect(price('gpt-3.5-turbo')[1]).toBeCloseTo(0.002, 10)
    expect(price('claude-3-opus')).toEqual([0.015, 0.075])
    expect(price('claude-3-sonnet')).toEqual([0.003, 0.015])
  })
  it('holds current models of OpenAI, Anthropic and Google with per-1K prices', () => {
    const models = builtinModels()
    for (const p of ['openai', 'anthropic', 'gemini']) expect(models.filter((m) => m.provider === p).length).toBeGreaterThanOrEqual(3)
    const gpt4o = models.find((m) => m.id === 'gpt-4o')!
    expect(gpt4o.inputPricePer1K).toBeCloseTo(0.0025, 12) // $2.50 per 1M
    expect(gpt4o.outputPricePer1K).toBeCloseTo(0.01, 12)
    expect(models.find((m) => m.id === 'claude-sonnet-4-5')).toMatchObject({ provider: 'anthropic', contextWindow: 200000 })
    expect(models.find((m) => m.id === 'gemini-2.5-flash')).toMatchObject({ provider: 'gemini' })
  })
  it('has unique ids and specs that pass the router validation', () => {
    const ids = builtinModels().map((m) => m.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(() => new Router(builtinModels())).not.toThrow()
    for (const m of builtinModels()) {
      expect(m.maxOutput).toBeLessThanOrEqual(m.contextWindow)
      expect(m.outputPricePer1K).toBeGreaterThanOrEqual(m.inputPricePer1K)
    }
  })
  it('returns new objects on each call', () => {
    const a = builtinModels()
    a[0]!.quality = 0
    expect(builtinModels()[0]!.quality).not.toBe(0)
  })
  it('records the date the prices were read', () => {
    expect(PRICES_READ_ON).toMatch(/^\d{4}-\d{2}-\d{2}$/)
  })
})

describe('inferProvider', () => {
  it.each([
    ['gpt-4', 'openai'],
    ['gpt-4o-2024-11-20', 'openai'],
    ['chatgpt-4o-latest', 'openai'],
    ['o1', 'openai'],
    ['o1-mini', 'openai'],
    ['o3-pro', 'openai'],
    ['o4-mini-2025-04-16', 'openai'],
    ['claude-3-opus', 'anthropic'],
    ['claude-3-5-sonnet-latest', 'anthropic'],
    ['gemini-2.5-pro', 'gemini'],
    ['gemini-3-pro-preview', 'gemini'],
  ])('%s → %s', (model, provider) => {
    expect(inferProvider(model)).toBe(provider)
  })
  it.each([['llama3.1:8b'], ['mistral-large'], ['o10'], ['omni-moderation-latest'], ['GPT-4'], ['']])('%j → undefined', (model) => {
    expect(inferProvider(model)).toBeUndefined()
  })
})
