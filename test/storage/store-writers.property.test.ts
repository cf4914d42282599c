import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createStorage } from 'unstorage'
import { Context } from '../../src/context.js'
import { encodeKey, type StorageAdapter } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore, type ContextStore } from '../../src/storage/store.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { gated, message, runtime, withoutCas } from './store-helpers.js'

/**
 * Two writers of one context on adapters without compare-and-set (issue 8: a rewrite by one while
 * the other, loaded earlier, added a turn left every later load failing): random interleavings of
 * edits, saves, reloads, and saves held right before their header write while the other writer
 * saves once or twice. After every step the context loads, with the turn count and message count
 * of the last header written (its content may mix both writers' records: last writer wins, per
 * record). And when no save overlapped another, a writer that then saves 3 times alone leaves one
 * message generation: retired ones are deleted, not leaked.
 */
type Op =
  | { w: 0 | 1; op: 'turns'; n: number }
  | { w: 0 | 1; op: 'messages'; n: number }
  | { w: 0 | 1; op: 'rewrite'; at: number }
  | { w: 0 | 1; op: 'truncate'; to: number }
  | { w: 0 | 1; op: 'save' }
  | { w: 0 | 1; op: 'reload' }
  | { w: 0 | 1; op: 'overlap'; saves: number; rewrite: boolean }

const w = fc.constantFrom(0 as const, 1 as const)
const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ w, op: fc.constant('turns' as const), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ w, op: fc.constant('messages' as const), n: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ w, op: fc.constant('rewrite' as const), at: fc.nat() }),
  fc.record({ w, op: fc.constant('truncate' as const), to: fc.nat() }),
  fc.record({ w, op: fc.constant('save' as const) }),
  fc.record({ w, op: fc.constant('save' as const) }),
  fc.record({ w, op: fc.constant('reload' as const) }),
  fc.record({ w, op: fc.constant('overlap' as const), saves: fc.integer({ min: 1, max: 2 }), rewrite: fc.boolean() }),
)

function edit(ctx: Context, o: Op, n: number): void {
  const m = ctx.getCompletionMessages()
  if (o.op === 'turns') for (let i = 0; i < o.n; i++) ctx.addRequest({ text: `q${n}.${i}` }), ctx.addResponse(`a${n}.${i}`)
  else if (o.op === 'messages') for (let i = 0; i < o.n; i++) ctx.addCompletionMessage(message(m.length + i, ` w${o.w}`))
  else if (o.op === 'rewrite' && m.length) {
    m[o.at % m.length] = message(o.at % m.length, ` rewritten ${n}`)
    ctx.setCompletionMessages(m)
  } else if (o.op === 'truncate') ctx.setCompletionMessages(m.slice(0, o.to % (m.length + 1)))
}

async function check(adapter: StorageAdapter, list: Op[]): Promise<void> {
  const g = gated(adapter)
  const open = () => createContextStore(g, { channel: false, runtime, recentTurns: 3 })
  const stores: ContextStore[] = [open(), open()]
  const base = Context.init({ flow: 'main', node: 'start' }, { id: 'p' }, runtime)
  for (let i = 0; i < 70; i++) base.addCompletionMessage(message(i))
  base.addRequest('first')
  await stores[0]!.save(base)
  const ctxs: Context[] = [(await stores[0]!.load('p'))!, (await stores[1]!.load('p'))!]
  let overlapped = false
  /** The context loads (every turn too), with the last writer's turn and message counts. */
  const loads = async (last: Context) => {
    const ctx = (await createContextStore(adapter, { channel: false, runtime }).load('p'))!
    await ctx.loadTurns({ all: true })
    expect([ctx.currentTurnId, ctx.getCompletionMessages().length]).toEqual([last.currentTurnId, last.getCompletionMessages().length])
  }
  for (const [n, o] of list.entries()) {
    const [me, other] = [o.w, 1 - o.w]
    if (o.op === 'save') {
      // Changed, so that the save writes a header: a save of nothing writes nothing.
      ctxs[me]!.setData('save', n)
      await stores[me]!.save(ctxs[me]!)
      await loads(ctxs[me]!)
    } else if (o.op === 'reload') {
      ctxs[me] = (await stores[me]!.load('p'))!
    } else if (o.op === 'overlap') {
      // `me` is held between its header read and its header write while `other` saves.
      ctxs[me]!.addRequest(`held ${n}`)
      const held = g.pause()
      const saving = stores[me]!.save(ctxs[me]!)
      await held
      for (let i = 0; i < o.saves; i++) {
        if (o.rewrite) edit(ctxs[other]!, { w: other as 0 | 1, op: 'rewrite', at: n + i }, n)
        ctxs[other]!.addRequest(`during ${n}.${i}`)
        await stores[other]!.save(ctxs[other]!)
      }
      g.release()
      await saving
      overlapped = true
      await loads(ctxs[me]!)
    } else edit(ctxs[me]!, o, n)
  }
  // Three saves alone: every generation retired before them is deleted.
  for (let i = 0; i < 3; i++) {
    ctxs[0]!.setData('alone', i)
    await stores[0]!.save(ctxs[0]!)
    await loads(ctxs[0]!)
  }
  if (!overlapped) {
    const gens = new Set<string>()
    for (const key of (await adapter.list(encodeKey(['agentctx', 'd', 'p']))).keys) {
      const gen = /\/m\/(\d+)\//.exec(key)?.[1]
      if (gen) gens.add(gen)
    }
    expect(gens.size).toBeLessThanOrEqual(1)
  }
}

describe('two writers without compareAndSet, random interleavings', () => {
  for (const [label, make] of [
    ['memory without compareAndSet', () => withoutCas(memoryStorage())],
    ['unstorage (memory driver)', () => unstorageStorage(createStorage(), { consistency: 'strong' })],
  ] as const) {
    it(`${label}: every load after every step succeeds; retired generations are deleted`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(ops, { minLength: 1, maxLength: 30 }), (list) => check(make(), list)),
        { numRuns: 150 },
      )
      // About 1 s alone; the margin is for a machine busy with other test files.
    }, 30_000)
  }
})
