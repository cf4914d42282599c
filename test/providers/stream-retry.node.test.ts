import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { sse, type Loopback } from './servers/loopback.js'
import { ask, wires } from './wires.js'

/**
 * Regression for "a stream that breaks before its first token is not retried": the README promises
 * retries, yet a stream that dropped, ended early or reported an overload before any text made one
 * request and failed. Now it is retried (same backoff and `maxRetries` as an HTTP error) as long as
 * nothing has reached `onToken`; after that a retry would deliver text twice, so the error is thrown
 * with its partial text, as before.
 */

describe.each(wires)('$name: retries a stream that breaks before its first token', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await w.serve()
  })
  afterAll(() => server.close())
  const fresh = () => {
    server.seen.length = 0
    server.problems.length = 0
  }
  const breaks = {
    'a dropped connection': () => sse(w.partial([]), 'drop'),
    'a stream that ends early': () => sse(w.partial([])),
    'an overload error event': () => sse([...w.partial([]), w.streamError('Overloaded')]),
  }

  for (const [what, broken] of Object.entries(breaks))
    it(`${what} before any text: the second request succeeds and onToken sees the text once`, async () => {
      fresh()
      server.queue(broken(), sse(w.stream(['Hello', ', world'])))
      const tokens: string[] = []
      const r = await w.make(server.url).chat(ask({ onToken: (t) => tokens.push(t) }))
      expect(server.problems).toEqual([])
      expect(server.seen).toHaveLength(2)
      expect(tokens).toEqual(['Hello', ', world'])
      expect(r.text).toBe('Hello, world')
      expect(r.finishReason).toBe('stop')
    })

  for (const [what, broken] of Object.entries(breaks))
    it(`${what} before any text, every time: maxRetries + 1 requests, then the retryable error`, async () => {
      fresh()
      server.queue(broken(), broken())
      const err = await w
        .make(server.url, { maxRetries: 1 })
        .chat(ask({ onToken: () => {} }))
        .catch((e) => e)
      expect(err).toBeInstanceOf(ProviderError)
      expect(err.retryable).toBe(true)
      expect(err.partial).toMatchObject({ text: '', finishReason: 'error' })
      expect(server.seen).toHaveLength(2)
    })

  it('tool-call fragments alone are not text: a stream that breaks after them is retried from scratch', async () => {
    fresh()
    server.queue(sse([...w.partial([]), ...w.tool(1, 'call_a', 'lookup', w.name === 'gemini' ? { q: 1 } : '{"q":1}')], 'drop'), sse(w.stream(['fine'])))
    const r = await w.make(server.url).chat(ask({ onToken: () => {} }))
    expect(server.seen).toHaveLength(2)
    expect(r.text).toBe('fine')
    expect(r.toolCalls).toEqual([])
  })

  for (const [what, broken] of Object.entries({
    'a dropped connection': () => sse(w.partial(['one ', 'two']), 'drop'),
    'a stream that ends early': () => sse(w.partial(['one ', 'two'])),
    'an overload error event': () => sse([...w.partial(['one ', 'two']), w.streamError('Overloaded')]),
  }))
    it(`${what} after text: exactly one request, the partial text and usage kept, no text twice`, async () => {
      fresh()
      server.queue(broken(), sse(w.stream(['never', 'sent'])))
      const tokens: string[] = []
      const err = await w
        .make(server.url)
        .chat(ask({ onToken: (t) => tokens.push(t) }))
        .catch((e) => e)
      expect(err).toBeInstanceOf(ProviderError)
      expect(err.retryable).toBe(true)
      expect(tokens).toEqual(['one ', 'two'])
      expect(err.partial).toMatchObject({ text: 'one two', finishReason: 'error', usage: { estimated: true } })
      expect(err.partial.usage.outputTokens).toBeGreaterThan(0)
      expect(server.seen).toHaveLength(1)
      // The step not taken stays queued: take it, so the next test starts clean.
      await w.make(server.url).chat(ask({ onToken: () => {} }))
    })

  it('an error that is not retryable (a line that is not JSON) before any text: one request', async () => {
    fresh()
    server.queue(sse([...w.partial([]), 'data: {not json\n\n']), sse(w.stream(['unused'])))
    const err = await w.make(server.url).chat(ask({ onToken: () => {} })).catch((e) => e)
    expect(err).toMatchObject({ retryable: false })
    expect(err.message).toContain('invalid JSON')
    expect(server.seen).toHaveLength(1)
    await w.make(server.url).chat(ask({ onToken: () => {} }))
  })
})
