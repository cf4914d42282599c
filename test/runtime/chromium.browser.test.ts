import { createAgent, type Agent } from '../../src/agent/agent.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { indexedDBStorage } from '../../src/storage/indexeddb.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { handler } from './handler.js'
import { runtimeSuite, type RuntimeHarness } from './suite.js'

/**
 * The agent in a page: `agent.fetch` called with real `Request`s, its SSE bodies read with
 * eventsource-parser. A restart is a new agent on a new adapter over the same storage: for
 * IndexedDB a new connection to the same database, as after a reload.
 */
function inPage(makeAdapter: () => StorageAdapter): RuntimeHarness {
  let agent: Agent
  const start = () => (agent = createAgent({ store: createContextStore(makeAdapter(), { channel: false }), handler }))
  start()
  return {
    fetch: (path, init) => agent.fetch(new Request(`http://agent.local${path}`, init)),
    restart: async () => void start(),
  }
}

const memory = memoryStorage()
const memoryHarness = inPage(() => memory)
runtimeSuite('Chromium, memory store', () => memoryHarness)

const dbName = `agentctx-runtime-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
const idbHarness = inPage(() => indexedDBStorage({ dbName }))
runtimeSuite('Chromium, IndexedDB store (a restart opens the database again)', () => idbHarness)
