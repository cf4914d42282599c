import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { createExperiments } from '../../src/experiments/tracker.js'
import { keys } from '../../src/experiments/keys.js'
import { namespaced } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { slow } from './tracker-helpers.js'

// Guards the read order in `record`: the shard first, then the session's record. Read the other way
// round, a re-recording committed between the two reads is subtracted from a shard that never held
// it: this property fails at once (two trackers recording session 0 with one shard).
describe('the aggregates always equal the sum of the sessions’ last contributions (property)', () => {
  it('any recordings and re-recordings by 4 concurrent trackers, calls delayed so they interleave', async () => {
    const op = fc.record({ session: fc.integer({ min: 0, max: 5 }), score: fc.integer({ min: -50, max: 50 }), won: fc.boolean() })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { maxLength: 6 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 4 }), async (lists, shards) => {
        const memory = memoryStorage()
        const store = slow(memory, 1)
        await Promise.all(
          lists.map(async (list) => {
            const x = createExperiments(store, { shards })
            for (const { session, score, won } of list) {
              const ctx = new Context({ sessionId: `s${session}` })
              ctx.addTest('t', { a: 1, b: 2 })
              ctx.addOutcome('score', 'integer')
              ctx.addOutcome('won', 'boolean')
              ctx.setOutcome('score', score)
              ctx.setOutcome('won', won)
              await x.record(ctx)
            }
          }),
        )
        const sessions = new Set(lists.flat().map((o) => o.session))
        if (sessions.size === 0) return
        // What each session's stored record says it contributed, summed by option.
        const ns = namespaced(memory, 'agentctx-exp')
        const expected = [
          { n: 0, score: 0, won: 0 },
          { n: 0, score: 0, won: 0 },
        ]
        for (const s of sessions) {
          const c = (await ns.get(keys.session('t', `s${s}`))) as { option: number; outcomes: { score: number; won: number } }
          expected[c.option]!.n++
          expected[c.option]!.score += c.outcomes.score
          expected[c.option]!.won += c.outcomes.won
          // And it is one of the values recorded for that session.
          expect(lists.flat().some((o) => o.session === s && o.score === c.outcomes.score && +o.won === c.outcomes.won)).toBe(true)
        }
        const report = await createExperiments(memory).report('t')
        report.options.forEach((o, i) => {
          expect(o.n).toBe(expected[i]!.n)
          expect((o.outcomes.score?.mean ?? 0) * (o.outcomes.score?.n ?? 0)).toBeCloseTo(expected[i]!.score, 9)
          expect((o.outcomes.won?.mean ?? 0) * (o.outcomes.won?.n ?? 0)).toBeCloseTo(expected[i]!.won, 9)
        })
      }),
      { numRuns: 25 },
    )
  }, 60_000)
})
