import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChatRequest } from '../../src/llm/types.js'
import { openai } from '../../src/providers/openai.js'
import { KEY, data, json, sse, type Loopback } from './servers/loopback.js'
import { completion, completionChunks, openaiError, openaiServer, partialChunks } from './servers/openai.js'
import { providerSuite, rejection, type Driver } from './suite.js'

const driver: Driver = {
  name: 'openai',
  model: 'gpt-test',
  serve: openaiServer,
  make: (server, options = {}) => openai({ baseURL: `${server.url}/v1`, apiKey: KEY, retryDelay: 1, ...options }),
  text: (text, usage) => json(completion({ content: text, usage }), 200, { 'x-request-id': 'req_test_1' }),
  stream: (deltas, usage) => completionChunks(deltas, { usage }),
  partial: partialChunks,
  streamError: (message) => data({ error: { message, type: 'server_error', param: null, code: null } }),
  error: (status, message) => {
    const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error'
    const code = status === 429 ? 'rate_limit_exceeded' : status === 401 ? 'invalid_api_key' : null
    return { body: openaiError(message, type, code), code: code ?? type }
  },
  requestIdHeader: 'x-request-id',
  keyOf: (seen) => seen.headers.authorization?.replace(/^Bearer /, ''),
  streamed: (seen) => seen.body.stream === true,
}

providerSuite(driver)

describe('openai: Chat Completions wire format', () => {
  let server: Loopback
  beforeAll(async () => {
    server = await openaiServer()
  })
  afterAll(() => server.close())
  const provider = (options = {}) => driver.make(server, options)
  const last = () => server.seen[server.seen.length - 1]!
  const tools: ChatRequest['tools'] = [
    {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
    { name: 'now' },
  ]

  it('sends the documented body: model, messages, temperature, max_completion_tokens, no stream fields', async () => {
    server.queue(json(completion({ content: 'ok' })))
    await provider().chat({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hi', name: 'ann' },
      ],
      temperature: 0.5,
      maxOutputTokens: 64,
    })
    expect(server.problems).toEqual([])
    expect(last().body).toEqual({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hi', name: 'ann' },
      ],
      temperature: 0.5,
      max_completion_tokens: 64,
    })
    expect(last().headers.authorization).toBe(`Bearer ${KEY}`)
  })

  it('maxTokensField: max_tokens for servers that only know it; organization and project headers', async () => {
    server.queue(json(completion({ content: 'ok' })))
    await provider({ maxTokensField: 'max_tokens', organization: 'org-1', project: 'proj-2' }).chat({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      maxOutputTokens: 10,
    })
    expect(last().body.max_tokens).toBe(10)
    expect(last().body.max_completion_tokens).toBeUndefined()
    expect(last().headers['openai-organization']).toBe('org-1')
    expect(last().headers['openai-project']).toBe('proj-2')
  })

  it('no apiKey (Ollama): no authorization header', async () => {
    server.queue(json(completion({ content: 'local' })))
    const r = await openai({ baseURL: `${server.url}/v1/` }).chat({ model: 'llama3', messages: [{ role: 'user', content: 'x' }] })
    expect(r.text).toBe('local')
    expect(last().headers.authorization).toBeUndefined()
    expect(server.problems).toEqual([])
  })

  it('images become image_url parts (URL as given, bytes as a data: URL)', async () => {
    server.queue(json(completion({ content: 'a cat' })))
    await provider().chat({
      model: 'm',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image', url: 'https://example.com/cat.png' },
            { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
          ],
        },
      ],
    })
    expect(server.problems).toEqual([])
    expect(last().body.messages[0].content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
    ])
  })

  it('sends tool definitions and tool_choice, and parses tool calls from a whole reply', async () => {
    server.queue(
      json(
        completion({
          toolCalls: [
            { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { id: 'call_b', name: 'now', arguments: '' },
          ],
        }),
      ),
    )
    const r = await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'Weather?' }], tools, toolChoice: 'required' })
    expect(server.problems).toEqual([])
    expect(last().body.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: tools![0]!.parameters } },
      { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } },
    ])
    expect(last().body.tool_choice).toBe('required')
    expect(r.finishReason).toBe('tool_calls')
    expect(r.text).toBe('')
    expect(r.toolCalls).toEqual([
      { id: 'call_a', name: 'get_weather', arguments: { city: 'Paris' } },
      { id: 'call_b', name: 'now', arguments: {} },
    ])
    expect(r.message).toEqual({ role: 'assistant', content: '', toolCalls: r.toolCalls })
  })

  it('a named tool choice is sent as { type: function, function: { name } }', async () => {
    server.queue(json(completion({ content: 'x' })))
    await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools, toolChoice: { name: 'now' } })
    expect(last().body.tool_choice).toEqual({ type: 'function', function: { name: 'now' } })
  })

  it('parses streamed tool calls: fragments joined by index, text deltas apart', async () => {
    server.queue(
      sse(
        completionChunks(['Let me check.'], {
          toolCalls: [
            { id: 'call_1', name: 'get_weather', arguments: '{"city":"Reykjavík"}' },
            { id: 'call_2', name: 'get_weather', arguments: '{"city":"Oslo"}' },
          ],
          usage: [40, 22],
        }),
      ),
    )
    const tokens: string[] = []
    const r = await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools, onToken: (t) => tokens.push(t) })
    expect(last().body.stream_options).toEqual({ include_usage: true })
    expect(tokens).toEqual(['Let me check.'])
    expect(r.toolCalls).toEqual([
      { id: 'call_1', name: 'get_weather', arguments: { city: 'Reykjavík' } },
      { id: 'call_2', name: 'get_weather', arguments: { city: 'Oslo' } },
    ])
    expect(r.finishReason).toBe('tool_calls')
    expect(r.usage).toEqual({ inputTokens: 40, outputTokens: 22 })
  })

  it('arguments that are not JSON are kept as the raw string, and sent back as written', async () => {
    server.queue(json(completion({ toolCalls: [{ id: 'c', name: 'now', arguments: '{oops' }] })), json(completion({ content: 'fine' })))
    const r = await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools })
    expect(r.toolCalls[0]!.arguments).toBe('{oops')
    await provider().chat({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }, r.message, { role: 'tool', toolCallId: 'c', content: 'noon' }],
    })
    expect(last().body.messages[1].tool_calls[0].function.arguments).toBe('{oops')
  })

  it('sends a history with tool calls and tool results back in the documented shape', async () => {
    server.queue(json(completion({ content: 'It is 12 °C in Paris.' })))
    const r = await provider().chat({
      model: 'm',
      tools,
      messages: [
        { role: 'user', content: 'Weather in Paris and the time?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'call_a', name: 'get_weather', arguments: { city: 'Paris' } },
            { id: 'call_b', name: 'now', arguments: {} },
          ],
        },
        { role: 'tool', toolCallId: 'call_a', content: '{"tempC":12}', name: 'get_weather' },
        { role: 'tool', toolCallId: 'call_b', content: [{ type: 'text', text: '12:00' }] },
      ],
    })
    expect(server.problems).toEqual([])
    expect(r.text).toBe('It is 12 °C in Paris.')
    expect(last().body.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_b', type: 'function', function: { name: 'now', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: '{"tempC":12}' },
      { role: 'tool', tool_call_id: 'call_b', content: '12:00' },
    ])
  })

  it('JSON mode: response_format json_object, or json_schema when a schema is given', async () => {
    server.queue(json(completion({ content: '{"a":1}' })), json(completion({ content: '{"a":1}' })), json(completion({ content: 'x' })))
    const schema = { type: 'object', properties: { a: { type: 'number' } } }
    const base = { model: 'm', messages: [{ role: 'user' as const, content: 'JSON please' }] }
    expect((await provider().chat({ ...base, responseFormat: 'json' })).text).toBe('{"a":1}')
    expect(last().body.response_format).toEqual({ type: 'json_object' })
    await provider().chat({ ...base, responseFormat: 'json', jsonSchema: schema })
    expect(last().body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema } })
    await provider().chat({ ...base, responseFormat: 'text', jsonSchema: schema })
    expect(last().body.response_format).toBeUndefined()
    expect(server.problems).toEqual([])
  })

  it('maps finish reasons and reports a refusal as text', async () => {
    server.queue(
      json(completion({ content: 'trunc', finish: 'length' })),
      json(completion({ content: 'x', finish: 'content_filter' })),
      json(completion({ content: 'x', finish: 'something_new' })),
      json({ ...completion({}), choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'I cannot.' }, finish_reason: 'stop' }] }),
    )
    const m = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }] }
    expect((await provider().chat(m)).finishReason).toBe('length')
    expect((await provider().chat(m)).finishReason).toBe('content_filter')
    expect((await provider().chat(m)).finishReason).toBe('other')
    expect((await provider().chat(m)).text).toBe('I cannot.')
  })

  it('a streamed refusal arrives as text deltas, as the whole answer reports it', async () => {
    const refusal = (refusal: string) =>
      data({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-test', choices: [{ index: 0, delta: { refusal }, finish_reason: null }] })
    server.queue(sse([refusal('I cannot'), refusal(' help.'), ...completionChunks([], {}).slice(1)]))
    const tokens: string[] = []
    const r = await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], onToken: (t) => tokens.push(t) })
    expect(tokens).toEqual(['I cannot', ' help.'])
    expect(r.text).toBe('I cannot help.')
  })

  it('a stream without a usage chunk (servers that ignore stream_options) estimates usage', async () => {
    server.queue(sse(completionChunks(['four', ' words', ' right', ' here'], { usage: null })))
    const r = await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'count' }], onToken: () => {} })
    expect(r.text).toBe('four words right here')
    expect(r.usage.estimated).toBe(true)
    expect(r.usage.outputTokens).toBe(Math.ceil('four words right here'.length / 4))
  })

  it('a stream that has its finish chunk but is cut before [DONE] is accepted', async () => {
    server.queue(sse(completionChunks(['done'], { done: false })))
    const r = await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], onToken: () => {} })
    expect(r.text).toBe('done')
    expect(r.usage).toEqual({ inputTokens: 11, outputTokens: 7 })
  })

  it('SSE comments, CRLF line endings and events split across writes are parsed', async () => {
    const frames = completionChunks(['a', 'b', 'c']).map((f) => f.replace(/\n/g, '\r\n'))
    const joined = ': keep-alive\r\n\r\n' + frames.join('')
    // Cut the stream at arbitrary byte offsets, including inside a multi-byte character.
    const body = Buffer.from(joined.replace('"c"', '"c€"'))
    const pieces = [body.subarray(0, 7), body.subarray(7, 150), body.subarray(150, body.length - 30), body.subarray(body.length - 30)]
    server.queue(async (_seen, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      for (const p of pieces) await new Promise<void>((r) => res.write(p, () => r()))
      res.end()
    })
    const tokens: string[] = []
    const r = await provider().chat({ model: 'm', messages: [{ role: 'user', content: 'x' }], onToken: (t) => tokens.push(t) })
    expect(tokens).toEqual(['a', 'b', 'c€'])
    expect(r.text).toBe('abc€')
  })

  it('a 400 in the documented error shape', async () => {
    server.queue(json(openaiError("Unsupported parameter: 'max_tokens'", 'invalid_request_error', 'unsupported_parameter'), 400, { 'x-request-id': 'req_x' }))
    const err = await rejection(() => provider().chat({ model: 'm', messages: [{ role: 'user', content: 'x' }] }))
    expect(err.message).toBe("openai: HTTP 400: Unsupported parameter: 'max_tokens'")
    expect(err).toMatchObject({ providerCode: 'unsupported_parameter', requestId: 'req_x', retryable: false })
    expect(JSON.parse(JSON.stringify(err))).toMatchObject({
      name: 'ProviderError',
      code: 'provider',
      provider: 'openai',
      status: 400,
      message: "openai: HTTP 400: Unsupported parameter: 'max_tokens'",
    })
  })
})
