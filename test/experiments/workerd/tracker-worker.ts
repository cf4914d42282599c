/**
 * Runs the tracker's concurrency cases (../tracker-cases.ts) inside workerd over a Durable Object's
 * storage, bundled by esbuild and started by miniflare from ../tracker.node.test.ts:
 *   GET /do       durableObjectStorage(state.storage), SQLite-backed
 *   GET /do/kv    the same in a key-value-backed object
 */
import { durableObjectStorage, type DurableObjectStorageLike } from '../../../src/storage/durable-object.js'
import { runTrackerCases } from '../tracker-cases.js'

interface Stub {
  fetch(request: Request): Promise<Response>
}
interface Env {
  DO: { idFromName(name: string): unknown; get(id: unknown): Stub }
  KVDO: { idFromName(name: string): unknown; get(id: unknown): Stub }
}
interface State {
  storage: DurableObjectStorageLike & { deleteAll(): Promise<void> }
}

export class TrackerDO {
  constructor(readonly state: State) {}
  async fetch(): Promise<Response> {
    const storage = this.state.storage
    return Response.json(
      await runTrackerCases(async () => {
        await storage.deleteAll()
        return durableObjectStorage(storage)
      }),
    )
  }
}
export class TrackerKvDO extends TrackerDO {}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname === '/do') return env.DO.get(env.DO.idFromName('tracker')).fetch(request)
    if (pathname === '/do/kv') return env.KVDO.get(env.KVDO.idFromName('tracker')).fetch(request)
    return new Response('not found', { status: 404 })
  },
}
