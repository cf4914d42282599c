import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAgent, type Agent, type AgentOptions } from '../../src/agent/agent.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore, type ContextStore } from '../../src/storage/store.js'
import { close, serve } from '../runtime/serve.js'
import { handler, TOKEN, type Seen } from './handler.js'

export { TOKEN }

/** A served test agent. */
export interface Served {
  url: string
  agent: Agent
  store: ContextStore
  seen: Seen
  close(): Promise<void>
}

/**
 * The test agent behind Node's http server on 127.0.0.1 (test/runtime/serve.ts: the request's
 * signal aborts when the client goes away). `authorize` wants `Bearer TOKEN`, refuses sessions
 * named `forbidden…` with 403, and answers a missing token with a 401 that is not JSON.
 */
export async function serveAgent(options: Partial<AgentOptions> = {}): Promise<Served> {
  const seen: Seen = { aborted: [] }
  const store = createContextStore(memoryStorage(), { channel: false })
  const agent = createAgent({
    store,
    handler: handler(seen),
    authorize: (request, { sessionId }) => {
      if (request.headers.get('authorization') !== `Bearer ${TOKEN}`) return new Response('Unauthorized', { status: 401, headers: { 'www-authenticate': 'Bearer' } })
      if (sessionId === 'boom') throw new Error(`authorize crashed with ${request.headers.get('authorization')}`)
      return !sessionId.startsWith('forbidden')
    },
    ...options,
  })
  const server: Server = await serve((request) => agent.fetch(request))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, agent, store, seen, close: () => close(server) }
}
