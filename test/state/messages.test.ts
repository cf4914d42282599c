import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ValidationError } from '../../src/errors.js'
import { CompletionMessageSchema, messageText, type CompletionMessage } from '../../src/state/messages.js'
import { parse } from '../../src/state/validate.js'
import { allKeys, thrown } from '../core/helpers.js'

const check = (m: unknown) => parse(CompletionMessageSchema, m, 'message')

const valid: [string, CompletionMessage][] = [
  ['a system message', { role: 'system', content: 'You are a helpful assistant.' }],
  ['a user message', { role: 'user', content: 'Hello' }],
  ['a user message with a name', { role: 'user', content: 'Hi', name: 'john' }],
  ['an empty user message', { role: 'user', content: '' }],
  [
    'a user message of text and image parts',
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image', url: 'https://example.com/cat.png' },
        { type: 'image', data: 'iVBORw0KGgo=', mediaType: 'image/png' },
        { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
      ],
    },
  ],
  ['an empty list of parts', { role: 'user', content: [] }],
  ['an assistant message', { role: 'assistant', content: 'Sure.' }],
  [
    'an assistant message with tool calls',
    {
      role: 'assistant',
      content: '',
      toolCalls: [
        { id: 'call_1', name: 'get_weather', arguments: { city: 'NYC', days: [1, 2], metric: true } },
        { id: 'call_2', name: 'lookup', arguments: 'not {valid json' },
        { id: 'call_3', name: 'noop', arguments: null },
      ],
    },
  ],
  ['an assistant message with parts and a name', { role: 'assistant', content: [{ type: 'text', text: 'ok' }], name: 'bot' }],
  ['a tool result', { role: 'tool', content: '{"temp": 21}', toolCallId: 'call_1' }],
  ['a tool result with a name and parts', { role: 'tool', content: [{ type: 'text', text: '21C' }], toolCallId: 'call_1', name: 'get_weather' }],
]

describe('CompletionMessageSchema', () => {
  it.each(valid)('accepts %s, unchanged', (_, message) => {
    expect(check(message)).toEqual(message)
  })

  it('returns a copy: editing the argument afterwards changes nothing', () => {
    const m = { role: 'user' as const, content: [{ type: 'text' as const, text: 'a' }] }
    const out = check(m)
    m.content[0]!.text = 'b'
    expect(out).toEqual({ role: 'user', content: [{ type: 'text', text: 'a' }] })
  })

  it.each([
    ['an unknown role', { role: 'robot', content: 'x' }, 'message.role', /Expected/],
    ['a missing role', { content: 'x' }, 'message.role', /Expected/],
    ['a tool message without toolCallId', { role: 'tool', content: 'x' }, 'message.toolCallId', /toolCallId/],
    ['a tool message with an empty toolCallId', { role: 'tool', content: 'x', toolCallId: '' }, 'message.toolCallId', /non-empty/],
    ['a snake_case tool_call_id', { role: 'tool', content: 'x', toolCallId: 'c', tool_call_id: 'c' }, 'message.tool_call_id', /did you mean toolCallId/],
    ['an extra key', { role: 'user', content: 'x', foo: 1 }, 'message.foo', /unknown key/],
    ['a missing content', { role: 'user' }, 'message.content', /content/],
    ['a number as content', { role: 'user', content: 5 }, 'message.content', /string or an array of content parts/],
    ['null content', { role: 'assistant', content: null }, 'message.content', /string or an array/],
    ['parts in a system message', { role: 'system', content: [{ type: 'text', text: 'x' }] }, 'message.content', /string/],
    [
      'an image part with both url and data',
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image', url: 'https://x', data: 'AAAA' }] },
      'message.content[1]',
      /exactly one of url or data/,
    ],
    ['an image part with neither', { role: 'user', content: [{ type: 'image' }] }, 'message.content[0]', /exactly one of url or data/],
    ['a part of unknown type', { role: 'user', content: [{ type: 'audio', data: 'x' }] }, 'message.content[0].type', /Expected/],
    ['a text part without text', { role: 'user', content: [{ type: 'text' }] }, 'message.content[0].text', /text/],
    ['a part with an extra key', { role: 'user', content: [{ type: 'text', text: 'a', x: 1 }] }, 'message.content[0].x', /unknown key/],
    ['a tool call without id', { role: 'assistant', content: '', toolCalls: [{ name: 'f', arguments: {} }] }, 'message.toolCalls[0].id', /id/],
    ['a tool call with an empty name', { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: '', arguments: {} }] }, 'message.toolCalls[0].name', /non-empty/],
    ['tool calls on a user message', { role: 'user', content: '', toolCalls: [] }, 'message.toolCalls', /unknown key/],
    ['a non-JSON argument', { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f', arguments: { d: new Date(0) } }] }, 'message.toolCalls[0].arguments.d', /not plain JSON/],
    ['a string', 'hello', 'message', /Expected/],
    ['null', null, 'message', /Expected/],
    ["an array (valibot's variant reads it as an object without role)", [], 'message.role', /Expected/],
  ])('refuses %s with a ValidationError at its path', (_, message, path, text) => {
    const e = thrown(() => check(message))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.code).toBe('invalid_argument')
    expect(e.path).toBe(path)
    expect(e.message.startsWith(`${path}: `)).toBe(true)
    expect(e.message).toMatch(text)
  })
})

describe('messages through a Context', () => {
  it('addCompletionMessage validates with the path rooted at message, and adds nothing when bad', () => {
    const ctx = new Context()
    ctx.addCompletionMessage({ role: 'user', content: 'hi' })
    const e = thrown(() => ctx.addCompletionMessage({ role: 'robot', content: 'x' } as unknown as CompletionMessage))
    expect(e.path).toBe('message.role')
    expect(ctx.getCompletionMessages()).toEqual([{ role: 'user', content: 'hi' }])
  })

  it('regression: setCompletionMessages names the index as messages[1].role, not ["messages[1]"].role', () => {
    const ctx = new Context()
    const e = thrown(() => ctx.setCompletionMessages([{ role: 'user', content: 'x' }, { role: 'robot' } as unknown as CompletionMessage]))
    expect(e.path).toBe('messages[1].role')
    expect(e.message.startsWith('messages[1].role: ')).toBe(true)
  })
})

describe('messageText', () => {
  it('joins text parts and leaves images out', () => {
    expect(messageText('plain')).toBe('plain')
    expect(messageText([{ type: 'text', text: 'a' }, { type: 'image', url: 'u' }, { type: 'text', text: 'b' }])).toBe('ab')
    expect(messageText([])).toBe('')
  })
})

describe('wire shapes through a Context (OpenAI Chat Completions, Anthropic Messages)', () => {
  const openaiCall = {
    role: 'assistant',
    content: null,
    refusal: null,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
  } as const
  const anthropicResults = {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_1', content: '21°C' },
      { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
      { type: 'text', text: 'Thanks.' },
    ],
  } as const

  it('regression: addCompletionMessage takes OpenAI tool_calls and tool_call_id (it refused its own wire shape)', () => {
    const ctx = new Context()
    ctx.addCompletionMessage(openaiCall)
    ctx.addCompletionMessage({ role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' })
    expect(ctx.getCompletionMessages()).toEqual([
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
      { role: 'tool', toolCallId: 'call_1', content: '{"temp":21}' },
    ])
  })

  it('regression: addCompletionMessage takes Anthropic content blocks; one user message of results becomes a message each', () => {
    const ctx = new Context()
    ctx.addCompletionMessage({ role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] })
    ctx.addCompletionMessage(anthropicResults)
    expect(ctx.getCompletionMessages()).toEqual([
      { role: 'assistant', content: [], toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
      { role: 'tool', toolCallId: 'toolu_1', content: '21°C' },
      { role: 'tool', toolCallId: 'toolu_2', content: [{ type: 'text', text: '12:00' }] },
      { role: 'user', content: [{ type: 'text', text: 'Thanks.' }] },
    ])
  })

  it('addCompletionMessage of several messages is all or nothing: a bad third block appends none', () => {
    const ctx = new Context()
    ctx.addCompletionMessage({ role: 'user', content: 'hi' })
    const bad = { role: 'user', content: [...anthropicResults.content.slice(0, 2), { type: 'document', source: {} }] }
    const e = thrown(() => ctx.addCompletionMessage(bad as never))
    expect(e.path).toBe('message.content[2].type')
    expect(ctx.getCompletionMessages()).toEqual([{ role: 'user', content: 'hi' }])
  })

  it('setCompletionMessages takes the shapes mixed, and a bad one names its index and the wire field, the history kept', () => {
    const ctx = new Context()
    ctx.setCompletionMessages([{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Weather?' }, openaiCall])
    const before = ctx.getCompletionMessages()
    expect(before).toHaveLength(3)
    const bad = { ...openaiCall, tool_calls: [{ ...openaiCall.tool_calls[0], function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }
    const e = thrown(() => ctx.setCompletionMessages([{ role: 'user', content: 'x' }, anthropicResults, bad as never]))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe('messages[2].tool_calls[0].function.arguments')
    expect(ctx.getCompletionMessages()).toEqual(before)
  })

  it('stores only the normalized shape: no snake_case key in toJSON, and fromJSON gives the same messages', () => {
    const ctx = new Context()
    ctx.setCompletionMessages([openaiCall, { role: 'tool', tool_call_id: 'call_1', content: 'r' }, anthropicResults])
    const json = ctx.toJSON()
    expect(allKeys((json as { messages: unknown }).messages).filter(([k]) => k.includes('_'))).toEqual([])
    expect(Context.fromJSON(JSON.stringify(json)).getCompletionMessages()).toEqual(ctx.getCompletionMessages())
  })
})
