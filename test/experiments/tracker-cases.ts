/**
 * The tracker's concurrency cases, free of vitest so they run anywhere: in Chromium over IndexedDB
 * (tracker.browser.test.ts) and inside workerd over Durable Objects (tracker.node.test.ts bundles
 * workerd/tracker-worker.ts). Each case resolves to `null` when it holds, else what went wrong.
 */
import { Context } from '../../src/context.js'
import { createExperiments } from '../../src/experiments/tracker.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'

/** Sums a report's option counts and each outcome's n and sum. */
async function totals(adapter: StorageAdapter, test: string) {
  const report = await createExperiments(adapter).report(test)
  let sessions = 0
  let n = 0
  let sum = 0
  for (const o of report.options) {
    sessions += o.n
    const c = o.outcomes.converted
    if (c) (n += c.n), (sum += c.n * (c.mean ?? 0))
  }
  return { sessions, n, sum: Math.round(sum) }
}

export const trackerCases: Record<string, (make: () => Promise<StorageAdapter>) => Promise<string | null>> = {
  async '16 parallel recorders (16 trackers) of 10 sessions each lose no count'(make) {
    const adapter = await make()
    await Promise.all(
      Array.from({ length: 16 }, async (_, r) => {
        const x = createExperiments(adapter)
        for (let i = 0; i < 10; i++) {
          const ctx = new Context({ sessionId: `r${r}-s${i}` })
          ctx.addTest('t', { a: 1, b: 1 })
          ctx.addOutcome('converted', 'boolean')
          if (i % 2 === 0) ctx.setOutcome('converted', true)
          await x.record(ctx)
        }
      }),
    )
    const got = await totals(adapter, 't')
    return got.sessions === 160 && got.n === 160 && got.sum === 80 ? null : `expected 160 sessions, 160 outcomes, 80 conversions; got ${JSON.stringify(got)}`
  },

  async 'the same session recorded by 8 trackers at once counts once'(make) {
    const adapter = await make()
    await Promise.all(
      Array.from({ length: 8 }, async (_, r) => {
        const ctx = new Context({ sessionId: 'shared' })
        ctx.addTest('t', { a: 1, b: 1 })
        ctx.addOutcome('converted', 'boolean')
        ctx.setOutcome('converted', r % 2 === 0)
        await createExperiments(adapter).record(ctx)
      }),
    )
    const got = await totals(adapter, 't')
    return got.sessions === 1 && got.n === 1 ? null : `expected 1 session; got ${JSON.stringify(got)}`
  },

  async '8 evaluators at once: one conclusion, onConclude called once'(make) {
    const adapter = await make()
    const seed = createExperiments(adapter)
    for (let i = 0; i < 6; i++) {
      const ctx = new Context({ sessionId: `s-${i}` })
      ctx.addTest('t', { a: 1, b: 1 }, '', { maxIterations: 6 })
      await seed.record(ctx)
    }
    let calls = 0
    const trackers = Array.from({ length: 8 }, () => createExperiments(adapter, { onConclude: () => void calls++ }))
    const answers = await Promise.all(trackers.map((t) => t.evaluate('t')))
    await Promise.all(trackers.map((t) => t.flush()))
    const distinct = new Set(answers.map((a) => JSON.stringify(a))).size
    if (calls !== 1) return `onConclude called ${calls} times`
    if (distinct !== 1) return `${distinct} different answers`
    return answers[0]!.concluded && answers[0]!.iterations === 6 ? null : `unexpected answer ${JSON.stringify(answers[0])}`
  },
}

/** Runs every case on a fresh adapter from `make`, in order; a throw is a failure with its message. */
export async function runTrackerCases(make: () => Promise<StorageAdapter>): Promise<{ name: string; error: string | null }[]> {
  const out: { name: string; error: string | null }[] = []
  for (const [name, run] of Object.entries(trackerCases)) {
    try {
      out.push({ name, error: await run(make) })
    } catch (e) {
      out.push({ name, error: `threw ${(e as Error)?.name}: ${(e as Error)?.message}` })
    }
  }
  return out
}
