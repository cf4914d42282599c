import { ContextConflictError } from '../errors.js'
import type { Json } from '../state/json.js'
import { batchSet, showKey, type StorageAdapter } from '../storage/adapter.js'

/**
 * Tries a compare-and-set may take before giving up. Each failure means another writer changed the
 * record in between. Behind 1 ms a storage call, 16 recorders back to back retried about once a
 * recording on 8 shards (none reached 32) and 2.6 times on one shard, where 4 of 800 reached 32
 * (bench/experiments-record.bench.ts). 32 tries with the jittered waits below span about 1.5 s:
 * past that the shard is overloaded (raise `shards`), and the caller gets a `ContextConflictError`.
 */
export const MAX_TRIES = 32

/** Up to 2^min(try, 6) ms, uniformly: rivals that collided pick different moments to try again. */
export const jitter = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * 2 ** Math.min(attempt, 6)))

/**
 * Read-compute-write of one record, safe against concurrent writers where the adapter can
 * compare-and-set: `step` reads what it needs (the record first), returns the record as read
 * (`expected`), the value to write (`next`, or `undefined` to write nothing) and other entries to
 * write with it; the write happens only if the record still equals `expected`, else `step` runs
 * again on fresh reads, at most `MAX_TRIES` times (then a `ContextConflictError` naming the key).
 *
 * Without compare-and-set (Workers KV, unstorage) the write is a plain one, `also` first then the
 * record: two writers at once can each read the same record and the later write drops the earlier
 * one's change (a lost count). The README and docs/experiments.md state the limit.
 */
export async function update<T>(
  store: StorageAdapter,
  key: string,
  step: () => Promise<{ expected: Json | undefined; next: Json | undefined; also?: [string, Json][]; result: T }>,
): Promise<T> {
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const { expected, next, also = [], result } = await step()
    if (next === undefined) return result
    if (!store.compareAndSet) {
      await batchSet(store, [...also, [key, next]])
      return result
    }
    if (await store.compareAndSet(key, expected, next, also)) return result
    await jitter(attempt)
  }
  throw new ContextConflictError(`experiments: ${showKey(key)} kept changing under ${MAX_TRIES} tries to update it`, { path: key })
}
