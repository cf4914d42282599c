import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ContextError, ValidationError } from '../../src/errors.js'
import type { ChatRequest, Provider } from '../../src/llm/types.js'
import { AbortedError, ProviderError } from '../../src/providers/kernel/errors.js'
import { hang, json, KEY, loopback, sse, type Loopback, type Seen, type Step } from './servers/loopback.js'

/** What the shared suite needs to know about one wire format. */
export interface Driver {
  name: string
  model: string
  serve(): Promise<Loopback>
  /** The provider under test, pointed at `server`, with the test key and 1 ms backoff. */
  make(server: Loopback, options?: Record<string, unknown>): Provider
  /** A whole text reply, with the provider's request-id header when it has one. */
  text(text: string, usage: [number, number]): Step
  /** The frames of a complete streamed text reply. */
  stream(deltas: string[], usage: [number, number]): string[]
  /** The frames of a stream that stops after `deltas`, before its end. */
  partial(deltas: string[]): string[]
  /** The frame of an error event sent inside a 200 stream. */
  streamError(message: string): string
  /** An error body with the provider's shape, and the code our error should report for it. */
  error(status: number, message: string): { body: unknown; code: string }
  /** The request-id header the provider sends, if it documents one. */
  requestIdHeader?: string
  /** The API key the server received. */
  keyOf(seen: Seen): string | undefined
  /** Whether the request asked for a stream. */
  streamed(seen: Seen): boolean
}

/** Asserts `err` leaks the key nowhere: message, `String(err)`, `JSON.stringify(err)`. */
export function expectNoKey(err: unknown) {
  expect(String(err)).not.toContain(KEY)
  expect((err as Error).message).not.toContain(KEY)
  expect(JSON.stringify(err)).not.toContain(KEY)
}

/** Runs `fn` and returns what it rejected with (failing when it resolves). */
export async function rejection(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn()
  } catch (e) {
    expectNoKey(e)
    return e
  }
  throw new Error('expected a rejection')
}

const ask = (d: Driver, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: d.model,
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Say hello.' },
  ],
  ...extra,
})

/** The provider-independent cases: replies, streaming, retries, errors, aborts and key hygiene. */
export function providerSuite(d: Driver) {
  describe(`${d.name}: shared provider contract`, () => {
    let server: Loopback
    let provider: Provider
    beforeAll(async () => {
      server = await d.serve()
      provider = d.make(server)
    })
    afterAll(() => server.close())
    const fresh = () => {
      server.seen.length = 0
      server.problems.length = 0
    }

    it('returns a plain reply with usage, model, provider name and request id', async () => {
      fresh()
      server.queue(d.text('Hello there.', [21, 4]))
      const r = await provider.chat(ask(d, { temperature: 0.2, maxOutputTokens: 50 }))
      expect(server.problems).toEqual([])
      expect(r.text).toBe('Hello there.')
      expect(r.message).toEqual({ role: 'assistant', content: 'Hello there.' })
      expect(r.toolCalls).toEqual([])
      expect(r.finishReason).toBe('stop')
      expect(r.usage).toEqual({ inputTokens: 21, outputTokens: 4 })
      expect(r.provider).toBe(d.name)
      expect(r.model).toMatch(/test/)
      expect(r.requestId).toBe(d.requestIdHeader ? 'req_test_1' : undefined)
      expect(d.streamed(server.seen[0]!)).toBe(false)
      expect(d.keyOf(server.seen[0]!)).toBe(KEY)
    })

    it('streams: onToken gets every delta in order and the text is their concatenation', async () => {
      fresh()
      const deltas = ['Hel', 'lo', ', ', 'wor', 'ld', '!', ' ✓ 日本']
      server.queue(sse(d.stream(deltas, [30, 8])))
      const got: string[] = []
      const r = await provider.chat(ask(d, { onToken: (t) => got.push(t) }))
      expect(server.problems).toEqual([])
      expect(d.streamed(server.seen[0]!)).toBe(true)
      expect(got).toEqual(deltas)
      expect(r.text).toBe(deltas.join(''))
      expect(r.finishReason).toBe('stop')
      expect(r.usage).toEqual({ inputTokens: 30, outputTokens: 8 })
    })

    it('the request apiKey overrides the configured one for that call only', async () => {
      fresh()
      server.queue(d.text('a', [1, 1]), d.text('b', [1, 1]))
      await provider.chat(ask(d, { apiKey: 'other-key-123' }))
      await provider.chat(ask(d))
      expect(d.keyOf(server.seen[0]!)).toBe('other-key-123')
      expect(d.keyOf(server.seen[1]!)).toBe(KEY)
    })

    it('retries a 429 honouring retry-after-ms and retry-after, then succeeds', async () => {
      fresh()
      const limited = d.error(429, 'Rate limit reached')
      server.queue(
        json(limited.body, 429, { 'retry-after-ms': '15' }),
        json(limited.body, 429, { 'retry-after': '0' }),
        d.text('finally', [3, 1]),
      )
      const r = await provider.chat(ask(d))
      expect(r.text).toBe('finally')
      expect(server.seen).toHaveLength(3)
    })

    it('takes retry-after as an HTTP date', async () => {
      fresh()
      server.queue(json(d.error(429, 'slow down').body, 429, { 'retry-after': new Date(Date.now() - 1000).toUTCString() }), d.text('ok', [1, 1]))
      expect((await provider.chat(ask(d))).text).toBe('ok')
      expect(server.seen).toHaveLength(2)
    })

    it('gives up after maxRetries with a retryable ProviderError carrying status and code', async () => {
      fresh()
      const limited = d.error(429, 'Rate limit reached for requests')
      server.queue(json(limited.body, 429), json(limited.body, 429), json(limited.body, 429))
      const err = await rejection(() => provider.chat(ask(d)))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err).toBeInstanceOf(ContextError)
      expect(err).toMatchObject({ code: 'provider', provider: d.name, status: 429, retryable: true, providerCode: limited.code })
      expect(err.message).toContain('Rate limit reached for requests')
      expect(err.partial).toBeUndefined()
      expect(server.seen).toHaveLength(3)
    })

    it('does not wait for a retry-after above 60 s: throws the retryable error at once', async () => {
      fresh()
      server.queue(json(d.error(429, 'quota').body, 429, { 'retry-after': '120' }))
      const err = await rejection(() => provider.chat(ask(d)))
      expect(err).toMatchObject({ status: 429, retryable: true })
      expect(server.seen).toHaveLength(1)
    })

    it('maxRetries: 0 makes one attempt', async () => {
      fresh()
      const once = d.make(server, { maxRetries: 0 })
      server.queue(json(d.error(503, 'busy').body, 503))
      expect(await rejection(() => once.chat(ask(d)))).toMatchObject({ status: 503, retryable: true })
      expect(server.seen).toHaveLength(1)
    })

    it('retries a 500 and then succeeds', async () => {
      fresh()
      server.queue(json(d.error(500, 'internal').body, 500), d.text('recovered', [2, 2]))
      expect((await provider.chat(ask(d))).text).toBe('recovered')
      expect(server.seen).toHaveLength(2)
    })

    it('a 400 is not retried and carries the provider message, code and request id', async () => {
      fresh()
      const bad = d.error(400, "Invalid value for 'temperature': must be at most 2")
      server.queue(json(bad.body, 400, d.requestIdHeader ? { [d.requestIdHeader]: 'req_bad_9' } : {}))
      const err = await rejection(() => provider.chat(ask(d)))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err).toMatchObject({ status: 400, retryable: false, providerCode: bad.code })
      expect(err.message).toContain("Invalid value for 'temperature': must be at most 2")
      expect(err.message).toContain('400')
      expect(err.requestId).toBe(d.requestIdHeader ? 'req_bad_9' : undefined)
      expect(server.seen).toHaveLength(1)
    })

    it('a non-JSON error body still gives a ProviderError with its text', async () => {
      fresh()
      server.queue((_s, res) => {
        res.writeHead(502, { 'content-type': 'text/html' })
        res.end('<html>Bad gateway</html>')
      })
      const once = d.make(server, { maxRetries: 0 })
      const err = await rejection(() => once.chat(ask(d)))
      expect(err).toMatchObject({ status: 502, retryable: true })
      expect(err.message).toContain('Bad gateway')
    })

    it('scrubs the API key when a server echoes it in an error', async () => {
      fresh()
      const echoed = d.error(401, `Incorrect API key provided: ${KEY}. You can find your key at …`)
      server.queue(json(echoed.body, 401))
      const err = await rejection(() => provider.chat(ask(d)))
      expect(err.status).toBe(401)
      expect(err.message).toContain('Incorrect API key provided: ***.')
    })

    it('a 200 that is not JSON is a ProviderError', async () => {
      fresh()
      server.queue((_s, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.end('surprise')
      })
      const err = await rejection(() => provider.chat(ask(d)))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err.message).toContain('invalid JSON')
    })

    it('a 200 whose JSON body is an error is a retryable ProviderError with the provider message and code, retried like a 5xx', async () => {
      fresh()
      const overloaded = d.error(529, 'Overloaded right now')
      server.queue(json(overloaded.body, 200), json(overloaded.body, 200), json(overloaded.body, 200))
      const err = await rejection(() => provider.chat(ask(d)))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err).toMatchObject({ retryable: true, providerCode: overloaded.code })
      expect(err.status).toBeUndefined()
      expect(err.message).toContain('Overloaded right now')
      expect(server.seen).toHaveLength(3)
      fresh()
      server.queue(json(overloaded.body, 200), d.text('after the overload', [1, 1]))
      expect((await provider.chat(ask(d))).text).toBe('after the overload')
      expect(server.seen).toHaveLength(2)
    })

    const cutOff: Step = (_s, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
      res.write('{"partial":', () => res.socket?.destroy())
    }

    it('a whole (non-streamed) body cut off mid-way is a retryable ProviderError, retried', async () => {
      fresh()
      server.queue(cutOff, cutOff, cutOff)
      const err = await rejection(() => provider.chat(ask(d)))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err.retryable).toBe(true)
      expect(err.partial).toBeUndefined()
      expect(err.message).toMatch(/^[a-z]+: reading the response failed: /)
      expect(server.seen).toHaveLength(3)
      fresh()
      server.queue(cutOff, d.text('whole at last', [1, 1]))
      expect((await provider.chat(ask(d))).text).toBe('whole at last')
    })

    it('retries network failures, then throws a retryable ProviderError without status', async () => {
      const gone = await loopback(() => [])
      await gone.close()
      const err = await rejection(() => d.make(gone).chat(ask(d)))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err).toMatchObject({ retryable: true })
      expect(err.status).toBeUndefined()
      expect(err.message).toContain('network error')
      let attempts = 0
      const failing = d.make(gone, {
        fetch: () => {
          attempts++
          return Promise.reject(new TypeError('fetch failed'))
        },
      })
      expect(await rejection(() => failing.chat(ask(d)))).toMatchObject({ retryable: true, message: `${d.name}: network error: fetch failed` })
      expect(attempts).toBe(3)
    })

    it('malformed SSE (garbage lines, then invalid JSON data) is a ProviderError keeping the partial text', async () => {
      fresh()
      server.queue(sse([...d.partial(['Par', 'tial']), 'this line is not SSE at all\n\n', 'data: {"broken json\n\n']))
      const got: string[] = []
      const err = await rejection(() => provider.chat(ask(d, { onToken: (t) => got.push(t) })))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err.message).toContain('invalid JSON')
      expect(got).toEqual(['Par', 'tial'])
      expect(err.partial).toMatchObject({ text: 'Partial', finishReason: 'error', provider: d.name })
      expect(err.partial.usage.estimated).toBe(true)
      expect(err.partial.usage.outputTokens).toBeGreaterThan(0)
    })

    it('a stream that ends before its terminal event is a retryable ProviderError with partial', async () => {
      fresh()
      server.queue(sse(d.partial(['cut ', 'short'])))
      const err = await rejection(() => provider.chat(ask(d, { onToken: () => {} })))
      expect(err).toMatchObject({ retryable: true, partial: { text: 'cut short', finishReason: 'error' } })
      expect(err.message).toContain('ended early')
    })

    it('an error event inside the stream is a ProviderError with the provider message and partial', async () => {
      fresh()
      server.queue(sse([...d.partial(['so far']), d.streamError('Overloaded')]))
      const err = await rejection(() => provider.chat(ask(d, { onToken: () => {} })))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err.message).toContain('Overloaded')
      expect(err.retryable).toBe(true)
      expect(err.partial?.text).toBe('so far')
    })

    it('a connection dropped mid-stream is a retryable ProviderError keeping the partial text', async () => {
      fresh()
      server.queue(sse(d.partial(['one ', 'two ']), 'drop'))
      const got: string[] = []
      const err = await rejection(() => provider.chat(ask(d, { onToken: (t) => got.push(t) })))
      expect(err).toBeInstanceOf(ProviderError)
      expect(err.retryable).toBe(true)
      expect(err.status).toBeUndefined()
      expect(got).toEqual(['one ', 'two '])
      expect(err.partial).toMatchObject({ text: 'one two ', finishReason: 'error' })
      expect(server.seen).toHaveLength(1)
    })

    it('a hanging server: AbortSignal.timeout gives a timeout error and the server sees the connection close', async () => {
      fresh()
      server.queue(hang)
      const err = await rejection(() => provider.chat(ask(d, { signal: AbortSignal.timeout(150) })))
      expect(err).toBeInstanceOf(AbortedError)
      expect(err).toMatchObject({ code: 'timeout', reason: 'timeout' })
      expect(err.signalReason?.name).toBe('TimeoutError')
      await server.seen[0]!.clientClosed
      expect(server.seen).toHaveLength(1)
    })

    it('a timeout inside AbortSignal.any is still a timeout', async () => {
      fresh()
      server.queue(hang)
      const signal = AbortSignal.any([new AbortController().signal, AbortSignal.timeout(100)])
      expect(await rejection(() => provider.chat(ask(d, { signal })))).toMatchObject({ code: 'timeout' })
      await server.seen[0]!.clientClosed
    })

    it('a caller abort mid-stream keeps the partial text and an estimated usage; the server sees the close', async () => {
      fresh()
      server.queue(sse(d.partial(['alpha ', 'beta ', 'gamma']), 'hold'))
      const controller = new AbortController()
      const got: string[] = []
      const err = await rejection(() =>
        provider.chat(
          ask(d, {
            signal: controller.signal,
            onToken: (t) => {
              got.push(t)
              if (got.length === 3) controller.abort('user left')
            },
          }),
        ),
      )
      expect(err).toBeInstanceOf(AbortedError)
      expect(err).toMatchObject({ code: 'aborted', reason: 'cancelled', signalReason: 'user left' })
      expect(err.partial).toMatchObject({ text: 'alpha beta gamma', finishReason: 'aborted', provider: d.name })
      expect(err.partial.usage).toMatchObject({ estimated: true })
      expect(err.partial.usage.inputTokens).toBeGreaterThan(0)
      expect(err.partial.usage.outputTokens).toBeGreaterThanOrEqual(Math.ceil('alpha beta gamma'.length / 4))
      await server.seen[0]!.clientClosed
    })

    it('an already-aborted signal sends nothing', async () => {
      fresh()
      const err = await rejection(() => provider.chat(ask(d, { signal: AbortSignal.abort() })))
      expect(err).toMatchObject({ code: 'aborted' })
      expect(server.seen).toHaveLength(0)
    })

    it('never retries after an abort, even during the backoff sleep', async () => {
      fresh()
      server.queue(json(d.error(429, 'wait').body, 429, { 'retry-after': '30' }))
      const controller = new AbortController()
      const call = rejection(() => provider.chat(ask(d, { signal: controller.signal })))
      await vi.waitFor(() => expect(server.seen).toHaveLength(1))
      controller.abort()
      expect(await call).toMatchObject({ code: 'aborted' })
      expect(server.seen).toHaveLength(1)
    })

    it('an error thrown by onToken passes through unchanged and closes the stream', async () => {
      fresh()
      server.queue(sse(d.partial(['x', 'y']), 'hold'))
      const mine = new TypeError('my callback broke')
      const err = await rejection(() =>
        provider.chat(
          ask(d, {
            onToken: () => {
              throw mine
            },
          }),
        ),
      )
      expect(err).toBe(mine)
      await server.seen[0]!.clientClosed
    })

    it('uses the fetch it is given, and otherwise the global fetch of call time', async () => {
      fresh()
      const calls: string[] = []
      const custom = d.make(server, { fetch: (url: string, init: RequestInit) => (calls.push(url), fetch(url, init)) })
      server.queue(d.text('via custom', [1, 1]), d.text('via global', [1, 1]))
      expect((await custom.chat(ask(d))).text).toBe('via custom')
      expect(calls).toHaveLength(1)
      expect(calls[0]).toContain(server.url)
      const original = globalThis.fetch
      const spy = vi.fn((url: any, init: any) => original(url, init))
      globalThis.fetch = spy as typeof fetch
      try {
        expect((await provider.chat(ask(d))).text).toBe('via global')
      } finally {
        globalThis.fetch = original
      }
      expect(spy).toHaveBeenCalledTimes(1)
    })

    it('extra headers are sent and replace ours whatever their case', async () => {
      fresh()
      server.queue(d.text('h', [1, 1]))
      await d.make(server, { headers: { 'X-Trace': 'abc', 'Content-Type': 'application/json; charset=utf-8' } }).chat(ask(d))
      expect(server.problems).toEqual([])
      expect(server.seen[0]!.headers['x-trace']).toBe('abc')
      expect(server.seen[0]!.headers['content-type']).toBe('application/json; charset=utf-8')
    })

    it('bad input is a ValidationError naming the field', async () => {
      expect(() => d.make(server, { baseURL: 'not a url' })).toThrow(ValidationError)
      expect(() => d.make(server, { baseURL: 'not a url' })).toThrow(/baseURL/)
      const noModel = await rejection(() => provider.chat({ ...ask(d), model: '' }))
      expect(noModel).toBeInstanceOf(ValidationError)
      expect(noModel.message).toMatch(/model/)
      const noMessages = await rejection(() => provider.chat({ model: d.model } as ChatRequest))
      expect(noMessages).toBeInstanceOf(ValidationError)
      expect(noMessages.message).toMatch(/messages/)
      const nothing = await rejection(() => provider.chat(undefined as unknown as ChatRequest))
      expect(nothing).toBeInstanceOf(ValidationError)
    })

    it('the name option renames the provider in responses and errors', async () => {
      fresh()
      server.queue(d.text('n', [1, 1]), json(d.error(400, 'nope').body, 400))
      const renamed = d.make(server, { name: 'custom-llm' })
      expect(renamed.name).toBe('custom-llm')
      expect((await renamed.chat(ask(d))).provider).toBe('custom-llm')
      const err = await rejection(() => renamed.chat(ask(d)))
      expect(err.provider).toBe('custom-llm')
      expect(err.message).toMatch(/^custom-llm: /)
    })
  })
}
