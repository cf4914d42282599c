import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ContextError } from '../../src/errors.js'
import { anthropic } from '../../src/providers/anthropic.js'
import { AbortedError, ProviderError } from '../../src/providers/kernel/errors.js'
import { gemini } from '../../src/providers/gemini.js'
import { fetchWithRetry } from '../../src/providers/kernel/retry.js'
import { openai } from '../../src/providers/openai.js'
import { readEvents } from '../../src/providers/kernel/sse.js'

/**
 * The providers in both Node and real Chromium, through a `fetch` option that answers with
 * web-standard `Response`s: the same code paths as over the network (Web Streams, TextDecoder,
 * AbortSignal), without a server. The loopback wire-format tests are the `*.node.test.ts` files.
 */

const encoder = new TextEncoder()

/** A body that yields `chunks` one by one, then either closes or stays open until cancelled. */
function body(chunks: (string | Uint8Array)[], close = true) {
  let cancelled = false
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = chunks.shift()
      if (next === undefined) {
        if (close) controller.close()
        return new Promise(() => {}) // hold open
      }
      controller.enqueue(typeof next === 'string' ? encoder.encode(next) : next)
    },
    cancel() {
      cancelled = true
    },
  })
  return { stream, cancelled: () => cancelled }
}

const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`
const messages = [{ role: 'user' as const, content: 'hi' }]

describe('providers over a custom fetch (Node and Chromium)', () => {
  it("readEvents() passes each event's data across arbitrary chunk cuts, including inside a UTF-8 character", async () => {
    const bytes = encoder.encode('event: a\ndata: 1\n\n: comment\ndata: "é€"\n\nid: 7\ndata: x\ndata: y\n\n')
    const cut = [bytes.slice(0, 3), bytes.slice(3, 22), bytes.slice(22, 27), bytes.slice(27)]
    const got: string[] = []
    await readEvents(body(cut).stream, 'test', (data) => void got.push(data))
    expect(got).toEqual(['1', '"é€"', 'x\ny'])
  })

  it('property: however the bytes are cut, the provider sees the same deltas and text', async () => {
    const deltas = fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }).filter((s) => s.length > 0), { minLength: 1, maxLength: 12 })
    await fc.assert(
      fc.asyncProperty(deltas, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), async (parts, cuts, crlf) => {
        let text = parts.map(chunk).join('') + `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`
        if (crlf) text = text.replace(/\n/g, '\r\n')
        const bytes = encoder.encode(text)
        const at = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b)
        const pieces = [0, ...at].map((start, i) => bytes.slice(start, at[i] ?? bytes.length)).filter((p) => p.length > 0)
        const tokens: string[] = []
        const r = await openai({ fetch: async () => new Response(body(pieces).stream) }).chat({ model: 'm', messages, onToken: (t) => tokens.push(t) })
        expect(tokens).toEqual(parts)
        expect(r.text).toBe(parts.join(''))
      }),
      { numRuns: 150 },
    )
  })

  it('readEvents() of a null body reads nothing; returning true stops at that event and cancels the body', async () => {
    await readEvents(null, 'test', () => {
      throw new Error('unreachable')
    })
    const b = body([chunk('a') + chunk('b'), chunk('c')], false)
    const got: string[] = []
    await readEvents(b.stream, 'test', (data) => got.push(data) > 0)
    expect(got).toHaveLength(1)
    expect(b.cancelled()).toBe(true)
  })

  it('readEvents(): an error thrown by onData passes through and cancels the body; a failed read is a retryable ProviderError', async () => {
    const b = body([chunk('a')], false)
    const mine = new Error('mine')
    await expect(
      readEvents(b.stream, 'test', () => {
        throw mine
      }),
    ).rejects.toBe(mine)
    expect(b.cancelled()).toBe(true)
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new TypeError('terminated'))
      },
    })
    const err = await readEvents(broken, 'test', () => {}).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ message: 'test: connection lost mid-stream', retryable: true, provider: 'test' })
  })

  it('streams through the given fetch', async () => {
    const tokens: string[] = []
    const provider = openai({
      apiKey: 'k',
      fetch: async () => new Response(body([chunk('Hi'), chunk(' there'), `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`, 'data: [DONE]\n\n']).stream),
    })
    const r = await provider.chat({ model: 'm', messages, onToken: (t) => tokens.push(t) })
    expect(tokens).toEqual(['Hi', ' there'])
    expect(r).toMatchObject({ text: 'Hi there', finishReason: 'stop', provider: 'openai', model: 'm' })
    expect(r.usage.estimated).toBe(true)
  })

  it('an abort reaches the stream even when the fetch ignores the signal: partial kept, body cancelled', async () => {
    const b = body([chunk('one'), chunk(' two')], false)
    const controller = new AbortController()
    const provider = openai({ fetch: async () => new Response(b.stream) })
    const tokens: string[] = []
    const err = await provider
      .chat({ model: 'm', messages, signal: controller.signal, onToken: (t) => tokens.push(t) === 2 && controller.abort() })
      .catch((e) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err.partial).toMatchObject({ text: 'one two', finishReason: 'aborted' })
    expect(b.cancelled()).toBe(true)
  })

  it('anthropic sends the direct-browser-access header by default only where window exists', async () => {
    let headers: Headers | undefined
    const provider = anthropic({
      apiKey: 'k',
      fetch: async (_url, init) => {
        headers = new Headers(init!.headers)
        return Response.json({ content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } })
      },
    })
    await provider.chat({ model: 'c', messages })
    expect(headers!.get('anthropic-dangerous-direct-browser-access')).toBe(typeof window !== 'undefined' ? 'true' : null)
    expect(headers!.get('x-api-key')).toBe('k')
  })

  it('gemini puts the key in x-goog-api-key, never in the URL', async () => {
    let url = ''
    let key: string | null = null
    const provider = gemini({
      apiKey: 'secret-key',
      fetch: async (u, init) => {
        url = String(u)
        key = new Headers(init!.headers).get('x-goog-api-key')
        return Response.json({ candidates: [{ content: { parts: [{ text: 'ok' }] }, finishReason: 'STOP' }] })
      },
    })
    expect((await provider.chat({ model: 'gemini-x', messages })).text).toBe('ok')
    expect(url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-x:generateContent')
    expect(key).toBe('secret-key')
  })

  it('property (this runtime\'s streams and TextDecoder): hostile frames into each reader change no prototype and give only typed errors', async () => {
    const names = () => [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).join())
    const index = fc.oneof(fc.constantFrom<unknown>('__proto__', 'constructor', -1, 0.5, 1e9, '0', null), fc.integer({ min: -3, max: 1100 }))
    const value = fc.oneof(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }))
    const event = fc.oneof(
      fc.tuple(index, value, value).map(([i, id, name]) => ({ choices: [{ delta: { tool_calls: [{ index: i, id, function: { name, arguments: id } }] } }] })),
      fc.tuple(index, value).map(([i, id]) => ({ type: 'content_block_start', index: i, content_block: { type: 'tool_use', id, name: id } })),
      fc.tuple(index, value).map(([i, t]) => ({ type: 'content_block_delta', index: i, delta: { type: 'input_json_delta', partial_json: t } })),
      value.map((name) => ({ candidates: [{ content: { parts: [{ functionCall: { name, args: { ['__proto__']: { polluted: 1 } } } }] } }] })),
      fc.jsonValue({ maxDepth: 3 }),
    )
    const frame = fc.oneof(
      event.map((e) => encoder.encode(`data: ${JSON.stringify(e)}\n\n`)),
      fc.uint8Array({ maxLength: 16 }),
      fc.constantFrom('data: {"__proto__":{"polluted":1}}\n\n', 'data: {"\\u005f_proto__":[1]}\n\n', 'data: [DONE]\n\n').map((t) => encoder.encode(t)),
    )
    const before = names()
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(openai, anthropic, gemini), fc.array(frame, { maxLength: 10 }), async (make, frames) => {
        const outcome = await make({ maxRetries: 0, fetch: async () => new Response(body(frames).stream) })
          .chat({ model: 'm', messages, onToken: () => {} })
          .catch((e) => e)
        expect(names()).toEqual(before)
        expect(([] as any).id ?? ({} as any).polluted).toBeUndefined()
        if (outcome instanceof Error) expect(outcome).toBeInstanceOf(ContextError)
      }),
      { numRuns: 300 },
    )
  })

  it('fetchWithRetry returns the first 2xx, retries 5xx, and maps the last failure', async () => {
    const statuses = [503, 200]
    const res = await fetchWithRetry('https://example.invalid/x', {}, { provider: 'p', retryDelay: 1, fetch: async () => new Response('{}', { status: statuses.shift() }) })
    expect(res.status).toBe(200)
    const err = await fetchWithRetry('https://example.invalid/x', {}, {
      provider: 'p',
      maxRetries: 1,
      retryDelay: 1,
      fetch: async () => Response.json({ error: { message: 'down', type: 'server_error' } }, { status: 500, headers: { 'x-request-id': 'r1' } }),
    }).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ message: 'p: HTTP 500: down', status: 500, providerCode: 'server_error', retryable: true, requestId: 'r1' })
  })

  it('a browser\'s opaque redirect (redirect: manual hides status and Location) is refused, never followed', async () => {
    let calls = 0
    let asked: RequestInit | undefined
    // What a browser's fetch gives for a 3xx under redirect: 'manual': no status, no headers, no body.
    const opaque = { type: 'opaqueredirect', status: 0, ok: false, statusText: '', headers: new Headers(), body: null } as unknown as Response
    const err = await fetchWithRetry('https://api.example.invalid/v1/x', { method: 'POST' }, {
      provider: 'p',
      retryDelay: 1,
      fetch: async (_u, init) => ((asked = init), calls++, opaque),
    }).catch((e) => e)
    expect(asked?.redirect).toBe('manual')
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ retryable: false, status: undefined, message: 'p: HTTP 0: redirect refused: the API key is only sent to https://api.example.invalid' })
    expect(calls).toBe(1)
  })

  it('fetchWithRetry does not retry 4xx other than 408, 409 and 429', async () => {
    for (const [status, attempts] of [
      [400, 1],
      [401, 1],
      [404, 1],
      [408, 3],
      [409, 3],
      [422, 1],
      [429, 3],
      [500, 3],
      [529, 3],
    ]) {
      let n = 0
      const err = await fetchWithRetry('https://example.invalid/x', {}, {
        provider: 'p',
        retryDelay: 1,
        fetch: async () => (n++, new Response('nope', { status })),
      }).catch((e) => e)
      expect(err.status).toBe(status)
      expect(n, `attempts after ${status}`).toBe(attempts)
    }
  })
})
