import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { createAgent, type Agent } from '../../src/agent/agent.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { handler } from './handler.js'
import { runtimeSuite } from './suite.js'

/**
 * Serves `fetchHandler` on Node's http server: the request becomes a standard `Request` (its signal
 * aborts when the client goes away before the response is complete), the `Response` is streamed back
 * chunk by chunk. The adapter a Node app needs, in 20 lines.
 */
export function serve(fetchHandler: (request: Request) => Promise<Response>): Promise<Server> {
  const server = createServer(async (req, res) => {
    const controller = new AbortController()
    res.on('close', () => res.writableFinished || controller.abort())
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value)
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined, signal: controller.signal })
    const response = await fetchHandler(request)
    res.writeHead(response.status, Object.fromEntries(response.headers))
    const reader = response.body?.getReader()
    for (let step; reader && !(step = await reader.read()).done; ) res.write(step.value)
    res.end()
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

// The persisted storage outlives each runtime instance: a restart is a new agent and a new server.
const adapter = memoryStorage()
let agent: Agent
let server: Server
let base: string

async function start(): Promise<void> {
  agent = createAgent({ store: createContextStore(adapter), handler })
  server = await serve((request) => agent.fetch(request))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

beforeAll(start)
afterAll(() => close(server))

runtimeSuite('Node 20 (node:http server, fetch + eventsource-parser, memory store)', () => ({
  fetch: (path, init) => fetch(base + path, init),
  restart: async () => {
    await close(server)
    await start()
  },
}))
