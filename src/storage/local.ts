/**
 * A storage adapter on `localStorage` or `sessionStorage`, for small contexts kept in a page.
 *
 * @module agentctx/storage/local
 */
import { StorageError } from '../errors.js'
import type { Json } from '../state/json.js'
import { attempt, decode, encode, jsonEqual, pageOf, showKey, type StorageAdapter } from './adapter.js'

/** Options of `localStorageStorage`. */
export interface LocalStorageOptions {
  /** The `Storage` to use: `globalThis.localStorage` by default; `sessionStorage` works too. */
  storage?: Storage
  /** Prepended to every key, so agentctx's keys stay apart from the page's own (`''` by default). */
  prefix?: string
}

/**
 * A storage adapter over `localStorage` (or `sessionStorage`). Values are stored as JSON text.
 *
 * Full quota: a write the browser refuses is a `StorageError` (code `'storage'`) saying the quota is
 * full, and nothing is half-written: `setMany` and `compareAndSet` write entry by entry and, when one
 * fails, put back the previous text of the keys already written, newest first (each state passed
 * through on the way back existed before, so it fits the quota again).
 *
 * Atomicity: every call reads and writes synchronously in one task, so within one tab (one event
 * loop) `compareAndSet` and batches are atomic. Across tabs nothing is: the HTML standard's storage
 * mutex was removed (2015) and no browser implemented it, and the standard now tells authors to
 * "assume that there is no locking mechanism"; Chromium keeps a per-process copy of the area and
 * syncs writes asynchronously. Two tabs writing one context can both succeed: use IndexedDB,
 * whose read-write transactions are serialized across tabs, when several tabs save the same context.
 */
/* @__NO_SIDE_EFFECTS__ */
export function localStorageStorage(options?: LocalStorageOptions): StorageAdapter {
  let storage = options?.storage
  let name = 'localStorage'
  try {
    storage ??= globalThis.localStorage
    if (storage && storage === globalThis.sessionStorage) name = 'sessionStorage'
  } catch {
    // Reading localStorage throws a SecurityError where storage is blocked; the check below reports it.
  }
  if (!storage) throw new StorageError(`${name} is not available in this runtime`)
  const s = storage
  const pre = options?.prefix ?? ''
  const read = (key: string) => decode(name, key, s.getItem(pre + key))
  const texts = (entries: [string, Json][]) => entries.map(([k, v]): [string, string | null] => [k, encode(name, k, v)])
  // Writes every pair (null text removes), or none: on a failure, puts back the text of the keys
  // already written, newest first. Synchronous, so a caller's read before it is in the same task.
  const write = (pairs: [string, string | null][]) => {
    const undo: [string, string | null][] = []
    try {
      for (const [k, t] of pairs) {
        undo.push([k, s.getItem(pre + k)])
        t === null ? s.removeItem(pre + k) : s.setItem(pre + k, t)
      }
    } catch (e) {
      const key = undo[undo.length - 1]![0]
      for (const [k, t] of undo.reverse()) t === null ? s.removeItem(pre + k) : s.setItem(pre + k, t)
      if (/quota/i.test((e as Error)?.name)) {
        throw new StorageError(`${name}: writing ${showKey(key)} failed: the storage quota is full`, { path: key, cause: e })
      }
      throw e
    }
  }
  const keys = function* () {
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i)
      if (k?.startsWith(pre)) yield k.slice(pre.length)
    }
  }
  const keysOf = (entries: [string, unknown][]) => entries.map((e) => e[0])
  return {
    name,
    capabilities: { atomicBatch: true, compareAndSet: true, consistency: 'strong' },
    get: (key) => attempt(name, 'get', key, () => read(key)),
    set: (key, value) => attempt(name, 'set', key, () => write(texts([[key, value]]))),
    delete: (key) => attempt(name, 'delete', key, () => write([[key, null]])),
    // localStorage has no ordered or prefix access: each page scans every key of the origin (at most
    // a few tens of thousands: the quota is 5 MiB) and sorts the ones under the prefix.
    list: (prefix, options) => attempt(name, 'list', prefix, () => pageOf(keys(), prefix, options)),
    getMany: (keys) => attempt(name, 'getMany', keys, () => keys.map(read)),
    setMany: (entries) => attempt(name, 'setMany', keysOf(entries), () => write(texts(entries))),
    deleteMany: (keys) => attempt(name, 'deleteMany', keys, () => write(keys.map((k) => [k, null]))),
    // Read, compare and write in one synchronous run: nothing else in this tab can run in between.
    compareAndSet: (key, expected, value, also = []) =>
      attempt(name, 'compareAndSet', key, () => {
        // `key` last: the store's header is its commit point. The loop is synchronous, but a tab
        // that dies in it (a crash, a killed renderer) keeps what it wrote so far: then the records,
        // which no header names yet, never a header naming records not written.
        const pairs = texts(also)
        pairs.push([key, value === undefined ? null : encode(name, key, value)])
        if (!jsonEqual(read(key), expected)) return false
        write(pairs)
        return true
      }),
  }
}
