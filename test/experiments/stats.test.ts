import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { chanceToBeBest } from '../../src/experiments/best.js'
import { chiSquarePValue, gammaQ, lnGamma, normalCdf } from '../../src/experiments/distributions.js'
import { sequentialTest, type Aggregate } from '../../src/experiments/stats.js'
import { thrown } from '../core/helpers.js'

/** A boolean outcome: `k` true of `n` (sumSq = sum, since 1² = 1). */
const bool = (k: number, n: number): Aggregate => ({ n, sum: k, sumSq: k })
/** A numeric outcome with a given mean and population variance: sumSq = n (variance + mean²). */
const num = (n: number, mean: number, variance: number): Aggregate => ({ n, sum: n * mean, sumSq: n * (variance + mean * mean) })
const rel = (actual: number, expected: number, digits = 4) => expect(actual / expected).toBeCloseTo(1, digits)

describe('sequentialTest: the mSPRT always-valid p-value, against values worked by hand', () => {
  it("the issue's example: 200 of 2,000 against 300 of 2,000 at alpha 0.05 gives p ≈ 1.3197e−4", () => {
    // Means 0.10 and 0.15; variances p(1 − p) = 0.09 and 0.1275; SE² = (0.09 + 0.1275)/2000 = 1.0875e−4;
    // z² = 0.05²/1.0875e−4 = 22.989. ρ² = (5.99146 + ln 6.99146)/5000 = 7.93615/5000 = 1.58723e−3;
    // nρ² = 4000 · 1.58723e−3 = 6.34892. ln e = 22.989 · 6.34892 / (2 · 7.34892) − ½ ln 7.34892
    // = 9.93015 − 0.99728 = 8.93287; p = e^−8.93287 = 1.3197e−4.
    const r = sequentialTest({ control: bool(200, 2000), treatment: bool(300, 2000), alpha: 0.05 })
    rel(r.pValue, 1.3197e-4)
    expect(r.confidence).toBeCloseTo(100 * (1 - 1.3197e-4), 6)
  })

  it('a numeric outcome: means 10 and 11, variance 4, 100 sessions each, gives p ≈ 0.25458', () => {
    // SE² = 4/100 + 4/100 = 0.08, z² = 1/0.08 = 12.5; n = 200, nρ² = 0.317446;
    // ln e = 12.5 · 0.317446 / (2 · 1.317446) − ½ ln 1.317446 = 1.505986 − 0.137847 = 1.368139;
    // p = e^−1.368139 = 0.25458.
    rel(sequentialTest({ control: num(100, 10, 4), treatment: num(100, 11, 4), alpha: 0.05 }).pValue, 0.25458)
  })

  it('no evidence is p = 1: an empty option, equal means, or two equal constants', () => {
    expect(sequentialTest({ control: bool(0, 0), treatment: bool(30, 100), alpha: 0.05 }).pValue).toBe(1)
    expect(sequentialTest({ control: bool(10, 100), treatment: bool(0, 0), alpha: 0.05 }).pValue).toBe(1)
    expect(sequentialTest({ control: bool(10, 100), treatment: bool(20, 200), alpha: 0.05 }).pValue).toBe(1)
    expect(sequentialTest({ control: bool(0, 500), treatment: bool(0, 500), alpha: 0.05 })).toEqual({ pValue: 1, confidence: 0 })
  })

  it('regression: two constant options that differ use the pooled variance, so 0 of 1 against 1 of 1 is no proof (p = 0.9984, not 0)', () => {
    // Unpooled SE = 0 would make z infinite and p = 0 from two sessions. Pooled: mean 0.5, variance
    // 0.25, SE² = 0.25 (1 + 1) = 0.5, z² = 1/0.5 = 2 (= n: z² ≤ n always holds here); nρ² = 3.17446e−3,
    // ln e = 2 · 3.17446e−3 / 2.00635 − ½ ln 1.00317 = 1.57973e−3; p = e^−1.57973e−3 = 0.998422.
    rel(sequentialTest({ control: bool(0, 1), treatment: bool(1, 1), alpha: 0.05 }).pValue, 0.998422, 5)
    // 0 of 100 against 100 of 100: z² = n = 200, nρ² = 0.317446, ln e = 200 · 0.317446 / 2.634892 − 0.137847 = 23.9577.
    rel(sequentialTest({ control: bool(0, 100), treatment: bool(100, 100), alpha: 0.05 }).pValue, Math.exp(-23.9577), 3)
  })

  it('regression: rounding noise in a constant float outcome (0.1 summed 1,000 times) is variance 0, not a tiny SE and an infinite z', () => {
    let sum = 0
    let sumSq = 0
    for (let i = 0; i < 1000; i++) [sum, sumSq] = [sum + 0.1, sumSq + 0.01]
    const noisy = { n: 1000, sum, sumSq }
    expect(sequentialTest({ control: noisy, treatment: noisy, alpha: 0.05 }).pValue).toBe(1)
  })

  it('huge n neither overflows nor gives NaN: 2^52 sessions per option (ln e far past 709, where e itself is Infinity)', () => {
    const n = 2 ** 52
    const far = sequentialTest({ control: bool(0.1 * n, n), treatment: bool(0.2 * n, n), alpha: 0.05 })
    expect(far.pValue).toBe(0)
    expect(far.confidence).toBe(100)
    // 1e15 sessions, 0.1 against 0.1000001: z² = 1e−14 / (2 · 0.09/1e15) = 55.6; ln e = 27.8 − ½ ln 3.17e12 = 13.35.
    const near = sequentialTest({ control: bool(1e14, 1e15), treatment: bool(1e14 + 1e8, 1e15), alpha: 0.05 })
    expect(near.pValue).toBeGreaterThan(1e-7)
    expect(near.pValue).toBeLessThan(1e-5)
  })

  it.each([
    [{ control: { n: 1.5, sum: 0, sumSq: 0 }, treatment: bool(1, 2), alpha: 0.05 }, 'control.n'],
    [{ control: { n: -1, sum: 0, sumSq: 0 }, treatment: bool(1, 2), alpha: 0.05 }, 'control.n'],
    [{ control: bool(1, 2), treatment: { n: 2, sum: NaN, sumSq: 1 }, alpha: 0.05 }, 'treatment.sum'],
    [{ control: bool(1, 2), treatment: { n: 2, sum: 1, sumSq: Infinity }, alpha: 0.05 }, 'treatment.sumSq'],
    [{ control: bool(1, 2), treatment: { n: 2, sum: 1, sumSq: -1 }, alpha: 0.05 }, 'treatment.sumSq'],
    // mean 1, mean of squares 0.5 < 1²: no set of numbers has this sum and sum of squares.
    [{ control: { n: 10, sum: 10, sumSq: 5 }, treatment: bool(1, 2), alpha: 0.05 }, 'control.sumSq'],
    [{ control: { n: 0, sum: 1, sumSq: 1 }, treatment: bool(1, 2), alpha: 0.05 }, 'control'],
    [{ control: null, treatment: bool(1, 2), alpha: 0.05 }, 'control'],
    [{ control: bool(1, 2), treatment: bool(1, 2), alpha: 0 }, 'alpha'],
    [{ control: bool(1, 2), treatment: bool(1, 2), alpha: 1 }, 'alpha'],
    [{ control: bool(1, 2), treatment: bool(1, 2), alpha: NaN }, 'alpha'],
    [{ control: bool(1, 2), treatment: bool(1, 2), alpha: '0.05' }, 'alpha'],
  ])('bad input is a ValidationError naming the field (%#: %s)', (input, path) => {
    const err = thrown(() => sequentialTest(input as never))
    expect(err).toBeInstanceOf(ValidationError)
    expect(err.path).toBe(path)
  })

  const rate = fc.integer({ min: 0, max: 1000 }).map((x) => x / 1000)
  const arm = fc.tuple(fc.integer({ min: 0, max: 5000 }), rate).map(([n, p]) => bool(Math.round(n * p), n))
  const alpha = fc.double({ min: 0.001, max: 0.5, noNaN: true })

  it('property: p is in [0, 1] and confidence = 100 (1 − p)', () => {
    fc.assert(
      fc.property(arm, arm, alpha, (control, treatment, a) => {
        const r = sequentialTest({ control, treatment, alpha: a })
        expect(r.pValue).toBeGreaterThanOrEqual(0)
        expect(r.pValue).toBeLessThanOrEqual(1)
        expect(r.confidence).toBeCloseTo(100 * (1 - r.pValue), 9)
      }),
    )
  })

  it('property: swapping control and treatment gives the same p (|z| is symmetric)', () => {
    fc.assert(
      fc.property(arm, arm, alpha, (a, b, al) => {
        expect(sequentialTest({ control: b, treatment: a, alpha: al }).pValue).toBeCloseTo(sequentialTest({ control: a, treatment: b, alpha: al }).pValue, 12)
      }),
    )
  })

  it('property: with the means fixed, more sessions never raise p (once p < 1, ln e only grows with n)', () => {
    // ln e(u = nρ²) = c u² / (2 (u + 1)) − ½ ln(1 + u) with z² = c·n: it first falls below 0 (p = 1 there),
    // then rises for good, so p = min(1, e^−ln e) is non-increasing in n.
    fc.assert(
      fc.property(arm, arm, fc.integer({ min: 2, max: 50 }), (a, b, k) => {
        const scale = (x: Aggregate) => ({ n: x.n * k, sum: x.sum * k, sumSq: x.sumSq * k })
        const small = sequentialTest({ control: a, treatment: b, alpha: 0.05 }).pValue
        const large = sequentialTest({ control: scale(a), treatment: scale(b), alpha: 0.05 }).pValue
        expect(large).toBeLessThanOrEqual(small * (1 + 1e-12))
      }),
    )
  })
})

describe('distributions: the normal and chi-square tails from the incomplete gamma function', () => {
  it('z/p pairs from the normal table: 1.959964 → 0.05, 2.575829 → 0.01, 3.290527 → 0.001 (two-sided); Φ(1) = 0.8413447', () => {
    expect(2 * normalCdf(-1.959964)).toBeCloseTo(0.05, 7)
    expect(2 * normalCdf(-2.575829)).toBeCloseTo(0.01, 7)
    expect(2 * normalCdf(-3.290527)).toBeCloseTo(0.001, 8)
    expect(normalCdf(1)).toBeCloseTo(0.8413447460685429, 14)
    expect(normalCdf(0)).toBe(0.5)
    // The far tail keeps its digits (1 − Φ(8) would be 0): Φ(−8) = 6.220960574e−16.
    rel(normalCdf(-8), 6.22096057427e-16, 9)
  })

  it('chi-square p-values against table values: χ² = 10.828 (df 1), 13.816 (df 2) → 0.001; 3.841 (df 1), 7.815 (df 3), 9.488 (df 4), 124.342 (df 100) → 0.05; 6.635 (df 1), 23.209 (df 10) → 0.01', () => {
    expect(chiSquarePValue(10.828, 1)).toBeCloseTo(0.001, 6)
    expect(chiSquarePValue(13.816, 2)).toBeCloseTo(0.001, 6)
    expect(chiSquarePValue(3.841, 1)).toBeCloseTo(0.05, 4)
    expect(chiSquarePValue(7.815, 3)).toBeCloseTo(0.05, 4)
    expect(chiSquarePValue(9.488, 4)).toBeCloseTo(0.05, 4)
    expect(chiSquarePValue(124.342, 100)).toBeCloseTo(0.05, 5)
    expect(chiSquarePValue(6.635, 1)).toBeCloseTo(0.01, 5)
    expect(chiSquarePValue(23.209, 10)).toBeCloseTo(0.01, 5)
  })

  it('closed forms, to 12 digits: df 2 is e^(−x/2); df 4 is e^(−x/2)(1 + x/2); df 1 is 2Φ(−√x); df 3 is 2Φ(−√x) + 2√(x/2π) e^(−x/2)', () => {
    for (const x of [0.01, 0.5, 1, 2.5, 6.9, 13.816, 40, 200]) {
      rel(chiSquarePValue(x, 2), Math.exp(-x / 2), 12)
      rel(chiSquarePValue(x, 4), Math.exp(-x / 2) * (1 + x / 2), 12)
      rel(chiSquarePValue(x, 1), 2 * normalCdf(-Math.sqrt(x)), 12)
      rel(chiSquarePValue(x, 3), 2 * normalCdf(-Math.sqrt(x)) + 2 * Math.sqrt(x / (2 * Math.PI)) * Math.exp(-x / 2), 11)
    }
  })

  it('Q(a, 0) = 1, Q(a, ∞) = 0; ln Γ(½) = ln √π, ln Γ(5) = ln 24, ln Γ(10.5) = ln(1133278.3889)', () => {
    expect(gammaQ(3, 0)).toBe(1)
    expect(gammaQ(3, Infinity)).toBe(0)
    expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 14)
    expect(lnGamma(5)).toBeCloseTo(Math.log(24), 13)
    expect(lnGamma(10.5)).toBeCloseTo(Math.log(1133278.3889487855), 12)
  })
})

describe('chanceToBeBest: deterministic, by closed form or numerical integration', () => {
  it('two equal options: 0.5 each; three equal: 1/3 each (integrated)', () => {
    expect(chanceToBeBest([{ mean: 0.1, se: 0.01 }, { mean: 0.1, se: 0.01 }])).toEqual([0.5, 0.5])
    for (const p of chanceToBeBest([0, 1, 2].map(() => ({ mean: 3, se: 0.2 })))) expect(p).toBeCloseTo(1 / 3, 10)
  })

  it('10% against 12% over 1,000 sessions each: Φ(0.02 / √(0.09/1000 + 0.1056/1000)) = Φ(1.4300) = 0.92365', () => {
    const se = (p: number) => Math.sqrt((p * (1 - p)) / 1000)
    const [a, b] = chanceToBeBest([{ mean: 0.1, se: se(0.1) }, { mean: 0.12, se: se(0.12) }])
    expect(b).toBeCloseTo(0.92365, 5)
    expect(a! + b!).toBeCloseTo(1, 14)
  })

  it('the integration agrees with the closed form: a third option far below changes nothing', () => {
    const two = chanceToBeBest([{ mean: 0.1, se: 0.01 }, { mean: 0.12, se: 0.0103 }])
    const three = chanceToBeBest([{ mean: 0.1, se: 0.01 }, { mean: 0.12, se: 0.0103 }, { mean: -100, se: 1 }])
    expect(three[0]).toBeCloseTo(two[0]!, 9)
    expect(three[1]).toBeCloseTo(two[1]!, 9)
    expect(three[2]).toBe(0)
  })

  it('point masses (se 0): the highest wins, ties share; a spread option must beat the mass', () => {
    expect(chanceToBeBest([{ mean: 0, se: 0 }, { mean: 1, se: 0 }, { mean: 1, se: 0 }])).toEqual([0, 0.5, 0.5])
    // P(N(0, 1) > 0) = 0.5 against a mass at 0 (two options: closed form); with a third mass at 0 the two masses share the rest.
    expect(chanceToBeBest([{ mean: 0, se: 0 }, { mean: 0, se: 1 }])).toEqual([0.5, 0.5])
    const r = chanceToBeBest([{ mean: 0, se: 0 }, { mean: 0, se: 1 }, { mean: 0, se: 0 }])
    expect(r[1]).toBeCloseTo(0.5, 9)
    expect(r[0]).toBe(0.25)
    expect(r[2]).toBe(0.25)
  })

  it('property: the chances sum to 1 (within 1e−9), even with standard errors 5 orders of magnitude apart and point masses', () => {
    const estimate = fc.record({
      mean: fc.double({ min: -1, max: 1, noNaN: true }),
      se: fc.oneof(fc.constant(0), fc.double({ min: 1e-4, max: 10, noNaN: true })),
    })
    fc.assert(
      fc.property(fc.array(estimate, { minLength: 2, maxLength: 5 }), (es) => {
        const r = chanceToBeBest(es)
        for (const p of r) expect(p).toBeGreaterThanOrEqual(0)
        expect(Math.abs(r.reduce((s, p) => s + p, 0) - 1)).toBeLessThan(1e-9)
      }),
      { numRuns: 60 },
    )
  })
})
