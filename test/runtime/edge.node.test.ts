import { bundleWorker } from '../storage/miniflare.js'
import { EdgeRuntime, runServer } from 'edge-runtime'
import { createStorage, type Storage } from 'unstorage'
import { afterAll, beforeAll } from 'vitest'
import { runtimeSuite, type RuntimeHarness } from './suite.js'

// The agent as a Vercel Edge Function in Vercel's own edge-runtime VM (web APIs only, no Node
// globals), served over real HTTP by edge-runtime's server on 127.0.0.1. A restart is a new VM and a
// new server on the same storage.
const storage: Storage = createStorage()
let code: string
let server: Awaited<ReturnType<typeof runServer>>

async function start(): Promise<void> {
  const runtime = new EdgeRuntime({ initialCode: code, extend: (context) => Object.assign(context, { HOST_STORAGE: storage }) })
  server = await runServer({ runtime, host: '127.0.0.1', port: 0 })
}

beforeAll(async () => {
  code = await bundleWorker(new URL('./edge/function.ts', import.meta.url).pathname, 'edge')
  await start()
}, 60_000)

afterAll(async () => {
  await server?.close()
  await storage.dispose()
})

const harness = (): RuntimeHarness => ({
  fetch: (path, init) => fetch(`${server.url.replace(/\/$/, '')}${path}`, init),
  restart: async () => {
    await server.close()
    await start()
  },
})

runtimeSuite('Vercel edge-runtime (an Edge Function over unstorage)', harness)
