/**
 * Does "stop when confidence reaches 95%" keep its promise when it is checked after every batch of
 * sessions? An A/A simulation (issue 10): 1,000 experiments of two identical options converting at
 * 10%, each session assigned 50/50 and converting or not, one by one (no shortcut through binomial
 * draws), looked at after every 50 sessions up to 10,000. Three rules judged on the same sessions:
 *
 * - the stop rules (`evaluateRules`, maxConfidence 95, minSamples 100): the mSPRT's always-valid p-value;
 * - naive: a fixed-horizon two-sided z-test (p < 0.05) checked at every look, what a dashboard shows;
 * - "chance to be best ≥ 95%" checked at every look.
 *
 * Each declares a winner at its first look past the bar (every option at 100 sessions or more, as the
 * stop rules require). In an A/A test every winner is a false positive: the stop rules must stay at
 * or under 5%. Then the power: option B converts at 12%, how many experiments conclude (for B) within
 * 10,000 sessions, and the median sessions to conclude. Seeded (mulberry32), so every run prints the
 * same table.
 *
 * Run: npx esbuild bench/experiments-aa.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/experiments-aa.bench.mjs && node /tmp/experiments-aa.bench.mjs
 */
import { chanceToBeBest } from '../src/experiments/best.js'
import { normalCdf } from '../src/experiments/distributions.js'
import { evaluateRules } from '../src/experiments/rules.js'

const EXPERIMENTS = 1000
const SESSIONS = 10_000
const LOOK_EVERY = 50
const MIN_SAMPLES = 100
const SEED = 20261126

/** mulberry32: a small seeded PRNG, so every run simulates the same sessions. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rule = 'sequential' | 'naive' | 'best' | 'fixed'
/** Per rule, per experiment: sessions at the first winner and the winner (0 = A, 1 = B), or undefined. */
type Outcome = { at: number; winner: number } | undefined

const options = [
  { value: 'A', weight: 1 },
  { value: 'B', weight: 1 },
]
const stop = { maxConfidence: 95, targetOutcome: 'converted' }

function simulate(rateB: number, seed: number): Record<Rule, Outcome[]> {
  const random = rng(seed)
  const out: Record<Rule, Outcome[]> = { sequential: [], naive: [], best: [], fixed: [] }
  for (let e = 0; e < EXPERIMENTS; e++) {
    const n = [0, 0]
    const k = [0, 0]
    const rates = [0.1, rateB]
    const first: Partial<Record<Rule, Outcome>> = {}
    let pValues: number[] | undefined
    for (let s = 1; s <= SESSIONS; s++) {
      const arm = random() < 0.5 ? 0 : 1
      n[arm]!++
      if (random() < rates[arm]!) k[arm]!++
      if (s % LOOK_EVERY !== 0) continue
      const outcomes = [0, 1].map((i) => ({ converted: { n: n[i]!, sum: k[i]!, sumSq: k[i]! } }))
      const means = [0, 1].map((i) => (n[i]! > 0 ? k[i]! / n[i]! : 0))
      if (!first.sequential) {
        const r = evaluateRules({ options, sessions: n.slice(), outcomes, stop, minSamples: MIN_SAMPLES, previousPValues: pValues })
        pValues = r.pValues
        if (r.concluded) first.sequential = { at: s, winner: r.value === 'B' ? 1 : 0 }
      }
      if (n[0]! < MIN_SAMPLES || n[1]! < MIN_SAMPLES) continue
      const se = [0, 1].map((i) => Math.sqrt((means[i]! * (1 - means[i]!)) / n[i]!))
      const seDiff = Math.hypot(se[0]!, se[1]!)
      const z = seDiff > 0 ? (means[1]! - means[0]!) / seDiff : 0
      const naive = 2 * normalCdf(-Math.abs(z)) < 0.05
      if (!first.naive && naive) first.naive = { at: s, winner: z > 0 ? 1 : 0 }
      if (s === SESSIONS && naive) first.fixed = { at: s, winner: z > 0 ? 1 : 0 }
      if (!first.best) {
        const chances = chanceToBeBest([0, 1].map((i) => ({ mean: means[i]!, se: se[i]! })))
        const top = chances[1]! > chances[0]! ? 1 : 0
        if (chances[top]! >= 0.95) first.best = { at: s, winner: top }
      }
    }
    for (const rule of ['sequential', 'naive', 'best', 'fixed'] as const) out[rule].push(first[rule])
  }
  return out
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`
const share = (os: Outcome[], winner?: number) => os.filter((o) => o && (winner === undefined || o.winner === winner)).length / os.length
function median(os: Outcome[]): string {
  const at = os.flatMap((o) => (o ? [o.at] : [])).sort((a, b) => a - b)
  return at.length === 0 ? '–' : String(at[Math.floor((at.length - 1) / 2)])
}

const t0 = performance.now()
const aa = simulate(0.1, SEED)
const ab = simulate(0.12, SEED + 1)
const seconds = ((performance.now() - t0) / 1000).toFixed(1)

const label: Record<Rule, string> = {
  sequential: 'stop rules: mSPRT, maxConfidence 95 (`evaluateRules`)',
  naive: 'naive: fixed-horizon z-test, p < 0.05 at every look',
  best: 'chance to be best ≥ 95% at every look',
  fixed: 'reference: one z-test at 10,000 sessions only',
}
console.log(`A/A and power simulation: ${EXPERIMENTS} experiments per scenario, looks every ${LOOK_EVERY} sessions up to ${SESSIONS}, minSamples ${MIN_SAMPLES}, seed ${SEED} (${seconds} s)\n`)
console.log('| rule | A/A (10% vs 10%): declare a winner | B at 12%: conclude | B at 12%: conclude for B | median sessions to conclude |')
console.log('| --- | --- | --- | --- | --- |')
for (const rule of ['sequential', 'naive', 'best', 'fixed'] as const) {
  console.log(`| ${label[rule]} | ${pct(share(aa[rule]))} | ${pct(share(ab[rule]))} | ${pct(share(ab[rule], 1))} | ${median(ab[rule])} |`)
}
const falsePositives = share(aa.sequential)
if (falsePositives > 0.05) {
  console.error(`\nFAIL: the stop rules declared a winner in ${pct(falsePositives)} of A/A experiments (must be at most 5%)`)
  process.exitCode = 1
}
