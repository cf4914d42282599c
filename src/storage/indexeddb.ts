/**
 * A storage adapter on IndexedDB (through idb-keyval), for contexts kept in a browser.
 *
 * @module agentctx/storage/indexeddb
 */
import { createStore, delMany, getMany, promisifyRequest, setMany } from 'idb-keyval'
import type { Json } from '../state/json.js'
import { attempt, decode, encode, jsonEqual, pageLimit, type StorageAdapter } from './adapter.js'

/** Options of `indexedDBStorage`. */
export interface IndexedDBStorageOptions {
  /**
   * Database name, `'agentctx'` by default. Give agentctx a database of its own: idb-keyval creates
   * the object store only when it creates the database, so a store name new to an existing database
   * fails every call with a `StorageError` (NotFoundError).
   */
  dbName?: string
  /** Object store name, `'kv'` by default. */
  storeName?: string
}

/**
 * A storage adapter over IndexedDB, through idb-keyval. Values are stored as their JSON text.
 * Batches run in one transaction (all or nothing), and `compareAndSet` reads, compares and writes
 * in one read-write transaction, which IndexedDB serializes against every other read-write
 * transaction on the store, in this tab and in every other tab of the origin.
 */
/* @__NO_SIDE_EFFECTS__ */
export function indexedDBStorage(options?: IndexedDBStorageOptions): StorageAdapter {
  const name = 'indexedDB'
  const store = createStore(options?.dbName ?? 'agentctx', options?.storeName ?? 'kv')
  const texts = (entries: [string, Json][]) => entries.map(([k, v]): [string, string] => [k, encode(name, k, v)])
  return {
    name,
    capabilities: { atomicBatch: true, compareAndSet: true, consistency: 'strong' },
    get: (key) => attempt(name, 'get', key, async () => decode(name, key, (await getMany([key], store))[0])),
    set: (key, value) => attempt(name, 'set', key, () => setMany([[key, encode(name, key, value)]], store)),
    delete: (key) => attempt(name, 'delete', key, () => delMany([key], store)),
    list: (prefix, options) =>
      attempt(name, 'list', prefix, async () => {
        const limit = pageLimit(options?.limit)
        const after = options?.cursor
        const end = prefixEnd(prefix)
        // Start after the cursor, or at the prefix when there is none (or it lies before the prefix).
        const open = after !== undefined && after >= prefix
        const start = open ? after : prefix
        if (end !== undefined && start >= end) return { keys: [] }
        const range = end === undefined ? IDBKeyRange.lowerBound(start, open) : IDBKeyRange.bound(start, end, open, true)
        // One more than asked: the extra key says whether another page follows, without an empty last page.
        const keys = (await store('readonly', (s) => promisifyRequest(s.getAllKeys(range, limit + 1)))) as string[]
        return keys.length > limit ? { keys: keys.slice(0, limit), cursor: keys[limit - 1] } : { keys }
      }),
    getMany: (keys) => attempt(name, 'getMany', keys, async () => (await getMany(keys, store)).map((t, i) => decode(name, keys[i]!, t))),
    setMany: (entries) =>
      attempt(
        name,
        'setMany',
        entries.map((e) => e[0]),
        () => setMany(texts(entries), store),
      ),
    deleteMany: (keys) => attempt(name, 'deleteMany', keys, () => delMany(keys, store)),
    compareAndSet: (key, expected, value, also = []) =>
      attempt(name, 'compareAndSet', key, () => {
        // `key` last, as on every adapter (the store's header is its commit point), though one
        // transaction commits all of it or nothing: no prefix of it is ever stored.
        const writes = [...texts(also), [key, value === undefined ? value : encode(name, key, value)]] as [string, string | undefined][]
        return store(
          'readwrite',
          (s) =>
            // Plain request callbacks, not awaits: a transaction commits as soon as a task ends with
            // no request pending, so the writes must be queued from the read's success callback.
            new Promise<boolean>((resolve, reject) => {
              const read = s.get(key)
              read.onerror = () => reject(read.error)
              read.onsuccess = () => {
                try {
                  if (!jsonEqual(decode(name, key, read.result), expected)) return resolve(false)
                  for (const [k, t] of writes) t === undefined ? s.delete(k) : s.put(t, k)
                  promisifyRequest(s.transaction).then(() => resolve(true), reject)
                } catch (e) {
                  reject(e)
                }
              }
            }),
        )
      }),
  }
}

/**
 * The smallest string above every string that starts with `prefix` (IndexedDB compares UTF-16 code
 * units): the last code unit below U+FFFF incremented, what follows it dropped. `'ctx/1/'` → `'ctx/10'`.
 * `undefined` when there is none (`''`, or only U+FFFF units): the range then has no upper bound.
 */
function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const unit = prefix.charCodeAt(i)
    if (unit < 0xffff) return prefix.slice(0, i) + String.fromCharCode(unit + 1)
  }
  return undefined
}
