import { describe, expect, it } from 'vitest'
import { createAgent } from '../../src/agent/agent.js'
import { discard, isJsonType, readLimited } from '../../src/agent/body.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'

const MiB = 1024 * 1024
const CHUNK = 64 * 1024

/** A body that never ends, counting the bytes pulled from it and whether it was cancelled. */
function endless() {
  const seen = { pulled: 0, cancelled: false }
  const chunk = new Uint8Array(CHUNK).fill(32)
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        seen.pulled += CHUNK
        controller.enqueue(chunk)
      },
      cancel() {
        seen.cancelled = true
      },
    },
    { highWaterMark: 0 },
  )
  return { stream, seen }
}

describe('readLimited', () => {
  // Regression: the body was read whole (request.text()) and measured after: 300 MB of a chunked
  // upload with no Content-Length were read before the 1 MiB limit answered.
  it('stops pulling an endless body one chunk past the limit, and cancels it', async () => {
    const { stream, seen } = endless()
    expect(await readLimited(stream, MiB)).toBeUndefined()
    expect(seen.pulled).toBe(MiB + CHUNK)
    await expect.poll(() => seen.cancelled).toBe(true)
  })

  it('returns the bytes of a body up to the limit, whatever the chunking', async () => {
    const parts = [new Uint8Array([1, 2]), new Uint8Array([]), new Uint8Array([3])]
    const stream = new ReadableStream<Uint8Array>({ start: (c) => (parts.forEach((p) => c.enqueue(p)), c.close()) })
    expect([...(await readLimited(stream, 3))!]).toEqual([1, 2, 3])
    expect([...(await readLimited(null, 3))!]).toEqual([])
  })

  it('through agent.fetch: an endless streamed Request body gets 413 after ~1 MiB pulled', async () => {
    const agent = createAgent({ store: createContextStore(memoryStorage(), { channel: false }), handler: async function* () {} })
    const { stream, seen } = endless()
    const init = { method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': 'application/json' } }
    const response = await agent.fetch(new Request('http://agent.test/sessions/s/events', init as RequestInit))
    expect(response.status).toBe(413)
    expect(await response.json()).toEqual({ error: { code: 'too_large', message: `the event is over ${MiB} bytes` } })
    // The Request may buffer a chunk or two of its own between the stream and the reader.
    expect(seen.pulled).toBeLessThanOrEqual(MiB + 4 * CHUNK)
  })
})

describe('the body of a refused request', () => {
  const agent = () => createAgent({ store: createContextStore(memoryStorage(), { channel: false }), handler: async function* () {}, authorize: () => false })
  const post = (body: ReadableStream<Uint8Array>, headers: Record<string, string>) =>
    new Request('http://agent.test/sessions/s/events', { method: 'POST', body, duplex: 'half', headers } as RequestInit)

  it('is read and dropped up to 256 KiB, then cancelled: a refusal costs no more than that', async () => {
    const { stream, seen } = endless()
    const response = await agent().fetch(post(stream, { 'content-type': 'text/plain' }))
    expect(response.status).toBe(415)
    expect(seen.pulled).toBeLessThanOrEqual(256 * 1024 + 4 * CHUNK)
    await expect.poll(() => seen.cancelled).toBe(true)
    const forbidden = endless()
    expect((await agent().fetch(post(forbidden.stream, { 'content-type': 'application/json' }))).status).toBe(403)
    expect(forbidden.seen.pulled).toBeLessThanOrEqual(256 * 1024 + 4 * CHUNK)
  })

  // A page cannot set content-length (a forbidden header), so this runs where a server receives it.
  it.skipIf(typeof window !== 'undefined')('is cancelled unread when its declared length is over 256 KiB', async () => {
    const { stream, seen } = endless()
    const response = await agent().fetch(post(stream, { 'content-type': 'application/json', 'content-length': String(300 * 1024) }))
    expect(response.status).toBe(403)
    await expect.poll(() => seen.cancelled).toBe(true)
    expect(seen.pulled).toBeLessThanOrEqual(2 * CHUNK) // what the Request itself may buffer
  })

  it('discard reads a short body to its end (nothing left for the platform to hold)', async () => {
    let pulls = 0
    const stream = new ReadableStream<Uint8Array>(
      { pull: (c) => (++pulls < 4 ? c.enqueue(new Uint8Array(10)) : c.close()) },
      { highWaterMark: 0 },
    )
    await discard(stream, 1024)
    expect(pulls).toBe(4)
  })
})

describe('isJsonType', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON;Charset=UTF-8',
    'application/json; charset="utf-8"',
    'application/vnd.api+json',
    'application/merge-patch+json; charset=utf-8',
    ' application/json ',
  ])('accepts %j', (type) => expect(isJsonType(type)).toBe(true))

  // The three types a page may send cross-site without a CORS preflight come first.
  it.each([
    null,
    '',
    'text/plain',
    'text/plain;charset=UTF-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json; charset=latin1',
    'application/json; charset=utf8',
    'application/jsonx',
    'application/json, text/plain',
    'text/json',
    'application/+json',
    'application/json\u0000',
  ])('refuses %j', (type) => expect(isJsonType(type)).toBe(false))
})
