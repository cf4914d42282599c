import type { Json } from '../state/json.js'
import { decode, encode, jsonEqual, pageOf, type StorageAdapter } from './adapter.js'

/**
 * A storage adapter over a `Map` in this process: for tests, and for contexts that live as long as
 * the process (one edge invocation, one page). Values are kept as their JSON text, so a caller's
 * later mutation of a value it set or got never changes what is stored, and the behaviour matches
 * the text-based adapters exactly (what `JSON.stringify` drops is dropped here too).
 *
 * Every call is synchronous under its promise, so batches and `compareAndSet` are atomic.
 */
/* @__NO_SIDE_EFFECTS__ */
export function memoryStorage(): StorageAdapter {
  const name = 'memory'
  const data = new Map<string, string>()
  const read = (key: string) => decode(name, key, data.get(key))
  // Every value is encoded before the first write: one that cannot be leaves everything as it was.
  const texts = (entries: [string, Json][]) => entries.map(([k, v]): [string, string] => [k, encode(name, k, v)])
  const write = (pairs: [string, string | undefined][]) => {
    for (const [k, t] of pairs) t === undefined ? data.delete(k) : data.set(k, t)
  }
  return {
    name,
    capabilities: { atomicBatch: true, compareAndSet: true, consistency: 'strong' },
    get: async (key) => read(key),
    set: async (key, value) => void data.set(key, encode(name, key, value)),
    delete: async (key) => void data.delete(key),
    list: async (prefix, options) => pageOf(data.keys(), prefix, options),
    getMany: async (keys) => keys.map(read),
    setMany: async (entries) => write(texts(entries)),
    deleteMany: async (keys) => write(keys.map((k) => [k, undefined])),
    compareAndSet: async (key, expected, value, also = []) => {
      // `key` last, as on every adapter (the store's header is its commit point); here the whole
      // call runs in one synchronous step, so no other code can see a part of it anyway.
      const pairs = [...texts(also), [key, value === undefined ? value : encode(name, key, value)]] as [string, string | undefined][]
      if (!jsonEqual(read(key), expected)) return false
      write(pairs)
      return true
    },
  }
}
