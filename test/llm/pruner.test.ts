import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MIN_TRUNCATE_TOKENS, Pruner, pruneInputs, truncateText } from '../../src/llm/pruner.js'
import { countInputTokens, estimateTokens } from '../../src/llm/tokens.js'
import { ValidationError } from '../../src/errors.js'
import type { ContextInput } from '../../src/llm/types.js'
import type { Json } from '../../src/state/json.js'

const input = (data: Json, relevance = 1, tokens = countInputTokens(data)): ContextInput => ({ data, relevance, tokens })
const sum = (xs: ContextInput[]) => xs.reduce((a, x) => a + x.tokens, 0)
const prose =
  'The lighthouse on the northern point had been automated for eleven years when Mara arrived with two suitcases ' +
  'and a letter from the county historical society. Nobody had told her that the cottage still had no heating ' +
  'beyond a cast-iron stove, or that the road out to the point flooded twice a day at high tide. She learned both ' +
  'facts within her first afternoon, standing at the edge of the causeway with salt water lapping at her boots.'

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

describe('pruneInputs', () => {
  it('drops inputs below the threshold and orders the rest by relevance', () => {
    const out = pruneInputs([input('low', 0.2), input('high', 0.9), input('mid', 0.5)], undefined, 0.3)
    expect(out.map((x) => x.data)).toEqual(['high', 'mid'])
  })
  it('keeps the original order of equal relevances', () => {
    const out = pruneInputs([input('a', 0.5), input('b', 0.7), input('c', 0.5), input('d', 0.7), input('e', 0.5)])
    expect(out.map((x) => x.data)).toEqual(['b', 'd', 'a', 'c', 'e'])
  })
  it('orders special relevances exactly: -0 and 0 tie, subnormals sort above 0', () => {
    const rs = [0, 1, -0, 5e-324, 0.3, 0.1 + 0.2, 1, 2.2250738585072014e-308, 0.3, -0, 0.9999999999999999]
    const out = pruneInputs(rs.map((r, i) => input(`#${i}`, r, 1)))
    expect(out.map((x) => x.data)).toEqual(['#1', '#6', '#10', '#5', '#4', '#8', '#7', '#3', '#0', '#2', '#9'])
  })
  it('orders 5,000 inputs like a stable sort does', () => {
    let seed = 7
    const rand = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646
    const xs = Array.from({ length: 5000 }, (_, i) => input(i, i % 3 ? rand() : Math.round(rand() * 4) / 4, 1))
    const expected = xs
      .map((x, i) => ({ x, i }))
      .sort((a, b) => b.x.relevance - a.x.relevance || a.i - b.i)
      .map(({ x }) => x.data)
    expect(pruneInputs(xs).map((x) => x.data)).toEqual(expected)
  })
  it('keeps the threshold itself (>=)', () => {
    expect(pruneInputs([input('x', 0.5)], undefined, 0.5)).toHaveLength(1)
  })
  it('keeps scanning after an input that does not fit (the original stopped there)', () => {
    const big = input({ rows: 'x'.repeat(400) }, 0.9, 120)
    const small = input({ id: 1 }, 0.4, 10)
    const out = pruneInputs([big, small], 50)
    expect(out).toEqual([small])
  })
  it('keeps everything when maxTokens is undefined or Infinity', () => {
    const xs = [input('a', 0.1, 1e6), input({ b: 1 }, 0.2, 1e6)]
    expect(pruneInputs(xs)).toHaveLength(2)
    expect(pruneInputs(xs, Infinity)).toHaveLength(2)
  })
  it('keeps only zero-token inputs when maxTokens is 0', () => {
    expect(pruneInputs([input('a', 1, 0), input('b', 1, 3)], 0).map((x) => x.data)).toEqual(['a'])
  })
  it('accepts an empty list', () => {
    expect(pruneInputs([], 100)).toEqual([])
  })
  it('truncates a text at a word boundary with an ellipsis to fill the budget', () => {
    const text = prose.repeat(4)
    const [out] = pruneInputs([input(text, 1)], 60)
    expect(out).toBeDefined()
    const data = out!.data as string
    expect(data.endsWith('…')).toBe(true)
    expect(out!.tokens).toBe(estimateTokens(data))
    expect(out!.tokens).toBeLessThanOrEqual(60)
    expect(out!.tokens).toBeGreaterThan(60 * 0.75) // fills most of the budget
    const head = data.slice(0, -1)
    expect(text.startsWith(head)).toBe(true)
    expect(/\s/.test(text[head.length]!)).toBe(true) // the next char was whitespace: a word boundary
    expect(/\S$/.test(head)).toBe(true)
  })
  it('does not truncate when less than MIN_TRUNCATE_TOKENS remain', () => {
    expect(MIN_TRUNCATE_TOKENS).toBe(32)
    const out = pruneInputs([input({ id: 1 }, 1, 80), input(prose, 0.5)], 80 + MIN_TRUNCATE_TOKENS - 1)
    expect(out.map((x) => x.data)).toEqual([{ id: 1 }])
    const out2 = pruneInputs([input({ id: 1 }, 1, 80), input(prose, 0.5)], 80 + MIN_TRUNCATE_TOKENS)
    expect(out2).toHaveLength(2)
    expect((out2[1]!.data as string).endsWith('…')).toBe(true)
  })
  it('keeps scanning after a truncation: a later input that fits the rest is kept', () => {
    const zero = input({ flag: true }, 0.1, 0)
    const out = pruneInputs([input(prose.repeat(3), 0.9), zero], 50)
    expect(out).toHaveLength(2)
    expect(out[1]).toEqual(zero)
  })
  it('never cuts an object or an array', () => {
    const obj = input({ text: prose }, 1)
    const arr = input([prose, prose], 1)
    expect(pruneInputs([obj, arr], 50)).toEqual([])
  })
  it('does not touch the given inputs and returns new objects', () => {
    const xs = deepFreeze([input({ a: [1, 2] }, 0.3), input(prose.repeat(3), 0.8)])
    const copy = structuredClone(xs)
    const out = pruneInputs(xs, 60)
    expect(xs).toEqual(copy)
    expect(out[0]).not.toBe(xs[1])
    expect(out.every((o) => !xs.includes(o))).toBe(true)
  })
  it.each([
    [-1, 'maxTokens'],
    [NaN, 'maxTokens'],
    ['10', 'maxTokens'],
  ])('refuses maxTokens %j', (maxTokens, path) => {
    expectError(() => pruneInputs([], maxTokens as number), path)
  })
  it.each([[-0.1], [1.5], [NaN], ['0.5'], [null]])('refuses relevanceThreshold %j', (t) => {
    expectError(() => pruneInputs([], 10, t as number), 'relevanceThreshold')
  })
  it('refuses bad inputs, naming the one at fault', () => {
    expectError(() => pruneInputs('nope' as never), 'inputs')
    expectError(() => pruneInputs([input('a'), { data: 'b', relevance: 'high', tokens: 1 } as never]), 'inputs[1].relevance')
    expectError(() => pruneInputs([input('a', 2)]), 'inputs[0].relevance')
    expectError(() => pruneInputs([{ data: 'a', relevance: 1, tokens: -1 }]), 'inputs[0].tokens')
    expectError(() => pruneInputs([{ data: 'a', relevance: 1, tokens: Infinity }]), 'inputs[0].tokens')
    expectError(() => pruneInputs([null as never]), 'inputs[0].relevance')
    expectError(() => pruneInputs([], 1, 0, 'count' as never), 'counter')
  })
})

function expectError(fn: () => unknown, path: string) {
  try {
    fn()
    expect.unreachable('should have thrown')
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError)
    expect((e as ValidationError).path).toBe(path)
    expect((e as ValidationError).code).toBe('invalid_argument')
    expect((e as Error).message.startsWith(`${path}: `)).toBe(true)
  }
}

describe('truncateText', () => {
  it('cuts CJK text (no spaces) at a character', () => {
    const zh = '老城区的南门外有一家开了三十多年的面馆，门口没有招牌，只有一块被油烟熏黑的木板。'.repeat(10)
    const cut = truncateText(zh, 40)
    expect(cut.endsWith('…')).toBe(true)
    expect(estimateTokens(cut)).toBeLessThanOrEqual(40)
    expect(zh.startsWith(cut.slice(0, -1))).toBe(true)
    expect(cut.length).toBeGreaterThan(30)
  })
  it('never splits an emoji', () => {
    const text = '🎉'.repeat(100)
    for (const budget of [5, 6, 7, 33]) {
      const cut = truncateText(text, budget)
      expect(cut.slice(0, -1)).toBe('🎉'.repeat((cut.length - 1) / 2))
      expect(estimateTokens(cut)).toBeLessThanOrEqual(budget)
    }
  })
  it('cuts a long text to a small budget', () => {
    const long = prose.repeat(300) // ~120 K characters
    const cut = truncateText(long, 40)
    expect(estimateTokens(cut)).toBeLessThanOrEqual(40)
    expect(estimateTokens(cut)).toBeGreaterThan(30)
    expect(long.startsWith(cut.slice(0, -1))).toBe(true)
  })
  it('returns an empty string when nothing fits', () => {
    expect(truncateText(prose, 0)).toBe('')
    expect(truncateText('supercalifragilisticexpialidocious', 1)).toBe('')
  })
  it('refuses a text that is not a string and a bad budget', () => {
    expectError(() => truncateText(42 as never, 10), 'text')
    expectError(() => truncateText('abc', -1), 'budget')
    expectError(() => truncateText('abc', NaN), 'budget')
  })
  it('uses the counter it is given', () => {
    const chars = (s: string) => s.length
    const cut = truncateText(prose, 50, chars)
    expect(cut.length).toBeLessThanOrEqual(50)
    expect(cut.length).toBeGreaterThan(40)
  })
})

describe('Pruner', () => {
  it('prunes like pruneInputs with the default estimator', () => {
    const xs = [input(prose.repeat(2), 0.6), input({ id: 2 }, 0.9), input('short note', 0.1)]
    expect(new Pruner().prune(xs, 70, 0.05)).toEqual(pruneInputs(xs, 70, 0.05))
  })
  it('counts truncated text with its own counter', () => {
    const chars = (s: string) => s.length
    const pruner = new Pruner(chars)
    expect(pruner.counter).toBe(chars)
    const [out] = pruner.prune([input(prose, 1, prose.length)], 100)
    expect(out!.tokens).toBe((out!.data as string).length)
    expect(out!.tokens).toBeLessThanOrEqual(100)
  })
  it('refuses a counter that is not a function', () => {
    expectError(() => new Pruner(42 as never), 'counter')
  })
})

// Inputs for the property tests: texts and objects, with relevances drawn from a few values so that
// ties are common, and token counts either counted or arbitrary (a caller may give its own).
const words = fc.array(fc.constantFrom('the', 'lighthouse', 'keeper', 'wrote', 'letters', '面馆', 'ok.', '\n', '🎉', 'x'), { maxLength: 120 })
const data: fc.Arbitrary<Json> = fc.oneof(
  words.map((w) => w.join(' ')),
  fc.record({ id: fc.nat(), tags: fc.array(fc.string(), { maxLength: 4 }) }),
  fc.array(fc.integer(), { maxLength: 10 }),
)
const anInput = fc
  .record({
    data,
    relevance: fc.oneof(fc.constantFrom(0, 0.25, 0.5, 0.75, 1), fc.double({ min: 0, max: 1, noNaN: true })),
    given: fc.option(fc.nat(300), { nil: undefined }),
  })
  .map(({ data, relevance, given }): ContextInput => ({ data, relevance, tokens: given ?? countInputTokens(data) }))
const args = fc.record({
  inputs: fc.array(anInput, { maxLength: 30 }),
  maxTokens: fc.option(fc.oneof(fc.nat(60), fc.integer({ min: 32, max: 250 }), fc.nat(1500)), { nil: undefined }),
  threshold: fc.oneof(fc.constantFrom(0, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true })),
})

/** The relevance-ordered candidates, and for each output the index of the candidate it came from. */
function trace(inputs: ContextInput[], threshold: number, out: ContextInput[]) {
  const candidates = inputs
    .map((x, i) => ({ x, i }))
    .filter(({ x }) => x.relevance >= threshold)
    .sort((a, b) => b.x.relevance - a.x.relevance || a.i - b.i)
  const from: number[] = []
  let p = 0
  for (const o of out) {
    while (p < candidates.length) {
      const c = candidates[p++]!.x
      const same = JSON.stringify(c.data) === JSON.stringify(o.data) && c.tokens === o.tokens
      const cut = typeof c.data === 'string' && typeof o.data === 'string' && o.data.endsWith('…') && c.data.startsWith(o.data.slice(0, -1))
      if (c.relevance === o.relevance && (same || cut)) {
        from.push(p - 1)
        break
      }
    }
    if (from.length < out.indexOf(o) + 1) throw new Error(`output ${JSON.stringify(o)} matches no candidate in order`)
  }
  return { candidates, from }
}

describe('pruneInputs properties', () => {
  it('fits the budget, respects the threshold, and keeps relevance order with stable ties', () => {
    fc.assert(
      fc.property(args, ({ inputs, maxTokens, threshold }) => {
        const out = pruneInputs(inputs, maxTokens, threshold)
        if (maxTokens !== undefined) expect(sum(out)).toBeLessThanOrEqual(maxTokens)
        for (const o of out) expect(o.relevance).toBeGreaterThanOrEqual(threshold)
        for (let i = 1; i < out.length; i++) expect(out[i]!.relevance).toBeLessThanOrEqual(out[i - 1]!.relevance)
        trace(inputs, threshold, out) // throws unless the output is an in-order subsequence of the stable sort
      }),
      { numRuns: 300 },
    )
  })
  it('drops nothing that would fit in the leftover budget, and never alters an object', () => {
    fc.assert(
      fc.property(args, ({ inputs, maxTokens, threshold }) => {
        const out = pruneInputs(inputs, maxTokens, threshold)
        const { candidates, from } = trace(inputs, threshold, out)
        const leftover = (maxTokens ?? Infinity) - sum(out)
        const kept = new Set(from)
        candidates.forEach(({ x }, k) => {
          if (!kept.has(k)) expect(x.tokens).toBeGreaterThan(leftover)
        })
        out.forEach((o, j) => {
          const c = candidates[from[j]!]!.x
          if (typeof c.data !== 'string') expect(o).toEqual(c)
          else if (o.data !== c.data) expect(typeof maxTokens).toBe('number') // only a budget truncates
        })
      }),
      { numRuns: 300 },
    )
  })
  it('is idempotent and leaves its arguments as they were', () => {
    fc.assert(
      fc.property(args, ({ inputs, maxTokens, threshold }) => {
        const before = structuredClone(inputs)
        const once = pruneInputs(inputs, maxTokens, threshold)
        expect(inputs).toEqual(before)
        expect(pruneInputs(once, maxTokens, threshold)).toEqual(once)
      }),
      { numRuns: 300 },
    )
  })
})
