import { nanoid } from 'nanoid'
import { Context, internals, type ContextConfig, type ContextRuntime } from '../context.js'
import { ContextConflictError, ContextError, invalid } from '../errors.js'
import type { Json, JsonObject } from '../state/json.js'
import type { CompletionMessage } from '../state/messages.js'
import { parseState, type ContextState } from '../state/schema.js'
import type { TurnRecord } from '../state/turns.js'
import { batchDelete, batchGet, batchSet, encodeKey, namespaced, type StorageAdapter } from './adapter.js'

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
 * version gets a `ContextConflictError`, and nothing of its save is written.
 */

const FORMAT = 1
const CHUNK = 32
const pad = (n: number) => String(n).padStart(10, '0')

/** The header record. */
interface Header {
  format: number
  /** Revision, +1 per save: what a second writer's compare-and-set trips on. */
  rev: number
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

/** What the store remembers about a context it loaded or saved. */
interface Meta {
  id: string
  epoch: string
  header: Header | undefined
}

/** Options of `createContextStore`. */
export interface ContextStoreOptions {
  /** Keys go under this namespace; two namespaces on one backend never see each other. Default `agentctx`. */
  namespace?: string
  /** Sealed turns `load` reads with the header; older ones come with `ctx.loadTurns()`. Default 20. */
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
  /** Deletes a context: its header first (it is gone from then on), then its records. */
  delete(id: string): Promise<void>
  /** Saved context ids, a page at a time (ascending). */
  list(options?: { cursor?: string; limit?: number }): Promise<{ ids: string[]; cursor?: string }>
  /** Calls `listener` when a context changes in another tab; returns the unsubscribe function. */
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
  const metas = new WeakMap<Context, Meta>()
  const headerKey = (id: string) => encodeKey(['h', id])
  const dataKey = (m: { id: string; epoch: string }, ...rest: string[]) => encodeKey(['d', m.id, m.epoch, ...rest])
  const turnKey = (m: Meta, turn: number) => dataKey(m, 't', pad(turn))
  const chunkKey = (m: Meta, gen: number, k: number) => dataKey(m, 'm', String(gen), pad(k))
  const channelName = options.channel === false ? undefined : (options.channel ?? `agentctx:${namespace}`)
  const channel = channelName && typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(channelName) : undefined

  const checkId = (id: unknown) => {
    if (typeof id !== 'string' || id === '') throw invalid('id', 'must be a non-empty string')
  }
  /** A record's value checked by the state schema; a corrupted record names its key. */
  const corrupt = (key: string, problem: string) => new ContextError('invalid_state', `record ${JSON.stringify(namespace + '/' + key)}: ${problem}`, { path: key })

  async function readHeader(id: string): Promise<Header | undefined> {
    const key = headerKey(id)
    const header = (await db.get(key)) as Header | undefined
    if (header === undefined) return undefined
    const h = header as Partial<Header> | null
    if (!h || typeof h !== 'object' || h.format !== FORMAT || typeof h.rev !== 'number' || typeof h.epoch !== 'string' || !Number.isInteger(h.sealed) || !Array.isArray(h.tail) || !h.msg || typeof h.state !== 'object') {
      throw corrupt(key, 'not a context header of format 1')
    }
    return header
  }

  async function load(id: string, runtime = options.runtime): Promise<Context | undefined> {
    checkId(id)
    const header = await readHeader(id)
    if (!header) return undefined
    const meta: Meta = { id, epoch: header.epoch, header }
    const from = Math.max(0, header.sealed - recentTurns + 1)
    const ids: number[] = []
    for (let t = from; t <= header.sealed; t++) ids.push(t)
    const turnKeys = ids.map((t) => turnKey(meta, t))
    const chunkKeys = Array.from({ length: header.msg.chunks }, (_, k) => chunkKey(meta, header.msg.gen, k))
    const values = await batchGet(db, [...turnKeys, ...chunkKeys])
    const turns = values.slice(0, ids.length).filter((v) => v !== undefined) as TurnRecord[]
    const messages: CompletionMessage[] = []
    values.slice(ids.length).forEach((chunk, k) => {
      if (!Array.isArray(chunk)) throw corrupt(chunkKeys[k]!, 'missing or not a message chunk')
      messages.push(...(chunk as CompletionMessage[]))
    })
    messages.push(...header.msg.tail)
    const ctx = restore(header, [...turns, ...header.tail], messages, turnKeys, ids, runtime)
    metas.set(ctx, meta)
    internals(ctx).setTurnLoader((before) => loadOlder(meta, before))
    return ctx
  }

  /** Builds the context, validating every record; the error names the record at fault. */
  function restore(header: Header, turns: TurnRecord[], messages: CompletionMessage[], turnKeys: string[], ids: number[], runtime?: ContextRuntime): Context {
    let state: ContextState
    try {
      state = parseState({ ...header.state, turns, messages } as object, runtime?.limits)
    } catch (error) {
      if (!(error instanceof ContextError)) throw error
      // Name the record: turns[i] maps to a turn record (or the header's tail), messages to the chunks.
      const path = error.path ?? ''
      const turn = /^turns\[(\d+)\]/.exec(path)
      const index = turn ? Number(turn[1]) : -1
      const loadedTurns = turns.length - header.tail.length
      const key = index >= 0 && index < loadedTurns ? turnKeys[ids.indexOf(turns[index]!.id)] ?? headerKey(header.state.id as string) : headerKey(String(header.state.id))
      throw corrupt(key, error.message)
    }
    const ctx = Context.fromJSON(state, runtime)
    internals(ctx).markClean()
    return ctx
  }

  async function loadOlder(meta: Meta, before: number): Promise<TurnRecord[]> {
    const ids: number[] = []
    for (let t = Math.max(0, before - 100); t < before; t++) ids.push(t)
    const keys = ids.map((t) => turnKey(meta, t))
    const values = await batchGet(db, keys)
    const out: TurnRecord[] = []
    values.forEach((v, i) => {
      if (v === undefined) return
      try {
        out.push(parseState({ ...minimalState, turns: [v] } as object).turns[0]!)
      } catch (error) {
        throw corrupt(keys[i]!, (error as Error).message)
      }
    })
    return out
  }

  async function save(ctx: Context): Promise<void> {
    if (!(ctx instanceof Context)) throw invalid('ctx', 'must be a Context')
    const inner = internals(ctx)
    let meta = metas.get(ctx)
    if (!meta) {
      meta = { id: ctx.id, epoch: nanoid(10), header: undefined }
      metas.set(ctx, meta)
    }
    const before = meta.header
    const { state, messages, messagesClean } = inner.snapshot()
    const current = ctx.currentTurnId
    const sealed = current - 1
    const writes: [string, Json][] = []
    // Turns below the current one are final: write the ones changed since the last save.
    // A context this store never saw (new, or from fromJSON) has clean turns that were never written.
    const dirty = before ? inner.turns.dirty() : inner.turns.records().map((r) => r.id)
    for (const id of dirty) if (id <= sealed) writes.push([turnKey(meta, id), inner.turns.record(id)! as unknown as Json])
    const tail = inner.turns.records().filter((r) => r.id > sealed)

    // Messages: full chunks that did not exist before are written once; when the history was
    // rewritten below what is already chunked, a new generation is written whole.
    let gen = before?.msg.gen ?? 0
    let chunks = before?.msg.chunks ?? 0
    if (messagesClean < chunks * CHUNK) {
      gen++
      chunks = 0
    }
    const full = Math.floor(messages.length / CHUNK)
    for (let k = chunks; k < full; k++) writes.push([chunkKey(meta, gen, k), messages.slice(k * CHUNK, (k + 1) * CHUNK) as unknown as Json])
    chunks = full

    const header: Header = {
      format: FORMAT,
      rev: (before?.rev ?? 0) + 1,
      epoch: meta.epoch,
      sealed: Math.max(sealed, before?.sealed ?? -1),
      tail,
      msg: { gen, chunks, tail: messages.slice(full * CHUNK) },
      state,
    }
    const key = headerKey(meta.id)
    if (cas) {
      const ok = await cas(key, before as unknown as Json, header as unknown as Json, writes)
      if (!ok) {
        throw new ContextConflictError(`context ${JSON.stringify(meta.id)} was saved by another writer since it was loaded: load it again, reapply your change, and save`, {
          path: key,
        })
      }
    } else {
      // No compare-and-set: records first, the header last, so a crash between leaves the old version.
      if (writes.length) await batchSet(db, writes)
      await db.set(key, header as unknown as Json)
    }
    meta.header = header
    inner.markClean(dirty)
    channel?.postMessage({ id: meta.id, rev: header.rev } satisfies ContextChange)
    if (before && gen !== before.msg.gen) {
      // The old generation is garbage now; a failure here leaves unread records, not a broken context.
      const old = Array.from({ length: before.msg.chunks }, (_, k) => chunkKey(meta, before.msg.gen, k))
      await batchDelete(db, old).catch(() => {})
    }
  }

  return {
    async open(id, init, runtime = options.runtime) {
      const existing = await load(id, runtime)
      if (existing) return existing
      const ctx = typeof init === 'function' ? init() : new Context({ ...init, contextId: id }, runtime)
      if (ctx.id !== id) throw invalid('init', `must create the context with id ${JSON.stringify(id)}`)
      return ctx
    },
    load,
    save,
    async delete(id) {
      checkId(id)
      const header = await readHeader(id).catch(() => undefined)
      await db.delete(headerKey(id))
      channel?.postMessage({ id, rev: undefined } satisfies ContextChange)
      if (!header) return
      // Everything of every epoch of this id: `d/<id>/` never matches `d/<id>0/` (see encodeKey).
      const prefix = encodeKey(['d', id])
      let cursor: string | undefined
      do {
        const page = await db.list(prefix, { cursor })
        if (page.keys.length) await batchDelete(db, page.keys)
        cursor = page.cursor
      } while (cursor)
    },
    async list(opts) {
      const prefix = encodeKey(['h'])
      const page = await db.list(prefix, opts)
      return { ids: page.keys.map((k) => k.slice(prefix.length).replace(/\/$/, '').replace(/%2F|%25/g, (e) => (e === '%25' ? '%' : '/'))), cursor: page.cursor }
    },
    subscribe(listener) {
      if (!channelName || typeof BroadcastChannel === 'undefined') return () => {}
      const sub = new BroadcastChannel(channelName)
      sub.onmessage = (event: MessageEvent<ContextChange>) => listener(event.data)
      return () => sub.close()
    },
  }
}

/** The smallest valid state, to validate a lone turn record with the same schema as everything else. */
const minimalState = {
  version: 1,
  id: 'x',
  sessionId: 'x',
  constraints: {},
  routing: {},
  output: {},
  metadata: {},
  data: {},
  cache: {},
  messages: [],
  currentTurnId: 0,
  frameworkData: { stats: {}, slots: {} },
  inputs: [],
  testing: { tests: {}, outcomes: {}, metadata: {} },
}
