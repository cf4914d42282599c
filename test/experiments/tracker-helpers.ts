import { Context } from '../../src/context.js'
import type { StopConditions } from '../../src/experiments/session/tests.js'
import type { Experiments } from '../../src/experiments/tracker.js'
import type { Json } from '../../src/state/json.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'

/**
 * One session of a test: attach (so a concluded test gives its value), add the test and a boolean
 * outcome, convert when `converts(value)` says so, record. Returns the value and whether it came
 * from a conclusion.
 */
export async function session(
  x: Experiments,
  id: string,
  test: { name: string; options: Record<string, number> | [string, number][]; stop?: StopConditions },
  converts: (value: string) => boolean = () => false,
): Promise<{ value: string; concluded: boolean; ctx: Context }> {
  const ctx = new Context({ sessionId: id })
  await x.attach(ctx)
  const value = ctx.addTest(test.name, test.options, '', test.stop ?? {})
  ctx.addOutcome('converted', 'boolean')
  if (converts(value)) ctx.setOutcome('converted', true)
  await x.record(ctx)
  return { value, concluded: ctx.testing.exposures().find((e) => e.test === test.name)!.concluded, ctx }
}

/**
 * A converter that makes option `value` convert at exactly `rates[value]` (every k-th session of it,
 * by a counter), so a "clear winner" is deterministic.
 */
export function converter(rates: Record<string, number>): (value: string) => boolean {
  const seen: Record<string, number> = {}
  return (value) => {
    const i = (seen[value] = (seen[value] ?? 0) + 1)
    return Math.floor(i * rates[value]!) > Math.floor((i - 1) * rates[value]!)
  }
}

/**
 * `inner` with every call delayed by 0-`ms` milliseconds (at random) before and after it runs, so
 * that concurrent read-compute-write cycles really interleave (the memory adapter runs each call in
 * one synchronous step, which would hide races). Drops `compareAndSet` when `cas` is false.
 */
export function slow(inner: StorageAdapter, ms = 2, cas = true): StorageAdapter {
  const wait = () => new Promise((r) => setTimeout(r, Math.random() * ms))
  const wrap =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A) => {
      await wait()
      const r = await fn(...a)
      await wait()
      return r
    }
  const out: StorageAdapter = {
    name: inner.name,
    capabilities: { ...inner.capabilities, compareAndSet: cas && inner.capabilities.compareAndSet },
    get: wrap((k: string) => inner.get(k)),
    set: wrap((k: string, v: Json) => inner.set(k, v)),
    delete: wrap((k: string) => inner.delete(k)),
    list: wrap((p: string, o?: { cursor?: string; limit?: number }) => inner.list(p, o)),
    getMany: wrap((k: string[]) => inner.getMany!(k)),
    setMany: wrap((e: [string, Json][]) => inner.setMany!(e)),
  }
  if (cas) out.compareAndSet = wrap((k: string, e: Json | undefined, v: Json | undefined, also?: [string, Json][]) => inner.compareAndSet!(k, e, v, also))
  return out
}
