import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createStorage } from 'unstorage'
import { Context } from '../../src/context.js'
import { StorageError } from '../../src/errors.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { faulty } from './faulty.js'
import { canon, message, runtime } from './store-helpers.js'

/**
 * Random histories of edits, saves, reloads and saves that fail at a random write: whatever the
 * sequence, what is stored is always exactly the last successfully saved state (or the one being
 * saved, when the failure came after its header), and after a final save it equals a model context
 * that received the same edits and was never stored.
 */
type Op =
  | { op: 'turns'; n: number }
  | { op: 'response' }
  | { op: 'label' }
  | { op: 'messages'; n: number }
  | { op: 'edit'; at: number }
  | { op: 'truncate'; to: number }
  | { op: 'data'; v: number }
  | { op: 'save' }
  | { op: 'crash'; at: number }
  | { op: 'reload'; recent: number }

const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('turns' as const), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('response' as const) }),
  fc.record({ op: fc.constant('label' as const) }),
  fc.record({ op: fc.constant('messages' as const), n: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('edit' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), to: fc.nat() }),
  fc.record({ op: fc.constant('data' as const), v: fc.integer() }),
  fc.record({ op: fc.constant('save' as const) }),
  fc.record({ op: fc.constant('crash' as const), at: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('reload' as const), recent: fc.integer({ min: 0, max: 5 }) }),
)

/**
 * Applies an edit (any op but save, crash and reload) to a context. Labels only when `label`:
 * `addLabel` needs a label among the turns in memory, and a reloaded context whose labels are all
 * older than `recentTurns` refuses it (reported to the lead: a Context matter, not the store's).
 */
function edit(ctx: Context, o: Op, n: number, label: boolean): void {
  const messages = () => ctx.getCompletionMessages()
  if (o.op === 'turns') {
    for (let i = 0; i < o.n; i++) {
      ctx.addRequest({ text: `q${n}.${i}` })
      ctx.addResponse(`a${n}.${i}`)
      if (label && i % 2) ctx.addLabel({ flow: 'main', node: `n${n}.${i}` })
    }
  } else if (o.op === 'response') ctx.addResponse(`r${n}`)
  else if (o.op === 'label' && label) ctx.addLabel({ flow: 'main', node: `l${n}` })
  else if (o.op === 'messages') for (let i = 0; i < o.n; i++) ctx.addCompletionMessage(message(messages().length))
  else if (o.op === 'edit' && messages().length) {
    const m = messages()
    m[o.at % m.length] = message(o.at % m.length, ` edit ${n}`)
    ctx.setCompletionMessages(m)
  } else if (o.op === 'truncate') ctx.setCompletionMessages(messages().slice(0, o.to % (messages().length + 1)))
  else if (o.op === 'data') ctx.setData('v', o.v)
}

async function check(adapter: StorageAdapter, list: Op[]): Promise<void> {
  const f = faulty(adapter)
  let store = createContextStore(f, { channel: false, runtime, recentTurns: 3 })
  const fresh = () => createContextStore(adapter, { channel: false, runtime, namespace: 'agentctx' })
  const loadAll = async () => {
    const ctx = await fresh().load('p')
    await ctx?.loadTurns({ all: true })
    return ctx?.toJSON()
  }
  const make = () => Context.init({ flow: 'main', node: 'start' }, { id: 'p', sessionId: 's' }, runtime)
  const model = make()
  let ctx = make()
  let saved: unknown = undefined
  for (const [n, o] of list.entries()) {
    if (o.op === 'save' || o.op === 'crash') {
      f.failAt = o.op === 'crash' ? f.writes + o.at : undefined
      const now = model.toJSON()
      try {
        await store.save(ctx)
      } catch (e) {
        expect(e).toBeInstanceOf(StorageError)
      }
      f.failAt = undefined
      const stored = await loadAll()
      if (canon(stored) === canon(now)) saved = now
      expect(stored).toEqual(saved)
    } else if (o.op === 'reload') {
      // Only what is saved survives a reload: the model drops the unsaved edits too.
      await store.save(ctx)
      saved = model.toJSON()
      store = createContextStore(f, { channel: false, runtime, recentTurns: o.recent })
      ctx = (await store.load('p'))!
    } else {
      const label = ctx.labels.lastKey() !== undefined
      edit(ctx, o, n, label)
      edit(model, o, n, label)
    }
  }
  await store.save(ctx)
  expect(await loadAll()).toEqual(model.toJSON())
}

describe('context store, random histories', () => {
  for (const [label, make] of [
    ['memory', () => memoryStorage()],
    ['unstorage (memory driver, no compareAndSet)', () => unstorageStorage(createStorage(), { consistency: 'strong' })],
  ] as const) {
    it(`${label}: stored = last saved state, and finally the model`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(ops, { minLength: 1, maxLength: 30 }), (list) => check(make(), list)),
        { numRuns: 150 },
      )
    })
  }
})
