import type { Miniflare } from 'miniflare'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startWorker } from '../storage/miniflare.js'
import { KEY, sse, type Loopback } from '../providers/servers/loopback.js'
import { completionChunks, openaiServer } from '../providers/servers/openai.js'

/**
 * `toResponse` inside workerd (miniflare 3): a Worker returns `ctx.streamChatCompletion().toResponse()`
 * as its own Response, the model being the OpenAI fake server on loopback; the SSE parts and the
 * plain text come out of the Worker as they do in Node, a tool loop included.
 */

let mf: Miniflare
let server: Loopback

beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/stream-worker.ts', import.meta.url).pathname, {})
  server = await openaiServer()
}, 60_000)
afterAll(async () => {
  await mf?.dispose()
  await server?.close()
})
afterEach(() => {
  expect(server.problems).toEqual([])
  server.seen.length = 0
})

const url = (o: Record<string, string>) => `http://worker.test/?${new URLSearchParams({ base: server.url, key: KEY, ...o })}`

describe('workerd: a Worker returning toResponse()', () => {
  it('text: the deltas as text/plain', async () => {
    server.queue(sse(completionChunks(['Pa', 'ris'], { usage: [3, 2] })))
    const res = await mf.dispatchFetch(url({ type: 'text' }))
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(await res.text()).toBe('Paris')
  })

  it('sse: a tool loop run inside the Worker, its parts parsed back by the client', async () => {
    server.queue(
      sse(completionChunks([], { toolCalls: [{ id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' }], usage: [5, 5] })),
      sse(completionChunks(['Sunny.'], { usage: [9, 2] })),
    )
    const res = await mf.dispatchFetch(url({ tools: '1' }))
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const parts = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map((f) => JSON.parse(f.replace(/^data: /, '')))
    expect(parts.map((p) => p.type)).toEqual(['tool-call', 'tool-result', 'step-finish', 'text-delta', 'step-finish', 'finish'])
    expect(parts[1]).toMatchObject({ toolName: 'weather', result: { city: 'Paris', sky: 'sunny' } })
    expect(parts.at(-1)).toMatchObject({ finishReason: 'stop', usage: { inputTokens: 14, outputTokens: 7 } })
    expect(server.seen[1]!.body.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '{"city":"Paris","sky":"sunny"}' })
  })

  it('a provider error is the last SSE part: name and message, no stack', async () => {
    server.queue((_s, res) => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'bad model', type: 'invalid_request_error', param: null, code: null } }))
    })
    const body = await (await mf.dispatchFetch(url({}))).text()
    const [part] = body.split('\n\n').filter(Boolean).map((f) => JSON.parse(f.replace(/^data: /, '')))
    expect(part).toMatchObject({ type: 'error', error: { name: 'ProviderError', code: 'provider' } })
    expect(part.error.message).toContain('bad model')
    expect(body).not.toContain(KEY)
    expect(body).not.toContain('stack')
  })
})
