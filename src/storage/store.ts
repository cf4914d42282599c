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
 * unstorage) the last header written wins, and a turn id both writers sealed holds the last one's turn;
 * the context still always loads: a save reads the stored header just before writing its own, and
 * a message generation is deleted only two saves after it was retired (see `retire`).
 */

const FORMAT = 1
const CHUNK = 32
/**
 * Metas by adapter, namespace and context: shared by every store on one adapter object and
 * namespace, so a context loaded by one store object saves incrementally through another.
 */
const registry = new WeakMap<StorageAdapter, Record<string, WeakMap<Context, Meta>>>()
const pad = (n: number) => String(n).padStart(10, '0')
/**
 * Most keys `delete` names from a header's layout (2^20, about 10× the 100,000 turns the costs are
 * measured at). Turn ids may have gaps (`fromJSON` takes any ascending ids), so the layout costs
 * O(sealed), not O(records): past this bound, or for a hostile header claiming 2^53 turns, only the
 * listing sweep runs, which costs what exists.
 */
const LAYOUT = 2 ** 20

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
  /**
   * Message chunks: generation (new when history is rewritten), full chunks, the partial tail, and
   * (without compare-and-set only) generations retired but not yet deleted, see `retire`, and
   * `extent`, the chunks of this generation another writer wrote past `chunks` (deleted with it).
   */
  msg: { gen: number; chunks: number; tail: CompletionMessage[]; old?: Retired[]; extent?: number }
  /** The rest of the context (toJSON without turns and messages). */
  state: JsonObject
}

/** A message generation no header reads any more: its number, its chunks, saves since it was retired. */
type Retired = [gen: number, chunks: number, age: number]

/** Saves a retired generation is kept for on an adapter without compare-and-set (see `retire`). */
const KEEP = 2

/**
 * Without compare-and-set, when a generation may be deleted: never by the save that retires it, but
 * by the `KEEP`th save after it. The header carries the generations retired and not yet deleted.
 *
 * The bug this guards against (issue 8), with context `c` at rev 5, 100 messages in generation 0:
 *
 *     writer A loads rev 5                 writer B loads rev 5
 *     A rewrites message 0, saves: chunks of generation 1, header (gen 1), deletes generation 0
 *                                          B adds a turn, saves: its turn record, header (gen 0)
 *     every load: `not a chunk of 32 messages` (B's header names the chunks A deleted)
 *
 * Now a save without compare-and-set reads the stored header right before writing its own. B sees
 * generation 1 where it holds 0: someone retired its generation, so B writes its own messages as a
 * new generation with a random number (two writers both taking "0 + 1" would write the same keys,
 * each a chunk of the other's history) and its header names that one: B's version wins, whole. And A
 * no longer deletes generation 0 when it retires it, so a save whose header read came just before
 * A's header write (a writer in flight, not one loaded earlier) still finds its chunks: the header
 * lists [0, 3, 1] (generation 0, 3 chunks, retired 1 save ago), the next save lists it at age 2,
 * the one after deletes it, once its own header no longer names it. Any save whose header read sees
 * a generation named as current lists it at age 1 again. So a header names deleted chunks only if
 * another writer completes `KEEP` + 1 = 3 saves between one save's header read and its header write
 * (milliseconds: nothing else is written in between, unless that save writes a new generation, whose
 * random number no other writer knows). Storage: a retired generation outlives its last header by
 * `KEEP` saves.
 *
 * With compare-and-set the old generation is deleted right after the header (see `write`).
 * Sealed turns need none of this: no save deletes one; two writers sealing one turn id leave the
 * last one's record, which every header up to it may read (the documented last-writer-wins mix).
 */
function retire(gen: number, before: Header | undefined, stored: Header | undefined, wrote: number): [keep: Retired[], drop: Retired[]] {
  const all = new Map<number, Retired>()
  const add = (g: number, chunks: number, age: number) => {
    const r = all.get(g)
    if (g !== gen) all.set(g, r ? [g, Math.max(r[1], chunks), Math.min(r[2], age)] : [g, chunks, age])
  }
  for (const h of [before, stored]) for (const [g, n, age] of h?.msg.old ?? []) add(g, n, age + 1)
  // A generation some header names as current is 1 save old at most, whatever a list says.
  if (stored) add(stored.msg.gen, extent(stored), 1)
  if (before) add(before.msg.gen, Math.max(extent(before), wrote), 1)
  const list = [...all.values()]
  return [list.filter((r) => r[2] <= KEEP), list.filter((r) => r[2] > KEEP)]
}

/** Chunks of a header's generation that may exist: its own, or more that another writer wrote in it. */
const extent = (h: Header) => Math.max(h.msg.chunks, h.msg.extent ?? 0)

/** A random generation number (1 to 2^31) that none of `headers` names, current or retired. */
function freshGen(...headers: (Header | undefined)[]): number {
  let g: number
  do g = 1 + ((Math.random() * 2 ** 31) | 0)
  while (headers.some((h) => h && (h.msg.gen == g || h.msg.old?.some((r) => r[0] == g))))
  return g
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
  /** Sealed turn ids found by listing (ascending), and the `sealed` they were listed at (see `loadOlder`). */
  listed?: { sealed: number; ids: number[] }
  /** Sealed turns changed since they were written (see `write`), kept until a save writes them. */
  resealed?: Set<number>
}

/** Options of `createContextStore`. */
export interface ContextStoreOptions {
  /** Keys go under this namespace; two namespaces on one backend never see each other. Default `agentctx`. */
  namespace?: string
  /**
   * Sealed turns `load` reads with the header (the current turn always comes with it); older ones
   * come with `await ctx.loadTurns()` (100 at a time, `{ all: true }` for every one, `{ from, to }` a range),
   * or one at a time, without keeping it, with `await ctx.getTurn(id)` (one record read). Until then
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
  /** The id of the context that changed. */
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
  list(options?: { cursor?: string; limit?: number }): Promise<{
    /** This page's context ids, ascending. */
    ids: string[]
    /** Pass it back as `options.cursor` for the next page; absent on the last page. */
    cursor?: string
  }>
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
  // Safe integers only: past 2^53, n + 1 === n.
  const isInt = (n: unknown, min: number) => Number.isSafeInteger(n) && (n as number) >= min
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v == 'object' && v !== null && !Array.isArray(v)
  // Each save adds at most 2 entries, each leaves after `KEEP` + 1 saves: 64 is far past a real list.
  // 2^20 chunks are 32 Mi messages: a bound before allocating keys.
  const isCount = (n: unknown) => isInt(n, 0) && (n as number) <= 2 ** 20
  const isRetired = (old: unknown) => Array.isArray(old) && old.length <= 64 && old.every((r) => Array.isArray(r) && r.length == 3 && r.every((n) => isInt(n, 0)) && isCount(r[1]))

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
      // Sealed turns are below the current one (`write` seals up to currentTurnId - 1): a header
      // claiming 2^40 is refused here, before any turn is read.
      (typeof h.state?.currentTurnId === 'number' && h.sealed! >= h.state.currentTurnId) ||
      !Array.isArray(h.tail) ||
      !isObject(h.msg) ||
      !isInt(h.msg.gen, 0) ||
      !isCount(h.msg.chunks) ||
      !Array.isArray(h.msg.tail) ||
      (h.msg.old !== undefined && !isRetired(h.msg.old)) ||
      (h.msg.extent !== undefined && !isCount(h.msg.extent)) ||
      !isObject(h.state) ||
      h.state.id !== id
    ) {
      throw corrupt(key, `not a format 1 header of context ${JSON.stringify(id)}`)
    }
    return h as Header
  }

  /**
   * The `n` message chunks of generation `gen` and their keys, read in pages of 64, 128, 256, …
   * chunks (one round trip up to 2,048 messages, four for 20,000), each checked before the next page
   * is asked for: a header claiming 2^20 chunks that are not there is refused after 64 reads, where
   * one read of all 2^20 keys spun 2-4 s before the first check.
   */
  async function readChunks(meta: Meta, gen: number, n: number): Promise<[CompletionMessage[], string[]]> {
    const messages: CompletionMessage[] = []
    const keys: string[] = []
    for (let from = 0, size = 64; from < n; from += size, size *= 2) {
      const page = range(from, Math.min(n, from + size)).map((k) => chunkKey(meta, gen, k))
      ;(await batchGet(db, page)).forEach((chunk, i) => {
        if (!Array.isArray(chunk) || chunk.length !== CHUNK) throw corrupt(page[i]!, `not a chunk of ${CHUNK} messages`)
        for (const m of chunk) messages.push(m as unknown as CompletionMessage)
      })
      keys.push(...page)
    }
    return [messages, keys]
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
    const [[turns, turnKeys], [messages, chunkKeys]] = await Promise.all([
      readTurns(meta, range(Math.max(0, header.sealed - recentTurns + 1), header.sealed + 1)),
      readChunks(meta, header.msg.gen, header.msg.chunks),
    ])
    messages.push(...header.msg.tail)
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
    internals(ctx).setTurnLoader({
      older: (before) => loadOlder(meta, before),
      range: (from, to) => loadRange(meta, from, to),
    })
    return ctx
  }

  /** `turns` (read at `keys`) validated by the state schema's turn schema; an error names its record. */
  function checked(turns: TurnRecord[], keys: string[]): TurnRecord[] {
    return turns.map((turn, i) => {
      try {
        // 72 levels, as fromJSON reads a state (see ParseLimits.maxDepth).
        return parse(TurnRecordSchema, turn, 'turn', 'invalid_state', { maxDepth: 72 })
      } catch (error) {
        throw corrupt(keys[i]!, (error as Error).message)
      }
    })
  }

  /**
   * Sealed turns with ids in [from, to) (`loadTurns({ from, to })`; `getTurn`: one id, one record
   * read), read 1,000 ids a batch. Ids above the `sealed` of the header this context was loaded or
   * last saved with are never read: a record there belongs to a save that did not reach its header
   * (crashed, or lost a race), and the turns this context holds above it are in its memory. A batch
   * of 1,000 ids that holds no turn switches to the listing of turn keys (once; see `loadOlder`), so
   * a hostile header claiming turn 9,999,999,998 over no records costs 1,000 reads and one listing,
   * not 10^7 batches; a dense history is read by ids, 100 batches at 100,000 turns.
   */
  async function loadRange(meta: Meta, from: number, to: number): Promise<TurnRecord[]> {
    const end = Math.min(to, (meta.header?.sealed ?? -1) + 1)
    const out: TurnRecord[] = []
    for (let at = from; at < end; ) {
      const ids = range(at, Math.min(end, at + 1000))
      const [turns, keys] = await readTurns(meta, ids)
      out.push(...checked(turns, keys))
      at += ids.length
      if (!turns.length && at < end) {
        const listed = await listTurns(meta)
        const rest = listed.filter((id) => id >= at && id < end)
        for (let i = 0; i < rest.length; i += 1000) {
          const [more, moreKeys] = await readTurns(meta, rest.slice(i, i + 1000))
          out.push(...checked(more, moreKeys))
        }
        break
      }
    }
    return out
  }

  /** Sealed turn ids found by listing the turn keys, ascending; listed once per `sealed` (cost: the turns that exist). */
  async function listTurns(meta: Meta): Promise<number[]> {
    const sealed = meta.header?.sealed ?? -1
    if (meta.listed?.sealed !== sealed) {
      const ids: number[] = []
      // Keys of turn ids are zero-padded to 10 digits: listing order is id order. A key that is not
      // a turn id's is skipped here (and a record that is not its turn's is refused by readTurns).
      for (let cursor: string | undefined, page; !page || cursor; cursor = page.cursor) {
        page = await db.list(dataKey(meta, 't'), { cursor })
        for (const k of page.keys) {
          const id = Number(decodeKey(k).at(-1))
          if (Number.isInteger(id) && id >= 0) ids.push(id)
        }
      }
      meta.listed = { sealed, ids }
    }
    return meta.listed.ids
  }

  /**
   * The (up to) 100 existing turns just below `before`, validated by the state schema's turn schema;
   * an error names its record. Turn ids may have gaps (a hand-edited or hostile record, turns of a
   * writer that skipped ids): when the 100 ids below `before` hold no turn, the turn keys are listed
   * once (cost: the turns that exist) and the next 100 found below `before` are read. Walking ids
   * 100 at a time instead made a header claiming turn 9,999,999,998 over no records cost 10^8 reads.
   */
  async function loadOlder(meta: Meta, before: number): Promise<TurnRecord[]> {
    let [turns, keys] = await readTurns(meta, range(Math.max(0, before - 100), before))
    if (!turns.length && before > 100) {
      const ids = await listTurns(meta)
      // Binary search for the first listed id >= before: the 100 ids below it are the next page.
      let lo = 0
      for (let hi = ids.length; lo < hi; ) {
        const mid = (lo + hi) >> 1
        ids[mid]! < before ? (lo = mid + 1) : (hi = mid)
      }
      ;[turns, keys] = await readTurns(meta, ids.slice(Math.max(0, lo - 100), lo))
    }
    return checked(turns, keys)
  }

  async function write(ctx: Context, meta: Meta): Promise<void> {
    const inner = internals(ctx)
    const before = meta.header
    const { state, messages, messagesClean } = inner.snapshot()
    // Sealed turns changed since they were written: the agent adds a background event to the turn
    // that started its task, which may be sealed by now. Read before `markClean` clears the marks,
    // and kept on the meta until a save has written them.
    const resealed = new Set(meta.resealed)
    for (const id of inner.turns.dirty()) if (before && id <= before.sealed) resealed.add(id)
    meta.resealed = resealed
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
    //
    // The one exception: a sealed turn changed since (`resealed`), whose record is written again.
    // With compare-and-set that write is part of the one atomic save. Without, records go first: a
    // crash before the header leaves the previous version reading the new record, which holds
    // everything the old one did plus the addition (an event appears early, none is lost).
    const ids = before ? new Set([...resealed, ...before.tail.map((r) => r.id), ...range(before.sealed + 1, current + 1)]) : inner.turns.records().map((r) => r.id)
    for (const id of ids) {
      const record = inner.turns.record(id)
      if (record) id < current ? writes.push([turnKey(meta, id), record as unknown as Json]) : tail.push({ ...record })
    }
    tail.sort((a, b) => a.id - b.id)

    // Messages: full chunks that did not exist before are written once; when the history was
    // rewritten below what is already chunked, a new generation is written whole (numbered +1 with
    // compare-and-set, at random without: see `retire`).
    let gen = before?.msg.gen ?? 0
    let chunks = before?.msg.chunks ?? 0
    const rewritten = clean < chunks * CHUNK
    if (rewritten) {
      gen = cas ? gen + 1 : freshGen(before!)
      chunks = 0
    }
    const full = Math.floor(messages.length / CHUNK)
    const chunkWrites = (g: number, from: number) =>
      range(from, full).map((k): [string, Json] => [chunkKey(meta, g, k), messages.slice(k * CHUNK, (k + 1) * CHUNK) as unknown as Json])
    writes.push(...chunkWrites(gen, chunks))

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
    const same = { ...header, rev: before?.rev, stamp: before?.stamp, msg: { ...header.msg, ...(before?.msg.old && { old: before.msg.old }) } }
    if (before && !writes.length && jsonEqual(same as unknown as Json, before as unknown as Json)) {
      meta.clean = undefined
      return
    }
    const key = headerKey(meta.id)
    const conflict = () =>
      new ContextConflictError(`context ${JSON.stringify(meta.id)} was saved or deleted elsewhere since this copy was loaded or created: load it again, reapply your change, save`, { path: key })
    // Generations no header will read any more, deleted once the header is written.
    let garbage: Retired[] = []
    if (cas) {
      if (!(await cas(key, before as unknown as Json, header as unknown as Json, writes))) throw conflict()
      // Safe at once: the compare-and-set replaced `before`, and every later header is a
      // compare-and-set against this one or its successors, none of which names the old generation.
      // A writer still holding `before` (or older) fails its compare-and-set: the stored header
      // never equals an older one again (rev only grows, and the stamp is new each save).
      if (before && gen !== before.msg.gen) garbage = [[before.msg.gen, before.msg.chunks, 0]]
    } else {
      // Records first, the header last, so a crash between leaves the old version.
      if (writes.length) await batchSet(db, writes)
      // The header as stored now, read as late as possible: right before ours replaces it.
      const stored = await readHeader(meta.id)
      // A new context must not replace a saved one, nor a save re-create a context deleted (or
      // deleted and created again) elsewhere: its records are gone. Checked, not atomically.
      if (before ? stored?.epoch !== before.epoch : stored) throw conflict()
      if (before && stored!.msg.gen !== before.msg.gen && !rewritten) {
        // Another writer moved to another generation, retiring ours: it may be deleted two saves
        // from now, so this save writes its messages as a generation of its own (see `retire`).
        gen = header.msg.gen = freshGen(before, stored)
        await batchSet(db, chunkWrites(gen, 0))
      }
      ;[header.msg.old, garbage] = retire(gen, before, stored, gen === before?.msg.gen || rewritten ? 0 : full)
      if (!header.msg.old.length) delete header.msg.old
      // Same generation, more chunks written by another writer (ours replace theirs below `full`).
      const ext = Math.max(...[before, stored].map((h) => (h?.msg.gen === gen ? extent(h) : 0)))
      if (ext > full) header.msg.extent = ext
      await db.set(key, header as unknown as Json)
    }
    meta.header = header
    meta.clean = undefined
    meta.resealed = undefined
    bus()?.postMessage({ id: meta.id, rev: header.rev } satisfies ContextChange)
    // The old generations are garbage now; a failure here leaves unread records, not a broken context.
    if (garbage.length) {
      await batchDelete(
        db,
        garbage.flatMap(([g, n]) => range(0, n).map((k) => chunkKey(meta, g, k))),
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
      if (header && header.sealed + header.msg.chunks < LAYOUT) {
        // By the layout the header names first (turns 0..sealed, the chunks of its generation), 1,000
        // keys a batch, no listing: an eventually consistent listing (Workers KV, up to 60 s) misses
        // recent records, and one that scans (localStorage, unstorage) would scan once per page.
        const m = { id, epoch: header.epoch } as Meta
        const keys = [...range(0, header.sealed + 1).map((t) => turnKey(m, t)), ...range(0, header.msg.chunks).map((k) => chunkKey(m, header.msg.gen, k))]
        for (let i = 0; i < keys.length; i += 1000) await batchDelete(db, keys.slice(i, i + 1000))
      }
      // Then one sweep for what the layout does not name: other message generations, turns of a save
      // that died before its header. `d/<id>/` never matches `d/<id>0/` nor `d/<id>%2Fx/` (see
      // encodeKey); only the deleted epoch, so a context created again meanwhile (a new epoch) keeps its records.
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
