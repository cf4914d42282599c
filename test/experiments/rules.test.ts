import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { evaluateRules, type RuleInput } from '../../src/experiments/rules.js'
import type { StopConditions } from '../../src/experiments/session/tests.js'
import { thrown } from '../core/helpers.js'

/** `k` of `n` converted, as a boolean outcome's aggregate. */
const bool = (k: number, n: number) => ({ n, sum: k, sumSq: k })

/**
 * A test with options a, b, … at equal weights, `conv[i]` conversions of `n[i]` sessions, the target
 * outcome "converted".
 */
function input(n: number[], conv: number[], stop: StopConditions, extra: Partial<RuleInput> = {}): RuleInput {
  return {
    options: n.map((_, i) => ({ value: 'abcdef'[i]!, weight: 1 })),
    sessions: n,
    outcomes: n.map((ni, i) => ({ converted: bool(conv[i]!, ni) })),
    stop,
    minSamples: 100,
    ...extra,
  }
}

const confident = { maxConfidence: 95, targetOutcome: 'converted' } as const
// The issue's example: p = 1.3197e−4 (test/experiments/stats.test.ts works it by hand), confidence 99.98680.
const issue = (stop: StopConditions, extra?: Partial<RuleInput>) => input([2000, 2000], [200, 300], stop, extra)

describe('evaluateRules: each stop rule', () => {
  it('maxIterations only: stops when the sessions recorded reach it (3 + 2 = 5), with the first option (no target outcome)', () => {
    expect(evaluateRules(input([2, 2], [0, 0], { maxIterations: 5 }))).toMatchObject({ concluded: false, iterations: 4, confidence: 0 })
    expect(evaluateRules(input([3, 2], [0, 0], { maxIterations: 5 }))).toEqual({ concluded: true, value: 'a', reason: 'maxIterations', confidence: 0, iterations: 5, pValues: [1, 1] })
    expect(evaluateRules(input([3, 2], [0, 0], { maxIterations: 5, default: 'b' })).value).toBe('b')
  })

  it('maxIterations with a target outcome: the winner is the option shown better than the control at 95%, else the control', () => {
    expect(evaluateRules(issue({ maxIterations: 4000, targetOutcome: 'converted' }))).toMatchObject({ concluded: true, value: 'b', reason: 'maxIterations' })
    // 200 against 215 of 2,000: b is ahead, not shown better (p = 1): the control stays.
    expect(evaluateRules(input([2000, 2000], [200, 215], { maxIterations: 4000, targetOutcome: 'converted' })).value).toBe('a')
  })

  it("maxConfidence only: the issue's example concludes for b at confidence 99.9868", () => {
    const r = evaluateRules(issue(confident))
    expect(r).toMatchObject({ concluded: true, value: 'b', reason: 'maxConfidence', iterations: 4000 })
    expect(r.confidence).toBeCloseTo(99.9868, 4)
    expect(r.pValues[1]! / 1.3197e-4).toBeCloseTo(1, 4)
  })

  it('a treatment shown worse concludes for the control (higher mean wins)', () => {
    expect(evaluateRules(input([2000, 2000], [300, 200], confident))).toMatchObject({ concluded: true, value: 'a' })
  })

  it('minSamples: no stop on confidence until every option has them; the confidence is shown, the p-value not kept', () => {
    const r = evaluateRules(issue(confident, { minSamples: 2001 }))
    expect(r.concluded).toBe(false)
    expect(r.confidence).toBeCloseTo(99.9868, 4)
    expect(r.pValues).toEqual([1, 1])
    expect(evaluateRules(issue(confident, { minSamples: 2000 })).concluded).toBe(true)
  })

  it('stopOn 1 is the default with both given: either condition stops the test', () => {
    expect(evaluateRules(issue({ ...confident, maxIterations: 100_000 }))).toMatchObject({ concluded: true, reason: 'maxConfidence' })
    expect(evaluateRules(input([2000, 2000], [200, 200], { ...confident, maxIterations: 4000 }))).toMatchObject({ concluded: true, reason: 'maxIterations', value: 'a' })
  })

  it('stopOn 2: both conditions, reason "both"', () => {
    expect(evaluateRules(issue({ ...confident, maxIterations: 100_000, stopOn: 2 })).concluded).toBe(false)
    expect(evaluateRules(input([2000, 2000], [200, 200], { ...confident, maxIterations: 4000, stopOn: 2 })).concluded).toBe(false)
    expect(evaluateRules(issue({ ...confident, maxIterations: 4000, stopOn: 2 }))).toMatchObject({ concluded: true, reason: 'both', value: 'b' })
    expect(evaluateRules(issue({ ...confident, maxIterations: 4000, stopOn: 2, default: 'a' })).value).toBe('a')
  })

  it('stopOn 2 with one condition given stops on that one; no condition never stops', () => {
    expect(evaluateRules(issue({ ...confident, stopOn: 2 })).concluded).toBe(true)
    expect(evaluateRules(issue({ targetOutcome: 'converted' }))).toMatchObject({ concluded: false, confidence: expect.closeTo(99.9868, 4) })
    expect(evaluateRules(issue({})).concluded).toBe(false)
  })

  it('the running minimum: an earlier p of 0.001 stays, and concludes a test whose latest look shows nothing', () => {
    const r = evaluateRules(input([2000, 2000], [200, 200], confident, { previousPValues: [1, 0.001] }))
    expect(r.pValues).toEqual([1, 0.001])
    expect(r).toMatchObject({ concluded: true, confidence: 99.9 })
  })

  it('Bonferroni over k − 1 comparisons: p = 0.03 against the control in a three-option test is 0.06, not significant at 95', () => {
    const three = (p: number) => input([2000, 2000, 2000], [200, 205, 200], confident, { previousPValues: [1, p, 1] })
    expect(evaluateRules(three(0.03))).toMatchObject({ concluded: false, confidence: 94 })
    // 0.02 · 2 = 0.04 ≤ 0.05: b is shown better and has the highest mean.
    expect(evaluateRules(three(0.02))).toMatchObject({ concluded: true, confidence: 96, value: 'b' })
  })

  it('the winner must be shown better than the control: c has the highest mean, but only b is significant', () => {
    // b 300/2000 against a 200/2000: p = 1.3e−4, × 2 = 2.6e−4. c 32/200 against a: p near 1.
    const r = evaluateRules({
      ...input([2000, 2000, 200], [200, 300, 32], confident),
      minSamples: 200,
    })
    expect(r).toMatchObject({ concluded: true, value: 'b' })
  })

  it('an option of weight 0 is never compared nor waited for, and does not count in Bonferroni', () => {
    const r = evaluateRules({ ...issue(confident), options: [{ value: 'a', weight: 1 }, { value: 'b', weight: 1 }, { value: 'c', weight: 0 }], sessions: [2000, 2000, 0], outcomes: [{ converted: bool(200, 2000) }, { converted: bool(300, 2000) }, {}] })
    expect(r.confidence).toBeCloseTo(99.9868, 4)
    expect(r.concluded).toBe(true)
  })

  it('a control of weight 0 leaves nothing to compare: confidence 0, no stop on confidence', () => {
    const r = evaluateRules({ ...issue(confident), options: [{ value: 'a', weight: 0 }, { value: 'b', weight: 1 }] })
    expect(r).toMatchObject({ concluded: false, confidence: 0 })
  })

  it('maxConfidence 100 needs p = 0 (an underflow: ln e > 745); maxConfidence 0 stops once minSamples are in', () => {
    expect(evaluateRules(issue({ maxConfidence: 100, targetOutcome: 'converted' })).concluded).toBe(false)
    expect(evaluateRules(input([1e6, 1e6], [1e5, 2e5], { maxConfidence: 100, targetOutcome: 'converted' })).concluded).toBe(true)
    expect(evaluateRules(input([100, 100], [10, 10], { maxConfidence: 0, targetOutcome: 'converted' }))).toMatchObject({ concluded: true, value: 'a' })
    expect(evaluateRules(input([99, 100], [10, 10], { maxConfidence: 0, targetOutcome: 'converted' })).concluded).toBe(false)
  })

  it('regression: a target outcome named "constructor" that no session recorded is empty, not Object.prototype.constructor', () => {
    const r = evaluateRules({ ...issue({ maxConfidence: 95, targetOutcome: 'constructor' }), outcomes: [{}, {}] })
    expect(r).toMatchObject({ concluded: false, confidence: 0 })
  })

  it.each<[Partial<RuleInput>, string]>([
    [{ options: [] }, 'options'],
    [{ options: [{ value: 'a', weight: NaN }, { value: 'b', weight: 1 }] }, 'options[0].weight'],
    [{ options: [{ value: 'a', weight: -1 }, { value: 'b', weight: 1 }] }, 'options[0].weight'],
    [{ options: [{ value: 1 as never, weight: 1 }, { value: 'b', weight: 1 }] }, 'options[0].value'],
    [{ sessions: [1] }, 'sessions'],
    [{ sessions: [1, -1] }, 'sessions[1]'],
    [{ sessions: [1, 0.5] }, 'sessions[1]'],
    [{ outcomes: [{}] }, 'outcomes'],
    [{ outcomes: [{}, null as never] }, 'outcomes[1]'],
    [{ outcomes: [{ converted: bool(1, 2) }, { converted: { n: 2, sum: 2, sumSq: 1 } }] }, 'outcomes[1].converted.sumSq'],
    [{ stop: { maxConfidence: 95 } }, 'stop.targetOutcome'],
    [{ stop: { maxIterations: 5, default: 'z' } }, 'stop.default'],
    [{ minSamples: 1.5 }, 'minSamples'],
    [{ previousPValues: [1, 2] }, 'previousPValues[1]'],
    [{ previousPValues: [1, 1, 1] }, 'previousPValues'],
  ])('bad input is a ValidationError naming the field (%#: %s)', (patch, path) => {
    const err = thrown(() => evaluateRules({ ...input([2, 2], [1, 1], confident), ...patch }))
    expect(err).toBeInstanceOf(ValidationError)
    expect(err.path).toBe(path)
  })
})

describe('evaluateRules: properties', () => {
  it('property: the running minimum never rises, look after look, whatever the data', () => {
    const look = fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 })), { minLength: 3, maxLength: 3 })
    fc.assert(
      fc.property(fc.array(look, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 400 }), (looks, minSamples) => {
        const n = [0, 0, 0]
        const k = [0, 0, 0]
        let previous: number[] | undefined
        for (const batch of looks) {
          batch.forEach(([sessions, conv], i) => {
            n[i]! += sessions
            k[i]! += Math.min(conv, sessions)
          })
          const r = evaluateRules(input(n, k, confident, { minSamples, previousPValues: previous }))
          if (previous) r.pValues.forEach((p, i) => expect(p).toBeLessThanOrEqual(previous![i]!))
          for (const p of r.pValues) expect(p).toBeGreaterThanOrEqual(0)
          expect(r.confidence).toBeGreaterThanOrEqual(0)
          expect(r.confidence).toBeLessThanOrEqual(100)
          previous = r.pValues
        }
      }),
      { numRuns: 80 },
    )
  })

  it('property: identical options never conclude on confidence (an A/A test with equal aggregates has p = 1)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100 }), (n, pct) => {
        const k = Math.round((n * pct) / 100)
        expect(evaluateRules(input([n, n], [k, k], confident)).concluded).toBe(false)
      }),
    )
  })
})
