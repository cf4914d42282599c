import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ValidationError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'
import type { CompletionMessage } from '../../src/state/messages.js'
import type { ChatCompletionMessage, ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import { toCompletionMessages, type MessageInput } from '../../src/state/wire.js'
import { thrown } from '../core/helpers.js'

const norm = (m: unknown) => toCompletionMessages(m, 'message')
const one = (m: unknown) => {
  const out = norm(m)
  expect(out).toHaveLength(1)
  return out[0]
}

// Messages as the APIs document them (and as test/providers/servers/ answer them).
const openaiCases: [string, unknown, CompletionMessage][] = [
  ['a system message', { role: 'system', content: 'Be brief.' }, { role: 'system', content: 'Be brief.' }],
  ['a developer message (system)', { role: 'developer', content: 'Be brief.' }, { role: 'system', content: 'Be brief.' }],
  [
    'a system message of text parts, joined, with its name',
    { role: 'system', content: [{ type: 'text', text: 'Be ' }, { type: 'text', text: 'brief.' }], name: 'policy' },
    { role: 'system', content: 'Be brief.', name: 'policy' },
  ],
  [
    'a user message with image_url parts (url and data URL, detail dropped)',
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'low' } },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      ],
      name: 'ann',
    },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image', url: 'https://example.com/cat.png' },
        { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
      ],
      name: 'ann',
    },
  ],
  [
    'an assistant message with tool_calls and null content',
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":[1,2]}' } },
        { id: 'call_2', type: 'function', function: { name: 'now', arguments: '' } },
        { id: 'call_3', type: 'function', function: { name: 'lookup', arguments: 'not {json' } },
        { id: 'call_4', type: 'function', function: { name: 'count', arguments: '42' } },
        { id: 'call_5', type: 'function', function: { name: 'list', arguments: '[1,2]' } },
      ],
    },
    {
      role: 'assistant',
      content: '',
      toolCalls: [
        { id: 'call_1', name: 'get_weather', arguments: { city: 'Paris', days: [1, 2] } },
        { id: 'call_2', name: 'now', arguments: {} },
        // As the providers read a model's arguments (parseArgs): not a JSON object or array, kept raw.
        { id: 'call_3', name: 'lookup', arguments: 'not {json' },
        { id: 'call_4', name: 'count', arguments: '42' },
        { id: 'call_5', name: 'list', arguments: [1, 2] },
      ],
    },
  ],
  ['an assistant message without content (tool_calls only)', { role: 'assistant', tool_calls: [] }, { role: 'assistant', content: '' }],
  ['tool_calls: null, as some compatible servers answer', { role: 'assistant', content: 'Hi', tool_calls: null }, { role: 'assistant', content: 'Hi' }],
  [
    "a reply's choices[0].message as the API answers it (refusal, annotations, audio, function_call)",
    { role: 'assistant', content: 'Sunny.', refusal: null, annotations: [], audio: null, function_call: null },
    { role: 'assistant', content: 'Sunny.' },
  ],
  ['a refusal with null content: its text', { role: 'assistant', content: null, refusal: 'I cannot help with that.' }, { role: 'assistant', content: 'I cannot help with that.' }],
  [
    'assistant text and refusal parts',
    { role: 'assistant', content: [{ type: 'text', text: 'a' }, { type: 'refusal', refusal: 'no' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'no' }] },
  ],
  ['a tool message', { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' }, { role: 'tool', toolCallId: 'call_1', content: '{"temp":21}' }],
  [
    'a tool message of text parts',
    { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: '21' }] },
    { role: 'tool', toolCallId: 'call_1', content: [{ type: 'text', text: '21' }] },
  ],
]

const anthropicCases: [string, unknown, CompletionMessage[]][] = [
  ['a user message', { role: 'user', content: 'Hello' }, [{ role: 'user', content: 'Hello' }]],
  [
    'text and image blocks (base64 and url sources), cache_control dropped',
    {
      role: 'user',
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
        { type: 'text', text: 'Describe both.', cache_control: { type: 'ephemeral' } },
      ],
    },
    [
      {
        role: 'user',
        content: [
          { type: 'image', data: '/9j/4AAQ', mediaType: 'image/jpeg' },
          { type: 'image', url: 'https://example.com/cat.png' },
          { type: 'text', text: 'Describe both.' },
        ],
      },
    ],
  ],
  [
    "a reply's content: thinking dropped, text kept (citations dropped), tool_use blocks as toolCalls",
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'The user wants weather.', signature: 'EqQBCgIYAhIM' },
        { type: 'redacted_thinking', data: 'EmwKAhgBEgy3' },
        { type: 'text', text: 'Let me check.', citations: null },
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_02', name: 'now', input: {} },
      ],
    },
    [
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'Let me check.' }],
        toolCalls: [
          { id: 'toolu_01', name: 'get_weather', arguments: { city: 'Paris' } },
          { id: 'toolu_02', name: 'now', arguments: {} },
        ],
      },
    ],
  ],
  [
    'an assistant message of tool_use only',
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'now', input: {} }] },
    [{ role: 'assistant', content: [], toolCalls: [{ id: 'toolu_01', name: 'now', arguments: {} }] }],
  ],
  [
    'tool_result blocks then text: a tool message each, then a user message',
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_01', content: '21°C' },
        { type: 'tool_result', tool_use_id: 'toolu_02', content: [{ type: 'text', text: '12:00' }, { type: 'image', source: { type: 'url', url: 'https://x/c.png' } }] },
        { type: 'tool_result', tool_use_id: 'toolu_03' },
        { type: 'text', text: 'Thanks.' },
      ],
    },
    [
      { role: 'tool', toolCallId: 'toolu_01', content: '21°C' },
      { role: 'tool', toolCallId: 'toolu_02', content: [{ type: 'text', text: '12:00' }, { type: 'image', url: 'https://x/c.png' }] },
      { role: 'tool', toolCallId: 'toolu_03', content: '' },
      { role: 'user', content: [{ type: 'text', text: 'Thanks.' }] },
    ],
  ],
  [
    'is_error results: "Error: " before the content',
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'a', content: 'city not found', is_error: true },
        { type: 'tool_result', tool_use_id: 'b', content: [{ type: 'text', text: 'timeout' }], is_error: true },
        { type: 'tool_result', tool_use_id: 'c', content: 'ok', is_error: false },
      ],
    },
    [
      { role: 'tool', toolCallId: 'a', content: 'Error: city not found' },
      { role: 'tool', toolCallId: 'b', content: [{ type: 'text', text: 'Error: ' }, { type: 'text', text: 'timeout' }] },
      { role: 'tool', toolCallId: 'c', content: 'ok' },
    ],
  ],
  [
    'text, a result, text: order kept',
    { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'tool_result', tool_use_id: 't', content: 'r' }, { type: 'text', text: 'b' }] },
    [
      { role: 'user', content: [{ type: 'text', text: 'a' }] },
      { role: 'tool', toolCallId: 't', content: 'r' },
      { role: 'user', content: [{ type: 'text', text: 'b' }] },
    ],
  ],
]

describe('toCompletionMessages: OpenAI Chat Completions messages', () => {
  it.each(openaiCases)('%s', (_, input, expected) => {
    expect(one(input)).toEqual(expected)
  })
})

describe('toCompletionMessages: Anthropic Messages', () => {
  it.each(anthropicCases)('%s', (_, input, expected) => {
    expect(norm(input)).toEqual(expected)
  })
})

describe('toCompletionMessages: our own shape', () => {
  it.each([
    { role: 'system', content: 's', name: 'n' },
    { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image', data: 'AAAA', mediaType: 'image/png' }, { type: 'image', url: 'https://x' }], name: 'u' },
    { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f', arguments: 'raw {' }] },
    { role: 'assistant', content: [], toolCalls: [{ id: 'c', name: 'f', arguments: null }] },
    { role: 'tool', content: 'r', toolCallId: 'c', name: 'f' },
  ] as CompletionMessage[])('passes %j unchanged, as a copy', (m) => {
    const out = one(m)
    expect(out).toEqual(m)
    expect(out).not.toBe(m)
  })

  it('does not touch its argument', () => {
    const input = { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }
    const before = structuredClone(input)
    norm(input)
    expect(input).toEqual(before)
  })
})

describe('toCompletionMessages: bad input is a ValidationError at the path of the input', () => {
  const call = (fn: object) => ({ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}', ...fn } }] })
  it.each([
    ['arguments that are not a string', call({ arguments: { city: 'Paris' } }), 'message.tool_calls[0].function.arguments', /string of JSON/],
    ['a "__proto__" key in the arguments', call({ arguments: '{"a":{"__proto__":{"x":1}}}' }), 'message.tool_calls[0].function.arguments.a.__proto__', /__proto__/],
    ['arguments nested 100 deep', call({ arguments: '['.repeat(100) + ']'.repeat(100) }), 'message.tool_calls[0].function.arguments' + '[0]'.repeat(64), /deeper than 64/],
    ['a call without a function name', { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { arguments: '{}' } }] }, 'message.tool_calls[0].function.name', /non-empty/],
    ['a call without id', { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{}' } }] }, 'message.tool_calls[0].id', /non-empty/],
    ['a custom tool call', { role: 'assistant', tool_calls: [{ id: 'c', type: 'custom', custom: { name: 'f', input: 'x' } }] }, 'message.tool_calls[0].function.name', /non-empty/],
    ['tool_calls that are not an array', { role: 'assistant', content: '', tool_calls: {} }, 'message.tool_calls', /array/],
    ['tool_calls beside toolCalls', { role: 'assistant', content: '', toolCalls: [], tool_calls: [] }, 'message.tool_calls', /did you mean toolCalls/],
    ['tool_calls on a user message', { role: 'user', content: '', tool_calls: [] }, 'message.tool_calls', /unknown key/],
    ['an empty tool_call_id', { role: 'tool', content: 'x', tool_call_id: '' }, 'message.tool_call_id', /non-empty/],
    ['an input_audio part', { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }] }, 'message.content[1].type', /"input_audio" is not supported in user messages/],
    ['a file part', { role: 'user', content: [{ type: 'file', file: { file_id: 'f' } }] }, 'message.content[0].type', /"file" is not supported/],
    ['an image_url part without url', { role: 'user', content: [{ type: 'image_url', image_url: {} }] }, 'message.content[0].image_url.url', /non-empty/],
    ['an image in a system message', { role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x' } }] }, 'message.content[0].type', /not supported in system messages/],
    ['assistant audio', { role: 'assistant', content: '', audio: { id: 'audio_1' } }, 'message.audio', /unknown key/],
    ['a legacy function_call', { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } }, 'message.function_call', /unknown key/],
    ['the legacy function role', { role: 'function', name: 'f', content: 'x' }, 'message.role', /Expected/],
    ['a part that is not an object', { role: 'user', content: ['hi'] }, 'message.content[0].type', /no type is not supported/],
    ['a null part', { role: 'user', content: [null] }, 'message.content[0].type', /no type/],
    ['a text part with an extra key', { role: 'user', content: [{ type: 'text', text: 'a', x: 1 }] }, 'message.content[0].x', /unknown key/],
    ['a tool_use without id', { role: 'assistant', content: [{ type: 'text', text: 'a' }, { type: 'tool_use', name: 'f', input: {} }] }, 'message.content[1].id', /non-empty/],
    ['a tool_use in a user message', { role: 'user', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }, 'message.content[0].type', /"tool_use" is not supported in user messages/],
    ['a tool_result in an assistant message', { role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 't' }] }, 'message.content[0].type', /"tool_result" is not supported in assistant/],
    ['a tool_result without tool_use_id', { role: 'user', content: [{ type: 'tool_result', content: 'r' }] }, 'message.content[0].tool_use_id', /non-empty/],
    ['a tool_result whose content is a number', { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 5 }] }, 'message.content[0].content', /string or an array/],
    ['a document block in a tool_result', { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'document', source: {} }] }] }, 'message.content[0].content[0].type', /"document" is not supported in tool messages/],
    // Anything but a base64 source is read as a url source: the url it lacks is named.
    ['a file image source', { role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }, 'message.content[0].source.url', /non-empty/],
    ['a base64 image without media_type', { role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'AA' } }] }, 'message.content[0].source.media_type', /non-empty/],
    ['a "__proto__" key in a block', JSON.parse('{"role":"user","content":[{"type":"text","text":"a","__proto__":{}}]}'), 'message.content[0].__proto__', /__proto__/],
    ['an unknown role with blocks', { role: 'robot', content: 'x' }, 'message.role', /Expected/],
    ['not an object', 'hello', 'message', /Expected/],
    ['an array', [{ role: 'user', content: 'x' }], 'message.role', /Expected/],
    ['an input_audio part in an assistant message', { role: 'assistant', content: [{ type: 'input_audio' }] }, 'message.content[0].type', /"input_audio" is not supported in assistant messages/],
  ])('%s', (_, input, path, text) => {
    const e = thrown(() => norm(input))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe(path)
    expect(e.message.startsWith(`${path}: `)).toBe(true)
    expect(e.message).toMatch(text)
  })

  it('names the index it was given: messages[2].tool_calls[0].function.arguments', () => {
    const e = thrown(() => toCompletionMessages(call({ arguments: 7 }), 'messages[2]'))
    expect(e.path).toBe('messages[2].tool_calls[0].function.arguments')
  })
})

// ── properties ──────────────────────────────────────────────────────────────────────────────────

const id = fc.string({ minLength: 1, maxLength: 8 })
const text = fc.string({ maxLength: 12 })
// No "__proto__" key anywhere: that one is refused (tested above).
const json = fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes('"__proto__"')) as fc.Arbitrary<Json>
const jsonObject = fc.dictionary(fc.string({ maxLength: 6 }).filter((k) => k !== '__proto__'), json, { maxKeys: 3 })
const url = fc.webUrl()

const openaiPart = fc.oneof(
  fc.record({ type: fc.constant('text'), text }),
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url, detail: fc.constantFrom('auto', 'low', 'high') }, { requiredKeys: ['url'] }) }),
)
const openaiMessage = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer'), content: fc.oneof(text, fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 3 })) }),
  fc.record({ role: fc.constant('user'), content: fc.oneof(text, fc.array(openaiPart, { maxLength: 4 })), name: id }, { requiredKeys: ['role', 'content'] }),
  fc.record(
    {
      role: fc.constant('assistant'),
      content: fc.oneof(text, fc.constant(null)),
      refusal: fc.constant(null),
      tool_calls: fc.array(
        fc.record({
          id,
          type: fc.constant('function'),
          function: fc.record({ name: id, arguments: fc.oneof(jsonObject.map((o) => JSON.stringify(o)), text) }),
        }),
        { maxLength: 3 },
      ),
    },
    { requiredKeys: ['role'] },
  ),
  fc.record({ role: fc.constant('tool'), tool_call_id: id, content: fc.oneof(text, fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 2 })) }),
)

const anthropicBlock = fc.oneof(
  fc.record({ type: fc.constant('text'), text: text.filter(Boolean) }),
  fc.record({ type: fc.constant('image'), source: fc.record({ type: fc.constant('base64'), media_type: fc.constantFrom('image/png', 'image/jpeg'), data: fc.base64String({ minLength: 4, maxLength: 12 }) }) }),
  fc.record({ type: fc.constant('image'), source: fc.record({ type: fc.constant('url'), url }) }),
)
const anthropicMessage = fc.oneof(
  fc.record({
    role: fc.constant('user'),
    content: fc.oneof(
      text,
      fc.array(
        fc.oneof(
          anthropicBlock,
          fc.record(
            { type: fc.constant('tool_result'), tool_use_id: id, content: fc.oneof(text, fc.array(anthropicBlock, { maxLength: 2 })), is_error: fc.boolean() },
            { requiredKeys: ['type', 'tool_use_id'] },
          ),
        ),
        { maxLength: 5 },
      ),
    ),
  }),
  fc.record({
    role: fc.constant('assistant'),
    content: fc.oneof(
      text,
      fc.array(
        fc.oneof(
          fc.record({ type: fc.constant('text'), text: text.filter(Boolean) }),
          fc.record({ type: fc.constant('tool_use'), id, name: id, input: jsonObject }),
          fc.record({ type: fc.constant('thinking'), thinking: text, signature: id }),
        ),
        { maxLength: 5 },
      ),
    ),
  }),
)

const ourPart = fc.oneof(
  fc.record({ type: fc.constant('text' as const), text }),
  fc.record({ type: fc.constant('image' as const), url }),
  fc.record({ type: fc.constant('image' as const), data: fc.base64String({ maxLength: 8 }), mediaType: fc.constantFrom('image/png', 'image/webp') }, { requiredKeys: ['type', 'data'] }),
)
const ourContent = fc.oneof(text, fc.array(ourPart, { maxLength: 3 }))
const ourMessage: fc.Arbitrary<CompletionMessage> = fc.oneof(
  fc.record({ role: fc.constant('system' as const), content: text, name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('user' as const), content: ourContent, name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record(
    { role: fc.constant('assistant' as const), content: ourContent, name: text, toolCalls: fc.array(fc.record({ id, name: id, arguments: json }), { maxLength: 2 }) },
    { requiredKeys: ['role', 'content'] },
  ),
  fc.record({ role: fc.constant('tool' as const), content: ourContent, toolCallId: id, name: text }, { requiredKeys: ['role', 'content', 'toolCallId'] }),
)

/** Every text of a wire message, in order: what a normalization must keep. */
function wireText(m: any): string {
  if (typeof m.content === 'string') return m.content
  if (!Array.isArray(m.content)) return ''
  return m.content
    .map((b: any) => (b.type === 'text' ? b.text : b.type === 'tool_result' ? (b.is_error ? 'Error: ' : '') + wireText(b) : ''))
    .join('')
}
const ourText = (ms: CompletionMessage[]) => ms.map((m) => (typeof m.content === 'string' ? m.content : m.content.map((p) => (p.type === 'text' ? p.text : '')).join(''))).join('')
const calls = (m: any): number => m.tool_calls?.length ?? (Array.isArray(m.content) ? m.content.filter((b: any) => b.type === 'tool_use').length : 0)

describe('toCompletionMessages: properties', () => {
  const holds = (wire: fc.Arbitrary<any>) =>
    fc.assert(
      fc.property(wire, (m) => {
        const out = norm(m)
        // Text and tool calls survive, in order (an assistant's refusal is null here).
        expect(ourText(out)).toBe(wireText(m))
        expect(out.reduce((n, x) => n + (x.role === 'assistant' ? (x.toolCalls?.length ?? 0) : 0), 0)).toBe(calls(m))
        // Normalizing again is the identity, and so is a trip through JSON text.
        expect(out.flatMap((x, i) => toCompletionMessages(x, `messages[${i}]`))).toEqual(out)
        // Stored and loaded back through the context's JSON as they are.
        const ctx = new Context()
        ctx.setCompletionMessages(out)
        expect(Context.fromJSON(JSON.stringify(ctx)).getCompletionMessages()).toEqual(out)
      }),
      { numRuns: 300 },
    )
  it('random OpenAI messages normalize; normalizing the result changes nothing', () => holds(openaiMessage))
  it('random Anthropic messages normalize; normalizing the result changes nothing', () => holds(anthropicMessage))
  it('our own messages, at random, come back equal', () =>
    fc.assert(
      fc.property(ourMessage, (m) => {
        // fc.jsonValue makes -0, which JSON (and so toJson) writes as 0.
        const expected = JSON.parse(JSON.stringify(m))
        expect(norm(m)).toEqual([expected])
      }),
      { numRuns: 500 },
    ))
})

describe('MessageInput takes the official SDK types as they are', () => {
  it('openai: ChatCompletionMessageParam and a reply message (checked by tsc)', () => {
    const params: ChatCompletionMessageParam[] = [{ role: 'developer', content: 'x' }]
    const reply = completionMessage({ role: 'assistant', content: 'hi', refusal: null })
    const inputs: MessageInput[] = [...params, reply]
    expect(inputs.flatMap((m, i) => toCompletionMessages(m, `messages[${i}]`))).toEqual([
      { role: 'system', content: 'x' },
      { role: 'assistant', content: 'hi' },
    ])
  })
})

const completionMessage = (m: ChatCompletionMessage) => m
