/**
 * Two agent instances on one session and the writers' race inside a Durable Object (workerd), bundled
 * and started by ../concurrency-workerd.node.test.ts. Every agent and writer gets its own
 * `durableObjectStorage(state.storage)` adapter (and so its own store and cache), as two modules of
 * one object would; compare-and-set runs in `transaction()`. Each route answers with the report as
 * JSON, or with the error's message and status 500:
 *   GET /agents      twoAgents (no turn lost)
 *   GET /race        writersRace (3 × 19)
 *   GET /agents/0    twoAgents with conflictRetries 0 (strict: false): what is lost, and said
 */
import { durableObjectStorage, type DurableObjectStorageLike } from '../../../src/storage/durable-object.js'
import { twoAgents } from '../two-agents.js'
import { writersRace } from '../writers-race.js'

interface Stub {
  fetch(request: Request): Promise<Response>
}
interface Env {
  DO: { idFromName(name: string): unknown; get(id: unknown): Stub }
}
interface State {
  storage: DurableObjectStorageLike & { deleteAll(): Promise<void> }
}

export class ConcurrencyDO {
  constructor(readonly state: State) {}
  async fetch(request: Request): Promise<Response> {
    const storage = this.state.storage
    await storage.deleteAll()
    const make = () => durableObjectStorage(storage)
    const { pathname } = new URL(request.url)
    try {
      if (pathname === '/agents') return Response.json(await twoAgents(make))
      if (pathname === '/agents/0') return Response.json(await twoAgents(make, { conflictRetries: 0, strict: false }))
      if (pathname === '/race') return Response.json(await writersRace(make))
      return new Response('not found', { status: 404 })
    } catch (error) {
      return new Response(String((error as Error).message), { status: 500 })
    }
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return env.DO.get(env.DO.idFromName('concurrency')).fetch(request)
  },
}
