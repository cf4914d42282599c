/**
 * A storage adapter on any unstorage driver (`createStorage({ driver })`).
 *
 * @module agentctx/storage/unstorage
 */
import type { Json } from '../state/json.js'
import { attempt, decode, encode, pageOf, type StorageAdapter } from './adapter.js'

/**
 * The part of an unstorage `Storage` (`createStorage({ driver })`) this adapter calls. Structural,
 * so the build does not depend on unstorage.
 */
export interface UnstorageLike {
  /** Reads one value as stored (the adapter stores JSON text); `null` or `undefined` when absent. */
  getItemRaw(key: string): Promise<unknown>
  /** Writes one value as given, without unstorage's own serialization. */
  setItemRaw(key: string, value: string): Promise<void>
  /** Deletes one key. */
  removeItem(key: string): Promise<void>
  /** Lists every key under `base` (unstorage has no paging). */
  getKeys(base?: string): Promise<string[]>
}

/** Options of `unstorageStorage`. */
export interface UnstorageOptions {
  /** What the driver guarantees: `'eventual'` by default; say `'strong'` for one Redis server, memory or the file system. */
  consistency?: 'strong' | 'eventual'
}

/**
 * A storage adapter over any unstorage driver (Redis, Upstash, Vercel KV, the file system, …).
 * No compare-and-set (unstorage has none) and batches are not atomic.
 *
 * Values go through `setItemRaw` / `getItemRaw` as JSON text: `getItem` would pass them through
 * destr, which turns the 17-digit number 12345678901234567000 into a string and drops a
 * `constructor` key holding a `prototype`.
 *
 * Keys: unstorage rewrites them (`/` and `\` become `:`, `::` collapses, a leading or trailing `:`
 * and everything after `?` are dropped, a key ending in `$` is hidden as metadata, `.` and `..`
 * segments are refused) and Redis's `SCAN MATCH` reads `*?[]` as wildcards. So each key is split on
 * `/`, each piece is percent-escaped down to `[A-Za-z0-9._~-]` and prefixed with `_`, and the pieces
 * are joined with `:`. Normalization leaves that unchanged, it decodes back exactly, and our `/`
 * separator becomes unstorage's `:` so `list('ctx/1/')` asks the driver for base `_ctx:_1` only:
 *
 *     'ctx/1/'   → '_ctx:_1:_'        'a:b?c/d$' → '_a%3Ab%3Fc:_d%24'
 */
/* @__NO_SIDE_EFFECTS__ */
export function unstorageStorage(storage: UnstorageLike, options?: UnstorageOptions): StorageAdapter {
  const name = 'unstorage'
  const read = async (key: string) => {
    const raw = await storage.getItemRaw(toItemKey(key))
    // Drivers with a native raw form (fs, R2) return bytes.
    return decode(name, key, raw == null || typeof raw === 'string' ? raw : new TextDecoder().decode(raw as Uint8Array))
  }
  const keysOf = (entries: [string, Json][]) => entries.map((e) => e[0])
  return {
    name,
    capabilities: { atomicBatch: false, compareAndSet: false, consistency: options?.consistency ?? 'eventual' },
    get: (key) => attempt(name, 'get', key, () => read(key)),
    set: (key, value) => attempt(name, 'set', key, () => storage.setItemRaw(toItemKey(key), encode(name, key, value))),
    delete: (key) => attempt(name, 'delete', key, () => storage.removeItem(toItemKey(key))),
    list: (prefix, options) =>
      attempt(name, 'list', prefix, async () => {
        // The complete pieces of the prefix narrow the driver's listing; the last, partial one is filtered here.
        const base = toItemKey(prefix.slice(0, prefix.lastIndexOf('/') + 1)).slice(0, -2)
        const keys: string[] = []
        for (const k of await storage.getKeys(base)) {
          const key = fromItemKey(k)
          if (key !== undefined) keys.push(key)
        }
        // One getKeys per page: a driver lists by base at best (Redis: SCAN MATCH over the whole keyspace).
        return pageOf(keys, prefix, options)
      }),
    getMany: (keys) => attempt(name, 'getMany', keys, () => Promise.all(keys.map(read))),
    setMany: (entries) =>
      attempt(name, 'setMany', keysOf(entries), async () => {
        const texts = entries.map(([k, v]) => [toItemKey(k), encode(name, k, v)] as const)
        await Promise.all(texts.map(([k, t]) => storage.setItemRaw(k, t)))
      }),
    deleteMany: (keys) => attempt(name, 'deleteMany', keys, async () => void (await Promise.all(keys.map((k) => storage.removeItem(toItemKey(k)))))),
  }
}

/** Our key as an unstorage key that its normalization leaves unchanged (see `unstorageStorage`). */
export function toItemKey(key: string): string {
  return key
    .split('/')
    .map((p) => '_' + encodeURIComponent(p).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16)))
    .join(':')
}

/** The key `toItemKey` made, or `undefined` for a key agentctx did not write. */
export function fromItemKey(itemKey: string): string | undefined {
  try {
    const pieces = itemKey.split(':')
    return pieces.every((p) => p[0] === '_') ? pieces.map((p) => decodeURIComponent(p.slice(1))).join('/') : undefined
  } catch {
    return undefined
  }
}
