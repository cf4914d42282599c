import { invalid } from '../errors.js'

/**
 * Running totals of one outcome for one option: sessions `n`, `sum` of the values and `sumSq` of
 * their squares. A boolean outcome counts true as 1: `sum` is the number of true and `sumSq = sum`.
 */
export interface Aggregate {
  /** Sessions counted. */
  n: number
  /** The sum of their values. */
  sum: number
  /** The sum of their values' squares. */
  sumSq: number
}

/** What `sequentialTest` returns: the always-valid p-value and `confidence = 100 (1 − pValue)`. */
export interface SequentialResult {
  /** The always-valid p-value, 0 to 1: it may be read after every session without inflating false positives. */
  pValue: number
  /** `100 (1 − pValue)`, 0 to 100. */
  confidence: number
}

// Rounding in `sum` and `sumSq` (each add rounds by up to 1.1e−16 relative) leaves a variance that is
// really 0 as ±1e−17 or so; below 1e−9 of E[x²] it is taken as 0 (a coefficient of variation under
// 3e−5, which no outcome worth testing has), so that noise never becomes an infinite z.
const VARIANCE_FLOOR = 1e-9

/**
 * Throws a `ValidationError` naming `path.n`, `path.sum` or `path.sumSq` unless `a` is a possible
 * aggregate: `n` an integer ≥ 0, `sum` and `sumSq` finite, `sumSq ≥ 0`, nothing summed when `n = 0`,
 * and `sumSq / n ≥ (sum / n)²` (a mean square below the squared mean is no set of numbers).
 */
export function checkAggregate(a: unknown, path: string): asserts a is Aggregate {
  if (typeof a !== 'object' || a === null) throw invalid(path, 'must be an object { n, sum, sumSq }')
  const { n, sum, sumSq } = a as Record<string, unknown>
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalid(`${path}.n`, 'must be an integer >= 0')
  if (typeof sum !== 'number' || !Number.isFinite(sum)) throw invalid(`${path}.sum`, 'must be a finite number')
  if (typeof sumSq !== 'number' || !Number.isFinite(sumSq) || sumSq < 0) throw invalid(`${path}.sumSq`, 'must be a finite number >= 0')
  if (n === 0 && (sum !== 0 || sumSq !== 0)) throw invalid(path, 'n is 0 but sum or sumSq is not')
  // Divided first, not n·sumSq ≥ sum², which overflows for large totals.
  const mean = n === 0 ? 0 : sum / n
  if (n > 0 && mean * mean > (sumSq / n) * (1 + 1e-9) + Number.MIN_VALUE) {
    throw invalid(`${path}.sumSq`, 'is smaller than sum² / n: no values have this sum and sum of squares')
  }
}

/** Mean and population variance (`sumSq/n − mean²`, which is p(1 − p) for a boolean) of a checked aggregate with n > 0. */
export function moments(a: Aggregate): { mean: number; variance: number } {
  const mean = a.sum / a.n
  const meanSq = a.sumSq / a.n
  const variance = meanSq - mean * mean
  return { mean, variance: variance > meanSq * VARIANCE_FLOOR ? variance : 0 }
}

/**
 * ρ² of the normal mixture, tuned to `alpha` as the issue gives it (Johari et al., "Always valid
 * inference", tuned for a test that ends near 5,000 sessions): ρ² = (−2 ln α + ln(−2 ln α + 1)) / 5000.
 * At α = 0.05: −2 ln α = 5.99146, ln 6.99146 = 1.94469, ρ² = 7.93615 / 5000 = 1.58723e−3.
 */
export function mixtureRhoSquared(alpha: number): number {
  const l = -2 * Math.log(alpha)
  return (l + Math.log(l + 1)) / 5000
}

/**
 * z² of treatment against control, and n = n_A + n_B. `Δ = mean_B − mean_A`, `SE² = var_A/n_A + var_B/n_B`.
 * When both options are constant (SE = 0) and their means differ, SE² is the pooled variance of the
 * two together times (1/n_A + 1/n_B): what a score test uses under the null hypothesis Δ = 0. It is
 * never 0 when the means differ, and it keeps z² ≤ n: 0 of 1 against 1 of 1 gives z² = 2, p = 1, not
 * the z = ∞, p = 0 that 0/0 would claim from two sessions.
 */
function zSquared(control: Aggregate, treatment: Aggregate): number {
  const a = moments(control)
  const b = moments(treatment)
  const delta = b.mean - a.mean
  if (delta === 0) return 0
  let se2 = a.variance / control.n + b.variance / treatment.n
  if (!(se2 > 0)) {
    const n = control.n + treatment.n
    const mean = (control.sum + treatment.sum) / n
    const pooled = (control.sumSq + treatment.sumSq) / n - mean * mean
    se2 = pooled * (1 / control.n + 1 / treatment.n)
    // Means that differ by less than rounding: no evidence rather than an infinite z.
    if (!(se2 > 0)) return 0
  }
  const z = delta / Math.sqrt(se2) // Δ / SE, not Δ² / SE²: Δ² overflows first
  return z * z
}

/**
 * ln of the mixture likelihood ratio: ln e = z² · nρ² / (2 (nρ² + 1)) − ½ ln(nρ² + 1). In log space,
 * so that a huge n or z never overflows `exp` (e itself passes 1.8e308 at ln e = 709.8).
 */
function logMixtureRatio(z2: number, n: number, rho2: number): number {
  const v = n * rho2
  return (z2 * v) / (2 * (v + 1)) - 0.5 * Math.log1p(v)
}

/**
 * The always-valid p-value of a mixture sequential probability ratio test (mSPRT) of `treatment`
 * against `control` on the mean of one outcome, for one look: `p = min(1, 1/e)`. Checking it after
 * every session does not inflate false positives, provided the caller keeps the running minimum
 * across looks (the stop rules do). `alpha` (0 < alpha < 1) tunes the mixture: the test is most
 * sensitive where it would end at that level.
 *
 * Worked example (the issue's): 200 of 2,000 against 300 of 2,000 at alpha 0.05. Means 0.10 and 0.15,
 * variances 0.09 and 0.1275, SE² = (0.09 + 0.1275) / 2000 = 1.0875e−4, z² = 0.05² / SE² = 22.989;
 * n = 4000, nρ² = 6.3489, ln e = 22.989 · 6.3489 / 14.698 − ½ ln 7.3489 = 9.9302 − 0.9973 = 8.9329,
 * p = e^−8.9329 = 1.3197e−4, confidence 99.987.
 *
 * Edge cases: an option with n = 0 gives p = 1 (no evidence). Equal means give p = 1. Two constant
 * options with different means use the pooled variance (see above). p is symmetric in control and
 * treatment. Bad input is a `ValidationError` naming the field (`control.sumSq`, `alpha`).
 */
export function sequentialTest(input: { control: Aggregate; treatment: Aggregate; alpha: number }): SequentialResult {
  if (typeof input !== 'object' || input === null) throw invalid('input', 'must be an object { control, treatment, alpha }')
  const { control, treatment, alpha } = input
  checkAggregate(control, 'control')
  checkAggregate(treatment, 'treatment')
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1)) throw invalid('alpha', 'must be a number between 0 and 1 (exclusive)')
  const pValue = sequentialPValue(control, treatment, mixtureRhoSquared(alpha))
  return { pValue, confidence: 100 * (1 - pValue) }
}

/** `sequentialTest`'s p-value on checked aggregates and a precomputed ρ² (the rules compute ρ² once per evaluation). */
export function sequentialPValue(control: Aggregate, treatment: Aggregate, rho2: number): number {
  if (control.n === 0 || treatment.n === 0) return 1
  const logE = logMixtureRatio(zSquared(control, treatment), control.n + treatment.n, rho2)
  return logE <= 0 ? 1 : Math.exp(-logE)
}
