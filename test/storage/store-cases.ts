/**
 * The context-store suite: plain cases with no test-framework import, so the same cases run from
 * vitest (memory and unstorage in Node and Chromium, IndexedDB and localStorage in Chromium, unstorage
 * over a real redis-server) and inside workerd (Workers KV, Durable Objects; see
 * workerd/store-worker.ts). A case throws on failure and resolves a string to be reported as skipped
 * (with the reason) when the adapter cannot do what it checks.
 */
import { Context } from '../../src/context.js'
import { ContextConflictError, StorageError, ValidationError } from '../../src/errors.js'
import type { Json, JsonObject } from '../../src/state/json.js'
import { getLastIndex } from '../../src/state/turns.js'
import { encodeKey, namespaced, type StorageAdapter } from '../../src/storage/adapter.js'
import { createContextStore, type ContextStore, type ContextStoreOptions } from '../../src/storage/store.js'
import { runCases, type Case, type CaseResult } from './conformance.js'
import { faulty } from './faulty.js'
import { turnsCases } from './turns-cases.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { addTurns, canon, counting, gated, message, ok, rejects, runtime, same, sample, type BackendWrite } from './store-helpers.js'

/** How a runner provides adapters to the cases. */

/** Saves to cut short, each from a base context (saved first unless `saved` is false) and a change. */
const SAVE_SCENARIOS: { name: string; base(id: string): Context; saved: boolean; change(ctx: Context): void }[] = [
  { name: 'first save', base: (id) => sample(id, 3, 40), saved: false, change: () => {} },
  {
    name: 'two turns and a full chunk',
    base: (id) => sample(id, 40, 60),
    saved: true,
    change: (ctx) => {
      addTurns(ctx, 2, 'new')
      for (let i = 60; i < 70; i++) ctx.addCompletionMessage(message(i))
    },
  },
  {
    name: 'history rewritten',
    base: (id) => sample(id, 20, 100),
    saved: true,
    change: (ctx) => {
      const m = ctx.getCompletionMessages()
      m[0] = message(0, ' (edited)')
      ctx.setCompletionMessages(m)
      addTurns(ctx, 1, 'new')
    },
  },
]

export interface StoreHarness {
  /** A fresh adapter over an empty backend. */
  make(): Promise<StorageAdapter>
  /**
   * A fresh adapter over an empty backend, and the log of the writes the backend itself receives, in
   * the order it receives them (inside a compare-and-set too). Absent where the runner cannot see
   * them: the memory adapter's compare-and-set is one synchronous step, no part of it ever visible.
   */
  recorded?(): Promise<{ adapter: StorageAdapter; log: BackendWrite[] }>
}

/** One store case: throws on failure, resolves a string to be reported as skipped for that reason. */
export type StoreCase = Case<StoreHarness>

/** A store without BroadcastChannel (the browser file tests that), with the fixed-clock runtime. */
const storeOn = (a: StorageAdapter, o?: ContextStoreOptions) => createContextStore(a, { channel: false, runtime, ...o })

/** The whole saved context (every older turn loaded too), as JSON; `undefined` when absent. */
async function loadAll(store: ContextStore, id: string): Promise<unknown> {
  const ctx = await store.load(id)
  if (!ctx) return undefined
  await ctx.loadTurns({ all: true })
  return ctx.toJSON()
}

/** Every key (namespace `agentctx`) of context `id`'s data records, and the raw adapter on that namespace. */
async function recordKeys(a: StorageAdapter, id: string, ns = 'agentctx'): Promise<string[]> {
  const raw = namespaced(a, ns)
  const keys: string[] = []
  for (let cursor: string | undefined, page; !page || cursor; cursor = page.cursor) {
    page = await raw.list(encodeKey(['d', id]), { cursor })
    keys.push(...page.keys)
  }
  return keys
}
const turnKeys = (keys: string[]) => keys.filter((k) => k.includes('/t/'))
const chunkKeys = (keys: string[], gen?: number) => keys.filter((k) => (gen === undefined ? /\/m\/\d+\//.test(k) : k.includes(`/m/${gen}/`)))
const H = (id: string) => encodeKey(['h', id])
/** Message chunks of context `id` stored, by generation: `{ [gen]: count }`. */
async function generations(a: StorageAdapter, id: string): Promise<Record<number, number>> {
  const out: Record<number, number> = {}
  for (const k of chunkKeys(await recordKeys(a, id))) {
    const gen = Number(/\/m\/(\d+)\//.exec(k)![1])
    out[gen] = (out[gen] ?? 0) + 1
  }
  return out
}
/** The message generation the stored header of `id` names. */
const currentGen = async (a: StorageAdapter, id: string) => ((await namespaced(a, 'agentctx').get(H(id))) as { msg: { gen: number } }).msg.gen

export const storeCases: StoreCase[] = [
  {
    name: 'open creates a context that is not saved until save; load of an absent id is undefined',
    async run(h) {
      const a = await h.make()
      const s = storeOn(a)
      same(await s.load('absent'), undefined, 'load of an absent id')
      const ctx = await s.open('c1', { agentId: 'bot' })
      ok(ctx instanceof Context && ctx.id === 'c1' && ctx.agentId === 'bot', 'open builds the context from init')
      same(await s.load('c1'), undefined, 'not saved before save')
      same((await s.list()).ids, [], 'list before save')
      ctx.addRequest('hi')
      await s.save(ctx)
      const again = await storeOn(a).open('c1', { agentId: 'other' })
      same([again.agentId, again.lastRequest], ['bot', { text: 'hi' }], 'open of a saved id loads it (init unused)')
      const made = await s.open('c2', () => Context.init({ flow: 'f', node: 'n' }, { id: 'c2' }, runtime))
      same(made.lastLabel, { flow: 'f', node: 'n' }, 'open with an init function')
      const e = await rejects(s.open('c3', () => new Context({ contextId: 'other' })), 'init with another id')
      ok(e instanceof ValidationError && e.path === 'init', `init error names init: ${e.path}`)
    },
  },
  {
    name: 'save then load round-trips toJSON (data, cache, tests, outcomes, turns, messages over several chunks)',
    async run(h) {
      const a = await h.make()
      const s = storeOn(a)
      for (const [turns, messages] of [
        [0, 0],
        [3, 31],
        [5, 33],
        [30, 64],
        [30, 70],
        [45, 130],
      ] as const) {
        const id = `rt-${turns}-${messages}`
        const ctx = sample(id, turns, messages)
        await s.save(ctx)
        const whole = await storeOn(a, { recentTurns: 1000 }).load(id)
        same(whole?.toJSON(), ctx.toJSON(), `${id}: load with recentTurns 1000`)
        same(await loadAll(storeOn(a), id), ctx.toJSON(), `${id}: load, then loadTurns({ all: true })`)
        // And again after more turns and messages, through the incremental path.
        addTurns(ctx, 2)
        ctx.addCompletionMessage(message(messages))
        await s.save(ctx)
        same(await loadAll(storeOn(a), id), ctx.toJSON(), `${id}: after an incremental save`)
      }
      // No start label (turn ids from 1), and a context from fromJSON (never saved by this store).
      const plain = new Context({ contextId: 'plain' }, runtime)
      plain.addRequest('one')
      plain.addRequest('two')
      await s.save(plain)
      same(await loadAll(storeOn(a), 'plain'), plain.toJSON(), 'a context without a start label')
      const copy = Context.fromJSON(sample('copy', 25, 40).toJSON(), runtime)
      await s.save(copy)
      same(await loadAll(storeOn(a), 'copy'), copy.toJSON(), 'a context from fromJSON')
    },
  },
  {
    name: 'list pages through every id, with "/", "%" and unicode in ids',
    async run(h) {
      const a = await h.make()
      const s = storeOn(a)
      const ids = ['a', 'a/b', 'a%2Fb', '50%', '%', '/', 'ünï', '日本', '🙂', 'x/../y', '1', '10', '1/x']
      for (const id of ids) await s.save(new Context({ contextId: id }, runtime))
      const seen: string[] = []
      let cursor: string | undefined
      for (let page = 0; page < 20; page++) {
        const r = await s.list({ cursor, limit: 3 })
        ok(r.ids.length <= 3, `a page of ${r.ids.length} ids is over the limit of 3`)
        seen.push(...r.ids)
        cursor = r.cursor
        if (!cursor) break
      }
      same([...seen].sort(), [...ids].sort(), 'every id once, across pages')
      same((await s.list()).ids.length, ids.length, 'one page by default')
      for (const id of ids) ok((await s.load(id))?.id === id, `load(${JSON.stringify(id)})`)
      const e = await rejects(s.list({ limit: 0 }), 'limit 0')
      ok(e instanceof ValidationError && e.path === 'limit', 'limit error names limit')
    },
  },
  {
    name: 'delete removes a context and its records, never "10" or "1/x"; a new context of that id starts clean',
    async run(h) {
      const a = await h.make()
      const s = storeOn(a)
      const kept = ['10', '1/x', '1%', '2']
      const json: Record<string, unknown> = {}
      for (const id of ['1', ...kept]) {
        const ctx = sample(id, 40, 40)
        await s.save(ctx)
        json[id] = ctx.toJSON()
      }
      ok(turnKeys(await recordKeys(a, '1')).length === 40, 'context 1 has its 40 sealed turns stored')
      const old = await recordKeys(a, '1')
      await s.delete('1')
      same(await s.load('1'), undefined, 'deleted')
      same(await recordKeys(a, '1'), [], 'no record of context 1 left')
      for (const id of kept) same(await loadAll(storeOn(a), id), json[id], `context ${JSON.stringify(id)} untouched`)
      same((await s.list()).ids.sort(), [...kept].sort(), 'list after delete')
      await s.delete('1') // absent: no error
      // A leftover of the old epoch (say a sweep that crashed) is never read by a new context of the same id.
      await namespaced(a, 'agentctx').set(turnKeys(old)[0]!, { id: 0, label: { flow: 'old', node: 'old' } })
      const fresh = new Context({ contextId: '1' }, runtime)
      fresh.addRequest('new')
      await s.save(fresh)
      same(await loadAll(storeOn(a), '1'), fresh.toJSON(), 'the new context of id 1')
    },
  },
  {
    name: 'namespaces on one backend are isolated',
    async run(h) {
      const a = await h.make()
      const stores = ['a', 'a/b', 'a:b', 'agentctx'].map((namespace) => storeOn(a, { namespace }))
      const json = await Promise.all(
        stores.map(async (s, i) => {
          const ctx = sample('same-id', 25 + i, 33 + i)
          ctx.setData('ns', i)
          await s.save(ctx)
          return ctx.toJSON()
        }),
      )
      for (const [i, s] of stores.entries()) {
        same(await loadAll(s, 'same-id'), json[i], `namespace ${i}`)
        same((await s.list()).ids, ['same-id'], `list of namespace ${i}`)
      }
      await stores[0]!.delete('same-id')
      same(await stores[0]!.load('same-id'), undefined, 'deleted in namespace a')
      for (const i of [1, 2, 3]) same(await loadAll(stores[i]!, 'same-id'), json[i], `namespace ${i} after a delete in a`)
      ok((await a.list('agentctx/')).keys.every((k) => k.startsWith('agentctx/h/') || k.startsWith('agentctx/d/')), 'default namespace keys')
    },
  },
  {
    name: 'a save after one new turn writes exactly 2 records (turn + header), whatever the history length',
    async run(h) {
      const a = await h.make()
      const bytes: number[] = []
      for (const n of [3, 300]) {
        const c = counting(a)
        const s = storeOn(c)
        const ctx = sample(`inc-${n}`, n, 10)
        await s.save(ctx)
        for (let round = 0; round < 3; round++) {
          addTurns(ctx, 1)
          c.reset()
          await s.save(ctx)
          same(c.counts.writes, 2, `history ${n}, round ${round}: records written`)
          ok(c.counts.keys.some((k) => k.endsWith(`/t/${String(ctx.currentTurnId - 1).padStart(10, '0')}/`)), `the turn just sealed is written: ${c.counts.keys}`)
          ok(c.counts.keys.includes(`agentctx/${H(`inc-${n}`)}`), 'the header is written')
        }
        bytes.push(c.counts.bytes)
        // A response to the current turn only: the header alone.
        ctx.addResponse('changed')
        c.reset()
        await s.save(ctx)
        same(c.counts.writes, 1, `history ${n}: a change to the current turn`)
        // And from a fresh load.
        const other = storeOn(c)
        const loaded = (await other.load(`inc-${n}`))!
        addTurns(loaded, 1)
        c.reset()
        await other.save(loaded)
        same(c.counts.writes, 2, `history ${n}: one turn after a load`)
        // A store object on the same adapter and namespace saves a context another one loaded.
        addTurns(loaded, 1)
        c.reset()
        await storeOn(c).save(loaded)
        same(c.counts.writes, 2, `history ${n}: one turn, saved by another store object`)
      }
      ok(Math.abs(bytes[1]! - bytes[0]!) <= 32, `bytes per save do not grow with the history: ${bytes}`)
    },
  },
  {
    name: 'a save with nothing changed writes nothing; a change of data writes the header only',
    async run(h) {
      const c = counting(await h.make())
      const s = storeOn(c)
      const ctx = sample('noop', 10, 40)
      await s.save(ctx)
      c.reset()
      await s.save(ctx)
      same(c.counts.writes, 0, 'writes of a save with no change')
      ctx.setData('k', 1)
      await s.save(ctx)
      same(c.counts.keys, [`agentctx/${H('noop')}`], 'a data change')
    },
  },
  {
    name: 'message appends write only the new full chunks (32 messages each)',
    async run(h) {
      const a = await h.make()
      const c = counting(a)
      const s = storeOn(c)
      const ctx = sample('msg', 2, 30)
      await s.save(ctx)
      const steps: [number, number][] = [
        [1, 1], // 31 messages: the header (partial chunk) only
        [1, 2], // 32: chunk 0 + header
        [40, 2], // 72: chunk 1 + header
        [60, 3], // 132: chunks 2, 3 + header
        [0, 0],
      ]
      let n = 30
      for (const [add, writes] of steps) {
        for (let i = 0; i < add; i++) ctx.addCompletionMessage(message(n++))
        c.reset()
        await s.save(ctx)
        same(c.counts.writes, writes, `records written after adding ${add} messages (now ${n})`)
        same(c.counts.keys.filter((k) => k.includes('/m/')).length, writes - (writes ? 1 : 0), 'chunks written')
        same((await storeOn(a).load('msg'))?.getCompletionMessages(), ctx.getCompletionMessages(), `messages after ${n}`)
      }
      same(chunkKeys(await recordKeys(a, 'msg'), 0).length, 4, 'four chunks of generation 0')
    },
  },
  {
    name: 'rewriting early messages starts a new generation and deletes the old chunks (2 saves later without compareAndSet); re-setting with one more does not',
    async run(h) {
      const a = await h.make()
      const c = counting(a)
      const s = storeOn(c)
      const cas = a.capabilities.compareAndSet
      const ctx = sample('gen', 2, 100)
      await s.save(ctx)
      same(await generations(a, 'gen'), { 0: 3 }, 'three chunks of generation 0')
      // The usual pattern: the whole history again, one message longer: the stored prefix is kept.
      ctx.setCompletionMessages([...ctx.getCompletionMessages(), message(100)])
      c.reset()
      await s.save(ctx)
      same(c.counts.writes, 1, 'writes after re-setting the history plus one message')
      // Message 5 changes: a new generation, written whole; generation 0 deleted (at once with
      // compareAndSet, by the second save after this one without: a writer in flight may still name it).
      const changed = ctx.getCompletionMessages()
      changed[5] = message(5, ' (edited)')
      ctx.setCompletionMessages(changed)
      c.reset()
      await s.save(ctx)
      const g1 = await currentGen(a, 'gen')
      ok(g1 !== 0, 'a new generation')
      same(c.counts.keys.filter((k) => k.includes(`/m/${g1}/`)).length, 3, 'chunks of the new generation written')
      same(c.counts.keys.filter((k) => k.startsWith('-') && k.includes('/m/0/')).length, cas ? 3 : 0, 'chunks of generation 0 deleted by this save')
      same((await storeOn(a).load('gen'))?.getCompletionMessages(), changed, 'messages after the rewrite')
      const settle = async (before: Record<number, number>, after: Record<number, number>) => {
        if (!cas) {
          for (let i = 0; i < 2; i++) {
            same(await generations(a, 'gen'), before, `chunks by generation, ${i} saves after the rewrite`)
            ctx.setData('save', i)
            await s.save(ctx)
          }
        }
        same(await generations(a, 'gen'), after, 'chunks by generation once the old one is deleted')
      }
      await settle({ 0: 3, [g1]: 3 }, { [g1]: 3 })
      // Shorter than what is chunked: another generation.
      ctx.setCompletionMessages(changed.slice(0, 40))
      await s.save(ctx)
      const g2 = await currentGen(a, 'gen')
      ok(g2 !== g1 && g2 !== 0, 'another generation')
      await settle({ [g1]: 3, [g2]: 1 }, { [g2]: 1 })
      same(await loadAll(storeOn(a), 'gen'), ctx.toJSON(), 'context after truncating')
    },
  },
  {
    name: 'load reads the header, at most recentTurns turn records and the message chunks',
    async run(h) {
      const a = await h.make()
      const ctx = sample('reads', 250, 70)
      await storeOn(a).save(ctx)
      for (const recentTurns of [20, 0, 1, 100]) {
        const turns = recentTurns
        const c = counting(a)
        const loaded = (await storeOn(c, { recentTurns }).load('reads'))!
        same(c.counts.reads, 1 + turns + 2, `records read with recentTurns ${recentTurns} (header + turns + 2 chunks)`)
        same(c.counts.lists, 0, 'no list call')
        same(loaded.turns.records().length, turns + 1, 'turns in memory: the recent ones and the current one')
        same(loaded.getCompletionMessages().length, 70, 'every message')
      }
      const small = sample('small', 3, 0)
      await storeOn(a).save(small)
      const c = counting(a)
      await storeOn(c, { recentTurns: 20 }).load('small')
      same(c.counts.reads, 1 + 3, 'a short history: header + its 3 sealed turns')
    },
  },
  {
    name: 'refresh: the same object after one header read while unchanged; the other writer\'s version when changed; undefined when deleted',
    async run(h) {
      const a = await h.make()
      const c = counting(a)
      const s = storeOn(c)
      const ctx = sample('fresh', 60, 70)
      await s.save(ctx)
      // Unchanged since this store saved it, and since another store object loaded it.
      c.reset()
      same((await s.refresh(ctx)) === ctx, true, 'refresh after save returns ctx itself')
      same([c.counts.reads, c.counts.lists, c.counts.writes], [1, 0, 0], 'one header read, no list, no write')
      const loaded = (await storeOn(c).load('fresh'))!
      c.reset()
      same((await s.refresh(loaded)) === loaded, true, 'refresh after load returns ctx itself')
      same(c.counts.reads, 1, 'one header read after load')
      // Unsaved local changes are kept while the stored version is unchanged.
      loaded.setData('local', 1)
      same((await s.refresh(loaded))?.getData('local'), 1, 'unsaved changes kept')
      // Another writer saves: a fresh load with its changes.
      const other = (await storeOn(a).load('fresh'))!
      addTurns(other, 2, 'other')
      other.setData('by', 'other')
      await storeOn(a).save(other)
      const after = await s.refresh(ctx)
      ok(after && after !== ctx, 'a new context after another writer saved')
      await after.loadTurns({ all: true })
      same(after.toJSON(), await loadAll(storeOn(a), 'fresh'), 'the other writer\'s version')
      same([after.getData('by'), after.currentTurnId], ['other', 62], 'with its data and turns')
      same((await s.refresh(after)) === after, true, 'the refreshed context is unchanged next time')
      // A context this store family never loaded or saved: loaded fresh.
      const copy = Context.fromJSON(other.toJSON(), runtime)
      const fromCopy = await s.refresh(copy)
      ok(fromCopy && fromCopy !== copy && fromCopy.getData('by') === 'other', 'a context never loaded is loaded fresh')
      // A save of ctx under way is awaited: refresh then sees its own header.
      addTurns(after, 1)
      const saving = s.save(after)
      same((await s.refresh(after)) === after, true, 'refresh during a save of the same context')
      await saving
      // Two writers without compare-and-set saving the same revision with equal-looking headers are told apart.
      if (!a.capabilities.compareAndSet) {
        const [x, y] = [(await storeOn(a).load('fresh'))!, (await storeOn(a).load('fresh'))!]
        x.setData('same', 1)
        y.setData('same', 1)
        await storeOn(a).save(x)
        await storeOn(a).save(y)
        ok((await s.refresh(x)) !== x, 'the first of two writers of one revision is refreshed')
      }
      await s.delete('fresh')
      same(await s.refresh(after), undefined, 'deleted')
      same(await s.refresh(ctx), undefined, 'deleted (a stale context)')
      const e = await rejects(s.refresh({} as Context), 'refresh of a non-Context')
      ok(e instanceof ValidationError && e.path === 'ctx', `names ctx: ${e.message}`)
    },
  },
  {
    name: 'ctx.loadTurns() brings older turns 100 at a time ({ all: true }: every one); the maps iterate in order',
    async run(h) {
      const a = await h.make()
      const ctx = sample('older', 250, 0)
      await storeOn(a).save(ctx)
      const c = counting(a)
      const s = storeOn(c)
      const loaded = (await s.load('older'))!
      same([...loaded.requests.keys()][0], 230, 'first request in memory after load')
      same(getLastIndex(loaded.requests), 250, 'getLastIndex(requests) after load')
      same(getLastIndex(loaded.labels), 249, 'getLastIndex(labels) after load')
      const counts: number[] = []
      for (let i = 0; i < 4; i++) {
        c.reset()
        counts.push(await loaded.loadTurns())
        ok(c.counts.reads <= 100, `one loadTurns reads at most 100 records, read ${c.counts.reads}`)
      }
      same(counts, [100, 100, 30, 0], 'turns loaded per call (230 older turns)')
      same([...loaded.labels.keys()], [...ctx.labels.keys()], 'label turn ids in order')
      same([...loaded.requests], [...ctx.requests], 'requests in order')
      same([...loaded.responses.values()], [...ctx.responses.values()], 'responses in order')
      same([loaded.labels.get(0), loaded.requests.get(1), getLastIndex(loaded.requests)], [{ flow: 'main', node: 'start' }, { text: 'q1', lang: 'en' }, 250], 'oldest turns')
      same(loaded.toJSON(), ctx.toJSON(), 'whole context')
      const all = (await s.load('older'))!
      same(await all.loadTurns({ all: true }), 230, 'loadTurns({ all: true })')
      same(all.toJSON(), ctx.toJSON(), 'whole context after { all: true }')
      // Older turns in memory change nothing to save; a new turn is still 2 records.
      c.reset()
      await s.save(all)
      same(c.counts.writes, 0, 'save after loadTurns')
      addTurns(all, 1)
      await s.save(all)
      same(c.counts.writes, 2, 'save of one more turn after loadTurns')
      same(await new Context().loadTurns(), 0, 'a context without a store has no older turns')
    },
  },
  {
    name: 'a save that fails at any write leaves the previous or the new version, never a mix; the context saves again',
    async run(h) {
      const a = await h.make()
      const scenarios = SAVE_SCENARIOS
      for (const [i, sc] of scenarios.entries()) {
        // How many records this save writes (deletes included), from a run without failure.
        const dry = faulty(a)
        const probe = sc.base('c')
        const ds = storeOn(dry, { namespace: `dry-${i}` })
        if (sc.saved) await ds.save(probe)
        sc.change(probe)
        const start = dry.writes
        await ds.save(probe)
        const total = dry.writes - start
        ok(total >= 1, `${sc.name}: the save writes`)
        for (let k = 1; k <= total; k++) {
          const namespace = `crash-${i}-${k}`
          const f = faulty(a)
          const s = storeOn(f, { namespace })
          const ctx = sc.base('c')
          if (sc.saved) await s.save(ctx)
          const prev = sc.saved ? ctx.toJSON() : undefined
          sc.change(ctx)
          const next = ctx.toJSON()
          f.failAt = f.writes + k
          let threw = false
          try {
            await s.save(ctx)
          } catch (e) {
            ok(e instanceof StorageError, `${sc.name}, write ${k}: failed with ${String(e)}`)
            threw = true
          }
          const what = `${sc.name}, write ${k} of ${total} failed (${threw ? 'save rejected' : 'save resolved'})`
          same(await loadAll(storeOn(a, { namespace }), 'c'), threw ? prev : next, what)
          await s.save(ctx)
          same(await loadAll(storeOn(a, { namespace }), 'c'), next, `${what}: after saving again`)
          addTurns(ctx, 1, 'after')
          await s.save(ctx)
          same(await loadAll(storeOn(a, { namespace }), 'c'), ctx.toJSON(), `${what}: one more turn`)
        }
      }
    },
  },
  {
    name: 'a save cut after any prefix of the writes its backend received loads as the old or the new version: records first, the header last (issue 8)',
    async run(h) {
      if (!h.recorded) return 'this runner cannot see the writes the backend receives'
      const scenarios = SAVE_SCENARIOS
      for (const sc of scenarios) {
        const { adapter, log } = await h.recorded()
        const s = storeOn(adapter)
        const ctx = sc.base('c')
        if (sc.saved) await s.save(ctx)
        const prev = sc.saved ? await loadAll(storeOn(adapter), 'c') : undefined
        // The backend before the save, as the adapter sees it.
        const state: [string, Json][] = []
        for (let cursor: string | undefined, page; !page || cursor; cursor = page.cursor) {
          page = await adapter.list('', { cursor })
          const values = await Promise.all(page.keys.map((k) => adapter.get(k)))
          page.keys.forEach((k, i) => state.push([k, values[i]!]))
        }
        sc.change(ctx)
        log.length = 0
        await s.save(ctx)
        const writes = log.slice()
        const next = await loadAll(storeOn(adapter), 'c')
        same(next, ctx.toJSON(), `${sc.name}: the new version`)
        const shown = writes.map(([k, v]) => (v === undefined ? '-' : '') + k.replace(/\/d\/c\/[^/]+\//, '/d/c/…/'))
        const header = writes.findIndex(([k, v]) => k === `agentctx/${H('c')}` && v !== undefined)
        ok(header >= 0 && writes.slice(header + 1).every(([, v]) => v === undefined), `${sc.name}: the header is written last (only deletes after it): ${shown}`)
        // Every prefix, replayed onto a copy of the backend before the save.
        for (let k = 0; k <= writes.length; k++) {
          const copy = memoryStorage()
          await copy.setMany!(state)
          for (const [key, v] of writes.slice(0, k)) await (v === undefined ? copy.delete(key) : copy.set(key, v))
          let got: unknown
          try {
            got = await loadAll(storeOn(copy), 'c')
          } catch (e) {
            throw new Error(`${sc.name}: cut after ${k} of the writes ${shown}: load failed: ${String(e)}`)
          }
          ok(canon(got) === canon(prev) || canon(got) === canon(next), `${sc.name}: cut after ${k} of the writes ${shown}: neither version`)
        }
      }
    },
  },
  {
    name: 'two writers with compareAndSet: the second save is a ContextConflictError and writes nothing; reload and retry keeps both',
    async run(h) {
      const a = await h.make()
      if (!a.capabilities.compareAndSet) return `${a.name} has no compareAndSet: see the case "two writers without compareAndSet"`
      const [s1, s2] = [storeOn(a), storeOn(a)]
      await s1.save(sample('tw', 10, 40))
      const before = await recordKeys(a, 'tw')
      const A = (await s1.load('tw'))!
      const B = (await s2.load('tw'))!
      addTurns(A, 2, 'A')
      A.addCompletionMessage(message(40, 'A'))
      await s1.save(A)
      const afterA = await recordKeys(a, 'tw')
      addTurns(B, 3, 'B')
      for (let i = 40; i < 70; i++) B.addCompletionMessage(message(i, 'B'))
      const e = await rejects(s2.save(B), 'second writer')
      ok(e instanceof ContextConflictError && e.code === 'conflict', `a ContextConflictError, got ${String(e)}`)
      same(await loadAll(storeOn(a), 'tw'), A.toJSON(), 'the first writer\'s version, all its turns')
      same(await recordKeys(a, 'tw'), afterA, 'no record of the second writer')
      ok(afterA.length === before.length + 2, 'the first writer sealed 2 turns')
      await rejects(s2.save(B), 'the stale context conflicts again')
      // Reload, reapply, save: both writers' turns.
      const B2 = (await s2.load('tw'))!
      addTurns(B2, 3, 'B')
      await s2.save(B2)
      const both = (await loadAll(storeOn(a), 'tw')) as { turns: { request?: { text?: string } }[] }
      const texts = both.turns.map((t) => t.request?.text).filter(Boolean)
      same(texts.slice(-5), ['q11A', 'q12A', 'q13B', 'q14B', 'q15B'], 'both writers\' turns, in order')
      // Two new contexts of one id: the second creation conflicts too.
      const [n1, n2] = [await s1.open('new'), await s2.open('new')]
      n1.addRequest('one')
      n2.addRequest('two')
      await s1.save(n1)
      await rejects(s2.save(n2), 'second creation')
      same((await s1.load('new'))?.lastRequest, { text: 'one' }, 'the first creation')
    },
  },
  {
    name: 'two writers without compareAndSet: the last header written wins, and turn records may be overwritten',
    async run(h) {
      const a = await h.make()
      if (a.capabilities.compareAndSet) return `${a.name} has compareAndSet: see the case "two writers with compareAndSet"`
      const [s1, s2] = [storeOn(a), storeOn(a)]
      await s1.save(sample('tw', 10, 0))
      const A = (await s1.load('tw'))!
      const B = (await s2.load('tw'))!
      addTurns(A, 3, 'A')
      await s1.save(A)
      addTurns(B, 1, 'B')
      await s2.save(B) // no conflict detected
      same(await loadAll(storeOn(a), 'tw'), B.toJSON(), 'the last writer\'s version; the first writer\'s turns 11-13 are gone')
      // B seals its turn 11 over A's record 11; A, stale, saves one more turn: its header now reads
      // B's turn 11 among its own 12-14.
      addTurns(B, 1, 'B')
      await s2.save(B)
      addTurns(A, 1, 'A')
      await s1.save(A)
      const mixed = (await loadAll(storeOn(a), 'tw')) as { turns: { id: number; request?: { text?: string } }[] }
      same(
        mixed.turns.filter((t) => t.id >= 10).map((t) => t.request?.text),
        ['q10', 'q11B', 'q12A', 'q13A', 'q14A'],
        'a mix: turn 11 from the second writer, the rest from the first',
      )
      // A new context never replaces a saved one of the same id (checked before writing, not atomically).
      const [n1, n2] = [await s1.open('new'), await s2.open('new')]
      n1.addRequest('one')
      n2.addRequest('two')
      await s1.save(n1)
      const e = await rejects(s2.save(n2), 'second creation')
      ok(e instanceof ContextConflictError, `a ContextConflictError, got ${String(e)}`)
      same((await s1.load('new'))?.lastRequest, { text: 'one' }, 'the first creation')
    },
  },
  {
    name: 'two writers never make a context unloadable: one rewrites an early message while the other, loaded earlier, adds a turn (issue 8)',
    async run(h) {
      const a = await h.make()
      const cas = a.capabilities.compareAndSet
      const [s1, s2] = [storeOn(a), storeOn(a)]
      await s1.save(sample('iw', 10, 100))
      const A = (await s1.load('iw'))!
      const B = (await s2.load('iw'))!
      const rewrite = (ctx: Context, tag: string) => {
        const m = ctx.getCompletionMessages()
        m[0] = message(0, tag)
        ctx.setCompletionMessages(m)
      }
      /** Loads every turn and checks the messages and turn count are those of `last`, the last writer. */
      const loads = async (last: Context, what: string) => {
        const json = (await loadAll(storeOn(a), 'iw')) as { messages: unknown; currentTurnId: number } | undefined
        ok(json, `${what}: the context loads`)
        same([json.messages, json.currentTurnId], [last.getCompletionMessages(), last.currentTurnId], `${what}: the last writer's messages and turns`)
      }
      // The interleaving of the issue: A's new generation retires generation 0, which B's header names.
      rewrite(A, ' (A)')
      await s1.save(A)
      addTurns(B, 1, 'B')
      if (cas) {
        const e = await rejects(s2.save(B), 'B, from the version before A')
        ok(e instanceof ContextConflictError, `a ContextConflictError, got ${String(e)}`)
        return loads(A, 'after A, with B refused')
      }
      await s2.save(B)
      await loads(B, 'after A rewrote and B added a turn')
      // Then each writer, stale, saves again in turn: rewrites, turns and messages.
      const steps: [Context, ContextStore, (ctx: Context) => void][] = [
        [A, s1, (x) => addTurns(x, 1, 'A')],
        [B, s2, (x) => rewrite(x, ' (B)')],
        [A, s1, (x) => x.addCompletionMessage(message(100, 'A'))],
        [B, s2, (x) => addTurns(x, 2, 'B')],
        [A, s1, (x) => rewrite(x, ' (A again)')],
        [B, s2, (x) => x.setData('b', 1)],
      ]
      for (const [i, [ctx, store, change]] of steps.entries()) {
        change(ctx)
        await store.save(ctx)
        await loads(ctx, `step ${i}`)
      }
      // Garbage: once one writer saves 3 times alone, only its generation is left.
      for (let i = 0; i < 3; i++) {
        A.setData('alone', i)
        await s1.save(A)
      }
      same(Object.values(await generations(a, 'iw')), [3], 'one generation of 3 chunks left')
      await loads(A, 'A alone')
      // A writer in flight: C's save is held right before its header write while D saves twice,
      // rewriting (which retires C's generation): C's header then names a generation still there.
      const g = gated(a)
      const held = g.pause()
      const sg = storeOn(g)
      const C = (await sg.load('iw'))!
      const D = (await storeOn(a).load('iw'))!
      addTurns(C, 1, 'C')
      const saving = sg.save(C)
      await held
      rewrite(D, ' (D)')
      await s1.save(D)
      addTurns(D, 1, 'D')
      await s1.save(D)
      g.release()
      await saving
      await loads(C, 'C saved while D saved twice')
      for (let i = 0; i < 3; i++) {
        C.setData('alone', i)
        await sg.save(C)
        await loads(C, `C alone, save ${i}`)
      }
      // D's generation was never named by a header anyone read after it: left to delete's sweep.
      await s1.delete('iw')
      same(await recordKeys(a, 'iw'), [], 'delete leaves no record')
      // A stale copy does not bring back a deleted context with a header naming deleted records.
      addTurns(C, 1, 'C')
      const gone = await rejects(sg.save(C), 'a save after a delete elsewhere')
      ok(gone instanceof ContextConflictError && gone.message.includes('deleted'), `a ContextConflictError: ${gone.message}`)
      same(await s1.load('iw'), undefined, 'still deleted')
    },
  },
  {
    name: 'a corrupted header, turn record or message chunk is a ContextError naming the record; other contexts load',
    async run(h) {
      const a = await h.make()
      const s = storeOn(a)
      const raw = namespaced(a, 'agentctx')
      const good = sample('good', 30, 70)
      await s.save(good)
      const edits: [string, (id: string) => Promise<string>][] = [
        ['header not an object', async (id) => (await raw.set(H(id), 'oops'), H(id))],
        ['header null', async (id) => (await raw.set(H(id), null), H(id))],
        ['header without state', async (id) => (await edit(H(id), (v) => delete v.state), H(id))],
        ['wrong type in state', async (id) => (await edit(H(id), (v) => ((v.state as JsonObject).data = 5)), H(id))],
        ['unknown key in state', async (id) => (await edit(H(id), (v) => ((v.state as JsonObject).bogus = 1)), H(id))],
        ['absurd chunk count', async (id) => (await edit(H(id), (v) => ((v.msg as JsonObject).chunks = 1e12)), H(id))],
        ['state of another id', async (id) => (await edit(H(id), (v) => ((v.state as JsonObject).id = 'good')), H(id))],
        ['bad current turn in the header', async (id) => (await edit(H(id), (v) => ((v.tail as JsonObject[])[0]!.request = 5)), H(id))],
        ['bad message in the header', async (id) => (await edit(H(id), (v) => (((v.msg as JsonObject).tail as JsonObject[])[0]!.role = 'robot')), H(id))],
        ['turn record of a wrong type', async (id) => editLast(id, '/t/', (v) => ({ ...(v as JsonObject), request: 5 }))],
        ['turn record not an object', async (id) => editLast(id, '/t/', () => 'x')],
        ['turn record of another turn', async (id) => editLast(id, '/t/', (v) => ({ ...(v as JsonObject), id: 3 }))],
        ['message chunk not an array', async (id) => editLast(id, '/m/', () => ({}))],
        ['message chunk too short', async (id) => editLast(id, '/m/', (v) => (v as Json[]).slice(1))],
        ['bad message in a chunk', async (id) => editLast(id, '/m/', (v) => (v as JsonObject[]).map((m, i) => (i === 3 ? { ...m, content: 7 } : m)))],
        ['message chunk deleted', async (id) => editLast(id, '/m/', () => undefined)],
      ]
      async function edit(key: string, change: (v: JsonObject) => unknown): Promise<void> {
        const v = (await raw.get(key)) as JsonObject
        change(v)
        await raw.set(key, v)
      }
      /** Replaces the last record of `kind` (`/t/` or `/m/`) of context `id` by `change(value)`; `undefined` deletes it. */
      async function editLast(id: string, kind: string, change: (v: Json) => Json | undefined): Promise<string> {
        const key = (await recordKeys(a, id)).filter((k) => k.includes(kind)).at(-1)!
        const value = change((await raw.get(key))!)
        await (value === undefined ? raw.delete(key) : raw.set(key, value))
        return key
      }
      for (const [i, [what, corrupt]] of edits.entries()) {
        const id = `bad-${i}`
        await s.save(sample(id, 30, 70))
        const key = await corrupt(id)
        const e = await rejects(storeOn(a).load(id), what)
        ok(e.code === 'invalid_state', `${what}: code ${e.code}`)
        ok(e.message.includes(JSON.stringify(`agentctx/${key}`)) && e.path === `agentctx/${key}`, `${what}: the error names ${key}: ${e.message}`)
        same(await loadAll(storeOn(a), 'good'), good.toJSON(), `${what}: another context still loads`)
        await s.delete(id)
        same([await s.load(id), await recordKeys(a, id)], [undefined, []], `${what}: a corrupted context can be deleted`)
      }
      // A corrupted turn older than the recent ones: load works, loadTurns names it.
      await s.save(sample('old-bad', 60, 0))
      const key = (await recordKeys(a, 'old-bad')).filter((k) => k.includes('/t/'))[5]!
      await raw.set(key, { id: 5, response: { text: 1 } })
      const loaded = (await storeOn(a).load('old-bad'))!
      const e = await rejects(loaded.loadTurns({ all: true }), 'loadTurns over a corrupted turn')
      ok(e.code === 'invalid_state' && e.message.includes(JSON.stringify(`agentctx/${key}`)), `loadTurns names ${key}: ${e.message}`)
      same((await s.list()).ids, ['good', 'old-bad'], 'list')
    },
  },
  {
    name: 'hostile headers are refused before they cost: 2^20 message chunks after 64 chunk reads, sealed 2^40 and currentTurnId 2^53 by a typed error (issue 8)',
    async run(h) {
      const a = await h.make()
      const raw = namespaced(a, 'agentctx')
      const s = storeOn(a)
      const edit = async (id: string, change: (v: JsonObject & { msg: JsonObject; state: JsonObject }) => void) => {
        const v = (await raw.get(H(id))) as JsonObject & { msg: JsonObject; state: JsonObject }
        change(v)
        await raw.set(H(id), v)
      }
      /** Loads `id` through a counting adapter; the ContextError and the records read. */
      const refused = async (id: string, what: string) => {
        const c = counting(a)
        const e = await rejects(storeOn(c, { recentTurns: 0 }).load(id), what)
        ok(e.code === 'invalid_state', `${what}: code ${e.code}`)
        return [e, c.counts.reads] as const
      }
      // A header claiming 2^20 chunks (32 Mi messages) of which 2 exist: one read of every key spun
      // 2-4 s; now pages of 64, 128, … stop at chunk 2, the first missing one.
      await s.save(sample('chunks', 5, 70))
      await edit('chunks', (v) => (v.msg.chunks = 2 ** 20))
      const [e, reads] = await refused('chunks', '2^20 chunks')
      ok(/\/m\/0\/0000000002\/$/.test(e.path ?? '') && e.message.includes('not a chunk of 32 messages'), `names the first missing chunk: ${e.message}`)
      ok(reads <= 1 + 64, `the header and one page of 64 chunks read, not 2^20: ${reads}`)
      // Turn ids: the header alone, or with its 2 chunks, before a typed error naming the header.
      const cases: [string, (v: JsonObject & { msg: JsonObject; state: JsonObject }) => void, number][] = [
        ['sealed 2^40', (v) => (v.sealed = 2 ** 40), 1],
        ['sealed at the current turn', (v) => (v.sealed = v.state.currentTurnId as number), 1],
        ['sealed 2^53 + 2', (v) => ((v.sealed = 2 ** 53 + 2), (v.state.currentTurnId = 2 ** 53 + 4)), 1],
        ['currentTurnId 2^53', (v) => (v.state.currentTurnId = 2 ** 53), 3],
        ['currentTurnId past 10 digits', (v) => (v.state.currentTurnId = 1e10), 3],
        ['current turn id 2^53', (v) => ((v.tail as JsonObject[])[0]!.id = 2 ** 53), 3],
        ['rev 2^60', (v) => (v.rev = 2 ** 60), 1],
        ['generation 1e300', (v) => (v.msg.gen = 1e300), 1],
        ['retired list too long', (v) => (v.msg.old = Array.from({ length: 65 }, (_, i) => [i + 1, 1, 1])), 1],
      ]
      for (const [i, [what, change, most]] of cases.entries()) {
        const id = `ids-${i}`
        await s.save(sample(id, 5, 70))
        await edit(id, change)
        const [err, n] = await refused(id, what)
        ok(err.path === `agentctx/${H(id)}`, `${what}: names the header: ${err.path} ${err.message}`)
        ok(n <= most, `${what}: ${n} records read, at most ${most}`)
      }
    },
  },
  {
    name: 'bad input: ids, a non-Context, recentTurns, namespace are ValidationErrors naming the field',
    async run(h) {
      const a = await h.make()
      const s = storeOn(a)
      for (const id of ['', 5, undefined, null, {}]) {
        for (const [method, call] of [
          ['load', () => s.load(id as string)],
          ['open', () => s.open(id as string)],
          ['delete', () => s.delete(id as string)],
        ] as const) {
          const e = await rejects(call, `${method}(${String(id)})`)
          ok(e instanceof ValidationError && e.path === 'id' && e.message.startsWith('id:'), `${method}(${String(id)}) names id: ${e.message}`)
        }
      }
      for (const value of [{ id: 'x' }, undefined, 'x', sample('x').toJSON()]) {
        const e = await rejects(s.save(value as unknown as Context), `save(${typeof value})`)
        ok(e instanceof ValidationError && e.path === 'ctx', `save names ctx: ${e.message}`)
      }
      for (const recentTurns of [-1, 1.5, NaN, Infinity, '5']) {
        const e = await rejects(() => createContextStore(a, { recentTurns: recentTurns as number }), `recentTurns ${String(recentTurns)}`)
        ok(e instanceof ValidationError && e.path === 'recentTurns', `names recentTurns: ${e.message}`)
      }
      const e = await rejects(() => createContextStore(a, { namespace: 5 as unknown as string }), 'namespace 5')
      ok(e instanceof ValidationError && e.path === 'namespace', `names namespace: ${e.message}`)
      const o = await rejects(s.open('x', () => ({}) as Context), 'init returning a non-Context')
      ok(o instanceof ValidationError && o.path === 'init', 'names init')
    },
  },
  {
    name: 'saves of one context run one after the other; a change made while a save is under way is saved by the next',
    async run(h) {
      const a = await h.make()
      const c = counting(a)
      const s = storeOn(c)
      const ctx = sample('race', 5, 100)
      await s.save(ctx)
      // Three saves at once: no conflict with itself.
      addTurns(ctx, 1)
      const first = s.save(ctx)
      addTurns(ctx, 1)
      await Promise.all([first, s.save(ctx), s.save(ctx)])
      same(await loadAll(storeOn(a), 'race'), ctx.toJSON(), 'after three concurrent saves')
      // Rewrite the history while a save is writing: the next save still writes the new generation.
      let release!: () => void
      let held!: () => void
      const holding = new Promise<void>((r) => (held = r))
      c.hold = () => new Promise<void>((r) => ((release = r), held()))
      addTurns(ctx, 1)
      const saving = s.save(ctx)
      await holding
      c.hold = undefined
      const changed = ctx.getCompletionMessages()
      changed[1] = message(1, ' (edited during a save)')
      ctx.setCompletionMessages(changed)
      addTurns(ctx, 1, 'during')
      release()
      await saving
      await s.save(ctx)
      same(await loadAll(storeOn(a), 'race'), ctx.toJSON(), 'the change made during the save is stored')
    },
  },
  // Turns on demand and the writers' race (issue 11), on every backend of this suite.
  ...turnsCases,
]

/** Runs every case (or the named ones) against `h`; for runtimes without vitest (workerd). */
export function runStoreCases(h: StoreHarness, only?: string[]): Promise<CaseResult[]> {
  return runCases(h, only, storeCases)
}
