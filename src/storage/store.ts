import { nanoid } from 'nanoid'
import { Context, internals, type ContextConfig, type ContextRuntime } from '../context.js'
import { ContextConflictError, ContextError, invalid } from '../errors.js'
import type { Json, JsonObject } from '../state/json.js'
import type { CompletionMessage } from '../state/messages.js'
import { TurnRecordSchema, type TurnRecord } from '../state/turns.js'
import { parse } from '../state/validate.js'
import { batchDelete, batchGet, batchSet, decodeKey, encodeKey, jsonEqual, namespaced, type StorageAdapter } from './adapter.js'

/**
 * How a context is laid out in storage (all keys under the store's namespace):
 *
 *     h/<id>/                      the header: everything but the sealed history; the commit point
 *     d/<id>/<epoch>/t/<turn>/     one sealed turn (turn ids zero-padded to 10 digits: list order = turn order)
 *     d/<id>/<epoch>/m/<gen>/<k>/  one full chunk of 32 completion messages
 *
 * Only the current turn can still change (requests, responses and labels go to `currentTurnId`), so
 * every older turn is *sealed*: written once to its own record and never rewritten. The current turn
 * and the last partial chunk of messages live in the header. A save therefore writes the turns sealed
 * since the last save, any newly full message chunk, then the header: with one new turn, two records,
 * whatever the length of the history.
 *
 * Crash safety: records a save writes before its header are invisible to the previous header (it
 * reads turns up to its own `sealed` and chunks of its own `gen` below its own count, and the current
 * turn inline), so a save interrupted at any write leaves the previous version loadable exactly. The
 * `epoch` (a nanoid per created context) keeps the leftovers of a deleted context from ever being
 * read by a new one with the same id.
 *
 * Two writers: on an adapter with `compareAndSet`, the records and the header go in one atomic
 * compare-and-set against the header this context was loaded with; a second writer from the same
 * version gets a `ContextConflictError`, and nothing of its save is written. Without it (Workers KV,
 * unstorage) the last header written wins, and a turn id both writers sealed holds the last one's turn.
 */

const FORMAT = 1
const CHUNK = 32
/**
 * Metas by adapter, namespace and context: shared by every store on one adapter object and
 * namespace, so a context loaded by one store object saves incrementally through another.
 */
const registry = new WeakMap<StorageAdapter, Record<string, WeakMap<Context, Meta>>>()
const pad = (n: number) => String(n).padStart(10, '0')

/** The header record. */
interface Header {
  format: number
  /** Revision, +1 per save: what a second writer's compare-and-set trips on. */
  rev: number
  /**
   * Random per save (absent in headers of older builds): two writers without compare-and-set can
   * both write rev 6, even with equal headers whose records differ (both sealed turn 5, or both
   * filled chunk 0, each with its own content); the stamp makes "the same header" mean "the same
   * save" for `refresh`.
   */
  stamp?: string
  epoch: string
  /** Every turn with an id <= sealed is in its own record (if it exists at all). -1: none. */
  sealed: number
  /** Turns above `sealed`: the current one. */
  tail: TurnRecord[]
  /** Message chunks: generation (bumped when history is rewritten), full chunks, the partial tail. */
  msg: { gen: number; chunks: number; tail: CompletionMessage[] }
  /** The rest of the context (toJSON without turns and messages). */
  state: JsonObject
}

/** What the stores on one adapter and namespace remember about a context they loaded or saved. */
interface Meta {
  id: string
  epoch: string
  /** The header as stored by the last load or save (never shared with the live context). */
  header: Header | undefined
  /** Saves of one context run one after the other: two at once would trip over each other's header. */
  queue: Promise<unknown>
  /** Leading messages known unchanged when a save failed after marking the context clean. */
  clean?: number
}

/** Options of `createContextStore`. */
export interface ContextStoreOptions {
  /** Keys go under this namespace; two namespaces on one backend never see each other. Default `agentctx`. */
  namespace?: string
  /**
   * Sealed turns `load` reads with the header (the current turn always comes with it); older ones
   * come with `await ctx.loadTurns()` (100 at a time, `{ all: true }` for every one). Until then
   * `labels`, `requests`, `responses`, `lastLabel` and `getLastIndex` see only the turns in memory.
   * An integer >= 0, default 20.
   */
  recentTurns?: number
  /** Runtime inputs (variables, clock) given to every context this store loads or creates. */
  runtime?: ContextRuntime
  /**
   * Tell other tabs about saves and deletes through a `BroadcastChannel` of this name (default
   * `agentctx:<namespace>`), where the runtime has one; `false` turns it off.
   */
  channel?: string | false
}

/** A change made elsewhere (another tab, another store on the same channel). */
export interface ContextChange {
  id: string
  /** The revision saved, or `undefined` for a delete. */
  rev: number | undefined
}

/** Loads and saves contexts incrementally on any `StorageAdapter`. */
export interface ContextStore {
  /**
   * The saved context with this id, or a new one (from `init`) when there is none. A new one is not
   * saved until `save`. `runtime` (variables, executor) overrides the store's for this context.
   */
  open(id: string, init?: ContextConfig | (() => Context), runtime?: ContextRuntime): Promise<Context>
  /** The saved context, with its `recentTurns` most recent turns in memory; `undefined` when absent. */
  load(id: string, runtime?: ContextRuntime): Promise<Context | undefined>
  /** Writes what changed since the last load or save. A `ContextConflictError` when another writer saved first. */
  save(ctx: Context): Promise<void>
  /**
   * `ctx` itself when the stored header is still the one `ctx` was last loaded or saved with by a
   * store on this adapter and namespace (one record read; a save of `ctx` under way is awaited
   * first), else the stored version, freshly loaded (`load(ctx.id, runtime)`), or `undefined` when
   * it was deleted. For a cache of live contexts: each event costs one header read, not a reload.
   *
   * "The same header" is deep equality of the whole header, which holds a random stamp per save, so
   * two writers without compare-and-set that both saved revision 6 are told apart. Unsaved changes
   * of `ctx` are kept when it is returned, and dropped (not merged) when the stored version differs.
   * A context this store family never loaded or saved is loaded fresh. `runtime` is used only for a
   * fresh load; a `ctx` returned keeps its own.
   */
  refresh(ctx: Context, runtime?: ContextRuntime): Promise<Context | undefined>
  /** Deletes a context: its header first (it is gone from then on), then its records. */
  delete(id: string): Promise<void>
  /** Saved context ids, a page at a time (ascending). */
  list(options?: { cursor?: string; limit?: number }): Promise<{ ids: string[]; cursor?: string }>
  /**
   * Calls `listener` when another store on the same channel (another tab, another store object)
   * saves or deletes a context; this store's own saves are not reported. Returns the unsubscribe function.
   */
  subscribe(listener: (change: ContextChange) => void): () => void
}

/**
 * Creates a context store on `adapter`.
 *
 * @example
 * const store = createContextStore(memoryStorage())
 * const ctx = await store.open('session-1', { agentId: 'bot' })
 * ctx.addRequest('hi')
 * await store.save(ctx)
 */
/* @__NO_SIDE_EFFECTS__ */
export function createContextStore(adapter: StorageAdapter, options: ContextStoreOptions = {}): ContextStore {
  const namespace = options.namespace ?? 'agentctx'
  const recentTurns = options.recentTurns ?? 20
  if (!Number.isInteger(recentTurns) || recentTurns < 0) throw invalid('recentTurns', 'must be an integer >= 0')
  const db = namespaced(adapter, namespace)
  const cas = db.capabilities.compareAndSet ? db.compareAndSet : undefined
  const spaces = registry.get(adapter) ?? {}
  registry.set(adapter, spaces)
  const metas = (spaces[namespace] ??= new WeakMap())
  const headerKey = (id: string) => encodeKey(['h', id])
  const dataKey = (m: Meta, ...rest: string[]) => encodeKey(['d', m.id, m.epoch, ...rest])
  const turnKey = (m: Meta, turn: number) => dataKey(m, 't', pad(turn))
  const chunkKey = (m: Meta, gen: number, k: number) => dataKey(m, 'm', String(gen), pad(k))
  const channelName = options.channel === false ? undefined : (options.channel ?? `agentctx:${namespace}`)
  let channel: BroadcastChannel | undefined
  // Made on first use, and unref'd: an open BroadcastChannel keeps a Node or Deno process alive.
  const bus = () => {
    if (!channel && channelName && typeof BroadcastChannel != 'undefined') {
      channel = new BroadcastChannel(channelName)
      ;(channel as { unref?(): void }).unref?.()
    }
    return channel
  }

  const checkId = (id: unknown) => {
    if (typeof id !== 'string' || id === '') throw invalid('id', 'must be a non-empty string')
  }
  /** A corrupted or hand-edited record: the error names its key on the backend. */
  const corrupt = (key: string, problem: string) => {
    const full = encodeKey([namespace]) + key
    return new ContextError('invalid_state', `record ${JSON.stringify(full)}: ${problem}`, { path: full })
  }
  const isInt = (n: unknown, min: number) => Number.isInteger(n) && (n as number) >= min
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v == 'object' && v !== null && !Array.isArray(v)

  async function readHeader(id: string): Promise<Header | undefined> {
    const key = headerKey(id)
    const h = (await db.get(key)) as Partial<Header> | null | undefined
    if (h === undefined) return undefined
    if (
      !isObject(h) ||
      h.format !== FORMAT ||
      !isInt(h.rev, 0) ||
      (h.stamp !== undefined && typeof h.stamp !== 'string') ||
      typeof h.epoch !== 'string' ||
      !isInt(h.sealed, -1) ||
      !Array.isArray(h.tail) ||
      !isObject(h.msg) ||
      !isInt(h.msg.gen, 0) ||
      !isInt(h.msg.chunks, 0) ||
      // 2^20 chunks are 32 Mi messages, past what fromJSON accepts: a bound before allocating keys.
      h.msg.chunks > 2 ** 20 ||
      !Array.isArray(h.msg.tail) ||
      !isObject(h.state) ||
      h.state.id !== id
    ) {
      throw corrupt(key, `not a format 1 header of context ${JSON.stringify(id)}`)
    }
    return h as Header
  }

  /** Turn records read at `ids` (absent ones skipped: ids may have gaps), each checked to be the turn of its key. */
  async function readTurns(meta: Meta, ids: number[]): Promise<[TurnRecord[], string[]]> {
    const keys = ids.map((t) => turnKey(meta, t))
    const turns: TurnRecord[] = []
    const found: string[] = []
    ;(await batchGet(db, keys)).forEach((v, i) => {
      if (v === undefined) return
      if (!isObject(v) || v.id !== ids[i]) throw corrupt(keys[i]!, `not the record of turn ${ids[i]}`)
      turns.push(v as unknown as TurnRecord)
      found.push(keys[i]!)
    })
    return [turns, found]
  }

  const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)

  async function load(id: string, runtime = options.runtime): Promise<Context | undefined> {
    checkId(id)
    const header = await readHeader(id)
    return header && build(id, header, runtime)
  }

  /** The context `header` (just read and checked by `readHeader`) describes, with its records. */
  async function build(id: string, header: Header, runtime: ContextRuntime | undefined): Promise<Context> {
    const meta: Meta = { id, epoch: header.epoch, header, queue: Promise.resolve() }
    const { gen, chunks, tail } = header.msg
    const chunkKeys = range(0, chunks).map((k) => chunkKey(meta, gen, k))
    const [[turns, turnKeys], values] = await Promise.all([
      readTurns(meta, range(Math.max(0, header.sealed - recentTurns + 1), header.sealed + 1)),
      batchGet(db, chunkKeys),
    ])
    const messages: CompletionMessage[] = []
    values.forEach((chunk, k) => {
      if (!Array.isArray(chunk) || chunk.length !== CHUNK) throw corrupt(chunkKeys[k]!, `not a chunk of ${CHUNK} messages`)
      messages.push(...(chunk as unknown as CompletionMessage[]))
    })
    messages.push(...tail)
    let ctx: Context
    try {
      // The same validation as fromJSON; a failure names the record that holds the bad value.
      ctx = Context.fromJSON({ ...header.state, turns: [...turns, ...header.tail], messages }, runtime)
    } catch (error) {
      if (!(error instanceof ContextError)) throw error
      const [, field, index] = /^(turns|messages)\[(\d+)\]/.exec(error.path ?? '') ?? []
      const i = Number(index)
      const key = field === 'turns' ? turnKeys[i] : field === 'messages' ? chunkKeys[Math.floor(i / CHUNK)] : undefined
      throw corrupt(key ?? headerKey(id), error.message)
    }
    internals(ctx).markClean()
    metas.set(ctx, meta)
    internals(ctx).setTurnLoader((before) => loadOlder(meta, before))
    return ctx
  }

  /** The (up to) 100 turns below `before`, validated by the state schema's turn schema; an error names its record. */
  async function loadOlder(meta: Meta, before: number): Promise<TurnRecord[]> {
    const [turns, keys] = await readTurns(meta, range(Math.max(0, before - 100), before))
    return turns.map((turn, i) => {
      try {
        // 72 levels, as fromJSON reads a state (see ParseLimits.maxDepth).
        return parse(TurnRecordSchema, turn, 'turn', 'invalid_state', { maxDepth: 72 })
      } catch (error) {
        throw corrupt(keys[i]!, (error as Error).message)
      }
    })
  }

  async function write(ctx: Context, meta: Meta): Promise<void> {
    const inner = internals(ctx)
    const before = meta.header
    const { state, messages, messagesClean } = inner.snapshot()
    // Marked clean now, before any await: a change made while the writes are under way is then
    // seen by the next save. If this one fails, `meta.clean` keeps what was known before it.
    inner.markClean()
    const clean = Math.min(messagesClean, meta.clean ?? Infinity)
    meta.clean = clean
    const current = ctx.currentTurnId
    const writes: [string, Json][] = []
    const tail: TurnRecord[] = []
    // Only the current turn ever changes, so the turns to look at are those of the last header's
    // tail and the ones started since: O(new turns), never a walk over the history. Everything
    // below the current turn is sealed into its own record; the rest stays in the header (copied:
    // the live record still changes).
    const ids = before ? new Set([...before.tail.map((r) => r.id), ...range(before.sealed + 1, current + 1)]) : inner.turns.records().map((r) => r.id)
    for (const id of ids) {
      const record = inner.turns.record(id)
      if (record) id < current ? writes.push([turnKey(meta, id), record as unknown as Json]) : tail.push({ ...record })
    }
    tail.sort((a, b) => a.id - b.id)

    // Messages: full chunks that did not exist before are written once; when the history was
    // rewritten below what is already chunked, a new generation is written whole.
    let gen = before?.msg.gen ?? 0
    let chunks = before?.msg.chunks ?? 0
    if (clean < chunks * CHUNK) {
      gen++
      chunks = 0
    }
    const full = Math.floor(messages.length / CHUNK)
    for (let k = chunks; k < full; k++) writes.push([chunkKey(meta, gen, k), messages.slice(k * CHUNK, (k + 1) * CHUNK) as unknown as Json])

    const header: Header = {
      format: FORMAT,
      rev: (before?.rev ?? 0) + 1,
      stamp: nanoid(10),
      epoch: meta.epoch,
      sealed: Math.max(current - 1, before?.sealed ?? -1),
      tail,
      msg: { gen, chunks: full, tail: messages.slice(full * CHUNK) },
      state,
    }
    // Nothing changed: nothing to write (Workers KV allows one write a second per key).
    if (before && !writes.length && jsonEqual({ ...header, rev: before.rev, stamp: before.stamp } as unknown as Json, before as unknown as Json)) {
      meta.clean = undefined
      return
    }
    const key = headerKey(meta.id)
    const conflict = () =>
      new ContextConflictError(`context ${JSON.stringify(meta.id)} was saved elsewhere since this copy was loaded or created: load it again, reapply your change, save`, { path: key })
    if (cas) {
      if (!(await cas(key, before as unknown as Json, header as unknown as Json, writes))) throw conflict()
    } else {
      // No compare-and-set: a new context still must not replace a saved one (checked, not atomically).
      if (!before && (await db.get(key)) !== undefined) throw conflict()
      // Records first, the header last, so a crash between leaves the old version.
      if (writes.length) await batchSet(db, writes)
      await db.set(key, header as unknown as Json)
    }
    meta.header = header
    meta.clean = undefined
    bus()?.postMessage({ id: meta.id, rev: header.rev } satisfies ContextChange)
    if (before && gen !== before.msg.gen) {
      // The old generation is garbage now; a failure here leaves unread records, not a broken context.
      await batchDelete(
        db,
        range(0, before.msg.chunks).map((k) => chunkKey(meta, before.msg.gen, k)),
      ).catch(() => {})
    }
  }

  return {
    async open(id, init, runtime = options.runtime) {
      const existing = await load(id, runtime)
      if (existing) return existing
      const ctx = typeof init === 'function' ? init() : new Context({ ...init, contextId: id }, runtime)
      if (!(ctx instanceof Context) || ctx.id !== id) throw invalid('init', `must create a Context with id ${JSON.stringify(id)}`)
      return ctx
    },
    load,
    save(ctx) {
      if (!(ctx instanceof Context)) return Promise.reject(invalid('ctx', 'must be a Context'))
      let meta = metas.get(ctx)
      if (!meta) metas.set(ctx, (meta = { id: ctx.id, epoch: nanoid(10), header: undefined, queue: Promise.resolve() }))
      const m = meta
      const done = m.queue.then(() => write(ctx, m))
      m.queue = done.catch(() => {})
      return done
    },
    async refresh(ctx, runtime = options.runtime) {
      if (!(ctx instanceof Context)) throw invalid('ctx', 'must be a Context')
      const meta = metas.get(ctx)
      // A save of ctx under way would change the header between this read and its own bookkeeping.
      await meta?.queue
      const header = await readHeader(ctx.id)
      if (!header) return undefined
      return meta?.header && jsonEqual(header as unknown as Json, meta.header as unknown as Json) ? ctx : build(ctx.id, header, runtime)
    },
    async delete(id) {
      checkId(id)
      // A corrupted header is deleted too, with the records of every epoch of this id.
      const header = await readHeader(id).catch((e: unknown) => (e instanceof ContextError && e.code === 'invalid_state' ? null : Promise.reject(e)))
      if (header === undefined) return
      await db.delete(headerKey(id))
      bus()?.postMessage({ id, rev: undefined } satisfies ContextChange)
      // `d/<id>/` never matches `d/<id>0/` nor `d/<id>%2Fx/` (see encodeKey); only the deleted epoch,
      // so a context created again meanwhile (a new epoch) keeps its records.
      const prefix = encodeKey(header ? ['d', id, header.epoch] : ['d', id])
      for (let cursor: string | undefined, page; !page || cursor; cursor = page.cursor) {
        page = await db.list(prefix, { cursor })
        if (page.keys.length) await batchDelete(db, page.keys)
      }
    },
    async list(opts) {
      const prefix = encodeKey(['h'])
      const page = await db.list(prefix, opts)
      return { ids: page.keys.map((k) => decodeKey(k)[1]!), cursor: page.cursor }
    },
    subscribe(listener) {
      const c = bus()
      const on = (event: MessageEvent<ContextChange>) => listener(event.data)
      c?.addEventListener('message', on)
      return () => c?.removeEventListener('message', on)
    },
  }
}
