/**
 * The special functions the experiment statistics need, written out so that `agentctx/experiments`
 * has no runtime dependency: ln Γ (Lanczos), the regularized upper incomplete gamma Q(a, x) (a power
 * series below x = a + 1, a continued fraction above, as in Numerical Recipes, 3rd ed., § 6.2), and
 * from Q the two tails the reports use: the normal distribution function and the chi-square p-value.
 * Accuracy is about 1e-14 relative over the range used here (test/experiments/stats.test.ts checks
 * table values and closed forms).
 */

// Lanczos approximation, g = 7, 9 coefficients (the set in Numerical Recipes and most libraries):
// about 15 significant digits for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
]
const LN_SQRT_2PI = 0.9189385332046728 // ln √(2π)
const LN_SQRT_PI = 0.5723649429247001 // ln Γ(½) = ln √π, for the normal distribution's many calls
const EPS = 1e-15
// Both expansions converge in O(√a) steps at worst; 10,000 bounds the loop for any a the reports
// pass (a = degrees of freedom / 2, one per option).
const MAX_STEPS = 10_000

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x) // reflection: Γ(x)Γ(1−x) = π / sin πx
  x -= 1
  let sum = LANCZOS[0]!
  for (let i = 1; i < 9; i++) sum += LANCZOS[i]! / (x + i)
  const t = x + 7.5
  return LN_SQRT_2PI + (x + 0.5) * Math.log(t) - t + Math.log(sum)
}

/**
 * The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x ≥ 0:
 * 1 at x = 0, falling to 0 as x grows. The chi-square tail is Q(df / 2, χ² / 2).
 */
export function gammaQ(a: number, x: number): number {
  if (!(x > 0)) return 1
  if (x === Infinity) return 0
  // e^−x x^a / Γ(a), in log space: x^a alone overflows past x = 1e308^(1/a).
  const prefix = Math.exp(a * Math.log(x) - x - (a === 0.5 ? LN_SQRT_PI : lnGamma(a)))
  if (x < a + 1) {
    // P(a, x) = e^−x x^a / Γ(a) · Σ x^k / (a (a+1) … (a+k)); the terms shrink at least as fast as
    // x / (a + 1) < 1. Q = 1 − P loses little here: for a ≥ ½, Q(a, x < a + 1) > Q(½, 1.5) = 0.083,
    // so the subtraction keeps about 14 digits.
    let term = 1 / a
    let sum = term
    for (let k = 1; k < MAX_STEPS; k++) {
      term *= x / (a + k)
      sum += term
      if (term < sum * EPS) break
    }
    return Math.max(0, 1 - sum * prefix)
  }
  // Q(a, x) = e^−x x^a / Γ(a) · 1 / (x + 1 − a − 1·(1 − a) / (x + 3 − a − 2·(2 − a) / (x + 5 − a − …))),
  // evaluated by the modified Lentz method (Numerical Recipes § 5.2); TINY stands in for a zero divisor.
  const TINY = 1e-300
  let b = x + 1 - a
  let c = 1 / TINY
  let d = 1 / b
  let h = d
  for (let i = 1; i < MAX_STEPS; i++) {
    const an = -i * (i - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < TINY) d = TINY
    c = b + an / c
    if (Math.abs(c) < TINY) c = TINY
    d = 1 / d
    const step = d * c
    h *= step
    if (Math.abs(step - 1) < EPS) break
  }
  return Math.min(1, prefix * h)
}

/**
 * The standard normal distribution function Φ(z) = P(Z ≤ z). Through erfc: Φ(−|z|) = ½ erfc(|z|/√2)
 * = ½ Q(½, z²/2), accurate in the far tail too (Φ(−8) = 6.2e−16, not 0 from 1 − 0.999…).
 */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return NaN
  const tail = 0.5 * gammaQ(0.5, (z * z) / 2)
  return z < 0 ? tail : 1 - tail
}

/** The standard normal density φ(z). */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z - LN_SQRT_2PI)
}

/** P(χ²_df ≥ x): the p-value of a chi-square statistic `x` with `df` degrees of freedom (df ≥ 1). */
export function chiSquarePValue(x: number, df: number): number {
  return gammaQ(df / 2, x / 2)
}
