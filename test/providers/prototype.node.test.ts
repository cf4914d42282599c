import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { data, json, sse, type Loopback } from './servers/loopback.js'
import { ask, expectPrototypesUnchanged, prototypes, wires } from './wires.js'

/**
 * Regression for "a hostile stream reaches an object prototype": a `tool_calls[].index` of
 * "__proto__" in an OpenAI-format stream (and an Anthropic `content_block_delta` index) addressed
 * `reply.calls["__proto__"]`, which is Array.prototype, and set `id`, `name` and `arguments` on it
 * for the whole process. Every index, id and name from a response is now checked first.
 */

const BAD_INDEXES: unknown[] = ['__proto__', 'constructor', 'prototype', 'length', '0', -1, 1.5, 1024, 1e9, 2 ** 53, NaN, null, true, {}, [0]]
const BAD_STRINGS: unknown[] = [42, {}, [], true, { toString: 'x' }, 'x'.repeat(1025)]

describe.each(wires)('$name: a hostile stream cannot reach a prototype', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await w.serve()
  })
  afterAll(() => server.close())
  const provider = () => w.make(server.url, { maxRetries: 0 })

  async function refused(frames: string[], what: RegExp) {
    const before = prototypes()
    server.queue(sse([...w.partial([]), ...frames, ...w.end()]))
    const tokens: string[] = []
    const err = await provider()
      .chat(ask({ onToken: (t) => tokens.push(t) }))
      .catch((e) => e)
    expectPrototypesUnchanged(before)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ provider: w.name, status: undefined, retryable: false })
    expect(err.message).toMatch(what)
    return err
  }

  if (w.name !== 'gemini')
    // (OpenAI's null index, NaN on the wire too, means "no index": the call's position in the array is used.)
    for (const index of BAD_INDEXES.filter((i) => JSON.stringify(i) !== 'null' || w.name !== 'openai'))
      it(`a tool call at index ${JSON.stringify(index)} is a ProviderError naming the index`, async () => {
        await refused(w.tool(index, 'call_1', 'get_weather', '{"city":"Paris"}'), /index must be an integer in \[0, 1024\)/)
      })

  if (w.name === 'anthropic')
    it('an input_json_delta at index "__proto__" with no block there (the Array.prototype.arguments path) is refused', async () => {
      await refused([data({ type: 'content_block_delta', index: '__proto__', delta: { type: 'input_json_delta', partial_json: '{"x":1}' } }, 'content_block_delta')], /index must be an integer/)
    })

  for (const bad of BAD_STRINGS) {
    // Gemini's ids are ours; its thoughtSignature (carried in the id) may be long.
    if (w.name !== 'gemini' || typeof bad !== 'string')
    it(`a tool call id ${JSON.stringify(bad)?.slice(0, 20)} is a ProviderError`, async () => {
      await refused(w.tool(0, bad, 'get_weather', w.name === 'gemini' ? {} : '{}'), w.name === 'gemini' ? /thoughtSignature must be a string/ : /id must be a string/)
    })
    it(`a tool name ${JSON.stringify(bad)?.slice(0, 20)} is a ProviderError`, async () => {
      await refused(w.tool(0, 'call_1', bad, w.name === 'gemini' ? {} : '{}'), /name must be a string/)
    })
  }

  it('text that is not a string is a ProviderError, not "[object Object]" handed to onToken', async () => {
    const frame =
      w.name === 'openai'
        ? data({ choices: [{ index: 0, delta: { content: { evil: 1 } } }] })
        : w.name === 'anthropic'
          ? data({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ['a'] } }, 'content_block_delta')
          : data({ candidates: [{ content: { parts: [{ text: 42 }] } }] })
    await refused([frame], /text must be a string/)
  })

  it('a finish reason named after a prototype member reads as "other", not a function', async () => {
    const before = prototypes()
    const stream = w.stream(['ok'])
    const reason = w.name === 'gemini' ? 'constructor' : '__proto__'
    const patched = stream.map((f) => f.replace(/"(stop|end_turn|STOP)"/, `"${reason}"`))
    server.queue(sse(patched))
    const r = await provider().chat(ask({ onToken: () => {} }))
    expectPrototypesUnchanged(before)
    expect(r.finishReason).toBe('other')
  })

  it('usage counts that are not counts are estimated, never strings or objects', async () => {
    const stream = w.stream(['ok']).map((f) => f.replace(/"(prompt_tokens|input_tokens|promptTokenCount)":\d+/, '"$1":"12"').replace(/"(completion_tokens|output_tokens|candidatesTokenCount)":\d+/, '"$1":{"n":1}'))
    server.queue(sse(stream))
    const r = await provider().chat(ask({ onToken: () => {} }))
    expect(typeof r.usage.inputTokens).toBe('number')
    expect(typeof r.usage.outputTokens).toBe('number')
    expect(r.usage.estimated).toBe(true)
  })

  it('a "__proto__" key in tool arguments (plain or \\u-escaped) is dropped: no own __proto__, no prototype set', async () => {
    const before = prototypes()
    for (const key of ['__proto__', '\\u005f_proto__']) {
      const args = `{"${key}":{"polluted":true},"city":"Paris","nested":{"${key}":{"polluted":true}}}`
      const frames = w.name === 'gemini' ? w.tool(0, undefined, 'get_weather', JSON.parse(args)) : w.tool(0, 'call_1', 'get_weather', args)
      // Gemini's args arrive as an object inside the event: the escape must reach the wire as written.
      const wire = w.name === 'gemini' ? frames.map((f) => f.replaceAll('"__proto__"', `"${key}"`)) : frames
      server.queue(sse([...w.partial([]), ...wire, ...w.end()]))
      const r = await provider().chat(ask({ onToken: () => {} }))
      const a = r.toolCalls[0]!.arguments as any
      expect(a.city).toBe('Paris')
      expect(Object.hasOwn(a, '__proto__')).toBe(false)
      expect(Object.getPrototypeOf(a)).toBe(Object.prototype)
      expect(Object.hasOwn(a.nested, '__proto__')).toBe(false)
      expect(a.polluted).toBeUndefined()
    }
    expectPrototypesUnchanged(before)
  })

  it('a whole (non-streamed) answer is checked the same way', async () => {
    const before = prototypes()
    const body =
      w.name === 'openai'
        ? { choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ index: '__proto__', id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] }
        : w.name === 'anthropic'
          ? { content: { length: 1, 0: { type: 'text', text: 'x' } }, stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }
          : { candidates: [{ content: { parts: 'not an array' }, finishReason: 'STOP' }] }
    server.queue(json(body))
    const err = await provider()
      .chat(ask())
      .catch((e) => e)
    expectPrototypesUnchanged(before)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ retryable: false, status: undefined })
    expect(err.message).toMatch(/^[a-z]+: unusable response: .*(index|must be an array)/)
  })
})
