import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChatRequest } from '../../src/llm/types.js'
import { gemini } from '../../src/providers/gemini.js'
import { generateChunks, generateResponse, geminiError, geminiServer } from './servers/gemini.js'
import { KEY, json, sse, type Loopback } from './servers/loopback.js'
import { providerSuite, rejection, type Driver } from './suite.js'

const STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
}

const driver: Driver = {
  name: 'gemini',
  model: 'gemini-test',
  serve: geminiServer,
  make: (server, options = {}) => gemini({ baseURL: `${server.url}/v1beta`, apiKey: KEY, retryDelay: 1, ...options }),
  text: (text, usage) => json(generateResponse({ text, usage })),
  stream: (deltas, usage) => generateChunks(deltas, { usage }),
  partial: (deltas) => generateChunks(deltas, { finish: null }),
  streamError: (message) => `data: ${JSON.stringify(geminiError(503, message, 'UNAVAILABLE'))}\r\n\r\n`,
  error: (status, message) => ({ body: geminiError(status, message, STATUS[status] ?? 'UNKNOWN'), code: STATUS[status] ?? 'UNKNOWN' }),
  keyOf: (seen) => seen.headers['x-goog-api-key'] as string | undefined,
  streamed: (seen) => seen.path.endsWith(':streamGenerateContent'),
}

providerSuite(driver)

describe('gemini: Generative Language API wire format', () => {
  let server: Loopback
  beforeAll(async () => {
    server = await geminiServer()
  })
  afterAll(() => server.close())
  const provider = (options = {}) => driver.make(server, options)
  const last = () => server.seen[server.seen.length - 1]!
  const tools: ChatRequest['tools'] = [
    { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
    { name: 'now' },
  ]

  it('sends the documented body: contents, systemInstruction, generationConfig; key only in the header', async () => {
    server.queue(json(generateResponse({ text: 'ok' })))
    await provider().chat({
      model: 'models/gemini-test',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello!' },
        { role: 'user', content: [{ type: 'text', text: 'Again' }] },
      ],
      temperature: 0.1,
      maxOutputTokens: 99,
    })
    expect(server.problems).toEqual([])
    expect(last().path).toBe('/v1beta/models/gemini-test:generateContent')
    expect([...last().query.keys()]).toEqual([])
    expect(last().headers['x-goog-api-key']).toBe(KEY)
    expect(last().body).toEqual({
      contents: [
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'model', parts: [{ text: 'Hello!' }] },
        { role: 'user', parts: [{ text: 'Again' }] },
      ],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { temperature: 0.1, maxOutputTokens: 99 },
    })
  })

  it('streams from :streamGenerateContent?alt=sse', async () => {
    server.queue(sse(generateChunks(['a', 'b'])))
    await provider().chat({ model: 'gemini-test', messages: [{ role: 'user', content: 'x' }], onToken: () => {} })
    expect(last().path).toBe('/v1beta/models/gemini-test:streamGenerateContent')
    expect(last().query.get('alt')).toBe('sse')
  })

  it('images become inlineData (bytes, data: URLs) or fileData (other URLs)', async () => {
    server.queue(json(generateResponse({ text: 'cats' })))
    await provider().chat({
      model: 'g',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', data: 'AAAA', mediaType: 'image/png' },
            { type: 'image', url: 'data:image/jpeg;base64,BBBB' },
            { type: 'image', url: 'https://generativelanguage.googleapis.com/v1beta/files/abc', mediaType: 'image/png' },
          ],
        },
      ],
    })
    expect(server.problems).toEqual([])
    expect(last().body.contents[0].parts).toEqual([
      { inlineData: { mimeType: 'image/png', data: 'AAAA' } },
      { inlineData: { mimeType: 'image/jpeg', data: 'BBBB' } },
      { fileData: { mimeType: 'image/png', fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc' } },
    ])
  })

  it('sends functionDeclarations with parametersJsonSchema and toolConfig; synthesizes stable call ids', async () => {
    server.queue(
      json(
        generateResponse({
          calls: [
            { name: 'get_weather', args: { city: 'Accra' } },
            { name: 'get_weather', args: { city: 'Lagos' } },
          ],
        }),
      ),
    )
    const r = await provider().chat({ model: 'g', messages: [{ role: 'user', content: 'x' }], tools, toolChoice: { name: 'get_weather' } })
    expect(server.problems).toEqual([])
    expect(last().body.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_weather', description: 'Weather for a city', parametersJsonSchema: tools![0]!.parameters },
          { name: 'now' },
        ],
      },
    ])
    expect(last().body.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } })
    expect(r.finishReason).toBe('tool_calls')
    expect(r.toolCalls).toEqual([
      { id: 'call_0_get_weather', name: 'get_weather', arguments: { city: 'Accra' } },
      { id: 'call_1_get_weather', name: 'get_weather', arguments: { city: 'Lagos' } },
    ])
  })

  it('maps toolChoice auto, none and required to AUTO, NONE and ANY', async () => {
    const m = { model: 'g', messages: [{ role: 'user' as const, content: 'x' }], tools }
    for (const [choice, mode] of [
      ['auto', 'AUTO'],
      ['none', 'NONE'],
      ['required', 'ANY'],
    ] as const) {
      server.queue(json(generateResponse({ text: 'x' })))
      await provider().chat({ ...m, toolChoice: choice })
      expect(last().body.toolConfig).toEqual({ functionCallingConfig: { mode } })
    }
  })

  it('parses streamed function calls, and carries a thoughtSignature back with its call', async () => {
    server.queue(
      sse(generateChunks(['Checking'], { calls: [{ name: 'now', args: {}, thoughtSignature: 'c2lnbmF0dXJl+/=' }], usage: [60, 12] })),
      json(generateResponse({ text: 'It is noon.' })),
    )
    const history: ChatRequest['messages'] = [{ role: 'user', content: 'Time?' }]
    const r = await provider().chat({ model: 'g', messages: history, tools, onToken: () => {} })
    expect(r.text).toBe('Checking')
    expect(r.toolCalls).toEqual([{ id: 'call_0_now~c2lnbmF0dXJl+/=', name: 'now', arguments: {} }])
    expect(r.usage).toEqual({ inputTokens: 60, outputTokens: 12 })
    await provider().chat({
      model: 'g',
      tools,
      messages: [...history, r.message, { role: 'tool', toolCallId: r.toolCalls[0]!.id, content: '12:00' }],
    })
    expect(server.problems).toEqual([])
    expect(last().body.contents.slice(1)).toEqual([
      { role: 'model', parts: [{ text: 'Checking' }, { functionCall: { name: 'now', args: {} }, thoughtSignature: 'c2lnbmF0dXJl+/=' }] },
      { role: 'user', parts: [{ functionResponse: { name: 'now', response: { output: '12:00' } } }] },
    ])
  })

  it('maps tool results to functionResponse parts by name, in order, merged into one user turn', async () => {
    server.queue(json(generateResponse({ text: 'Done.' })))
    await provider().chat({
      model: 'g',
      tools,
      messages: [
        { role: 'user', content: 'Weather in two cities' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'call_0_get_weather', name: 'get_weather', arguments: { city: 'Accra' } },
            { id: 'openai_style_id', name: 'now', arguments: {} },
          ],
        },
        { role: 'tool', toolCallId: 'call_0_get_weather', content: '{"tempC":31}' },
        { role: 'tool', toolCallId: 'openai_style_id', content: '[1,2]' },
      ],
    })
    expect(server.problems).toEqual([])
    expect(last().body.contents.slice(1)).toEqual([
      {
        role: 'model',
        parts: [{ functionCall: { name: 'get_weather', args: { city: 'Accra' } } }, { functionCall: { name: 'now', args: {} } }],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { tempC: 31 } } },
          { functionResponse: { name: 'now', response: { output: [1, 2] } } },
        ],
      },
    ])
  })

  it('JSON mode: responseMimeType and responseJsonSchema', async () => {
    server.queue(json(generateResponse({ text: '{"a":1}' })), json(generateResponse({ text: '{}' })))
    const schema = { type: 'object', properties: { a: { type: 'number' } }, additionalProperties: false }
    await provider().chat({ model: 'g', messages: [{ role: 'user', content: 'x' }], responseFormat: 'json', jsonSchema: schema })
    expect(server.problems).toEqual([])
    expect(last().body.generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema })
    await provider().chat({ model: 'g', messages: [{ role: 'user', content: 'x' }], responseFormat: 'json' })
    expect(last().body.generationConfig).toEqual({ responseMimeType: 'application/json' })
  })

  it('maps finish reasons; a blocked prompt is content_filter; thinking tokens count as output', async () => {
    const m = { model: 'g', messages: [{ role: 'user' as const, content: 'x' }] }
    for (const [finish, want] of [
      ['STOP', 'stop'],
      ['MAX_TOKENS', 'length'],
      ['SAFETY', 'content_filter'],
      ['RECITATION', 'content_filter'],
      ['MALFORMED_FUNCTION_CALL', 'other'],
    ]) {
      server.queue(json(generateResponse({ text: 'x', finish })))
      expect((await provider().chat(m)).finishReason).toBe(want)
    }
    server.queue(json({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 } }))
    const blocked = await provider().chat(m)
    expect(blocked.finishReason).toBe('content_filter')
    expect(blocked.usage).toEqual({ inputTokens: 8, outputTokens: 0 })
    server.queue(json(generateResponse({ text: 'x', usage: [10, 4], thoughts: 40 })))
    expect((await provider().chat(m)).usage).toEqual({ inputTokens: 10, outputTokens: 44 })
  })

  it('thought parts are not part of the text', async () => {
    server.queue(json({ ...generateResponse({}), candidates: [{ content: { role: 'model', parts: [{ text: 'hmm', thought: true }, { text: 'Answer' }] }, finishReason: 'STOP' }] }))
    expect((await provider().chat({ model: 'g', messages: [{ role: 'user', content: 'x' }] })).text).toBe('Answer')
  })

  it('a 400 in the documented error shape', async () => {
    server.queue(json(geminiError(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT'), 400))
    const err = await rejection(() => provider().chat({ model: 'g', messages: [{ role: 'user', content: 'x' }] }))
    expect(err.message).toBe('gemini: HTTP 400: API key not valid. Please pass a valid API key.')
    expect(err).toMatchObject({ providerCode: 'INVALID_ARGUMENT', retryable: false, status: 400 })
  })
})
