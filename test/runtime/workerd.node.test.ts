import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleWorker } from '../storage/miniflare.js'
import { readSSE } from './sse.js'
import { runtimeSuite, type RuntimeHarness } from './suite.js'

// The agent runs inside workerd (miniflare 3): ./workerd/worker.ts bundled as wrangler would. KV and
// Durable Object storage persist to a temporary directory, so a restart is a new Miniflare (a new
// workerd process, new isolates) on the same data.
const persist = mkdtempSync(join(tmpdir(), 'agentctx-workerd-'))
let script: string
let mf: Miniflare

async function start(): Promise<void> {
  mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: '2024-09-23',
    kvNamespaces: ['KV'],
    durableObjects: { AGENT: 'AgentObject' },
    kvPersist: join(persist, 'kv'),
    durableObjectsPersist: join(persist, 'do'),
  })
  await mf.ready
}

beforeAll(async () => {
  script = await bundleWorker(new URL('./workerd/worker.ts', import.meta.url).pathname)
  await start()
}, 60_000)

afterAll(async () => {
  await mf?.dispose()
  rmSync(persist, { recursive: true, force: true })
})

/** `dispatchFetch` returns undici's Response in Node: what the suite reads with eventsource-parser. */
const harness = (prefix: string): RuntimeHarness => ({
  fetch: (path, init) => mf.dispatchFetch(`http://agent.test${prefix}${path}`, init as never) as unknown as Promise<Response>,
  restart: async () => {
    await mf.dispose()
    await start()
  },
})

// A stateless Worker: requests of one session meet only in the isolate's memory, and workerd lets no
// request abort what another started (see `interrupt` in src/agent/agent.ts).
runtimeSuite('workerd, Workers KV (the Worker fetch is agent.fetch)', () => harness('/kv'), { overlap: 'hold', bargeIn: 'none' })
runtimeSuite('workerd, a Durable Object per session (durableObjectStorage)', () => harness('/do'), { overlap: 'hold' })

describe('workerd: executionContext.waitUntil', () => {
  it("receives the turn and every background task (with the save after it), and they settle", async () => {
    const before = (await (await mf.dispatchFetch('http://agent.test/kv/debug')).json()) as { given: number; settled: number }
    const events = await readSSE((await mf.dispatchFetch('http://agent.test/kv/sessions/wait-until/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text: 'quick task' } }) })) as unknown as Response)
    expect(events.map((e) => e.data.text)).toEqual(['Welcome!', 'Started.'])
    await expect
      .poll(async () => (await (await mf.dispatchFetch('http://agent.test/kv/debug')).json()) as { given: number; settled: number }, { timeout: 5000, interval: 20 })
      .toEqual({ given: before.given + 2, settled: before.given + 2 })
    const kv = await mf.getKVNamespace('KV')
    const header = JSON.parse((await kv.get('agentctx/h/wait-until/', 'text'))!) as { state: { data: Record<string, unknown> } }
    expect(header.state.data.quick).toBe('done')
  })
})

describe('workerd: the body limit holds while reading', () => {
  // Regression: the body was read whole (300 MB) before the 1 MiB limit answered.
  it('an endless streamed body gets 413 once past 1 MiB, while the client is still sending', async () => {
    let pulled = 0
    const chunk = new Uint8Array(64 * 1024).fill(32)
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Far past the limit: a body read this far was read whole.
        if (pulled >= 256 * 1024 * 1024) return controller.close()
        pulled += chunk.byteLength
        controller.enqueue(chunk)
      },
    })
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: endless, duplex: 'half' }
    const response = await mf.dispatchFetch('http://agent.test/kv/sessions/endless/events', init as never)
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ error: { code: 'too_large' } })
    // 1 MiB read by the Worker, plus what miniflare and the loopback socket buffer on the way.
    expect(pulled).toBeLessThan(32 * 1024 * 1024)
  })
})
