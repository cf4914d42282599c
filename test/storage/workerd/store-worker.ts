/**
 * A Worker and a Durable Object class that run the context-store suite (../store-cases.ts) inside
 * workerd, bundled by esbuild and started by miniflare from ../store-workerd.node.test.ts. Each
 * route answers with the per-case results as JSON:
 *   GET /kv       createContextStore(cloudflareKVStorage(env.KV))
 *   GET /do       createContextStore(durableObjectStorage(state.storage)), in a SQLite-backed object
 *   GET /do/kv    the same in a key-value-backed object
 */
import { cloudflareKVStorage, type KVNamespaceLike } from '../../../src/storage/cloudflare-kv.js'
import { durableObjectStorage, type DurableObjectStorageLike } from '../../../src/storage/durable-object.js'
import { runStoreCases } from '../store-cases.js'

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

export class StoreDO {
  constructor(readonly state: State) {}
  async fetch(): Promise<Response> {
    const storage = this.state.storage
    const results = await runStoreCases({
      make: async () => {
        await storage.deleteAll()
        return durableObjectStorage(storage)
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
    const results = await runStoreCases({
      make: async () => {
        for (let cursor: string | undefined, page; !page || !page.list_complete; cursor = page.cursor) {
          page = await env.KV.list({ cursor })
          await Promise.all(page.keys.map((k) => env.KV.delete(k.name)))
        }
        return cloudflareKVStorage(env.KV)
      },
    })
    return Response.json(results)
  },
}
