/**
 * A storage adapter on a Cloudflare Durable Object's transactional storage.
 *
 * @module agentctx/storage/durable-object
 */
import { ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'
import { attempt, decode, encode, jsonEqual, pageLimit, showKey, type StorageAdapter } from './adapter.js'

/** The storage calls this adapter makes, on `state.storage` and inside `transaction()`. */
export interface DurableObjectTransactionLike {
  /** Reads many keys at once (Durable Objects take up to 128 per call); absent keys are left out of the map. */
  get(keys: string[]): Promise<Map<string, unknown>>
  /** Writes many entries at once. */
  put(entries: Record<string, unknown>): Promise<void>
  /** Deletes many keys at once; resolves to how many existed. */
  delete(keys: string[]): Promise<number>
  /** Lists entries under `prefix` in key order, after `startAfter`, at most `limit`. */
  list(options: { prefix?: string; startAfter?: string; limit?: number }): Promise<Map<string, unknown>>
}

/**
 * The part of a Durable Object's `state.storage` (type `DurableObjectStorage` in
 * @cloudflare/workers-types) this adapter calls. Structural, so the build needs no Cloudflare types.
 */
export interface DurableObjectStorageLike extends DurableObjectTransactionLike {
  /** Runs `closure` atomically: the adapter's compare-and-set reads and writes inside it. */
  transaction<T>(closure: (txn: DurableObjectTransactionLike) => Promise<T>): Promise<T>
}

/** Options of `durableObjectStorage`. */
export interface DurableObjectStorageOptions {
  /**
   * Largest value accepted, in bytes of V8's serialization of its JSON text (one byte per character
   * when all are below U+0100, else two). 131,072 (128 KiB) by default, the limit of key-value-backed
   * classes; SQLite-backed classes accept 2 MB for key and value together, so pass up to ~2,000,000 there.
   */
  maxValueBytes?: number
}

/** Durable Objects limits: 2,048-byte keys; 128 key-value pairs per `get`/`put`/`delete` call. */
const MAX_KEY = 2048
const CHUNK = 128

/**
 * A storage adapter over a Durable Object's transactional storage (`state.storage`), from inside the
 * object. Strongly consistent. Values are stored as JSON text.
 *
 * Batches are atomic at any size: they are split into calls of at most 128 pairs (the API's limit)
 * issued with no `await` in between, which the runtime coalesces into one atomic write ("automatic
 * write coalescing" in the Durable Objects docs). `compareAndSet` runs in `storage.transaction()`,
 * which the runtime serializes against every other transaction of the object.
 *
 * Keys over 2,048 UTF-8 bytes and values over `maxValueBytes` are refused with a `ValidationError`
 * (`too_large`) before any write, the same in production and in local workerd (which does not enforce them).
 */
/* @__NO_SIDE_EFFECTS__ */
export function durableObjectStorage(storage: DurableObjectStorageLike, options?: DurableObjectStorageOptions): StorageAdapter {
  const name = 'durableObject'
  const maxValue = options?.maxValueBytes ?? 131_072
  const text = (key: string, value: Json) => {
    const t = encode(name, key, value)
    if (new TextEncoder().encode(key).length > MAX_KEY) throw new ValidationError('too_large', `${name}: key ${showKey(key)} is over ${MAX_KEY} bytes`, { path: key })
    if ((/[^\0-\xff]/.test(t) ? 2 : 1) * t.length > maxValue) {
      throw new ValidationError('too_large', `${name}: the value for ${showKey(key)} is over ${maxValue} bytes`, { path: key })
    }
    return t
  }
  // Puts and deletes, chunked, every call issued before the first await (so they coalesce) and every
  // value checked before the first call.
  const write = (s: DurableObjectTransactionLike, entries: [string, Json][], dels: string[] = []) => {
    const calls: Promise<unknown>[] = []
    const puts = entries.map(([k, v]) => [k, text(k, v)] as const)
    for (let i = 0; i < puts.length; i += CHUNK) calls.push(s.put(Object.fromEntries(puts.slice(i, i + CHUNK))))
    for (let i = 0; i < dels.length; i += CHUNK) calls.push(s.delete(dels.slice(i, i + CHUNK)))
    return Promise.all(calls).then(() => undefined)
  }
  const getMany = async (keys: string[]) => {
    const maps = await Promise.all(Array.from({ length: Math.ceil(keys.length / CHUNK) }, (_, i) => storage.get(keys.slice(i * CHUNK, (i + 1) * CHUNK))))
    return keys.map((k, i) => decode(name, k, maps[Math.floor(i / CHUNK)]!.get(k)))
  }
  const keysOf = (entries: [string, unknown][]) => entries.map((e) => e[0])
  return {
    name,
    capabilities: { atomicBatch: true, compareAndSet: true, consistency: 'strong', maxKeyBytes: MAX_KEY, maxValueBytes: maxValue },
    get: (key) => attempt(name, 'get', key, async () => (await getMany([key]))[0]),
    set: (key, value) => attempt(name, 'set', key, () => write(storage, [[key, value]])),
    delete: (key) => attempt(name, 'delete', key, () => write(storage, [], [key])),
    list: (prefix, options) =>
      attempt(name, 'list', prefix, async () => {
        const limit = pageLimit(options?.limit)
        // One more than asked: the extra key says whether another page follows. `list` returns values
        // too (the API has no keys-only form), so pages stay at most 1001 records.
        const keys = [...(await storage.list({ prefix, startAfter: options?.cursor, limit: limit + 1 })).keys()]
        return keys.length > limit ? { keys: keys.slice(0, limit), cursor: keys[limit - 1] } : { keys }
      }),
    getMany: (keys) => attempt(name, 'getMany', keys, () => getMany(keys)),
    setMany: (entries) => attempt(name, 'setMany', keysOf(entries), () => write(storage, entries)),
    deleteMany: (keys) => attempt(name, 'deleteMany', keys, () => write(storage, [], keys)),
    compareAndSet: (key, expected, value, also = []) =>
      attempt(name, 'compareAndSet', key, () =>
        storage.transaction(async (txn) => {
          const current = decode(name, key, (await txn.get([key])).get(key))
          if (!jsonEqual(current, expected)) return false
          // `key` last, as on every adapter (the store's header is its commit point), though the
          // transaction commits all of it or nothing: no prefix of it is ever stored.
          await (value === undefined ? write(txn, also, [key]) : write(txn, [...also, [key, value]]))
          return true
        }),
      ),
  }
}
