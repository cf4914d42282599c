import type { Json } from '../state/json.js'
import { decode, encode, jsonEqual, pageLimit, type StorageAdapter } from './adapter.js'

/**
 * A storage adapter over a `Map` in this process: for tests, and for contexts that live as long as
 * the process (one edge invocation, one page). Values are kept as their JSON text, so a caller's
 * later mutation of a value it set or got never changes what is stored, and the behaviour matches
 * the text-based adapters exactly (what `JSON.stringify` drops is dropped here too).
 *
 * Every call is synchronous under its promise, so batches and `compareAndSet` are atomic.
 *
 * `list` reads a sorted array of the keys from a binary search on, so a page costs O(log n + the
 * keys it passes over), whatever else the map holds. A new key is pushed unsorted and the array
 * sorted at the next `list` (one sort per burst of writes; V8's TimSort merges the appended run in
 * about linear time). A deleted key stays in the array, skipped, until deletes reach half its
 * length; then it is rebuilt from the map (amortized O(log n) a delete). Before, every page filtered
 * and sorted every key of the map: deleting a context of 100,000 turns (100 pages) took 0.9-2.5 s.
 */
/* @__NO_SIDE_EFFECTS__ */
export function memoryStorage(): StorageAdapter {
  const name = 'memory'
  const data = new Map<string, string>()
  const read = (key: string) => decode(name, key, data.get(key))
  // Every value is encoded before the first write: one that cannot be leaves everything as it was.
  const texts = (entries: [string, Json][]) => entries.map(([k, v]): [string, string] => [k, encode(name, k, v)])
  // Every key of `data`, and deleted or repeated ones (skipped by `list`), ascending when `sorted`.
  let keys: string[] = []
  let sorted = true
  let dead = 0
  const put = (k: string, t: string) => {
    if (!data.has(k)) keys.push(k), (sorted = false)
    data.set(k, t)
  }
  const del = (k: string) => {
    if (data.delete(k) && ++dead * 2 > keys.length) (keys = [...data.keys()]), (sorted = false), (dead = 0)
  }
  const write = (pairs: [string, string | undefined][]) => {
    for (const [k, t] of pairs) t === undefined ? del(k) : put(k, t)
  }
  return {
    name,
    capabilities: { atomicBatch: true, compareAndSet: true, consistency: 'strong' },
    get: async (key) => read(key),
    set: async (key, value) => put(key, encode(name, key, value)),
    delete: async (key) => del(key),
    list: async (prefix, options) => {
      const limit = pageLimit(options?.limit)
      const after = options?.cursor
      if (!sorted) keys.sort()
      sorted = true
      // A binary search to the prefix, or past the cursor when it lies inside or after it.
      const from = after !== undefined && after >= prefix ? after : prefix
      let i = 0
      for (let hi = keys.length; i < hi; ) {
        const mid = (i + hi) >> 1
        keys[mid]! < from ? (i = mid + 1) : (hi = mid)
      }
      const page: string[] = []
      // One more than asked: the extra key says whether another page follows.
      for (; i < keys.length && page.length <= limit && keys[i]!.startsWith(prefix); i++) {
        const k = keys[i]!
        if (k !== after && k !== keys[i - 1] && data.has(k)) page.push(k)
      }
      return page.length > limit ? { keys: page.slice(0, limit), cursor: page[limit - 1] } : { keys: page }
    },
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
