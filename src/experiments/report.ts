import { invalid } from '../errors.js'
import { chanceToBeBest } from './best.js'
import { chiSquarePValue } from './distributions.js'
import { bonferroni, checkRuleInput, compare, evaluateRules, outcomeOf, ruleAlpha, type RuleInput } from './rules.js'
import { moments, type Aggregate } from './stats.js'

/** An estimate with its 95% interval. */
export interface Interval {
  /** The point estimate (for a lift, `mean / controlMean − 1`: 0.1 is 10% above the control). */
  estimate: number
  /** The 95% interval's lower bound; below 0 for a lift, the option may be worse than the control. */
  low: number
  /** The 95% interval's upper bound. */
  high: number
}

/** One outcome of one option in a report. `null` where a number has no meaning (no sessions, the control against itself). */
export interface OutcomeReport {
  /** Sessions that recorded the outcome. */
  n: number
  /** The outcome's mean over those sessions (a boolean's mean is its rate, 0..1); null when `n` is 0. */
  mean: number | null
  /** Relative lift against the control's mean, `mean / controlMean − 1`, with a 95% interval (delta method); null for the control, or when the control's mean is not above 0. */
  lift: Interval | null
  /** Sequential (always-valid) p-value against the control, Bonferroni-adjusted over the k − 1 comparisons; a running minimum for the target outcome. */
  pValue: number | null
  /** `100 (1 − pValue)`. */
  confidence: number | null
  /** The chance this option's true mean is the highest (normal approximation, integrated, not sampled). */
  chanceToBeBest: number | null
}

/** One option in a report. */
export interface OptionReport {
  /** The option's value, as the test defined it (the first option is the control). */
  value: string
  /** The option's weight as given in the definition, not normalized (`{ a: 1, b: 3 }` gives 1 and 3). */
  weight: number
  /** Sessions recorded for the option. */
  n: number
  /** The statistics of each numeric outcome (boolean, integer, float), by outcome name; string outcomes are not aggregated. */
  outcomes: Record<string, OutcomeReport>
}

/** Sample-ratio mismatch: do the session counts fit the weights? */
export interface SampleRatio {
  /** Pearson's chi-square of the counts against the normalized weights; null when an option of weight 0 has sessions (infinite). */
  chiSquare: number | null
  /** Options with a weight above 0, minus 1. */
  df: number
  /** The chi-square test's p-value: the chance of counts this uneven if the assignment follows the weights; 0 when `chiSquare` is null. */
  pValue: number
  /** pValue < 0.001: the assignment, the recording or a filter upstream is broken; do not trust the comparison. */
  mismatch: boolean
}

/** What `buildReport` returns: plain JSON (every number finite or null). */
export interface ExperimentReport {
  /** The test's name. */
  test: string
  /** The first option's value. */
  control: string
  /** The outcome the stop rules judge on; `null` when the test has none. */
  targetOutcome: string | null
  /** Sessions recorded for the test. */
  iterations: number
  /** As `evaluateRules` gives it: 0..100 from the adjusted smallest p-value of the target outcome. */
  confidence: number
  /** One report per option: its weight, sessions and each outcome's statistics. */
  options: OptionReport[]
  /** Whether the sessions split across options as the weights say (a broken assignment shows here first). */
  sampleRatio: SampleRatio
}

const Z95 = 1.959963984540054 // Φ⁻¹(0.975)
const SRM_THRESHOLD = 0.001

/**
 * Pearson's chi-square goodness of fit of the session counts to the normalized weights, over the
 * options with a weight above 0. Example: 1,000 sessions at 50/50 split 540/460: expected 500 each,
 * χ² = 40²/500 + 40²/500 = 6.4, df 1, p = 0.0114: no mismatch; 560/440 gives χ² = 14.4, p = 1.5e−4: mismatch.
 */
export function sampleRatio(weights: number[], sessions: number[]): SampleRatio {
  const total = sessions.reduce((s, n) => s + n, 0)
  const sumW = weights.reduce((s, w) => s + (w > 0 ? w : 0), 0)
  const live = weights.filter((w) => w > 0).length
  const df = Math.max(0, live - 1)
  if (weights.some((w, i) => !(w > 0) && sessions[i]! > 0)) return { chiSquare: null, df, pValue: 0, mismatch: true }
  let chiSquare = 0
  weights.forEach((w, i) => {
    if (!(w > 0) || total === 0) return
    const expected = (total * w) / sumW
    chiSquare += (sessions[i]! - expected) ** 2 / expected
  })
  const pValue = df === 0 || total === 0 ? 1 : chiSquarePValue(chiSquare, df)
  return { chiSquare, df, pValue, mismatch: pValue < SRM_THRESHOLD }
}

/**
 * Relative lift of `b` over the control `a` with a 95% interval by the delta method on the ratio of
 * means: Var(m_B / m_A) ≈ se_B² / m_A² + m_B² se_A² / m_A⁴. Relative, because "+20%" is what people
 * compare across tests; the delta method, because it needs only the aggregates and is what
 * GrowthBook's and Statsig's frequentist engines report. Null when the control's mean is not above 0
 * (no lift from nothing, and a negative baseline flips the sign). Example: 10.0% (n 2,000) against
 * 15.0% (n 2,000): se² 4.5e−5 and 6.375e−5, lift 0.5, Var = 6.375e−5/0.01 + 0.0225 · 4.5e−5/1e−4 =
 * 0.006375 + 0.010125 = 0.0165, sd 0.1285, interval 0.5 ± 0.2518 = [0.248, 0.752].
 */
export function relativeLift(a: Aggregate, b: Aggregate): Interval | null {
  if (a.n === 0 || b.n === 0) return null
  const ma = moments(a)
  const mb = moments(b)
  if (!(ma.mean > 0)) return null
  const ratio = mb.mean / ma.mean
  const sd = Math.sqrt(mb.variance / b.n / ma.mean ** 2 + (ratio * ratio * (ma.variance / a.n)) / ma.mean ** 2)
  // A control mean near 1e−300 makes the ratio overflow: no finite lift to report.
  if (!Number.isFinite(ratio) || !Number.isFinite(sd)) return null
  return { estimate: ratio - 1, low: ratio - 1 - Z95 * sd, high: ratio - 1 + Z95 * sd }
}

/**
 * A test's report: per option its sessions and, per outcome, the mean, the lift against the control,
 * the sequential confidence and the chance to be best; plus a sample-ratio-mismatch check. The
 * target outcome's p-values are the running minima of `evaluateRules` (given `previousPValues`);
 * other outcomes' are this look's alone. Pure and deterministic.
 */
export function buildReport(input: RuleInput & { test: string }): ExperimentReport {
  if (typeof input?.test !== 'string') throw invalid('test', 'must be a string')
  checkRuleInput(input)
  const { options, outcomes, sessions, stop, test } = input
  const evaluation = evaluateRules(input)
  const alpha = ruleAlpha(stop)
  const names: string[] = []
  for (const o of outcomes) for (const name of Object.keys(o)) if (!names.includes(name)) names.push(name)
  // Without a prototype: an outcome named "__proto__" (a JSON key like any other) is data, not a prototype to set.
  const reports: OptionReport[] = options.map((o, i) => ({ value: o.value, weight: o.weight, n: sessions[i]!, outcomes: Object.create(null) as Record<string, OutcomeReport> }))
  for (const name of names) {
    const aggs = outcomes.map((o, i) => outcomeOf(o, name, `outcomes[${i}]`))
    // The running minima belong to the target outcome only; another outcome starts from 1.
    const cmp = compare(name === stop.targetOutcome ? input : { ...input, previousPValues: [] }, name, alpha)
    const m = cmp.compared.length
    const spread = aggs.flatMap((a, i) => (a.n > 0 ? [i] : []))
    const chances = chanceToBeBest(spread.map((i) => ({ mean: moments(aggs[i]!).mean, se: Math.sqrt(moments(aggs[i]!).variance / aggs[i]!.n) })))
    aggs.forEach((a, i) => {
      const compared = cmp.compared.includes(i)
      const p = compared ? bonferroni(cmp.current[i]!, m) : null
      const at = spread.indexOf(i)
      reports[i]!.outcomes[name] = {
        n: a.n,
        // `+ 0`: a sum of -0 (one session that spent -0) gives a mean of -0, which JSON writes as 0,
        // so a stored or POSTed report would differ from the one returned (found by the property below).
        mean: a.n > 0 ? moments(a).mean + 0 : null,
        lift: i === 0 ? null : relativeLift(aggs[0]!, a),
        pValue: p,
        confidence: p === null ? null : 100 * (1 - p),
        chanceToBeBest: at < 0 ? null : chances[at]!,
      }
    })
  }
  return {
    test,
    control: options[0]!.value,
    targetOutcome: stop.targetOutcome ?? null,
    iterations: evaluation.iterations,
    confidence: evaluation.confidence,
    options: reports,
    sampleRatio: sampleRatio(
      options.map((o) => o.weight),
      sessions,
    ),
  }
}
