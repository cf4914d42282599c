import { normalCdf, normalPdf } from './distributions.js'

/** An option's estimated mean and its standard error (`sqrt(variance / n)`). */
export interface Estimate {
  mean: number
  se: number
}

// φ beyond ±8 holds 1.2e−15 of the mass: the integrals below stop there.
const SPAN = 8
const PANELS = 32
const TOLERANCE = 1e-10
const MAX_DEPTH = 30

/**
 * The chance that each option's true mean is the highest, with each mean taken as normal around its
 * estimate (sd = its standard error). Deterministic: no Monte Carlo, so a report never changes between
 * two reads of the same aggregates. The results sum to 1 (within 1e−9 in the tests).
 *
 * Two options: the closed form P(B > A) = Φ((m_B − m_A) / √(se_A² + se_B²)). More: for each option i,
 * P(i best) = ∫ φ(u) Π_{j≠i} Φ((m_i + se_i·u − m_j) / se_j) du over u in [−8, 8], in option i's own
 * units so that a narrow option is resolved as well as a wide one, by adaptive Simpson on 32 panels
 * (a steep Φ of a much narrower option is refined where it is, not missed between grid points).
 *
 * An option with se = 0 (no spread: 0 of 500 converted) is a point mass at its mean: the others
 * must beat the highest such mass, and options tied at that mass share its chance equally.
 */
export function chanceToBeBest(estimates: Estimate[]): number[] {
  const k = estimates.length
  if (k === 1) return [1]
  const fixed = estimates.flatMap((e, i) => (e.se > 0 ? [] : [i]))
  const spread = estimates.flatMap((e, i) => (e.se > 0 ? [i] : []))
  if (k === 2 && spread.length > 0) {
    const [a, b] = estimates as [Estimate, Estimate]
    const s = Math.hypot(a.se, b.se)
    return [normalCdf((a.mean - b.mean) / s), normalCdf((b.mean - a.mean) / s)]
  }
  const out = estimates.map(() => 0)
  const floor = fixed.reduce((m, i) => Math.max(m, estimates[i]!.mean), -Infinity)
  if (fixed.length > 0) {
    const atFloor = fixed.filter((i) => estimates[i]!.mean === floor)
    let below = 1 // P(every spread option < floor)
    for (const j of spread) below *= normalCdf((floor - estimates[j]!.mean) / estimates[j]!.se)
    for (const i of atFloor) out[i] = below / atFloor.length
  }
  for (const i of spread) {
    const { mean, se } = estimates[i]!
    const from = Math.max(-SPAN, (floor - mean) / se)
    if (from >= SPAN) continue
    const others = spread.filter((j) => j !== i)
    out[i] = integrate(
      (u) => {
        const x = mean + se * u
        let p = normalPdf(u)
        for (const j of others) p *= normalCdf((x - estimates[j]!.mean) / estimates[j]!.se)
        return p
      },
      from,
      SPAN,
    )
  }
  return out
}

/** ∫ f over [a, b]: adaptive Simpson on `PANELS` equal panels. */
function integrate(f: (x: number) => number, a: number, b: number): number {
  const h = (b - a) / PANELS
  let total = 0
  for (let p = 0; p < PANELS; p++) {
    const lo = a + p * h
    const hi = p === PANELS - 1 ? b : lo + h
    const flo = f(lo)
    const fmid = f((lo + hi) / 2)
    const fhi = f(hi)
    total += simpson(f, lo, hi, flo, fmid, fhi, ((hi - lo) / 6) * (flo + 4 * fmid + fhi), TOLERANCE / PANELS, MAX_DEPTH)
  }
  return total
}

function simpson(f: (x: number) => number, a: number, b: number, fa: number, fm: number, fb: number, whole: number, tol: number, depth: number): number {
  const m = (a + b) / 2
  const flm = f((a + m) / 2)
  const frm = f((m + b) / 2)
  const left = ((m - a) / 6) * (fa + 4 * flm + fm)
  const right = ((b - m) / 6) * (fm + 4 * frm + fb)
  const diff = left + right - whole
  // |diff| / 15 estimates the error of left + right (Simpson's is O(h⁴): halving h cuts it 16-fold).
  if (depth <= 0 || Math.abs(diff) <= 15 * tol) return left + right + diff / 15
  return simpson(f, a, m, fa, flm, fm, left, tol / 2, depth - 1) + simpson(f, m, b, fm, frm, fb, right, tol / 2, depth - 1)
}
