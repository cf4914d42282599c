import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ContextError, ValidationError } from '../../src/errors.js'
import type { ChatRequest } from '../../src/llm/types.js'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { mockProvider, type MockProviderOptions } from '../../src/test/index.js'

// A malformed script is the test author's mistake: it fails at mockProvider(), before any call,
// with a ValidationError whose path says which reply and which field.
const ask = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra })

function refusal(options: unknown): ValidationError {
  try {
    mockProvider(options as MockProviderOptions)
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError)
    expect(e).toBeInstanceOf(ContextError)
    return e as ValidationError
  }
  throw new Error('expected mockProvider to refuse the options')
}

describe('mockProvider: a malformed script is a ValidationError naming the path', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['options that are not an object', 'hi', 'options', /must be an object/],
    ['an unknown option, with the known ones', { reply: ['x'] }, 'options.reply', /must be a known key: name, models, replies/],
    ['an empty name', { name: '' }, 'options.name', /non-empty string/],
    ['models that are not ids', { models: 'gpt-4o' }, 'options.models', /array of model ids/],
    ['replies that are a string', { replies: 'hi' }, 'options.replies', /array of replies or a function/],
    ['a reply that is a number', { replies: ['ok', 42] }, 'replies[1]', /must be an object/],
    ['a reply that is null', { replies: [null] }, 'replies[0]', /must be an object/],
    ['a misspelt key', { replies: ['ok', { txt: 'hi' }] }, 'replies[1].txt', /known key: text, chunks, toolCalls/],
    ['a text that is not a string', { replies: [{ text: 1 }] }, 'replies[0].text', /a string/],
    ['chunks that are not strings', { replies: [{ chunks: ['a', 1] }] }, 'replies[0].chunks', /array of strings/],
    ['chunks that do not join to the text', { replies: [{ text: 'abc', chunks: ['a', 'b'] }] }, 'replies[0].chunks', /joined, must equal text/],
    ['a tool call without a name', { replies: [{ toolCalls: [{ name: 'a' }, { arguments: {} }] }] }, 'replies[0].toolCalls[1].name', /non-empty string/],
    ['tool calls that are not an array', { replies: [{ toolCalls: { name: 'a' } }] }, 'replies[0].toolCalls', /an array/],
    ['arguments that are an array', { replies: [{ toolCalls: [{ name: 'a', arguments: [1] }] }] }, 'replies[0].toolCalls[0].arguments', /an object or a string/],
    ['arguments that are not JSON', { replies: [{ toolCalls: [{ name: 'a', arguments: { n: 1n } }] }] }, 'replies[0].toolCalls[0].arguments', /must be JSON/],
    ['an unknown tool-call key', { replies: [{ toolCalls: [{ name: 'a', args: {} }] }] }, 'replies[0].toolCalls[0].args', /known key: id, name, arguments/],
    ['a negative token count', { replies: [{ usage: { inputTokens: -1 } }] }, 'replies[0].usage.inputTokens', /integer >= 0/],
    ['a usage key in snake case', { replies: [{ usage: { input_tokens: 1 } }] }, 'replies[0].usage.input_tokens', /known key: inputTokens, outputTokens/],
    ['an unknown finish reason', { replies: [{ finishReason: 'done' }] }, 'replies[0].finishReason', /one of stop, length, tool_calls/],
    ['a fractional delay', { replies: [{ delayMs: 1.5 }] }, 'replies[0].delayMs', /integer >= 0/],
    ['breakAfter past the chunks', { replies: [{ chunks: ['a', 'b'], breakAfter: 3 }] }, 'replies[0].breakAfter', /at most 2, the number of chunks/],
    ['a reply that both hangs and breaks', { replies: [{ text: 'a', hang: true, breakAfter: 0 }] }, 'replies[0].hang', /either hangs or breaks/],
    ['an unknown fault kind', { replies: [{ error: 'teapot' }] }, 'replies[0].error', /an Error or one of rate_limit, server, overloaded, context_window, network, auth/],
    ['a fault with a text', { replies: [{ error: 'server', text: 'x' }] }, 'replies[0].text', /known key: error, status/],
    ['a status out of HTTP range', { replies: [{ error: 'server', status: 700 }] }, 'replies[0].status', /an HTTP status/],
  ]
  it.each(cases)('%s', (_, options, path, message) => {
    const e = refusal(options)
    expect(e.path).toBe(path)
    expect(e.code).toBe('invalid_argument')
    expect(e.message.startsWith(`${path}: `)).toBe(true)
    expect(e.message).toMatch(message)
  })

  it('regression: a fault kind named after an Object.prototype member ("toString", "constructor") is refused, not a TypeError at the call', () => {
    // The bug: `kind in KINDS` was true for inherited keys, and the call then destructured a function.
    for (const kind of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) expect(refusal({ replies: [{ error: kind }] }).path).toBe('replies[0].error')
  })

  it('a reply returned by a function is checked at its call, with the path of that call', async () => {
    const mock = mockProvider({ replies: (_, i) => (i ? ({ txt: 'oops' } as never) : 'ok') })
    await mock.chat(ask())
    await expect(mock.chat(ask())).rejects.toMatchObject({ name: 'ValidationError', path: 'replies[1].txt' })
  })

  it('undefined fields count as absent, as everywhere in agentctx', async () => {
    const mock = mockProvider({ name: undefined, replies: [{ text: 'ok', chunks: undefined, usage: undefined }] })
    expect((await mock.chat(ask())).text).toBe('ok')
    expect(mock.name).toBe('mock')
  })

  it('regression: `error: undefined` is no fault (it was a TypeError at the call, from a fault of no kind)', async () => {
    const mock = mockProvider({ replies: [{ error: undefined, text: 'ok' } as never, { error: undefined } as never] })
    expect((await mock.chat(ask())).text).toBe('ok')
    expect((await mock.chat(ask())).text).toBe('')
  })

  it('property: any value as a reply is either played or refused with a ValidationError, never a TypeError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), fc.record(
          {
            text: fc.oneof(fc.string(), fc.anything()),
            toolCalls: fc.oneof(fc.array(fc.record({ name: fc.string(), arguments: fc.anything() }, { requiredKeys: [] })), fc.anything()),
            error: fc.oneof(fc.constant(undefined), fc.constantFrom('server', 'auth', 'toString'), fc.anything()),
            status: fc.oneof(fc.integer(), fc.anything()),
          },
          { requiredKeys: [] },
        )), async (reply) => {
        let mock
        try {
          mock = mockProvider({ replies: [reply as never] })
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError)
          return
        }
        try {
          const r = await mock.chat(ask())
          expect(typeof r.text).toBe('string')
        } catch (e) {
          // A scripted fault: a ProviderError of its kind, or the Error the script gave.
          if (!(e instanceof ProviderError)) expect(e).toBe((reply as { error: unknown }).error)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('property: the deltas streamed are the chunks, and join to the text returned', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.array(fc.string()).map((chunks) => ({ chunks }))), async (reply) => {
        const deltas: string[] = []
        const r = await mockProvider({ replies: [reply] }).chat(ask({ onToken: (d) => void deltas.push(d) }))
        expect(deltas.join('')).toBe(r.text)
        if (typeof reply === 'string') expect(r.text).toBe(reply)
        else expect(deltas).toEqual(reply.chunks)
      }),
    )
  })
})
