import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { Executor } from '../../src/llm/executor.js'
import type { Provider } from '../../src/llm/types.js'
import { anthropic } from '../../src/providers/anthropic.js'
import { gemini } from '../../src/providers/gemini.js'
import { openai } from '../../src/providers/openai.js'
import type { CompletionMessage } from '../../src/state/messages.js'
import { toCompletionMessages } from '../../src/state/wire.js'
import { anthropicServer, message } from '../providers/servers/anthropic.js'
import { generateResponse, geminiServer } from '../providers/servers/gemini.js'
import { json, KEY, type Loopback, type Step } from '../providers/servers/loopback.js'
import { completion, openaiServer } from '../providers/servers/openai.js'

/**
 * Conversations recorded from each provider's wire (replies as the fake servers answer them, which
 * follow the API references), normalized, then sent by every provider to its loopback server, which
 * checks each request against its API reference (tool results answering calls, roles, block types).
 */

const normalize = (conversation: unknown[]): CompletionMessage[] => conversation.flatMap((m, i) => toCompletionMessages(m, `messages[${i}]`))

// OpenAI: a reply's `choices[0].message` appended as it is, as ported code does.
const openaiCalls = completion({
  toolCalls: [
    { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
    { id: 'call_2', name: 'now', arguments: '{}' },
  ],
}).choices[0]!.message
const openaiConversation = [
  { role: 'developer', content: 'You are a weather bot.' },
  { role: 'user', content: [{ type: 'text', text: 'Weather in Paris, and the time?' }, { type: 'image_url', image_url: { url: 'https://example.com/paris.png' } }] },
  openaiCalls,
  { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
  { role: 'tool', tool_call_id: 'call_2', content: '12:00' },
  completion({ content: 'Sunny, 21°C, at noon.' }).choices[0]!.message,
  { role: 'user', content: 'Thanks!' },
]

// Anthropic: a reply's `content` appended as the assistant message, as its docs show.
const anthropicConversation = [
  { role: 'user', content: [{ type: 'text', text: 'Weather in Paris, and the time?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] },
  {
    role: 'assistant',
    content: [
      { type: 'thinking', thinking: 'Two tools.', signature: 'EqQBCgIYAhIM' },
      ...message({ text: 'Let me check.', toolUses: [{ id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }, { id: 'toolu_2', name: 'now', input: {} }] }).content,
    ],
  },
  {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_1', content: '21°C' },
      { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
      { type: 'text', text: 'And tomorrow?' },
    ],
  },
  { role: 'assistant', content: message({ text: 'Sunny, 21°C, at noon.' }).content },
  { role: 'user', content: 'Thanks!' },
]

interface Target {
  name: string
  serve(): Promise<Loopback>
  make(url: string): Provider
  reply: Step
  /** What the request carried for the messages. */
  sent(body: any): unknown
}

const targets: Target[] = [
  { name: 'openai', serve: openaiServer, make: (url) => openai({ baseURL: `${url}/v1`, apiKey: KEY }), reply: json(completion({ content: 'ok' })), sent: (b) => b.messages },
  { name: 'anthropic', serve: anthropicServer, make: (url) => anthropic({ baseURL: url, apiKey: KEY }), reply: json(message({ text: 'ok' })), sent: (b) => b.messages },
  {
    name: 'gemini',
    serve: geminiServer,
    make: (url) => gemini({ baseURL: `${url}/v1beta`, apiKey: KEY }),
    reply: json(generateResponse({ text: 'ok' })),
    sent: (b) => b.contents,
  },
]

describe.each(targets)('a recorded conversation, normalized, is sent by $name as its API requires', (target) => {
  let server: Loopback
  beforeAll(async () => {
    server = await target.serve()
  })
  afterAll(() => server.close())
  const send = async (messages: CompletionMessage[]) => {
    server.queue(target.reply)
    const r = await target.make(server.url).chat({ model: 'test-model', messages })
    expect(server.problems).toEqual([])
    expect(r.text).toBe('ok')
    return target.sent(server.seen.at(-1)!.body)
  }

  it('recorded from OpenAI', async () => {
    const sent = await send(normalize(openaiConversation))
    // Back on its own wire, it is what was recorded, less what our shape does not keep (refusal: null, developer).
    if (target.name === 'openai') {
      const { refusal: _, ...calls } = openaiCalls
      expect(sent).toEqual([{ role: 'system', content: 'You are a weather bot.' }, openaiConversation[1], calls, ...openaiConversation.slice(3, 5), { role: 'assistant', content: 'Sunny, 21°C, at noon.' }, openaiConversation[6]])
    }
  })

  it('recorded from Anthropic', async () => {
    const sent = await send(normalize(anthropicConversation))
    if (target.name === 'anthropic') {
      // Back on its own wire: the same but for the thinking block, one text block sent as a string, and
      // the text after the results in a user message of its own (the API joins consecutive user turns).
      const [first, calls, results] = anthropicConversation
      expect(sent).toEqual([
        first,
        { role: 'assistant', content: calls!.content.slice(1) },
        { role: 'user', content: results!.content.slice(0, 2) },
        { role: 'user', content: results!.content.slice(2) },
        { role: 'assistant', content: 'Sunny, 21°C, at noon.' },
        anthropicConversation[4],
      ])
    }
  })
})

describe.each(targets)('through a Context: setCompletionMessages of a recorded conversation, then generateChatCompletion with $name', (target) => {
  let server: Loopback
  beforeAll(async () => {
    server = await target.serve()
  })
  afterAll(() => server.close())

  it.each([
    ['OpenAI', openaiConversation],
    ['Anthropic', anthropicConversation],
  ])('recorded from %s', async (_, conversation) => {
    const executor = new Executor({ providers: [target.make(server.url)] })
    const ctx = new Context({ routing: { model: 'test-model', provider: target.name } }, { executor })
    ctx.setCompletionMessages(conversation as never)
    server.queue(target.reply)
    const reply = await ctx.generateChatCompletion()
    expect(server.problems).toEqual([])
    expect(reply.text).toBe('ok')
    expect(ctx.getCompletionMessages()).toEqual([...normalize(conversation), { role: 'assistant', content: 'ok' }])
  })
})
