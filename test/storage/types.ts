/**
 * Compile-time checks (run by `tsc --noEmit`, not by vitest): the real binding types are assignable
 * to the structural interfaces the adapters accept, so `cloudflareKVStorage(env.KV)`,
 * `durableObjectStorage(ctx.storage)` and `unstorageStorage(createStorage(...))` typecheck for users.
 */
import type { DurableObjectStorage, DurableObjectTransaction, KVNamespace } from '@cloudflare/workers-types/experimental'
import type { Storage as Unstorage } from 'unstorage'
import type { KVNamespaceLike } from '../../src/storage/cloudflare-kv.js'
import type { DurableObjectStorageLike, DurableObjectTransactionLike } from '../../src/storage/durable-object.js'
import type { UnstorageLike } from '../../src/storage/unstorage.js'

export const kv = (binding: KVNamespace): KVNamespaceLike => binding
export const durableObject = (storage: DurableObjectStorage): DurableObjectStorageLike => storage
export const transaction = (txn: DurableObjectTransaction): DurableObjectTransactionLike => txn
export const unstorage = (storage: Unstorage): UnstorageLike => storage
