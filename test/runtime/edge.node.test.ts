import { bundleWorker } from '../storage/miniflare.js'
import { EdgeRuntime, runServer } from 'edge-runtime'
import { createStorage, type Storage } from 'unstorage'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runtimeSuite, type RuntimeHarness } from './suite.js'
import { endlessUpload } from './upload.js'

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

describe('Vercel edge-runtime: the body limit holds while reading', () => {
  // Regression: the body was read whole (300 MB) before the 1 MiB limit answered.
  it('an endless chunked body gets 413 once past 1 MiB, while the client is still sending', async () => {
    const upload = await endlessUpload(`${server.url.replace(/\/$/, '')}/sessions/endless/events`)
    expect(upload.status).toBe(413)
    expect(JSON.parse(upload.body)).toMatchObject({ error: { code: 'too_large' } })
    // 1 MiB read, plus the loopback socket buffers and edge-runtime's own stream buffers.
    expect(upload.sent).toBeLessThan(32 * 1024 * 1024)
  })
})
