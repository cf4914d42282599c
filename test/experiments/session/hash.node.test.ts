import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import fc from 'fast-check'
import { GrowthBook } from '@growthbook/growthbook'
import { describe, expect, it } from 'vitest'
import { Context } from '../../../src/context.js'
import { chooseOption, fnv1a32, hashBucket } from '../../../src/experiments/session/hash.js'

// GrowthBook's own hashing and bucketing, from the installed SDK (a dev dependency). `hash`,
// `getBucketRanges` and `chooseVariation` live in its util module, which the package's `exports`
// do not list: it is imported by file. Node only: the module reads `process.env`.
type Util = {
  hash(seed: string, value: string, version: number): number | null
  getBucketRanges(n: number, coverage: number | undefined, weights?: number[]): [number, number][]
  chooseVariation(n: number, ranges: [number, number][]): number
}
const sdk = dirname(createRequire(import.meta.url).resolve('@growthbook/growthbook/package.json'))
const gb: Util = await import(pathToFileURL(join(sdk, 'dist/esm/util.mjs')).href)

/** Weights normalized as `chooseOption` does, for GrowthBook, which wants them to sum to 1. */
const normalized = (weights: number[]) => {
  const total = weights.reduce((a, b) => a + b, 0)
  return weights.map((w) => w / total)
}

/** GrowthBook's choice through its public API: `run` an experiment of that key for a user of that id. */
function growthBookRun(test: string, key: string, weights: number[]): { inExperiment: boolean; variationId: number } {
  const client = new GrowthBook({ attributes: { id: key } })
  const variations = weights.map((_, i) => `v${i}`) as [string, string, ...string[]]
  const result = client.run({ key: test, variations, weights: normalized(weights), hashVersion: 2 })
  client.destroy()
  return result
}

/** A seeded 32-bit generator (mulberry32), so the "thousands of keys" are the same on every run. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

const WEIGHTINGS: [string, number[]][] = [
  ['equal halves', [1, 1]],
  ['10 / 90', [0.1, 0.9]],
  ['three-way 50 / 30 / 20', [5, 3, 2]],
  ['with a zero weight', [1, 0, 1]],
  ['a zero weight first and last', [0, 2, 1, 0]],
  ['uneven thirds that do not sum to 1', [1, 1, 1]],
  ['a tiny option', [0.001, 0.999]],
]

describe('the hash is GrowthBook hash v2', () => {
  it('FNV-1a 32 known vectors (the FNV reference): "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5)
    expect(fnv1a32('a')).toBe(0xe40c292c)
    expect(fnv1a32('foobar')).toBe(0xbf9cf968)
  })

  it('a bucket worked by hand: test "t", key "k" → 0.6648', () => {
    // fnv("tk"): 0x811c9dc5 ^ 0x74 ("t") = 0x811c9db1, × 16777619 mod 2^32 = 0xf10c3da3; ^ 0x6b ("k")
    // = 0xf10c3dc8, × 16777619 mod 2^32 = 0x3e4541d8 = 1044726232. fnv("1044726232") = 2438126648,
    // and 2438126648 % 10000 = 6648: bucket 0.6648. Redone here with BigInt, away from Math.imul.
    const fnvBig = (s: string) => {
      let h = 0x811c9dc5n
      for (const unit of s) h = ((h ^ BigInt(unit.charCodeAt(0))) * 16777619n) % 2n ** 32n
      return h
    }
    expect(fnvBig('tk')).toBe(1044726232n)
    expect(fnv1a32('tk')).toBe(1044726232)
    expect(fnvBig('1044726232')).toBe(2438126648n)
    expect(hashBucket('t', 'k')).toBe(0.6648)
    expect(gb.hash('t', 'k', 2)).toBe(0.6648)
    // With options a: 1, b: 1 the ranges are [0, 0.5) and [0.5, 1): "k" gets b in test "t".
    expect(new Context({ assignmentKey: 'k' }).addTest('t', { a: 1, b: 1 })).toBe('b')
  })

  it('agrees with GrowthBook for 20,000 seeded keys and test names (ASCII, emoji, lone surrogates)', () => {
    const random = mulberry32(10)
    const alphabet = ['a', 'Z', '7', '-', '_', ' ', 'é', '中', '😀', '\ud800', '\udfff', '\u0000']
    const word = () => Array.from({ length: 1 + Math.floor(random() * 24) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
    for (let i = 0; i < 20_000; i++) {
      const [test, key] = [word(), i % 3 ? word() : `user-${i}`]
      const ours = hashBucket(test, key)
      if (ours !== gb.hash(test, key, 2)) expect([test, key, ours]).toEqual([test, key, gb.hash(test, key, 2)])
    }
  })

  it('agrees with GrowthBook for arbitrary strings (fast-check, full UTF-16)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (test, key) => hashBucket(test, key) === gb.hash(test, key, 2)),
      { numRuns: 2000 },
    )
  })
})

describe('the option is the one GrowthBook chooses', () => {
  it.each(WEIGHTINGS)('%s: chooseOption = chooseVariation(getBucketRanges) for all 10,000 buckets', (_, weights) => {
    const ranges = gb.getBucketRanges(weights.length, 1, normalized(weights))
    for (let b = 0; b < 10_000; b++) {
      const bucket = b / 10_000
      const ours = chooseOption(bucket, weights)
      if (ours !== gb.chooseVariation(bucket, ranges)) expect([bucket, ours]).toEqual([bucket, gb.chooseVariation(bucket, ranges)])
    }
  })

  it.each(WEIGHTINGS)('%s: addTest gives what GrowthBook run() gives, for 2,000 users', (_, weights) => {
    const options: [string, number][] = weights.map((w, i) => [`v${i}`, w])
    for (let i = 0; i < 2000; i++) {
      const key = `user-${i}`
      const theirs = growthBookRun('checkout_button', key, weights)
      expect(theirs.inExperiment).toBe(true)
      const ours = new Context({ assignmentKey: key }).addTest('checkout_button', options)
      if (ours !== `v${theirs.variationId}`) expect([key, ours]).toEqual([key, `v${theirs.variationId}`])
    }
  })

  it('arbitrary weights (fast-check): the same index as GrowthBook, and never a zero weight', () => {
    const weight = fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e6, noNaN: true }))
    fc.assert(
      fc.property(fc.array(weight, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 9999 }), (weights, b) => {
        fc.pre(weights.some((w) => w > 0))
        const bucket = b / 10_000
        const ours = chooseOption(bucket, weights)
        expect(weights[ours]).toBeGreaterThan(0)
        const theirs = gb.chooseVariation(bucket, gb.getBucketRanges(weights.length, 1, normalized(weights)))
        // GrowthBook answers -1 ("not in the test") only if rounding left the bucket past the last
        // range; its equal-weights fallback never applies to weights normalized to sum to 1.
        if (theirs !== -1) expect(ours).toBe(theirs)
      }),
      { numRuns: 3000 },
    )
  })
})
