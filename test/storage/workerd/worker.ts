/**
 * A Worker and two Durable Object classes that run the conformance suite inside workerd, bundled by
 * esbuild and started by miniflare from ../workerd.node.test.ts. Each route answers with the
 * per-case results as JSON:
 *   GET /kv               cloudflareKVStorage(env.KV)
 *   GET /do/kv-backed     durableObjectStorage(state.storage) in a key-value-backed class
 *   GET /do/sqlite        the same in a SQLite-backed class
 *   GET /kv/sample        writes one namespaced record, for the test to read back from Node
 */
import { cloudflareKVStorage, type KVNamespaceLike } from '../../../src/storage/cloudflare-kv.js'
import { encodeKey, namespaced } from '../../../src/storage/adapter.js'
import { durableObjectStorage, type DurableObjectStorageLike } from '../../../src/storage/durable-object.js'
import { runCases, SECRET } from '../conformance.js'

interface Stub {
  fetch(request: Request): Promise<Response>
}
interface Env {
  KV: KVNamespaceLike
  DO: { idFromName(name: string): unknown; get(id: unknown): Stub }
  SQL: { idFromName(name: string): unknown; get(id: unknown): Stub }
}
interface State {
  storage: DurableObjectStorageLike & { deleteAll(): Promise<void> }
}

const fail = async (): Promise<never> => {
  throw new Error(`backend down while holding ${SECRET}`)
}

export class KvBackedDO {
  constructor(readonly state: State) {}
  async fetch(): Promise<Response> {
    const storage = this.state.storage
    const results = await runCases({
      make: async () => {
        await storage.deleteAll()
        return durableObjectStorage(storage)
      },
      broken: async () => durableObjectStorage({ get: fail, put: fail, delete: fail, list: fail, transaction: fail }),
    })
    return Response.json(results)
  }
}
export class SqliteDO extends KvBackedDO {}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname === '/do/kv-backed') return env.DO.get(env.DO.idFromName('conformance')).fetch(request)
    if (pathname === '/do/sqlite') return env.SQL.get(env.SQL.idFromName('conformance')).fetch(request)
    if (pathname === '/kv/sample') {
      await namespaced(cloudflareKVStorage(env.KV), 'agentctx').set(encodeKey(['ctx', '1', 'h']), { turns: 1, text: 'ünï' })
      return new Response('ok')
    }
    if (pathname !== '/kv') return new Response('not found', { status: 404 })
    const results = await runCases({
      make: async () => {
        for (let cursor: string | undefined, page; !page || !page.list_complete; cursor = page.cursor) {
          page = await env.KV.list({ cursor })
          await Promise.all(page.keys.map((k) => env.KV.delete(k.name)))
        }
        return cloudflareKVStorage(env.KV)
      },
      broken: async () => cloudflareKVStorage({ get: fail, put: fail, delete: fail, list: fail }),
    })
    return Response.json(results)
  },
}
