import { ContextError, StorageError, ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'

/**
 * What a backend can promise. The context store reads these to pick its strategy: with
 * `compareAndSet` it detects a second writer; with `atomicBatch` it may write a save in one batch.
 */
export interface StorageCapabilities {
  /** `setMany` / `deleteMany` write all entries or none (a failure leaves every key as it was). */
  atomicBatch: boolean
  /** `compareAndSet` exists and is atomic with respect to every other writer of the same backend. */
  compareAndSet: boolean
  /** `'strong'`: a read sees every write that finished before it. `'eventual'`: it may not (Workers KV: up to 60 s elsewhere). */
  consistency: 'strong' | 'eventual'
  /** Longest key the backend accepts, in UTF-8 bytes. Absent when there is no practical limit. */
  maxKeyBytes?: number
  /** Largest value the backend accepts, in bytes of the adapter's encoding (its JSON text). Absent when there is no practical limit. */
  maxValueBytes?: number
}

/** Options of `StorageAdapter.list`. */
export interface ListOptions {
  /** The `cursor` of the previous page. Only meaningful with the same prefix on the same adapter. */
  cursor?: string
  /** Most keys in the page: a positive integer, at most (and by default) 1000, Workers KV's page size. */
  limit?: number
}

/** One page of `StorageAdapter.list`. */
export interface ListPage {
  /** Keys in ascending order. A page may hold fewer than `limit` keys even when more follow. */
  keys: string[]
  /** Pass it back to get the next page; absent on the last page. */
  cursor?: string
}

/**
 * The one contract every backend implements. Keys are strings, values are JSON: an adapter that
 * stores text encodes with `JSON.stringify` and decodes with `JSON.parse` itself, so every adapter
 * returns a fresh copy (a caller's later mutation never reaches stored data).
 *
 * Every backend failure is a `StorageError` naming the adapter and the key, never the value. A
 * value `JSON.stringify` cannot encode is a `ValidationError` (`invalid_argument`); a stored value
 * that is not JSON is a `ValidationError` (`invalid_state`) naming its key.
 *
 * Order of keys: ascending. For keys without characters from U+D800 upward every adapter agrees with
 * JavaScript's `<`; past that, memory, localStorage and IndexedDB order by UTF-16 code units, Workers
 * KV and Durable Objects by UTF-8 bytes (they differ only between astral characters and U+E000–U+FFFF).
 */
export interface StorageAdapter {
  /** Short backend name used in error messages (`memory`, `indexedDB`, `cloudflareKV`, …). */
  readonly name: string
  /** What this backend promises. */
  readonly capabilities: StorageCapabilities
  /** The value of `key`, or `undefined` when absent. */
  get(key: string): Promise<Json | undefined>
  /** Stores `value` under `key`, replacing any previous value. */
  set(key: string, value: Json): Promise<void>
  /** Removes `key`; removing an absent key is not an error. */
  delete(key: string): Promise<void>
  /** Keys starting with `prefix` (all keys for `''`), one page at a time: loop while `cursor` is set. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>
  /** Values of `keys`, in the same order, `undefined` for absent ones. Use `batchGet` to call it or its fallback. */
  getMany?(keys: string[]): Promise<(Json | undefined)[]>
  /** Stores every entry; all or nothing when `capabilities.atomicBatch`. Every value is encoded before the first write. */
  setMany?(entries: [string, Json][]): Promise<void>
  /** Removes every key; all or nothing when `capabilities.atomicBatch`. */
  deleteMany?(keys: string[]): Promise<void>
  /**
   * Atomically: when the current value of `key` equals `expected` (`undefined` = absent), writes
   * `value` (`undefined` deletes the key) together with every entry of `also`, and resolves `true`;
   * otherwise writes nothing and resolves `false`. Present exactly when `capabilities.compareAndSet`.
   * The entries of `also` are written before `key`: the store's header is `key`, its commit point, so
   * a backend that can stop halfway (localStorage in a dying tab) keeps records no header names yet,
   * never a header naming records it lacks.
   *
   * Equality is `jsonEqual`: deep, ignoring object key order. Not the JSON text: a value read back
   * through `JSON.parse` can change key order (`{"b":1,"2":0}` comes back as `{"2":0,"b":1}`, since
   * integer-like keys go first), so comparing text would refuse writers that did nothing wrong.
   */
  compareAndSet?(key: string, expected: Json | undefined, value: Json | undefined, also?: [string, Json][]): Promise<boolean>
}

/** Most keys `list` returns in one page: Workers KV's own maximum, so every adapter pages alike. */
export const MAX_PAGE = 1000

/** `"key"` for a message: JSON-quoted (control characters visible), cut at 80 characters. */
export function showKey(key: string): string {
  return JSON.stringify(key.length > 80 ? key.slice(0, 80) + '…' : key)
}

/**
 * Runs one backend call and turns any failure into a `StorageError` that names the adapter, the
 * operation and the key (the first one and how many more, for a batch). The cause is kept as
 * `cause`, but its message is not copied: a backend may echo the value it refused.
 * `ContextError`s (our own checks) pass through unchanged.
 */
export async function attempt<T>(adapter: string, op: string, keys: string | readonly string[], run: () => T | PromiseLike<T>): Promise<T> {
  try {
    return await run()
  } catch (cause) {
    if (cause instanceof ContextError) throw cause
    const key = typeof keys === 'string' ? keys : (keys[0] ?? '')
    const more = typeof keys === 'string' || keys.length < 2 ? '' : ` and ${keys.length - 1} more`
    const kind = (cause as Error | undefined)?.name
    throw new StorageError(`${adapter}: ${op} of ${showKey(key)}${more} failed${kind && kind !== 'Error' ? ` (${kind})` : ''}`, { path: key, cause })
  }
}

/** JSON text of `value` for adapters that store text; a `ValidationError` naming the key when it has none (undefined, BigInt, cycle). */
export function encode(adapter: string, key: string, value: Json | undefined): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    // BigInt or a cycle; handled below with undefined.
  }
  if (text === undefined) throw new ValidationError('invalid_argument', `${adapter}: the value for ${showKey(key)} is not JSON`, { path: key })
  return text
}

/**
 * The value stored as `text`, `undefined` for `null`/`undefined` (absent). Text that is not JSON is a
 * `ValidationError` (`invalid_state`) naming the key; the parser's message is dropped, as it quotes the text.
 */
export function decode(adapter: string, key: string, text: unknown): Json | undefined {
  if (text == null) return undefined
  try {
    return JSON.parse(text as string) as Json
  } catch {
    throw new ValidationError('invalid_state', `${adapter}: the stored value of ${showKey(key)} is not JSON`, { path: key })
  }
}

/** Deep equality of two JSON values, ignoring object key order; `undefined` equals only `undefined`. */
export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || !a || !b || Array.isArray(a) !== Array.isArray(b)) return false
  const keys = Object.keys(a)
  return (
    keys.length === Object.keys(b).length &&
    keys.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, Json>)[k], (b as Record<string, Json>)[k]))
  )
}

/** `limit` checked and capped at `MAX_PAGE`; a `ValidationError` unless a positive integer. */
export function pageLimit(limit: number = MAX_PAGE): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ValidationError('invalid_argument', `list: limit must be a positive integer, got ${String(limit)}`, { path: 'limit' })
  }
  return Math.min(limit, MAX_PAGE)
}

/**
 * One `list` page computed in memory from every key of a backend that cannot list by prefix itself
 * (memory, localStorage, unstorage). The cursor is the last key returned; the next page starts after it.
 */
export function pageOf(all: Iterable<string>, prefix: string, options?: ListOptions): ListPage {
  const limit = pageLimit(options?.limit)
  const after = options?.cursor
  const keys: string[] = []
  for (const k of all) if (k.startsWith(prefix) && (after === undefined || k > after)) keys.push(k)
  keys.sort()
  return keys.length > limit ? { keys: keys.slice(0, limit), cursor: keys[limit - 1] } : { keys }
}

/** `adapter.getMany(keys)`, or one `get` per key in parallel when the adapter has no batch read. */
export function batchGet(adapter: StorageAdapter, keys: string[]): Promise<(Json | undefined)[]> {
  return adapter.getMany ? adapter.getMany(keys) : Promise.all(keys.map((k) => adapter.get(k)))
}

/** `adapter.setMany(entries)`, or one `set` per entry in parallel (not atomic) when it has none. */
export async function batchSet(adapter: StorageAdapter, entries: [string, Json][]): Promise<void> {
  if (adapter.setMany) return adapter.setMany(entries)
  await Promise.all(entries.map(([k, v]) => adapter.set(k, v)))
}

/** `adapter.deleteMany(keys)`, or one `delete` per key in parallel (not atomic) when it has none. */
export async function batchDelete(adapter: StorageAdapter, keys: string[]): Promise<void> {
  if (adapter.deleteMany) return adapter.deleteMany(keys)
  await Promise.all(keys.map((k) => adapter.delete(k)))
}

/**
 * The key of a record from its segments, each escaped and terminated by `/`:
 *
 *     encodeKey(['ctx', '1'])       → 'ctx/1/'
 *     encodeKey(['ctx', '10', 't']) → 'ctx/10/t/'
 *     encodeKey(['a/b', '50%'])     → 'a%2Fb/50%25/'   ('/' and '%' inside a segment are escaped)
 *
 * Since `/` appears only as a terminator, one encoded key is a string prefix of another exactly when
 * its segments are a prefix of the other's: `'ctx/1/'` is not a prefix of `'ctx/10/'`, so listing or
 * deleting context `"1"` never touches context `"10"` (the original deleted `"1"` by raw prefix).
 */
export function encodeKey(segments: readonly string[]): string {
  return segments.map((s) => s.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F')) + '/').join('')
}

/** The segments of a key made by `encodeKey` (`''` is no segment); a `ValidationError` when it does not end with `/`. */
export function decodeKey(key: string): string[] {
  if (!key) return []
  if (!key.endsWith('/')) throw new ValidationError('invalid_argument', `${showKey(key)} is not an encoded key (no final "/")`, { path: key })
  return key
    .slice(0, -1)
    .split('/')
    .map((s) => s.replace(/%2F|%25/g, (e) => (e === '%25' ? '%' : '/')))
}

/**
 * `adapter` seen through a namespace: every key is prefixed with `encodeKey([namespace])`, so
 * namespace `'a'` (`a/…`) never sees the keys of `'a:b'` (`a:b/…`) or `'a/b'` (`a%2Fb/…`), and
 * `list` returns keys without the prefix. `maxKeyBytes` shrinks by the prefix's length. Errors name
 * the full backend key.
 */
/* @__NO_SIDE_EFFECTS__ */
export function namespaced(adapter: StorageAdapter, namespace: string): StorageAdapter {
  if (typeof namespace !== 'string') throw new ValidationError('invalid_argument', 'namespace: must be a string', { path: 'namespace' })
  const prefix = encodeKey([namespace])
  const k = (key: string) => prefix + key
  const caps = adapter.capabilities
  const out: StorageAdapter = {
    name: adapter.name,
    capabilities: caps.maxKeyBytes ? { ...caps, maxKeyBytes: caps.maxKeyBytes - new TextEncoder().encode(prefix).length } : caps,
    get: (key) => adapter.get(k(key)),
    set: (key, value) => adapter.set(k(key), value),
    delete: (key) => adapter.delete(k(key)),
    list: async (start, options) => {
      const page = await adapter.list(k(start), options)
      return { keys: page.keys.map((key) => key.slice(prefix.length)), cursor: page.cursor }
    },
  }
  if (adapter.getMany) out.getMany = (keys) => adapter.getMany!(keys.map(k))
  if (adapter.setMany) out.setMany = (entries) => adapter.setMany!(entries.map(([key, v]) => [k(key), v]))
  if (adapter.deleteMany) out.deleteMany = (keys) => adapter.deleteMany!(keys.map(k))
  if (adapter.compareAndSet) {
    out.compareAndSet = (key, expected, value, also) => adapter.compareAndSet!(k(key), expected, value, also?.map(([a, v]) => [k(a), v]))
  }
  return out
}
