import { StorageError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'

/** A `StorageAdapter` that counts the records it writes and can be armed to fail one of them. */
export interface FaultyAdapter extends StorageAdapter {
  /** Records tried so far, the failing one included (each entry of a batch or of `compareAndSet` counts, deletes too). */
  writes: number
  /** The record that fails, counted like `writes` from 1 (so `writes + 1` is the next one); `undefined` disarms. Disarms itself after firing, so the next save works. */
  failAt: number | undefined
}

/**
 * Test-only wrapper simulating a crash in the middle of a save: the `failAt`-th record written (from
 * now) fails with a `StorageError`. What happens to the rest of its call follows the backend:
 * with `capabilities.atomicBatch` (or inside `compareAndSet`, always atomic) the whole call writes
 * nothing; without it the records of the call before the failing one are written, as a real
 * non-atomic backend would leave them.
 */
export function faulty(inner: StorageAdapter, failAt?: number): FaultyAdapter {
  const self = { writes: 0, failAt } as FaultyAdapter
  // Returns how many of `n` records may be written before the armed failure, or n when it is not in this call.
  const take = (n: number): number => {
    const at = self.failAt === undefined ? Infinity : self.failAt - self.writes
    if (at > n) {
      self.writes += n
      return n
    }
    self.failAt = undefined
    self.writes += at
    return at - 1
  }
  const boom = (key: string) => new StorageError(`${inner.name}: injected failure writing ${JSON.stringify(key)}`, { path: key })
  const batch = async (entries: [string, Json | undefined][], atomic: boolean, apply: (part: [string, Json | undefined][]) => Promise<void>) => {
    const ok = take(entries.length)
    if (ok === entries.length) return apply(entries)
    if (!atomic && ok > 0) await apply(entries.slice(0, ok))
    throw boom(entries[ok]![0])
  }
  const setOrDelete = (part: [string, Json | undefined][]) =>
    Promise.all(part.map(([k, v]) => (v === undefined ? inner.delete(k) : inner.set(k, v)))).then(() => undefined)
  Object.assign(self, {
    name: inner.name,
    capabilities: inner.capabilities,
    get: (key: string) => inner.get(key),
    list: (prefix: string, options?: { cursor?: string; limit?: number }) => inner.list(prefix, options),
    set: (key: string, value: Json) => batch([[key, value]], true, setOrDelete),
    delete: (key: string) => batch([[key, undefined]], true, setOrDelete),
  })
  if (inner.getMany) self.getMany = (keys) => inner.getMany!(keys)
  if (inner.setMany) self.setMany = (entries) => batch(entries, inner.capabilities.atomicBatch, (part) => inner.setMany!(part as [string, Json][]))
  if (inner.deleteMany) {
    self.deleteMany = (keys) =>
      batch(
        keys.map((k) => [k, undefined]),
        inner.capabilities.atomicBatch,
        (part) => inner.deleteMany!(part.map((e) => e[0])),
      )
  }
  if (inner.compareAndSet) {
    self.compareAndSet = async (key, expected, value, also = []) => {
      let result = false
      await batch([[key, value], ...also], true, async () => {
        result = await inner.compareAndSet!(key, expected, value, also)
      })
      return result
    }
  }
  return self
}
