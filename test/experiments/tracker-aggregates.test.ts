import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { applyContribution, contributionOf, emptyShard, sumShards, type Contribution } from '../../src/experiments/aggregates.js'
import { DEFAULT_SHARDS, keys, shardOf } from '../../src/experiments/keys.js'
import { readContribution, readDefinition, readShard } from '../../src/experiments/records.js'

describe('aggregates', () => {
  it('a contribution counts booleans as 0/1, numbers as they are, and leaves strings out', () => {
    const c = contributionOf(1, { won: { value: true }, lost: { value: false }, turns: { value: 3 }, score: { value: -0.5 }, mood: { value: 'ok' } })
    expect(c).toEqual({ option: 1, outcomes: { won: 1, lost: 0, turns: 3, score: -0.5 } })
  })

  it('refuses a value whose square is not finite, naming the outcome (JSON would store Infinity as null)', () => {
    expect(() => contributionOf(0, { big: { value: 1e200 } })).toThrow(ValidationError)
    expect(() => contributionOf(0, { big: { value: 1e200 } })).toThrow(/outcomes\.big/)
  })

  it('outcomes named like Object members are data (constructor, toString)', () => {
    const c = contributionOf(0, { constructor: { value: 2 }, toString: { value: true } })
    const s = applyContribution(emptyShard(2), undefined, c)
    expect(s.outcomes.constructor).toEqual([
      [1, 2, 4],
      [0, 0, 0],
    ])
    expect(sumShards([s], 2).outcomes[0]!.toString).toEqual({ n: 1, sum: 1, sumSq: 1 })
  })

  it('replacing a contribution equals recording only the last one (property: any sequence of re-recordings)', () => {
    const contribution = fc.record({
      option: fc.integer({ min: 0, max: 2 }),
      outcomes: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0, 1))),
    })
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), contribution), { maxLength: 60 }), (steps) => {
        let shard = emptyShard(3)
        const last = new Map<number, Contribution>()
        for (const [session, c] of steps) {
          shard = applyContribution(shard, last.get(session), c)
          last.set(session, c)
        }
        let fresh = emptyShard(3)
        for (const c of last.values()) fresh = applyContribution(fresh, undefined, c)
        expect(shard.sessions).toEqual(fresh.sessions)
        expect(sumShards([shard], 3).outcomes).toEqual(sumShards([fresh], 3).outcomes)
        expect(shard.rev).toBe(steps.length)
      }),
    )
  })

  it('regression: float residue after subtracting every session resets to zeros (0.1 + 0.2 - 0.1 - 0.2 is 2.8e-17)', () => {
    let s = emptyShard(1)
    const a = { option: 0, outcomes: { x: 0.1 } }
    const b = { option: 0, outcomes: { x: 0.2 } }
    s = applyContribution(applyContribution(s, undefined, a), undefined, b)
    s = applyContribution(applyContribution(s, a, undefined), b, undefined)
    expect(s.sessions).toEqual([0])
    expect(s.outcomes).toEqual({})
  })

  it('sums shards, giving every option every outcome', () => {
    const s1 = applyContribution(emptyShard(2), undefined, { option: 0, outcomes: { a: 1 } })
    const s2 = applyContribution(emptyShard(2), undefined, { option: 1, outcomes: { a: 3, b: 2 } })
    expect(sumShards([s1, s2], 2)).toEqual({
      sessions: [1, 1],
      outcomes: [
        { a: { n: 1, sum: 1, sumSq: 1 }, b: { n: 0, sum: 0, sumSq: 0 } },
        { a: { n: 1, sum: 3, sumSq: 9 }, b: { n: 1, sum: 2, sumSq: 4 } },
      ],
    })
  })
})

describe('keys', () => {
  it('a session always lands on the same shard, and 10,000 sessions spread evenly over 8', () => {
    expect(shardOf('s-1', 8)).toBe(shardOf('s-1', 8))
    const counts = new Array(DEFAULT_SHARDS).fill(0)
    for (let i = 0; i < 10_000; i++) counts[shardOf(`session-${i}`, DEFAULT_SHARDS)]++
    // 1,250 expected each; 4 standard deviations (~ 4 × 33) either side.
    for (const c of counts) expect(Math.abs(c - 1250)).toBeLessThan(140)
  })

  it("regression: ids differing only in '0' and '8' (same low 3 bits) do not always share a shard (fnv % 8 kept them together)", () => {
    const pairs = Array.from({ length: 100 }, (_, i) => [`user-${i}0`, `user-${i}8`] as const)
    expect(pairs.filter(([a, b]) => shardOf(a, 8) === shardOf(b, 8)).length).toBeLessThan(30)
  })

  it('test and session names are one escaped segment each: "a/b" never reads "a"', () => {
    expect(keys.session('a/b', 'x')).toBe('t/a%2Fb/s/x/')
    expect(keys.shard('a', 0).startsWith(keys.shard('a/b', 0))).toBe(false)
    expect(keys.conclusion('t/x').startsWith(keys.conclusions)).toBe(true)
  })
})

describe('stored records are hostile until checked', () => {
  const key = 'agentctx-exp/t/x/shard/0/'
  it.each([
    ['a count that is not an integer', { rev: 1, sessions: [1.5, 0], outcomes: {} }],
    ['a negative count', { rev: 1, sessions: [-1, 0], outcomes: {} }],
    ['a sum that is not a number', { rev: 1, sessions: [1, 0], outcomes: { a: [[1, 'x', 1], [0, 0, 0]] } }],
    ['a null sum (Infinity through JSON)', { rev: 1, sessions: [1, 0], outcomes: { a: [[1, null, 1], [0, 0, 0]] } }],
    ['a negative sum of squares', { rev: 1, sessions: [1, 0], outcomes: { a: [[1, 1, -1], [0, 0, 0]] } }],
    ['fewer counts than options', { rev: 1, sessions: [1], outcomes: {} }],
    ['more outcome counts than sessions', { rev: 1, sessions: [1, 0], outcomes: { a: [[2, 1, 1], [0, 0, 0]] } }],
    ['an unknown key', { rev: 1, sessions: [1, 0], outcomes: {}, extra: 1 }],
    ['a "__proto__" outcome', JSON.parse('{"rev":1,"sessions":[1,0],"outcomes":{"__proto__":[[1,1,1],[0,0,0]]}}')],
    ['not an object', 'hello'],
  ])('a shard with %s is a ValidationError naming the key', (_, json) => {
    let error: unknown
    try {
      readShard(json, key, 2)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).code).toBe('invalid_state')
    expect((error as ValidationError).path).toBe(key)
    expect((error as Error).message).toContain(JSON.stringify(key))
  })

  it('a contribution naming an option past the end, and a definition without options, are refused', () => {
    expect(() => readContribution({ option: 2, outcomes: {} }, key, 2)).toThrow(/record\.option/)
    expect(() => readDefinition({ options: [], stop: {}, shards: 8 }, key)).toThrow(ValidationError)
    expect(() => readDefinition({ options: [['a', 1], ['a', 1]], stop: {}, shards: 8 }, key)).toThrow(/distinct/)
    expect(() => readDefinition({ options: [['a', 1]], stop: {}, shards: 0 }, key)).toThrow(/shards/)
  })
})
