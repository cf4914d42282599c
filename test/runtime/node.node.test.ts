import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { createAgent, type Agent } from '../../src/agent/agent.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { handler } from './handler.js'
import { close, serve } from './serve.js'
import { runtimeSuite } from './suite.js'

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
