import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { buildReport, relativeLift, sampleRatio } from '../../src/experiments/report.js'
import type { RuleInput } from '../../src/experiments/rules.js'
import { thrown } from '../core/helpers.js'

const bool = (k: number, n: number) => ({ n, sum: k, sumSq: k })

/** The example, plus a numeric outcome "spend" (means 20 and 22, variance 100). */
function example(extra: Partial<RuleInput> = {}): RuleInput & { test: string } {
  return {
    test: 'upsell_approach',
    options: [
      { value: 'direct', weight: 0.5 },
      { value: 'subtle', weight: 0.5 },
    ],
    sessions: [2000, 2000],
    outcomes: [
      { converted: bool(200, 2000), spend: { n: 2000, sum: 40_000, sumSq: 2000 * (100 + 400) } },
      { converted: bool(300, 2000), spend: { n: 2000, sum: 44_000, sumSq: 2000 * (100 + 484) } },
    ],
    stop: { maxConfidence: 95, targetOutcome: 'converted' },
    minSamples: 100,
    ...extra,
  }
}

describe('buildReport: against values worked by hand', () => {
  it("the issue's example: means, lift with its 95% interval, sequential confidence, chance to be best, no mismatch", () => {
    const r = buildReport(example())
    expect(r).toMatchObject({ test: 'upsell_approach', control: 'direct', targetOutcome: 'converted', iterations: 4000 })
    expect(r.confidence).toBeCloseTo(99.9868, 4)
    const [a, b] = r.options
    expect(a).toMatchObject({ value: 'direct', weight: 0.5, n: 2000 })
    expect(a!.outcomes.converted).toMatchObject({ n: 2000, mean: 0.1, lift: null, pValue: null, confidence: null })
    const c = b!.outcomes.converted!
    expect(c.mean).toBe(0.15)
    // Lift 0.15/0.10 − 1 = 0.5; Var = se_B²/m_A² + m_B² se_A²/m_A⁴ = 6.375e−5/0.01 + 0.0225 · 4.5e−5/1e−4
    // = 0.006375 + 0.010125 = 0.0165; sd 0.1284523; ± 1.959964 · 0.1284523 = ± 0.2517619.
    expect(c.lift!.estimate).toBeCloseTo(0.5, 12)
    expect(c.lift!.low).toBeCloseTo(0.2482381, 7)
    expect(c.lift!.high).toBeCloseTo(0.7517619, 7)
    expect(c.pValue! / 1.3197e-4).toBeCloseTo(1, 4)
    // Φ(0.05 / √(4.5e−5 + 6.375e−5)) = Φ(0.05 / 0.0104283) = Φ(4.7946) = 0.99999919.
    expect(c.chanceToBeBest).toBeCloseTo(0.99999919, 8)
    expect(a!.outcomes.converted!.chanceToBeBest! + c.chanceToBeBest!).toBeCloseTo(1, 14)
    expect(r.sampleRatio).toEqual({ chiSquare: 0, df: 1, pValue: 1, mismatch: false })
  })

  it('every outcome is reported: spend 20 against 22 (variance 100): lift 10%, p from this look only', () => {
    const spend = buildReport(example({ previousPValues: [1, 1e-9] })).options[1]!.outcomes.spend!
    expect(spend.mean).toBe(22)
    expect(spend.lift!.estimate).toBeCloseTo(0.1, 12)
    // SE² = 100/2000 · 2 = 0.1, z² = 4/0.1 = 40; nρ² = 6.34892; ln e = 40 · 6.34892/14.69784 − 0.99728 = 16.2812, p = 8.5e−8.
    // The previous 1e−9 belongs to the target outcome (converted), not to spend.
    expect(spend.pValue! / Math.exp(-16.2812)).toBeCloseTo(1, 3)
  })

  it('the target outcome uses the running minimum given', () => {
    const r = buildReport(example({ outcomes: [{ converted: bool(200, 2000) }, { converted: bool(200, 2000) }], previousPValues: [1, 0.002] }))
    expect(r.options[1]!.outcomes.converted!.pValue).toBe(0.002)
    expect(r.confidence).toBeCloseTo(99.8, 10)
  })

  it('three options: p-values are Bonferroni-adjusted (× 2) and the chances, integrated, sum to 1', () => {
    const r = buildReport({
      ...example(),
      options: ['a', 'b', 'c'].map((value) => ({ value, weight: 1 })),
      sessions: [2000, 2000, 2000],
      outcomes: [{ converted: bool(200, 2000) }, { converted: bool(300, 2000) }, { converted: bool(250, 2000) }],
    })
    expect(r.options[1]!.outcomes.converted!.pValue! / (2 * 1.3197e-4)).toBeCloseTo(1, 4)
    const chances = r.options.map((o) => o.outcomes.converted!.chanceToBeBest!)
    expect(chances.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9)
    // b (15%) is surely above a (10%, 4.8 standard errors away), so b's chance is about P(b > c):
    // Φ(0.025 / √(6.375e−5 + 5.469e−5)) = Φ(0.025 / 0.010883) = Φ(2.2971) = 0.98919.
    expect(chances[1]).toBeCloseTo(0.98919, 4)
  })

  it('an option with no sessions has null mean, lift and chance; the others share the chance', () => {
    const r = buildReport({ ...example(), options: [...example().options, { value: 'new', weight: 0 }], sessions: [2000, 2000, 0], outcomes: [...example().outcomes, {}] })
    expect(r.options[2]!.outcomes.converted).toEqual({ n: 0, mean: null, lift: null, pValue: null, confidence: null, chanceToBeBest: null })
    expect(r.options[0]!.outcomes.converted!.chanceToBeBest! + r.options[1]!.outcomes.converted!.chanceToBeBest!).toBeCloseTo(1, 12)
  })

  it('the report is plain JSON: a round trip through JSON.stringify changes nothing (finite numbers or null)', () => {
    const r = buildReport(example({ outcomes: [{ converted: bool(0, 2000) }, { converted: bool(0, 2000) }] }))
    expect(JSON.parse(JSON.stringify(r))).toEqual(r)
  })

  it('regression: an outcome named "__proto__" (a JSON key like any other) is reported as data, not set as a prototype', () => {
    const outcomes = JSON.parse('[{"__proto__": {"n": 10, "sum": 1, "sumSq": 1}}, {"__proto__": {"n": 10, "sum": 2, "sumSq": 2}}]')
    const r = buildReport(example({ outcomes, stop: {} }))
    expect(Object.hasOwn(r.options[1]!.outcomes, '__proto__')).toBe(true)
    expect(r.options[1]!.outcomes['__proto__']!.mean).toBe(0.2)
  })

  it('bad input is a ValidationError naming the field', () => {
    expect(thrown(() => buildReport({ ...example(), test: 1 as never })).path).toBe('test')
    const err = thrown(() => buildReport(example({ outcomes: [{ spend: { n: 1, sum: 1, sumSq: 0 } }, {}] })))
    expect(err).toBeInstanceOf(ValidationError)
    expect(err.path).toBe('outcomes[0].spend.sumSq')
  })
})

describe('buildReport: regressions', () => {
  it('regression: a mean of -0 (one session that spent -0) is reported as 0, so the report survives JSON (fast-check seed 874872629)', () => {
    const r = buildReport({
      test: 't',
      options: [{ value: 'v0', weight: 0.01 }, { value: 'v1', weight: 0.01 }],
      sessions: [0, 1],
      outcomes: [{ spend: { n: 0, sum: 0, sumSq: 0 } }, { spend: { n: 1, sum: -0, sumSq: 0 } }],
      stop: {},
      minSamples: 0,
    })
    expect(Object.is(r.options[1]!.outcomes['spend']!.mean, 0)).toBe(true)
    expect(JSON.parse(JSON.stringify(r))).toEqual(r)
  })
})

describe('buildReport: properties', () => {
  it('property: for any 2–4 options of boolean and numeric outcomes, plain JSON, p in [0, 1], chances summing to 1', () => {
    const option = fc.record({
      weight: fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 10, noNaN: true })),
      n: fc.integer({ min: 0, max: 5000 }),
      rate: fc.double({ min: 0, max: 1, noNaN: true }),
      mean: fc.double({ min: -1e3, max: 1e3, noNaN: true }),
      sd: fc.double({ min: 0, max: 1e3, noNaN: true }),
    })
    fc.assert(
      fc.property(fc.array(option, { minLength: 2, maxLength: 4 }), fc.integer({ min: 0, max: 300 }), (os, minSamples) => {
        const r = buildReport({
          test: 't',
          options: os.map((o, i) => ({ value: `v${i}`, weight: o.weight })),
          sessions: os.map((o) => o.n),
          outcomes: os.map((o) => {
            const k = Math.round(o.n * o.rate)
            return { converted: bool(k, o.n), spend: { n: o.n, sum: o.n * o.mean, sumSq: o.n * (o.sd * o.sd + o.mean * o.mean) } }
          }),
          stop: { maxConfidence: 95, targetOutcome: 'converted' },
          minSamples,
        })
        expect(JSON.parse(JSON.stringify(r))).toEqual(r)
        for (const name of ['converted', 'spend']) {
          const chances = r.options.flatMap((o) => (o.outcomes[name]!.chanceToBeBest === null ? [] : [o.outcomes[name]!.chanceToBeBest!]))
          if (chances.length > 0) expect(Math.abs(chances.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9)
          for (const o of r.options) {
            const p = o.outcomes[name]!.pValue
            if (p !== null) expect(p >= 0 && p <= 1).toBe(true)
          }
        }
        expect(r.sampleRatio.pValue >= 0 && r.sampleRatio.pValue <= 1).toBe(true)
      }),
      { numRuns: 60 },
    )
  })
})

describe('relativeLift', () => {
  it('is null when the control has no mean above 0 (no lift from nothing) or an option has no sessions', () => {
    expect(relativeLift(bool(0, 100), bool(5, 100))).toBeNull()
    expect(relativeLift({ n: 10, sum: -10, sumSq: 10 }, bool(5, 100))).toBeNull()
    expect(relativeLift(bool(0, 0), bool(5, 100))).toBeNull()
  })
})

describe('sampleRatio: chi-square goodness of fit of the session counts to the weights', () => {
  it('50/50 split 540/460: χ² = 40²/500 · 2 = 6.4, p = 0.0114, no mismatch; 560/440: χ² = 14.4, p = 1.478e−4, mismatch', () => {
    const fine = sampleRatio([0.5, 0.5], [540, 460])
    expect(fine).toMatchObject({ chiSquare: 6.4, df: 1, mismatch: false })
    expect(fine.pValue).toBeCloseTo(0.011412, 6)
    const off = sampleRatio([0.5, 0.5], [560, 440])
    expect(off).toMatchObject({ chiSquare: 14.4, df: 1, mismatch: true })
    expect(off.pValue / 1.478e-4).toBeCloseTo(1, 3)
  })

  it('three equal weights, 300/330/370: expected 333.33, χ² = (33.33² + 3.33² + 36.67²)/333.33 = 7.4, p = e^−3.7 (df 2)', () => {
    const r = sampleRatio([1, 1, 1], [300, 330, 370])
    expect(r.chiSquare).toBeCloseTo(7.4, 10)
    expect(r.pValue).toBeCloseTo(Math.exp(-3.7), 12)
    expect(r.df).toBe(2)
  })

  it('weights need not sum to 1: 1, 1, 2 against 250, 250, 500 fits exactly', () => {
    expect(sampleRatio([1, 1, 2], [250, 250, 500])).toEqual({ chiSquare: 0, df: 2, pValue: 1, mismatch: false })
  })

  it('sessions on an option of weight 0 are a mismatch (infinite χ², reported as null); no sessions, no mismatch', () => {
    expect(sampleRatio([1, 0], [10, 1])).toEqual({ chiSquare: null, df: 0, pValue: 0, mismatch: true })
    expect(sampleRatio([1, 1], [0, 0])).toEqual({ chiSquare: 0, df: 1, pValue: 1, mismatch: false })
  })

  it('a report carries it', () => {
    expect(buildReport(example({ sessions: [2160, 1840] })).sampleRatio.mismatch).toBe(true)
  })
})
