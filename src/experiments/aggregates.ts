import { invalid } from '../errors.js'
import type { Aggregate } from './stats.js'

/**
 * One shard of a test's aggregates as stored: per option (in the order of the test's stored
 * definition) the sessions recorded, and per outcome name `[n, sum, sumSq]` per option. `rev` goes
 * up by one on every write, so a shard never returns to a value a recorder read earlier (no ABA:
 * two writes that cancel out, say one session moving from A to B and another from B to A, still
 * change it, and a recorder holding the old read fails its compare-and-set and reads again).
 */
export interface Shard {
  rev: number
  sessions: number[]
  outcomes: Record<string, [n: number, sum: number, sumSq: number][]>
}

/** What one session adds to one test: the option it was given (index in the stored definition) and its numeric outcome values. */
export interface Contribution {
  option: number
  outcomes: Record<string, number>
}

/**
 * An empty map by name without a prototype: an outcome named `constructor` or `toString` is data,
 * not an inherited member (`map.constructor ??= …` on a plain object would find Object and skip).
 */
export const dict = <T>(): Record<string, T> => Object.create(null) as Record<string, T>

/** An outcome value as it is aggregated: booleans as 0/1, numbers as they are; strings are not aggregated (`undefined`). */
export function numericValue(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0
  return typeof value === 'number' ? value : undefined
}

/**
 * The contribution of a session given option `option`, from its outcome values at record time.
 * A value whose square is not a finite number (|x| > ~1.3e154) is a `ValidationError` naming the
 * outcome: JSON cannot hold Infinity (it becomes `null`), so storing it would poison the test.
 */
export function contributionOf(option: number, values: Record<string, { value: unknown }>): Contribution {
  const outcomes = dict<number>()
  for (const name of Object.keys(values)) {
    const x = numericValue(values[name]!.value)
    if (x === undefined) continue
    if (!Number.isFinite(x * x)) throw invalid(`outcomes.${name}`, 'is too large to aggregate (its square is not a finite number)')
    outcomes[name] = x === 0 ? 0 : x // -0 as 0, as JSON reads it back
  }
  return { option, outcomes }
}

/** A shard with nothing recorded, for a test of `options` options. */
export function emptyShard(options: number): Shard {
  return { rev: 0, sessions: new Array<number>(options).fill(0), outcomes: dict() }
}

/**
 * `shard` with `previous` taken out and `next` put in (either may be absent), as a new object with
 * `rev` + 1. Floating-point sums do not always come back to exactly 0 when a value is subtracted
 * (0.1 + 0.2 − 0.1 − 0.2 is 2.8e−17), so an aggregate whose `n` falls to 0 is reset to zeros and a
 * `sumSq` never goes below 0.
 */
export function applyContribution(shard: Shard, previous: Contribution | undefined, next: Contribution | undefined): Shard {
  const k = shard.sessions.length
  const out: Shard = { rev: shard.rev + 1, sessions: [...shard.sessions], outcomes: dict() }
  for (const name of Object.keys(shard.outcomes)) out.outcomes[name] = shard.outcomes[name]!.map((a) => [...a] as [number, number, number])
  const add = (c: Contribution, sign: 1 | -1) => {
    out.sessions[c.option] = out.sessions[c.option]! + sign
    for (const name of Object.keys(c.outcomes)) {
      const x = c.outcomes[name]!
      const per = (out.outcomes[name] ??= Array.from({ length: k }, () => [0, 0, 0]))
      const [n, sum, sumSq] = per[c.option]!
      per[c.option] = n + sign === 0 ? [0, 0, 0] : [n + sign, sum + sign * x, Math.max(0, sumSq + sign * x * x)]
    }
  }
  if (previous) add(previous, -1)
  if (next) add(next, 1)
  // An outcome no session holds any more leaves the shard.
  for (const name of Object.keys(out.outcomes)) if (out.outcomes[name]!.every((a) => a[0] === 0)) delete out.outcomes[name]
  return out
}

/** Every shard summed: sessions per option, and per option the aggregate of each outcome. */
export function sumShards(shards: Shard[], options: number): { sessions: number[]; outcomes: Record<string, Aggregate>[] } {
  const sessions = new Array<number>(options).fill(0)
  const outcomes = Array.from({ length: options }, () => dict<Aggregate>())
  for (const shard of shards) {
    for (let i = 0; i < options; i++) sessions[i] = sessions[i]! + shard.sessions[i]!
    for (const name of Object.keys(shard.outcomes)) {
      shard.outcomes[name]!.forEach(([n, sum, sumSq], i) => {
        const a = (outcomes[i]![name] ??= { n: 0, sum: 0, sumSq: 0 })
        a.n += n
        a.sum += sum
        a.sumSq += sumSq
      })
    }
  }
  // Every option has every outcome some option has: the rules compare options on one outcome.
  const names = new Set(outcomes.flatMap((o) => Object.keys(o)))
  for (const o of outcomes) for (const name of names) o[name] ??= { n: 0, sum: 0, sumSq: 0 }
  return { sessions, outcomes }
}
