import { invalid } from '../errors.js'
import type { StopConditions } from './session/tests.js'
import { checkAggregate, mixtureRhoSquared, moments, sequentialPValue, type Aggregate } from './stats.js'

/** What the stop rules look at: a test's options in order (the first is the control) and its aggregates. */
export interface RuleInput {
  /** The options in the test's order, with their weights as given. */
  options: { value: string; weight: number }[]
  /** Sessions recorded per option (randomized sessions only: not those given a conclusion). */
  sessions: number[]
  /** Per option, the aggregate of each outcome by name. */
  outcomes: Record<string, Aggregate>[]
  stop: StopConditions
  /** Sessions every option needs before a stop on confidence (and before a look counts toward the running minimum). */
  minSamples: number
  /** The running minimum p-values of earlier evaluations, per option against the control (index 0 unused). */
  previousPValues?: number[]
}

/** Why a test concluded. */
export type StopReason = 'maxIterations' | 'maxConfidence' | 'both'

/** What `evaluateRules` decides. */
export interface RuleResult {
  concluded: boolean
  /** The value every later session gets, when concluded. */
  value?: string
  reason?: StopReason
  /** 0..100 from the Bonferroni-adjusted smallest p-value; 0 without `targetOutcome`. */
  confidence: number
  /** Sessions recorded for the test. */
  iterations: number
  /** Updated running minima per option against the control (index 0 is 1, unused): store them for the next evaluation. */
  pValues: number[]
}

/**
 * The alpha that tunes the mixture: 1 − maxConfidence/100, or 0.05 without a maxConfidence strictly
 * between 0 and 100 (the mixture needs 0 < α < 1; 0.05 is the usual level when none is asked for).
 */
export function ruleAlpha(stop: StopConditions): number {
  const c = stop.maxConfidence
  return c !== undefined && c > 0 && c < 100 ? (100 - c) / 100 : 0.05
}

/**
 * The bar an adjusted p-value must reach, `p ≤ bar`: (100 − maxConfidence)/100, written so that 95 gives
 * exactly 0.05 (1 − 0.95 is 0.050000000000000044). maxConfidence 100 asks for p = 0, which only an
 * underflow gives (ln e > 745): in practice never. Without maxConfidence, 0.05.
 */
export function ruleBar(stop: StopConditions): number {
  return stop.maxConfidence !== undefined ? (100 - stop.maxConfidence) / 100 : 0.05
}

/** The target outcome's aggregate of one option; a missing one is empty. `Object.hasOwn`: an outcome named "constructor" is data, not Object's. */
export function outcomeOf(outcomes: Record<string, Aggregate>, name: string, path: string): Aggregate {
  if (!Object.hasOwn(outcomes, name)) return { n: 0, sum: 0, sumSq: 0 }
  const a = outcomes[name]
  checkAggregate(a, `${path}.${name}`)
  return a
}

/** Throws a `ValidationError` naming the field unless `input` is a well-formed `RuleInput`. */
export function checkRuleInput(input: RuleInput): void {
  if (typeof input !== 'object' || input === null) throw invalid('input', 'must be an object')
  const { options, sessions, outcomes, stop, minSamples, previousPValues } = input
  if (!Array.isArray(options) || options.length === 0) throw invalid('options', 'must be a non-empty array')
  options.forEach((o, i) => {
    if (typeof o?.value !== 'string') throw invalid(`options[${i}].value`, 'must be a string')
    if (typeof o.weight !== 'number' || !Number.isFinite(o.weight) || o.weight < 0) throw invalid(`options[${i}].weight`, 'must be a finite number >= 0')
  })
  const k = options.length
  if (!Array.isArray(sessions) || sessions.length !== k) throw invalid('sessions', `must be an array of ${k} counts, one per option`)
  sessions.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 0) throw invalid(`sessions[${i}]`, 'must be an integer >= 0')
  })
  if (!Array.isArray(outcomes) || outcomes.length !== k) throw invalid('outcomes', `must be an array of ${k} records, one per option`)
  outcomes.forEach((o, i) => {
    if (typeof o !== 'object' || o === null) throw invalid(`outcomes[${i}]`, 'must be an object')
  })
  if (typeof stop !== 'object' || stop === null) throw invalid('stop', 'must be an object')
  if (stop.maxConfidence !== undefined && typeof stop.targetOutcome !== 'string') {
    throw invalid('stop.targetOutcome', 'is required with maxConfidence: confidence is measured on it')
  }
  if (stop.default !== undefined && !options.some((o) => o.value === stop.default)) throw invalid('stop.default', 'must be one of the options')
  if (!Number.isInteger(minSamples) || minSamples < 0) throw invalid('minSamples', 'must be an integer >= 0')
  if (previousPValues !== undefined) {
    if (!Array.isArray(previousPValues) || previousPValues.length > k) throw invalid('previousPValues', `must be an array of at most ${k} numbers`)
    previousPValues.forEach((p, i) => {
      if (i > 0 && !(typeof p === 'number' && p >= 0 && p <= 1)) throw invalid(`previousPValues[${i}]`, 'must be a number in 0..1')
    })
  }
}

/** The comparisons (option index ≥ 1 against option 0) and their p-values for one look. Shared by the rules and the report. */
export interface Comparisons {
  /** Option indexes compared with the control: weight > 0, the control's weight > 0 too. */
  compared: number[]
  /** Per option, min(previous running minimum, this look); 1 where not compared. */
  current: number[]
  /** Per option, the running minimum to store: this look counts only once both sides have minSamples sessions. */
  locked: number[]
  /** Every option with a weight above 0 has minSamples sessions. */
  enough: boolean
}

/** Per-option sequential p-values of the target outcome against the control (unchecked input: call `checkRuleInput` first). */
export function compare(input: RuleInput, target: string, alpha: number): Comparisons {
  const { options, sessions, outcomes, minSamples, previousPValues = [] } = input
  const rho2 = mixtureRhoSquared(alpha)
  const control = outcomeOf(outcomes[0]!, target, 'outcomes[0]')
  const compared: number[] = []
  const current = options.map(() => 1)
  const locked = options.map(() => 1)
  for (let i = 1; i < options.length; i++) {
    const before = previousPValues[i] ?? 1
    locked[i] = before
    if (!(options[i]!.weight > 0 && options[0]!.weight > 0)) continue
    compared.push(i)
    const p = Math.min(before, sequentialPValue(control, outcomeOf(outcomes[i]!, target, `outcomes[${i}]`), rho2))
    current[i] = p
    // Before minSamples the normal approximation behind z is rough (at 10% conversion and 20
    // sessions, 2 conversions): such a look is shown, never kept. Starting the minimum later only
    // raises it, so the p-value stays always valid.
    if (sessions[i]! >= minSamples && sessions[0]! >= minSamples) locked[i] = p
  }
  const enough = options.every((o, i) => !(o.weight > 0) || sessions[i]! >= minSamples)
  return { compared, current, locked, enough }
}

/** min(1, m · p): Bonferroni over the m comparisons against the control. */
export function bonferroni(p: number, m: number): number {
  return Math.min(1, p * Math.max(1, m))
}

/**
 * The winning option: among the control and the options whose Bonferroni-adjusted running minimum
 * p-value is at most `bar`, the highest mean of the target outcome; ties go to the earlier option.
 * Higher is better: for an outcome where lower is better, record its complement or set `default`.
 */
function winner(input: RuleInput, target: string, cmp: Comparisons, bar: number): number {
  const meanOf = (i: number) => {
    const a = outcomeOf(input.outcomes[i]!, target, `outcomes[${i}]`)
    return a.n > 0 ? moments(a).mean : -Infinity
  }
  let best = 0
  let bestMean = meanOf(0)
  for (const i of cmp.compared) {
    if (bonferroni(cmp.locked[i]!, cmp.compared.length) > bar) continue
    const m = meanOf(i)
    if (m > bestMean) [best, bestMean] = [i, m]
  }
  return best
}

/**
 * Decides whether a test is over. `maxIterations` is reached when the sessions recorded for the test
 * reach it. `maxConfidence` is reached when every option with a weight above 0 has `minSamples`
 * sessions and the Bonferroni-adjusted smallest running-minimum p-value of the target outcome against
 * the control is at most 1 − maxConfidence/100. With both given, `stopOn` 1 (the default) stops on
 * either, 2 on both. The value: `stop.default`, else the winner (see `winner`; on iterations alone it
 * is the same rule, so with no option shown better the control stays), else the first option.
 * Pure: pass the returned `pValues` back as `previousPValues` next time.
 */
export function evaluateRules(input: RuleInput): RuleResult {
  checkRuleInput(input)
  const { options, sessions, stop } = input
  const iterations = sessions.reduce((s, n) => s + n, 0)
  const alpha = ruleAlpha(stop)
  const target = stop.targetOutcome
  let confidence = 0
  let pValues = options.map((_, i) => (i === 0 ? 1 : (input.previousPValues?.[i] ?? 1)))
  let cmp: Comparisons | undefined
  if (target !== undefined) {
    cmp = compare(input, target, alpha)
    pValues = cmp.locked
    const m = cmp.compared.length
    confidence = m === 0 ? 0 : 100 * (1 - bonferroni(Math.min(...cmp.compared.map((i) => cmp!.current[i]!)), m))
  }
  const byIterations = stop.maxIterations !== undefined && iterations >= stop.maxIterations
  let byConfidence = false
  if (stop.maxConfidence !== undefined && cmp !== undefined && cmp.enough && cmp.compared.length > 0) {
    // On the stored minima, not `confidence`: a look before minSamples never stops a test.
    const p = bonferroni(Math.min(...cmp.compared.map((i) => cmp!.locked[i]!)), cmp.compared.length)
    byConfidence = p <= ruleBar(stop)
  }
  const given = (stop.maxIterations !== undefined ? 1 : 0) + (stop.maxConfidence !== undefined ? 1 : 0)
  const met = (byIterations ? 1 : 0) + (byConfidence ? 1 : 0)
  const concluded = given > 0 && (stop.stopOn === 2 ? met === given : met > 0)
  const result: RuleResult = { concluded, confidence, iterations, pValues }
  if (!concluded) return result
  result.reason = byIterations && byConfidence ? 'both' : byIterations ? 'maxIterations' : 'maxConfidence'
  result.value = stop.default ?? options[target !== undefined && cmp ? winner(input, target, cmp, ruleBar(stop)) : 0]!.value
  return result
}
