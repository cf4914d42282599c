import { describe, expect, it } from 'vitest'
import { ContextError, ValidationError } from '../../src/errors.js'
import type { ChatRequest } from '../../src/llm/types.js'
import { AbortedError, isContextWindowError, ProviderError } from '../../src/providers/kernel/errors.js'
import { mockProvider, type MockFaultKind } from '../../src/test/index.js'

// The provider contract played from a script, called directly: what `openai()` returns, without HTTP.
const ask = (content = 'hi', extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'm-1', messages: [{ role: 'user', content }], ...extra })

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

/** `e`'s fields named in `expected`, for toEqual: toMatchObject cannot say "absent or undefined". */
const pick = (e: any, expected: object) => Object.fromEntries(Object.keys(expected).map((k) => [k, e?.[k]]))

/** A stream's deltas, and the request that collects them. */
function streamed(extra: Partial<ChatRequest> = {}) {
  const deltas: string[] = []
  return { deltas, request: ask('hi', { onToken: (d) => void deltas.push(d), ...extra }) }
}

describe('mockProvider: replies', () => {
  it('answers a string with the ChatResponse a provider returns: the text, stop, estimated usage, the model asked for', async () => {
    const mock = mockProvider({ replies: ['Paris'] })
    expect(mock.name).toBe('mock')
    expect(await mock.chat(ask('Capital of France? Answer in one word.'))).toEqual({
      message: { role: 'assistant', content: 'Paris' },
      text: 'Paris',
      toolCalls: [],
      finishReason: 'stop',
      // (38 characters + 16 of framing) / 4 = 13.5 → 14 in; 5 / 4 → 2 out: the providers' own estimate.
      usage: { inputTokens: 14, outputTokens: 2, estimated: true },
      model: 'm-1',
      provider: 'mock',
    })
  })

  it('plays the script in order and records each request as plain JSON, counting what is left', async () => {
    const mock = mockProvider({ name: 'openai', replies: ['one', 'two', 'three'] })
    expect([mock.pending, mock.lastRequest]).toEqual([3, undefined])
    expect((await mock.chat(ask('a'))).text).toBe('one')
    expect((await mock.chat(ask('b', { temperature: 0.2 }))).text).toBe('two')
    expect(mock.pending).toBe(1)
    expect(mock.calls).toEqual([
      { model: 'm-1', messages: [{ role: 'user', content: 'a' }], stream: false },
      { model: 'm-1', messages: [{ role: 'user', content: 'b' }], temperature: 0.2, stream: false },
    ])
    expect(mock.lastRequest).toBe(mock.calls[1])
    expect(() => mock.assertDone()).toThrow(/1 of 3 scripted replies unused \(from replies\[2\]\): the code made 2 calls/)
    await mock.chat(ask())
    expect(mock.pending).toBe(0)
    mock.assertDone()
  })

  it('records what was sent then: a history changed after the call does not change the record', async () => {
    const mock = mockProvider({ replies: ['ok'] })
    const request = ask('before')
    await mock.chat(request)
    ;(request.messages[0] as { content: string }).content = 'after'
    expect(mock.calls[0]!.messages).toEqual([{ role: 'user', content: 'before' }])
  })

  it('never records the API key, the signal or the callback (the reply function sees the whole request)', async () => {
    const key = 'sk-test-0123456789abcdef'
    let seen: string | undefined
    const mock = mockProvider({ replies: [(request) => ((seen = request.apiKey), 'ok')] })
    await mock.chat(ask('hi', { apiKey: key, signal: new AbortController().signal, onToken: () => {} }))
    expect(seen).toBe(key)
    expect(mock.calls[0]).toEqual({ model: 'm-1', messages: [{ role: 'user', content: 'hi' }], stream: true })
    expect(JSON.stringify(mock.calls)).not.toContain('sk-test')
  })

  it('names the call past the end of the script, and records it', async () => {
    const mock = mockProvider({ replies: ['only'] })
    await mock.chat(ask())
    const e = await rejection(mock.chat(ask()))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e).toMatchObject({ code: 'invalid_argument', path: 'replies', message: 'replies: call 2 has no reply: the script has 1' })
    expect(mock.calls).toHaveLength(2)
  })

  it('an empty script (the default) fails every call: a test that no model is called', async () => {
    const mock = mockProvider()
    expect(mock.pending).toBe(0)
    mock.assertDone()
    await expect(mock.chat(ask())).rejects.toThrow('replies: call 1 has no reply: the script has 0')
  })

  it('a function script answers every call from the request and the call index, async or not', async () => {
    const mock = mockProvider({ replies: async (request, i) => `#${i}: ${request.messages.length} messages` })
    expect((await mock.chat(ask())).text).toBe('#0: 1 messages')
    expect((await mock.chat(ask())).text).toBe('#1: 1 messages')
    expect(mock.pending).toBe(0)
    mock.assertDone()
  })

  it('a function inside the script answers its own call only', async () => {
    const mock = mockProvider({ replies: ['first', (request, i) => ({ text: `${i}:${request.model}` }), 'third'] })
    const texts = []
    for (let i = 0; i < 3; i++) texts.push((await mock.chat(ask())).text)
    expect(texts).toEqual(['first', '1:m-1', 'third'])
  })

  it('scripted usage, finish reason and model are returned as given; usage given whole is not marked estimated', async () => {
    const mock = mockProvider({
      replies: [
        { text: 'x', usage: { inputTokens: 42, outputTokens: 2 }, finishReason: 'length', model: 'm-1-2026-01-01' },
        { text: 'y', usage: { inputTokens: 7 } },
      ],
    })
    expect(await mock.chat(ask())).toMatchObject({ usage: { inputTokens: 42, outputTokens: 2 }, finishReason: 'length', model: 'm-1-2026-01-01' })
    expect((await mock.chat(ask())).usage).toEqual({ inputTokens: 7, outputTokens: 1, estimated: true })
    await expect(mockProvider({ replies: [{ usage: { inputTokens: 1, outputTokens: 0 } }] }).chat(ask())).resolves.not.toHaveProperty('usage.estimated')
  })

  it('`models`: a model it does not serve is the 404 a server answers, and uses no reply', async () => {
    const mock = mockProvider({ models: ['m-1'], replies: ['ok'] })
    const e = await rejection(mock.chat(ask('hi', { model: 'm-2' })))
    expect(e).toBeInstanceOf(ProviderError)
    expect(e).toMatchObject({ status: 404, providerCode: 'model_not_found', retryable: false, message: 'mock: HTTP 404: The model `m-2` does not exist' })
    expect(mock.pending).toBe(1)
    expect((await mock.chat(ask())).text).toBe('ok')
  })

  it('refuses a request without a model or messages, as the providers do', async () => {
    await expect(mockProvider({ replies: ['x'] }).chat({ model: '', messages: [] })).rejects.toMatchObject({ path: 'request' })
  })
})

describe('mockProvider: tool calls', () => {
  it('returns the scripted calls with ids call_1, call_2… across calls, in the message too; finishReason tool_calls', async () => {
    const mock = mockProvider({
      replies: [
        { toolCalls: [{ name: 'weather', arguments: { city: 'Paris' } }, { name: 'time' }] },
        { text: 'Checking.', toolCalls: [{ id: 'mine', name: 'weather', arguments: '{"city": "Par' }] },
      ],
    })
    const first = await mock.chat(ask())
    expect(first.toolCalls).toEqual([
      { id: 'call_1', name: 'weather', arguments: { city: 'Paris' } },
      { id: 'call_2', name: 'time', arguments: {} },
    ])
    expect(first.message).toEqual({ role: 'assistant', content: '', toolCalls: first.toolCalls })
    expect(first.finishReason).toBe('tool_calls')
    const second = await mock.chat(ask())
    // A string is arguments that are not valid JSON, as a model sometimes writes them.
    expect(second.toolCalls).toEqual([{ id: 'mine', name: 'weather', arguments: '{"city": "Par' }])
    expect(second.text).toBe('Checking.')
  })

  it("copies the script's arguments: changing the object after mockProvider() changes nothing", async () => {
    const args = { city: 'Paris' }
    const mock = mockProvider({ replies: [{ toolCalls: [{ name: 'weather', arguments: args }] }] })
    args.city = 'Lyon'
    const { toolCalls } = await mock.chat(ask())
    expect(toolCalls[0]!.arguments).toEqual({ city: 'Paris' })
    expect(toolCalls[0]!.arguments).not.toBe(args)
  })
})

describe('mockProvider: streaming', () => {
  it('streams the text word by word to onToken, spaces kept', async () => {
    const { deltas, request } = streamed()
    const r = await mockProvider({ replies: ['Hello there,  world! '] }).chat(request)
    expect(deltas).toEqual(['Hello ', 'there,  ', 'world! '])
    expect(r.text).toBe('Hello there,  world! ')
  })

  it('streams scripted chunks as given; the text is their join', async () => {
    const { deltas, request } = streamed()
    const r = await mockProvider({ replies: [{ chunks: ['Pa', 'r', 'is'] }] }).chat(request)
    expect([deltas, r.text]).toEqual([['Pa', 'r', 'is'], 'Paris'])
  })

  it('waits delayMs before each chunk, and before a whole answer when not streaming', async () => {
    const { deltas, request } = streamed()
    const times: number[] = []
    const start = performance.now()
    const mock = mockProvider({ replies: [{ chunks: ['a', 'b', 'c'], delayMs: 30 }, { text: 'x', delayMs: 30 }] })
    await mock.chat({ ...request, onToken: (d) => (deltas.push(d), times.push(performance.now() - start)) })
    expect(deltas).toEqual(['a', 'b', 'c'])
    // Timers may fire a millisecond early.
    expect(times[0]).toBeGreaterThanOrEqual(28)
    expect(times[2]).toBeGreaterThanOrEqual(88)
    const t = performance.now()
    await mock.chat(ask())
    expect(performance.now() - t).toBeGreaterThanOrEqual(28)
  })

  it('an error thrown by onToken passes through, as with the providers', async () => {
    const boom = new Error('reader failed')
    const e = await rejection(mockProvider({ replies: ['a b c'] }).chat(ask('hi', { onToken: () => { throw boom } })))
    expect(e).toBe(boom)
  })
})

describe('mockProvider: faults', () => {
  const kinds: [MockFaultKind, number | undefined, string | undefined, boolean, string][] = [
    ['rate_limit', 429, 'rate_limit_exceeded', true, 'openai: HTTP 429: Rate limit reached'],
    ['server', 500, 'server_error', true, 'openai: HTTP 500: The server had an error while processing your request'],
    ['overloaded', 529, 'overloaded_error', true, 'openai: HTTP 529: Overloaded'],
    ['context_window', 400, 'context_length_exceeded', false, "openai: HTTP 400: This model's maximum context length is 8192 tokens"],
    ['network', undefined, undefined, true, 'openai: network error: fetch failed'],
    ['auth', 401, 'invalid_api_key', false, 'openai: HTTP 401: Incorrect API key provided'],
  ]
  it.each(kinds)('%s: the ProviderError a provider throws (status %s, %s, retryable %s)', async (kind, status, providerCode, retryable, message) => {
    const e = await rejection(mockProvider({ name: 'openai', replies: [{ error: kind }] }).chat(ask()))
    expect(e).toBeInstanceOf(ProviderError)
    expect(e).toBeInstanceOf(ContextError)
    const want = { code: 'provider', provider: 'openai', status, providerCode, retryable, message, partial: undefined }
    expect(pick(e, want)).toEqual(want)
    expect(isContextWindowError(e)).toBe(kind === 'context_window')
  })

  it('status, retryable and message override the kind; a fresh error each call', async () => {
    const mock = mockProvider({ replies: [{ error: 'server', status: 503, retryable: false, message: 'maintenance' }, { error: 'server' }] })
    const a = await rejection(mock.chat(ask()))
    expect(a).toMatchObject({ status: 503, retryable: false, message: 'mock: HTTP 503: maintenance' })
    expect(await rejection(mock.chat(ask()))).not.toBe(a)
  })

  it('throws an Error given as it is', async () => {
    const mine = new TypeError('my own failure')
    expect(await rejection(mockProvider({ replies: [{ error: mine }] }).chat(ask()))).toBe(mine)
  })

  it('breakAfter while streaming: the chunks before, then a retryable ProviderError keeping them in partial', async () => {
    const { deltas, request } = streamed()
    const e = await rejection(mockProvider({ replies: [{ chunks: ['Hel', 'lo', '!'], breakAfter: 2 }] }).chat(request))
    expect(deltas).toEqual(['Hel', 'lo'])
    expect(e).toBeInstanceOf(ProviderError)
    expect(pick(e, { retryable: 0, status: 0, message: 0 })).toEqual({ retryable: true, status: undefined, message: 'mock: connection lost mid-stream' })
    expect(e.partial).toMatchObject({ text: 'Hello', finishReason: 'error', toolCalls: [], usage: { outputTokens: 2, estimated: true } })
  })

  it('breakAfter without streaming: the same error, with no partial (nothing was read)', async () => {
    const e = await rejection(mockProvider({ replies: [{ text: 'Hello', breakAfter: 0 }] }).chat(ask()))
    expect(e).toBeInstanceOf(ProviderError)
    expect(pick(e, { retryable: 0, partial: 0 })).toEqual({ retryable: true, partial: undefined })
  })
})

describe('mockProvider: aborts', () => {
  it('hang: streams its text, then waits for the abort and throws AbortedError with the partial', async () => {
    const controller = new AbortController()
    const { deltas, request } = streamed({ signal: controller.signal })
    const call = mockProvider({ replies: [{ text: 'Par', hang: true }] }).chat(request)
    await new Promise((r) => setTimeout(r, 20))
    expect(deltas).toEqual(['Par'])
    controller.abort(new Error('user left'))
    const e = await rejection(call)
    expect(e).toBeInstanceOf(AbortedError)
    expect(e).toMatchObject({ code: 'aborted', message: 'mock: aborted', signalReason: new Error('user left') })
    expect(e.partial).toMatchObject({ text: 'Par', finishReason: 'aborted', usage: { estimated: true } })
  })

  it('a timeout signal is an AbortedError with code timeout', async () => {
    const e = await rejection(mockProvider({ replies: [{ hang: true }] }).chat(ask('hi', { signal: AbortSignal.timeout(10) })))
    expect(pick(e, { name: 0, code: 0, partial: 0 })).toEqual({ name: 'AbortedError', code: 'timeout', partial: undefined })
  })

  it('an abort from inside onToken stops the stream at that chunk', async () => {
    const controller = new AbortController()
    const deltas: string[] = []
    const onToken = (d: string) => (deltas.push(d), deltas.length === 2 && controller.abort())
    const e = await rejection(mockProvider({ replies: ['one two three four'] }).chat(ask('hi', { onToken, signal: controller.signal })))
    expect(deltas).toEqual(['one ', 'two '])
    expect(e).toBeInstanceOf(AbortedError)
    expect(e.partial.text).toBe('one two ')
  })

  it('an abort during delayMs (not streaming) is an AbortedError without partial; the timer is cleared', async () => {
    const controller = new AbortController()
    const call = mockProvider({ replies: [{ text: 'late', delayMs: 60_000 }] }).chat(ask('hi', { signal: controller.signal }))
    controller.abort()
    const e = await rejection(call)
    expect(pick(e, { name: 0, partial: 0 })).toEqual({ name: 'AbortedError', partial: undefined })
  })

  it('an already aborted signal fails at once, records the call and uses no reply', async () => {
    const mock = mockProvider({ replies: ['unused'] })
    const e = await rejection(mock.chat(ask('hi', { signal: AbortSignal.abort() })))
    expect(e).toBeInstanceOf(AbortedError)
    expect([mock.calls.length, mock.pending]).toEqual([1, 1])
  })

  it('regression: the path of a reply is its place in the script, not the call number (a refused call uses no reply)', async () => {
    const mock = mockProvider({ models: ['m-1'], replies: [{ hang: true }] })
    await expect(mock.chat(ask('hi', { model: 'other' }))).rejects.toMatchObject({ status: 404 })
    await expect(mock.chat(ask())).rejects.toMatchObject({ path: 'replies[0].hang', message: expect.stringContaining('call 2 hangs') })
  })

  it('hang without a signal would wait forever: a ValidationError naming the reply instead', async () => {
    const e = await rejection(mockProvider({ replies: [{ hang: true }] }).chat(ask()))
    expect(e).toMatchObject({ name: 'ValidationError', path: 'replies[0].hang', message: 'replies[0].hang: call 1 hangs until aborted, but its request has no signal' })
  })
})
