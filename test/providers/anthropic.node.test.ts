import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChatRequest } from '../../src/llm/types.js'
import { anthropic } from '../../src/providers/anthropic.js'
import { anthropicError, anthropicServer, message, messageEvents, partialEvents } from './servers/anthropic.js'
import { KEY, data, json, sse, type Loopback } from './servers/loopback.js'
import { providerSuite, rejection, type Driver } from './suite.js'

const TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
}

const driver: Driver = {
  name: 'anthropic',
  model: 'claude-test',
  serve: anthropicServer,
  make: (server, options = {}) => anthropic({ baseURL: server.url, apiKey: KEY, retryDelay: 1, ...options }),
  text: (text, usage) => json(message({ text, usage }), 200, { 'request-id': 'req_test_1' }),
  stream: (deltas, usage) => messageEvents(deltas, { usage }),
  partial: (deltas) => partialEvents(deltas),
  streamError: (msg) => data(anthropicError('overloaded_error', msg), 'error'),
  error: (status, msg) => ({ body: anthropicError(TYPES[status] ?? 'api_error', msg), code: TYPES[status] ?? 'api_error' }),
  requestIdHeader: 'request-id',
  keyOf: (seen) => seen.headers['x-api-key'] as string | undefined,
  streamed: (seen) => seen.body.stream === true,
}

providerSuite(driver)

describe('anthropic: Messages API wire format', () => {
  let server: Loopback
  beforeAll(async () => {
    server = await anthropicServer()
  })
  afterAll(() => server.close())
  const provider = (options = {}) => driver.make(server, options)
  const last = () => server.seen[server.seen.length - 1]!
  const tools: ChatRequest['tools'] = [
    { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    { name: 'now' },
  ]

  it('sends the documented body: system on top, max_tokens, headers; no browser header in Node', async () => {
    server.queue(json(message({ text: 'ok' })))
    await provider().chat({
      model: 'claude-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: 'Use French.' },
        { role: 'user', content: 'Bonjour' },
      ],
      temperature: 0.3,
    })
    expect(server.problems).toEqual([])
    expect(last().body).toEqual({
      model: 'claude-test',
      max_tokens: 4096,
      system: 'Be brief.\n\nUse French.',
      messages: [{ role: 'user', content: 'Bonjour' }],
      temperature: 0.3,
    })
    expect(last().headers['x-api-key']).toBe(KEY)
    expect(last().headers['anthropic-version']).toBe('2023-06-01')
    expect(last().headers['anthropic-dangerous-direct-browser-access']).toBeUndefined()
  })

  it('maxOutputTokens wins over the maxTokens option; the browser header when asked', async () => {
    server.queue(json(message({ text: 'ok' })), json(message({ text: 'ok' })))
    const m = { model: 'c', messages: [{ role: 'user' as const, content: 'x' }] }
    await provider({ maxTokens: 1000, dangerouslyAllowBrowser: true }).chat({ ...m, maxOutputTokens: 77 })
    expect(last().body.max_tokens).toBe(77)
    expect(last().headers['anthropic-dangerous-direct-browser-access']).toBe('true')
    await provider({ maxTokens: 1000 }).chat(m)
    expect(last().body.max_tokens).toBe(1000)
  })

  it('images become image blocks: base64 source for bytes and data: URLs, url source otherwise', async () => {
    server.queue(json(message({ text: 'two cats' })))
    await provider().chat({
      model: 'c',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image', data: 'AAAA', mediaType: 'image/jpeg' },
            { type: 'image', url: 'data:image/webp;base64,BBBB' },
            { type: 'image', url: 'https://example.com/c.png' },
          ],
        },
      ],
    })
    expect(server.problems).toEqual([])
    expect(last().body.messages[0].content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/webp', data: 'BBBB' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/c.png' } },
    ])
  })

  it('sends tools with input_schema and tool_choice, parses tool_use blocks', async () => {
    server.queue(
      json(
        message({
          text: 'Checking.',
          toolUses: [
            { id: 'toolu_1', name: 'get_weather', input: { city: 'Lima' } },
            { id: 'toolu_2', name: 'now', input: {} },
          ],
        }),
      ),
    )
    const r = await provider().chat({ model: 'c', messages: [{ role: 'user', content: 'x' }], tools, toolChoice: 'required' })
    expect(server.problems).toEqual([])
    expect(last().body.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: tools![0]!.parameters },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ])
    expect(last().body.tool_choice).toEqual({ type: 'any' })
    expect(r.text).toBe('Checking.')
    expect(r.finishReason).toBe('tool_calls')
    expect(r.toolCalls).toEqual([
      { id: 'toolu_1', name: 'get_weather', arguments: { city: 'Lima' } },
      { id: 'toolu_2', name: 'now', arguments: {} },
    ])
  })

  it('maps toolChoice auto, none and a named tool', async () => {
    server.queue(json(message({ text: 'a' })), json(message({ text: 'b' })), json(message({ text: 'c' })))
    const m = { model: 'c', messages: [{ role: 'user' as const, content: 'x' }], tools }
    await provider().chat({ ...m, toolChoice: 'auto' })
    expect(last().body.tool_choice).toEqual({ type: 'auto' })
    await provider().chat({ ...m, toolChoice: 'none' })
    expect(last().body.tool_choice).toEqual({ type: 'none' })
    await provider().chat({ ...m, toolChoice: { name: 'now' } })
    expect(last().body.tool_choice).toEqual({ type: 'tool', name: 'now' })
  })

  it('parses streamed tool_use blocks (input_json_delta fragments) after a text block', async () => {
    server.queue(
      sse(
        messageEvents(['I will ', 'look.'], {
          toolUses: [
            { id: 'toolu_a', name: 'get_weather', input: { city: 'Quito', units: 'metric' } },
            { id: 'toolu_b', name: 'now', input: {} },
          ],
          usage: [50, 31],
        }),
      ),
    )
    const tokens: string[] = []
    const r = await provider().chat({ model: 'c', messages: [{ role: 'user', content: 'x' }], tools, onToken: (t) => tokens.push(t) })
    expect(tokens).toEqual(['I will ', 'look.'])
    expect(r.toolCalls).toEqual([
      { id: 'toolu_a', name: 'get_weather', arguments: { city: 'Quito', units: 'metric' } },
      { id: 'toolu_b', name: 'now', arguments: {} },
    ])
    expect(r.finishReason).toBe('tool_calls')
    expect(r.usage).toEqual({ inputTokens: 50, outputTokens: 31 })
    expect(r.model).toBe('claude-test-20250101')
  })

  it('sends tool calls as tool_use blocks and merges consecutive tool results into one user message', async () => {
    server.queue(json(message({ text: 'Lima: 18 °C at noon.' })))
    await provider().chat({
      model: 'c',
      tools,
      messages: [
        { role: 'user', content: 'Weather and time?' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [
            { id: 'toolu_1', name: 'get_weather', arguments: { city: 'Lima' } },
            { id: 'toolu_2', name: 'now', arguments: {} },
          ],
        },
        { role: 'tool', toolCallId: 'toolu_1', content: '{"tempC":18}' },
        { role: 'tool', toolCallId: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
        { role: 'user', content: 'Thanks' },
      ],
    })
    expect(server.problems).toEqual([])
    expect(last().body.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Lima' } },
          { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '{"tempC":18}' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
        ],
      },
      { role: 'user', content: 'Thanks' },
    ])
  })

  it('an assistant turn with only tool calls sends no empty text block', async () => {
    server.queue(json(message({ text: 'ok' })))
    await provider().chat({
      model: 'c',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: '', toolCalls: [{ id: 't', name: 'now', arguments: 'not json' }] },
        { role: 'tool', toolCallId: 't', content: 'noon' },
      ],
    })
    expect(server.problems).toEqual([])
    expect(last().body.messages[1].content).toEqual([{ type: 'tool_use', id: 't', name: 'now', input: {} }])
  })

  it('JSON mode: an instruction (with the schema) appended to system', async () => {
    server.queue(json(message({ text: '{"a":1}' })), json(message({ text: '{"a":1}' })))
    const schema = { type: 'object', properties: { a: { type: 'number' } } }
    const r = await provider().chat({
      model: 'c',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Give a' },
      ],
      responseFormat: 'json',
      jsonSchema: schema,
    })
    expect(r.text).toBe('{"a":1}')
    expect(last().body.system).toMatch(/^You are terse\.\n\nReply with one JSON value and nothing else/)
    expect(last().body.system).toContain(JSON.stringify(schema))
    await provider().chat({ model: 'c', messages: [{ role: 'user', content: 'Give a' }], responseFormat: 'json' })
    expect(last().body.system).toMatch(/^Reply with one JSON value/)
    expect(last().body.system).not.toContain('Schema')
  })

  it('maps stop reasons', async () => {
    const m = { model: 'c', messages: [{ role: 'user' as const, content: 'x' }] }
    for (const [stop, want] of [
      ['end_turn', 'stop'],
      ['stop_sequence', 'stop'],
      ['max_tokens', 'length'],
      ['refusal', 'content_filter'],
      ['pause_turn', 'other'],
    ]) {
      server.queue(json(message({ text: 'x', stop })))
      expect((await provider().chat(m)).finishReason).toBe(want)
    }
  })

  it('counts cache tokens as input tokens', async () => {
    server.queue(json({ ...message({ text: 'x' }), usage: { input_tokens: 5, cache_creation_input_tokens: 100, cache_read_input_tokens: 1000, output_tokens: 3 } }))
    const r = await provider().chat({ model: 'c', messages: [{ role: 'user', content: 'x' }] })
    expect(r.usage).toEqual({ inputTokens: 1105, outputTokens: 3 })
  })

  it('a mid-stream error event keeps the input tokens of message_start and estimates the output', async () => {
    server.queue(sse([...partialEvents(['Some text here'], 321), data(anthropicError('overloaded_error', 'Overloaded'), 'error')]))
    const err = await rejection(() => provider().chat({ model: 'c', messages: [{ role: 'user', content: 'x' }], onToken: () => {} }))
    expect(err).toMatchObject({ providerCode: 'overloaded_error', retryable: true })
    expect(err.message).toBe('anthropic: stream error: Overloaded')
    expect(err.partial.usage).toEqual({ inputTokens: 321, outputTokens: Math.ceil('Some text here'.length / 4), estimated: true })
  })

  it('a 529 overloaded_error is retried', async () => {
    server.queue(json(anthropicError('overloaded_error', 'Overloaded'), 529), json(message({ text: 'back' })))
    expect((await provider().chat({ model: 'c', messages: [{ role: 'user', content: 'x' }] })).text).toBe('back')
  })
})
