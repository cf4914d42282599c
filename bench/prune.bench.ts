/**
 * Prune of 100,000 inputs, as a ratio to sorting the same 100,000 relevance numbers in the same run.
 * Two baselines: `Float64Array.from(relevances).sort()` (typed-array numeric sort, no comparator)
 * and `relevances.slice().sort((a, b) => b - a)` (array sort with a comparator, what a prune must at
 * least do). Each time is the median of 9 runs after 3 warm-ups; every run starts from the same
 * untouched inputs.
 *
 * Inputs: 60% texts, 40% small objects, tokens 1..500, a budget of a quarter of the total so that the
 * scan keeps going past inputs that do not fit, threshold 0.1. Relevances either all distinct
 * (random doubles) or in 11 levels (0, 0.1, … 1: mostly ties, the stable order matters).
 *
 * Run: npx esbuild bench/prune.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/prune.bench.mjs && node /tmp/prune.bench.mjs
 */
import { pruneInputs } from '../src/llm/pruner.js'
import type { ContextInput } from '../src/llm/types.js'

const N = 100_000

/** mulberry32: a small seeded PRNG, so every run prunes the same inputs. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function makeInputs(levels: boolean): ContextInput[] {
  const r = rng(42)
  const out: ContextInput[] = []
  for (let i = 0; i < N; i++) {
    const relevance = levels ? Math.round(r() * 10) / 10 : r()
    const tokens = 1 + Math.floor(r() * 500)
    const data = r() < 0.6 ? `note ${i}: ${'lorem ipsum '.repeat(1 + (i % 5))}` : { id: i, title: `Book ${i}`, tags: ['a', 'b'] }
    out.push({ data, relevance, tokens })
  }
  return out
}

function median(fn: () => unknown): number {
  for (let i = 0; i < 3; i++) fn()
  const runs: number[] = []
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now()
    fn()
    runs.push(performance.now() - t0)
  }
  return runs.sort((a, b) => a - b)[4]!
}

console.log(`Node ${process.version}, ${N.toLocaleString('en')} inputs, median of 9 runs (ms)\n`)
console.log('| relevances | prune | Float64Array sort | prune ÷ typed sort | array sort with comparator | prune ÷ comparator sort | kept |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const levels of [false, true]) {
  const inputs = makeInputs(levels)
  const relevances = inputs.map((x) => x.relevance)
  const budget = Math.floor(inputs.reduce((a, x) => a + x.tokens, 0) / 4)
  let kept = 0
  const prune = median(() => (kept = pruneInputs(inputs, budget, 0.1).length))
  const typed = median(() => Float64Array.from(relevances).sort())
  const compared = median(() => relevances.slice().sort((a, b) => b - a))
  console.log(
    `| ${levels ? '11 levels (ties)' : 'distinct'} | ${prune.toFixed(1)} | ${typed.toFixed(1)} | ${(prune / typed).toFixed(1)}× | ${compared.toFixed(1)} | ${(prune / compared).toFixed(1)}× | ${kept.toLocaleString('en')} |`,
  )
}
