import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChatRequest, ChatResponse } from '../../src/llm/types.js'
import { isContextWindowError } from '../../src/providers/kernel/errors.js'
import { anthropic } from '../../src/providers/anthropic.js'
import { openai } from '../../src/providers/openai.js'
import { mockProvider, type MockReply } from '../../src/test/index.js'
import { json, KEY, loopback, sse, type Loopback, type Step } from '../providers/servers/loopback.js'
import { anthropicError, checkAnthropic, message } from '../providers/servers/anthropic.js'
import { checkOpenAI, completion, completionChunks, openaiError, partialChunks } from '../providers/servers/openai.js'

// A mock is only worth its script if code sees from it what it will see from the real provider. Each
// case here scripts the mock and a loopback Chat Completions server (the one the provider tests
// use, which checks every request against the API reference) with the same answer, then asks the same
// request of `mockProvider({ name: 'openai' })` and of the real `openai()`: the responses, deltas
// and errors must agree field by field.
let server: Loopback
beforeAll(async () => {
  server = await loopback(checkOpenAI)
})
afterAll(() => server?.close())

const request = (extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Capital of France?' },
  ],
  ...extra,
})

/** What one provider gave: the response or the error, and the deltas streamed. */
async function outcome(provider: { chat(r: ChatRequest): Promise<ChatResponse> }, extra: Partial<ChatRequest> = {}, abortAfter?: number) {
  const deltas: string[] = []
  const controller = new AbortController()
  const stream = extra.onToken !== undefined || abortAfter !== undefined
  const onToken = (d: string) => (deltas.push(d), deltas.length === abortAfter && controller.abort())
  try {
    const response = await provider.chat(request({ ...extra, signal: controller.signal, ...(stream && { onToken }) }))
    return { response, deltas }
  } catch (e: any) {
    const error = { name: e.name, code: e.code, message: e.message, status: e.status, providerCode: e.providerCode, retryable: e.retryable, partial: e.partial, contextWindow: isContextWindowError(e) }
    return { error, deltas }
  }
}

/** The mock's and the real provider's outcomes for one answer each. */
async function both(reply: MockReply, step: Step, extra: Partial<ChatRequest> = {}, abortAfter?: number) {
  server.queue(step)
  const real = await outcome(openai({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 }), extra, abortAfter)
  const mock = await outcome(mockProvider({ name: 'openai', replies: [reply] }), extra, abortAfter)
  expect(server.problems).toEqual([])
  return { real, mock }
}

const MODEL = { model: 'gpt-4o-mini' }
/** The model the loopback server's stream chunks name. */
const DATED = 'gpt-test-2025-01-01'

describe('mockProvider({ name: "openai" }) answers as openai() over HTTP does', () => {
  it('a text, whole', async () => {
    const { real, mock } = await both({ text: 'Paris', usage: { inputTokens: 42, outputTokens: 2 } }, json(completion({ content: 'Paris', usage: [42, 2], ...MODEL })))
    expect(mock).toEqual(real)
  })

  it('a text, streamed: the same deltas and the same response', async () => {
    const { real, mock } = await both(
      // The stream's chunks name the server's dated model: scripted as `model`.
      { chunks: ['Par', 'is'], usage: { inputTokens: 42, outputTokens: 2 }, model: DATED },
      sse(completionChunks(['Par', 'is'], { usage: [42, 2] })),
      { onToken: () => {} },
    )
    expect(real.deltas).toEqual(['Par', 'is'])
    expect(mock).toEqual(real)
  })

  it('usage not reported: both estimate it the same way and say so', async () => {
    const { real, mock } = await both({ chunks: ['Par', 'is'], model: DATED }, sse(completionChunks(['Par', 'is'], { usage: null })), { onToken: () => {} })
    expect(mock).toEqual(real)
    expect(mock.response!.usage.estimated).toBe(true)
  })

  it('a tool call: the same calls, message and finish reason', async () => {
    const { real, mock } = await both(
      { toolCalls: [{ name: 'weather', arguments: { city: 'Paris' } }], usage: { inputTokens: 42, outputTokens: 9 } },
      json(completion({ toolCalls: [{ id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' }], usage: [42, 9], ...MODEL })),
    )
    expect(mock).toEqual(real)
    expect(mock.response!.finishReason).toBe('tool_calls')
  })

  it('a stream that breaks after a delta: the same error, retryable, with the same partial', async () => {
    const { real, mock } = await both({ chunks: ['Hel', 'lo'], breakAfter: 1, model: DATED }, sse(partialChunks(['Hel']), 'drop'), { onToken: () => {} })
    expect(real.error).toMatchObject({ name: 'ProviderError', retryable: true })
    expect(mock).toEqual(real)
  })

  it('an abort mid-stream: the same AbortedError, with the same partial', async () => {
    const { real, mock } = await both({ text: 'Once ', hang: true, model: DATED }, sse(partialChunks(['Once ']), 'hold'), {}, 1)
    expect(real.error).toMatchObject({ name: 'AbortedError', code: 'aborted', message: 'openai: aborted' })
    expect(mock).toEqual(real)
  })

  const faults: [string, MockReply, Step][] = [
    ['rate_limit', { error: 'rate_limit', message: 'Rate limit reached' }, json(openaiError('Rate limit reached', 'requests', 'rate_limit_exceeded'), 429)],
    ['server', { error: 'server', message: 'The server had an error' }, json(openaiError('The server had an error', 'server_error', 'server_error'), 500)],
    [
      'context_window',
      { error: 'context_window', message: "This model's maximum context length is 8192 tokens" },
      json(openaiError("This model's maximum context length is 8192 tokens", 'invalid_request_error', 'context_length_exceeded'), 400),
    ],
    ['auth', { error: 'auth', message: 'Incorrect API key provided' }, json(openaiError('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key'), 401)],
  ]
  it.each(faults)('the %s fault: the same ProviderError (status, code, retryable, message, isContextWindowError)', async (_, reply, step) => {
    const { real, mock } = await both(reply, step)
    expect(real.error).toMatchObject({ name: 'ProviderError' })
    expect(mock).toEqual(real)
  })

  it('the network fault: the error openai() throws when nothing listens', async () => {
    const closed = await loopback(() => [])
    await closed.close()
    const real = await outcome(openai({ apiKey: KEY, baseURL: `${closed.url}/v1`, maxRetries: 0 }))
    const mock = await outcome(mockProvider({ name: 'openai', replies: [{ error: 'network' }] }))
    expect(real.error).toMatchObject({ name: 'ProviderError', status: undefined, retryable: true })
    expect(mock).toEqual(real)
  })
})

describe('mockProvider({ name: "anthropic" }) answers as anthropic() over HTTP does', () => {
  let claude: Loopback
  beforeAll(async () => {
    claude = await loopback(checkAnthropic)
  })
  afterAll(() => claude?.close())
  const ask = { model: 'claude-haiku-4-5', messages: [{ role: 'user' as const, content: 'Hi' }] }
  const real = () => anthropic({ apiKey: KEY, baseURL: claude.url, maxRetries: 0 })

  it('a text', async () => {
    claude.queue(json(message({ text: 'Hello', usage: [12, 1], model: 'claude-haiku-4-5' })))
    const r = await real().chat(ask)
    expect(await mockProvider({ name: 'anthropic', replies: [{ text: 'Hello', usage: { inputTokens: 12, outputTokens: 1 } }] }).chat(ask)).toEqual(r)
    expect(claude.problems).toEqual([])
  })

  it('the overloaded fault: HTTP 529 overloaded_error, retryable', async () => {
    claude.queue(json(anthropicError('overloaded_error', 'Overloaded'), 529))
    const fields = (e: any) => ({ name: e.name, message: e.message, status: e.status, providerCode: e.providerCode, retryable: e.retryable })
    const r = await real().chat(ask).catch(fields)
    expect(r).toMatchObject({ status: 529, retryable: true })
    expect(await mockProvider({ name: 'anthropic', replies: [{ error: 'overloaded' }] }).chat(ask).catch(fields)).toEqual(r)
    expect(claude.problems).toEqual([])
  })
})
