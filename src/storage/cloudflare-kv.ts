/**
 * A storage adapter on a Cloudflare Workers KV binding.
 *
 * @module agentctx/storage/cloudflare-kv
 */
import { ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'
import { attempt, decode, encode, pageLimit, showKey, type StorageAdapter } from './adapter.js'

/**
 * The part of a Workers KV binding (`env.MY_KV`, type `KVNamespace` in @cloudflare/workers-types)
 * this adapter calls. Structural, so the build needs no Cloudflare types.
 */
export interface KVNamespaceLike {
  /** Reads one value as text; `null` when the key is absent. */
  get(key: string, type: 'text'): Promise<string | null>
  /** Writes one value, with the expiry of `CloudflareKVOptions.expirationTtl` when given. */
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>
  /** Deletes one key; absent keys are no error. */
  delete(key: string): Promise<void>
  /** Lists one page of keys under `prefix`, resumed from `cursor`. */
  list(options: { prefix?: string; cursor?: string; limit?: number }): Promise<{
    /** This page's keys, in key order (KV returns at most 1,000 a page). */
    keys: {
      /** The key itself (KV's other fields, `expiration` and `metadata`, are not read). */
      name: string
    }[]
    /** True on the last page: the listing is done and `cursor` is not read. */
    list_complete: boolean
    /** Where the next page starts, when `list_complete` is false. */
    cursor?: string
  }>
}

/** Options of `cloudflareKVStorage`. */
export interface CloudflareKVOptions {
  /**
   * Seconds until each record written expires (KV's minimum is 60). Every record gets its own
   * expiry from its own last write, so a context's old turns can expire before its header: use it
   * only for contexts whose whole life is shorter than the TTL.
   */
  expirationTtl?: number
}

/** Workers KV limits (developers.cloudflare.com/kv/platform/limits): 512-byte keys, 25 MiB values. */
const MAX_KEY = 512
const MAX_VALUE = 25 * 1024 * 1024

/**
 * A storage adapter over a Workers KV namespace. Values are stored as JSON text.
 *
 * KV is eventually consistent (a write can take 60 s or more to be seen in other locations) and has
 * no compare-and-set or transaction, so this adapter has no `compareAndSet` and its batches are not
 * atomic: two writers of one context can overwrite each other. Use `durableObjectStorage` when a
 * context can have several writers.
 *
 * A key over 512 UTF-8 bytes (or empty, `.` or `..`, which KV refuses) or a value over 25 MiB is
 * refused with a `ValidationError` (`too_large` or `invalid_argument`) naming the key, before any
 * write: a batch checks every entry first.
 */
/* @__NO_SIDE_EFFECTS__ */
export function cloudflareKVStorage(namespace: KVNamespaceLike, options?: CloudflareKVOptions): StorageAdapter {
  const name = 'cloudflareKV'
  const ttl = options?.expirationTtl
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 60)) {
    throw new ValidationError('invalid_argument', `expirationTtl: must be an integer of at least 60 seconds, got ${String(ttl)}`, { path: 'expirationTtl' })
  }
  const put = ttl === undefined ? undefined : { expirationTtl: ttl }
  const check = (key: string) => {
    if (!key || key === '.' || key === '..') throw new ValidationError('invalid_argument', `${name}: ${showKey(key)} is not a valid KV key`, { path: key })
    if (tooLong(key, MAX_KEY)) throw new ValidationError('too_large', `${name}: key ${showKey(key)} is over ${MAX_KEY} bytes`, { path: key })
    return key
  }
  // Every key and value checked and encoded before the first write.
  const texts = (entries: [string, Json][]) =>
    entries.map(([k, v]) => {
      const text = encode(name, check(k), v)
      if (tooLong(text, MAX_VALUE)) throw new ValidationError('too_large', `${name}: the value for ${showKey(k)} is over 25 MiB`, { path: k })
      return [k, text] as const
    })
  const read = async (key: string) => decode(name, key, await namespace.get(check(key), 'text'))
  const keysOf = (entries: [string, Json][]) => entries.map((e) => e[0])
  const setMany = (entries: [string, Json][]) =>
    attempt(name, entries.length > 1 ? 'setMany' : 'set', keysOf(entries), async () => {
      await Promise.all(texts(entries).map(([k, t]) => namespace.put(k, t, put)))
    })
  const deleteMany = (keys: string[]) =>
    attempt(name, keys.length > 1 ? 'deleteMany' : 'delete', keys, async () => {
      await Promise.all(keys.map((k) => namespace.delete(check(k))))
    })
  return {
    name,
    capabilities: { atomicBatch: false, compareAndSet: false, consistency: 'eventual', maxKeyBytes: MAX_KEY, maxValueBytes: MAX_VALUE },
    get: (key) => attempt(name, 'get', key, () => read(key)),
    set: (key, value) => setMany([[key, value]]),
    delete: (key) => deleteMany([key]),
    list: (prefix, options) =>
      attempt(name, 'list', prefix, async () => {
        const page = await namespace.list({ prefix, cursor: options?.cursor, limit: pageLimit(options?.limit) })
        return { keys: page.keys.map((k) => k.name), cursor: page.list_complete ? undefined : page.cursor }
      }),
    getMany: (keys) => attempt(name, 'getMany', keys, () => Promise.all(keys.map(read))),
    setMany,
    deleteMany,
  }
}

/** Whether `text` is over `max` UTF-8 bytes; encodes only when it could be (a UTF-16 unit is at most 3 bytes). */
function tooLong(text: string, max: number): boolean {
  return text.length * 3 > max && new TextEncoder().encode(text).length > max
}
