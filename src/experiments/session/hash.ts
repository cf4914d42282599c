/**
 * GrowthBook's hashing, version 2, so that an assignment made here is the one GrowthBook's SDKs make
 * for the same seed, key and weights (test/experiments/session/hash.test.ts checks it against
 * `@growthbook/growthbook` for thousands of keys). Deterministic: the same user (assignment key) gets
 * the same option of a test in every session, with nothing stored.
 */

/** 32-bit FNV-1a over the string's UTF-16 code units (offset basis 0x811c9dc5, prime 16777619). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5
  // Math.imul multiplies modulo 2^32; GrowthBook's shift-and-add form gives the same 32 bits.
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0
  return h
}

/**
 * The bucket of `key` in the test `seed`, in [0, 1) by steps of 1/10,000: GrowthBook's hash v2,
 * `fnv(String(fnv(seed + key))) % 10000 / 10000` (the second pass spreads keys that differ only in
 * their last characters, which v1's single pass left in neighbouring buckets).
 */
export function hashBucket(seed: string, key: string): number {
  return (fnv1a32(String(fnv1a32(seed + key))) % 10000) / 10000
}

/**
 * The index of the option whose range holds `bucket`: the weights, normalized to sum to 1, laid end
 * to end in order, each owning `[start, start + weight)` (GrowthBook's `getBucketRanges` with
 * coverage 1, then `chooseVariation`). A zero weight owns an empty range and is never chosen. The
 * weights must be finite, >= 0, with a positive finite sum (the caller checks; see `newTest`).
 */
export function chooseOption(bucket: number, weights: readonly number[]): number {
  let total = 0
  for (const w of weights) total += w
  let start = 0
  let last = -1
  for (let i = 0; i < weights.length; i++) {
    // Same float operations as GrowthBook: start, then start + w, so both land on the same side of every bound.
    const end = start + weights[i]! / total
    if (weights[i]! > 0) last = i
    if (bucket >= start && bucket < end) return i
    start = end
  }
  // The normalized weights summed a hair under the bucket (rounding: never seen, as the bucket is at
  // most 0.9999): the last option with a weight owns it, where GrowthBook would answer "not in the test".
  return last
}
