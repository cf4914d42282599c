import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAgent } from '../../src/agent/agent.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { close, serve } from '../runtime/serve.js'
import { endlessUpload } from '../runtime/upload.js'

/**
 * Regression: a chunked body with no Content-Length was read whole (300 MB, about 1 GB of memory)
 * before the 1 MiB limit answered 413. Here a real client streams an endless body to the agent
 * behind Node's http server on 127.0.0.1, and the bytes the handler pulled from the body are counted.
 */

const MiB = 1024 * 1024
const CHUNK = 64 * 1024

let server: Server
let url: string
const pulled = { bytes: 0 }
const store = createContextStore(memoryStorage(), { channel: false })
const agent = createAgent({ store, handler: async function* () {} })

/** The request, its body counted as the handler pulls it. */
function counted(request: Request): Request {
  if (!request.body) return request
  const body = request.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        pulled.bytes += chunk.byteLength
        controller.enqueue(chunk)
      },
    }),
  )
  return new Request(request, { body, duplex: 'half' } as RequestInit)
}

beforeAll(async () => {
  server = await serve((request) => agent.fetch(counted(request)))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => close(server))

describe('the body limit holds while reading (real HTTP, Node http server)', () => {
  it('an endless chunked body without Content-Length: 413 after ~1 MiB read, the upload cut short', async () => {
    pulled.bytes = 0
    const upload = await endlessUpload(url + '/sessions/endless/events')
    expect(upload.status).toBe(413)
    expect(JSON.parse(upload.body)).toEqual({ error: { code: 'too_large', message: `the event is over ${MiB} bytes` } })
    // The limit plus what was in flight in the pipe (one or two chunks of 64 KiB), not the upload.
    expect(pulled.bytes).toBeGreaterThan(MiB)
    expect(pulled.bytes).toBeLessThanOrEqual(MiB + 4 * CHUNK)
    // What the client got out before the answer: the limit plus the loopback socket buffers (a few MiB).
    expect(upload.sent).toBeLessThan(32 * MiB)
    console.log(`endless upload: handler pulled ${pulled.bytes} bytes, client had sent ${upload.sent}`)
    expect(await store.load('endless')).toBeUndefined()
  })

  it('a Content-Length over 1 MiB: 413 before a byte of the body is read', async () => {
    pulled.bytes = 0
    const upload = await endlessUpload(url + '/sessions/declared/events', { 'content-length': String(2 * MiB) })
    expect(upload.status).toBe(413)
    expect(pulled.bytes).toBe(0)
    expect(upload.sent).toBeLessThanOrEqual(2 * MiB)
  })

  it('a body of just under 1 MiB is read whole and handled', async () => {
    const text = 'x'.repeat(MiB - 100)
    const response = await fetch(`${url}/sessions/big/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text } }) })
    expect(response.status).toBe(200)
    await response.text()
    expect((await store.load('big'))?.requests.get(1)?.text).toBe(text)
  })
})
