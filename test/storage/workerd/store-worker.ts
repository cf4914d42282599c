/**
 * A Worker and a Durable Object class that run the context-store suite (../store-cases.ts) inside
 * workerd, bundled by esbuild and started by miniflare from ../store-workerd.node.test.ts. Each
 * route answers with the per-case results as JSON:
 *   GET /kv       createContextStore(cloudflareKVStorage(env.KV))
 *   GET /do       createContextStore(durableObjectStorage(state.storage)), in a SQLite-backed object
 *   GET /do/kv    the same in a key-value-backed object
 */
import { cloudflareKVStorage, type KVNamespaceLike } from '../../../src/storage/cloudflare-kv.js'
import { durableObjectStorage, type DurableObjectStorageLike, type DurableObjectTransactionLike } from '../../../src/storage/durable-object.js'
import { runStoreCases } from '../store-cases.js'
import type { BackendWrite } from '../store-helpers.js'

interface Stub {
  fetch(request: Request): Promise<Response>
}
interface Env {
  KV: KVNamespaceLike
  DO: { idFromName(name: string): unknown; get(id: unknown): Stub }
  KVDO: { idFromName(name: string): unknown; get(id: unknown): Stub }
}
interface State {
  storage: DurableObjectStorageLike & { deleteAll(): Promise<void> }
}

/** `txn` (or `state.storage`) logging the entries of its `put` and `delete` calls, in call order. */
function recordingTxn<T extends DurableObjectTransactionLike>(txn: T, log: BackendWrite[]): DurableObjectTransactionLike {
  return {
    get: (keys) => txn.get(keys),
    list: (options) => txn.list(options),
    put: (entries) => (log.push(...Object.entries(entries).map(([k, v]): BackendWrite => [k, JSON.parse(v as string)])), txn.put(entries)),
    delete: (keys) => (log.push(...keys.map((k): BackendWrite => [k, undefined])), txn.delete(keys)),
  }
}

export class StoreDO {
  constructor(readonly state: State) {}
  async fetch(): Promise<Response> {
    const storage = this.state.storage
    const results = await runStoreCases({
      make: async () => {
        await storage.deleteAll()
        return durableObjectStorage(storage)
      },
      recorded: async () => {
        await storage.deleteAll()
        const log: BackendWrite[] = []
        const recording: DurableObjectStorageLike = {
          ...recordingTxn(storage, log),
          transaction: (closure) => storage.transaction((txn) => closure(recordingTxn(txn, log))),
        }
        return { adapter: durableObjectStorage(recording), log }
      },
    })
    return Response.json(results)
  }
}

export class StoreKvDO extends StoreDO {}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname === '/do') return env.DO.get(env.DO.idFromName('store')).fetch(request)
    if (pathname === '/do/kv') return env.KVDO.get(env.KVDO.idFromName('store')).fetch(request)
    if (pathname !== '/kv') return new Response('not found', { status: 404 })
    const clear = async () => {
      for (let cursor: string | undefined, page; !page || !page.list_complete; cursor = page.cursor) {
        page = await env.KV.list({ cursor })
        await Promise.all(page.keys.map((k) => env.KV.delete(k.name)))
      }
    }
    const results = await runStoreCases({
      make: async () => {
        await clear()
        return cloudflareKVStorage(env.KV)
      },
      recorded: async () => {
        await clear()
        const log: BackendWrite[] = []
        const kv = env.KV
        const recording: KVNamespaceLike = {
          get: (k, type) => kv.get(k, type),
          list: (options) => kv.list(options),
          put: (k, text, options) => (log.push([k, JSON.parse(text)]), kv.put(k, text, options)),
          delete: (k) => (log.push([k, undefined]), kv.delete(k)),
        }
        return { adapter: cloudflareKVStorage(recording), log }
      },
    })
    return Response.json(results)
  },
}
