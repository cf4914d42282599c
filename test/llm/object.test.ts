import fc from 'fast-check'
import * as v from 'valibot'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { Context } from '../../src/context.js'
import { AbortedError } from '../../src/abort.js'
import { ContextError, ValidationError } from '../../src/errors.js'
import { Executor, OutputError } from '../../src/llm/executor.js'
import type { DeepPartial } from '../../src/llm/partial.js'
import { mockProvider, type MockReply } from '../../src/test/index.js'

const City = v.object({
  name: v.string(),
  country: v.string(),
  population: v.number(),
  landmarks: v.array(v.object({ name: v.string(), year: v.optional(v.number()) })),
})
type City = v.InferOutput<typeof City>
const PARIS: City = { name: 'Paris', country: 'France', population: 2102650, landmarks: [{ name: 'Eiffel Tower', year: 1889 }, { name: 'Louvre' }] }

/** A context on a mock `openai` answering `replies`, routed to gpt-4o-mini. */
function setup(replies: MockReply[], config: ConstructorParameters<typeof Context>[0] = {}) {
  const mock = mockProvider({ name: 'openai', replies })
  const ctx = new Context({ routing: { model: 'gpt-4o-mini' }, ...config }, { executor: new Executor({ providers: [mock] }) })
  return { mock, ctx }
}

async function rejected(p: Promise<unknown> | (() => unknown)): Promise<any> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    expect(e).toBeInstanceOf(ContextError)
    return e
  }
  throw new Error('expected a rejection')
}

describe('ctx.generateObject', () => {
  it('returns the object typed from the schema, asking for JSON with the schema as JSON Schema', async () => {
    const { ctx, mock } = setup([{ text: JSON.stringify(PARIS), usage: { inputTokens: 40, outputTokens: 30 } }])
    ctx.addInput({ city: 'Paris' })
    const r = await ctx.generateObject({ schema: City, task: 'Describe the city' })
    expectTypeOf(r.object).toEqualTypeOf<City>()
    expect(r.object).toEqual(PARIS)
    expect(r.usage).toEqual({ inputTokens: 40, outputTokens: 30 })
    expect(r.cost).toBeGreaterThan(0)
    expect(r).toMatchObject({ modelUsed: 'gpt-4o-mini', providerUsed: 'openai', finishReason: 'stop' })
    const sent = mock.lastRequest!
    expect(sent.responseFormat).toBe('json')
    expect(sent.jsonSchema).toMatchObject({ type: 'object', required: ['name', 'country', 'population', 'landmarks'] })
    // The task runs over the inputs, as execute does.
    expect(sent.messages.at(-1)!.content).toMatch(/^Context:\n\{"city":"Paris"\}[\s\S]*Task: Describe the city/)
    // Counted in ctx.usage; nothing appended to the history.
    expect(ctx.usage.calls).toBe(1)
    expect(ctx.getCompletionMessages()).toEqual([])
  })

  it('applies the schema\'s transforms: object is its output type', async () => {
    const Schema = v.object({ at: v.pipe(v.string(), v.isoDate(), v.transform((s) => new Date(s))) })
    const { ctx, mock } = setup(['{"at":"2026-11-26"}'])
    const r = await ctx.generateObject({ schema: Schema, task: 'When?' })
    expectTypeOf(r.object).toEqualTypeOf<{ at: Date }>()
    expect(r.object.at).toBeInstanceOf(Date)
    // The model is shown the input side: a string.
    expect(mock.lastRequest!.jsonSchema).toMatchObject({ properties: { at: { type: 'string', format: 'date' } } })
  })

  it('a JSON Schema object: sent as it is, object unknown and not checked', async () => {
    const schema = { type: 'object', properties: { n: { type: 'number' } } }
    const { ctx, mock } = setup(['{"n":"not a number"}'])
    const r = await ctx.generateObject({ schema, task: 'n?' })
    expectTypeOf(r.object).toBeUnknown()
    expect(r.object).toEqual({ n: 'not a number' })
    expect(mock.lastRequest!.jsonSchema).toEqual(schema)
  })

  it('over messages, or else the completion history, as a chat (wire shapes accepted, system prompt first)', async () => {
    const { ctx, mock } = setup([JSON.stringify(PARIS), JSON.stringify(PARIS)])
    ctx.addCompletionMessage({ role: 'user', content: 'Tell me about Paris' })
    expect((await ctx.generateObject({ schema: City })).object).toEqual(PARIS)
    // "JSON" said to the model: OpenAI's JSON mode refuses a conversation that never says it.
    expect(mock.lastRequest!.messages).toEqual([{ role: 'system', content: 'Reply with JSON.' }, { role: 'user', content: 'Tell me about Paris' }])
    const r = await ctx.generateObject({
      schema: City,
      systemPrompt: 'You are a JSON API.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Paris?' }] }, { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'look', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'found' }],
    })
    expect(r.object).toEqual(PARIS)
    expect(mock.lastRequest!.messages[0]).toEqual({ role: 'system', content: 'You are a JSON API.' })
    expect(mock.lastRequest!.messages[2]).toMatchObject({ role: 'assistant', toolCalls: [{ id: 'c1', name: 'look' }] })
    // The history is as it was.
    expect(ctx.getCompletionMessages()).toHaveLength(1)
  })

  it('tolerates a ```json fence', async () => {
    const { ctx } = setup(['```json\n' + JSON.stringify(PARIS) + '\n```'])
    expect((await ctx.generateObject({ schema: City, task: 'Paris' })).object).toEqual(PARIS)
  })

  it('invalid JSON is an OutputError with the raw text', async () => {
    const { ctx } = setup(['Sure! Here is Paris: {"name": "Paris"'])
    const e = await rejected(ctx.generateObject({ schema: City, task: 'Paris' }))
    expect(e).toBeInstanceOf(OutputError)
    expect(e.text).toBe('Sure! Here is Paris: {"name": "Paris"')
    expect(e.message).toMatch(/did not answer with JSON/)
  })

  it('a schema violation is an OutputError listing every issue at its path', async () => {
    const { ctx } = setup([JSON.stringify({ ...PARIS, population: 'many', landmarks: [{ name: 3 }] })])
    const e = await rejected(ctx.generateObject({ schema: City, task: 'Paris' }))
    expect(e).toBeInstanceOf(OutputError)
    expect(e.issues.map((i: { path: string }) => i.path)).toEqual(['population', 'landmarks[0].name'])
    expect(e.message).toMatch(/^output\.schema rejected the model's answer: population: /)
    expect(JSON.parse(e.text).population).toBe('many')
  })

  it('bad requests are ValidationErrors naming the option, before any call', async () => {
    const { ctx, mock } = setup([])
    const cases: [unknown, string][] = [
      [undefined, 'request'],
      [{ task: 'x' }, 'schema'],
      [{ schema: v.date(), task: 'x' }, 'schema'],
      [{ schema: [], task: 'x' }, 'schema'],
      [{ schema: City, task: 'x', messages: [] }, 'messages'],
      [{ schema: City, messages: 'hi' }, 'messages'],
      [{ schema: City, messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
      [{ schema: City, task: 'x', sytemPrompt: 'typo' }, 'sytemPrompt'],
      [{ schema: City, task: 'x', systemPrompt: 3 }, 'systemPrompt'],
      [{ schema: City, task: '' }, 'task'],
      [{ schema: City }, 'messages'],
    ]
    for (const [request, path] of cases) {
      const e = await rejected(ctx.generateObject(request as never))
      expect(e, JSON.stringify(request)).toBeInstanceOf(ValidationError)
      expect(e.path, JSON.stringify(request)).toBe(path)
    }
    expect(() => ctx.streamObject({ schema: City } as never)).not.toThrow()
    expect(() => ctx.streamObject({ schema: v.date() } as never)).toThrow(ValidationError)
    expect(mock.calls).toHaveLength(0)
  })

  it('an executor without object() says so', async () => {
    const ctx = new Context({}, { executor: { execute: async () => ({}) as never, chat: async () => ({}) as never } })
    expect((await rejected(ctx.generateObject({ schema: City, task: 'x' }))).message).toMatch(/executor: has no object/)
    expect(() => ctx.streamObject({ schema: City, task: 'x' })).toThrow(/executor: has no streamObject/)
  })
})

describe('ctx.streamObject', () => {
  const text = JSON.stringify(PARIS, null, 1)

  it('yields deep-partial objects in order, each changed, then the validated object and result', async () => {
    // One character a delta: the hardest case for the partial parser; 1 ms apart, so the reader sees each.
    const { ctx } = setup([{ text, chunks: [...text], delayMs: 1 }])
    const stream = ctx.streamObject({ schema: City, task: 'Paris' })
    const seen: DeepPartial<City>[] = []
    for await (const partial of stream) {
      expectTypeOf(partial).toEqualTypeOf<DeepPartial<City>>()
      seen.push(partial)
    }
    expect(seen[0]).toEqual({})
    expect(seen).toContainEqual({ name: 'P' })
    expect(seen).toContainEqual({ name: 'Paris', country: 'France', population: 2102650, landmarks: [{ name: 'Eiffel Tower' }] })
    expect(seen.at(-1)).toEqual(PARIS)
    // Each emitted only when it changed.
    for (let i = 1; i < seen.length; i++) expect(JSON.stringify(seen[i])).not.toBe(JSON.stringify(seen[i - 1]))
    // A number shows only whole: never 2, 21, 210…
    expect(seen.filter((s) => s.population !== undefined).every((s) => s.population === 2102650)).toBe(true)
    const object = await stream.object
    expectTypeOf(object).toEqualTypeOf<City>()
    // A partial string is a prefix: a literal type widens ('veg' is on its way to 'vegan').
    expectTypeOf<DeepPartial<{ diet: 'vegan' | 'any'; n: 1 }>>().toEqualTypeOf<{ diet?: string; n?: 1 }>()
    expect(object).toEqual(PARIS)
    expect((await stream.result).usage.outputTokens).toBeGreaterThan(0)
  })

  it('a slow reader gets the newest partial, not every step', async () => {
    const { ctx } = setup([{ text, chunks: [...text] }])
    const stream = ctx.streamObject({ schema: City, task: 'Paris' })
    await stream.object
    const seen: unknown[] = []
    for await (const partial of stream) seen.push(partial)
    expect(seen).toEqual([PARIS])
  })

  it('skips a ```json fence as it streams', async () => {
    const fenced = '```json\n' + text + '\n```'
    const { ctx } = setup([{ text: fenced, chunks: [...fenced] }])
    const seen: unknown[] = []
    for await (const partial of ctx.streamObject({ schema: City, task: 'Paris' })) seen.push(partial)
    expect(seen[0]).toEqual({})
    expect(seen.at(-1)).toEqual(PARIS)
  })

  it('a schema violation: partials as they came, then the iteration throws the OutputError; object rejects with it', async () => {
    const bad = JSON.stringify({ ...PARIS, population: 'many' })
    const { ctx } = setup([{ text: bad, chunks: bad.match(/.{1,7}/g)! }])
    const stream = ctx.streamObject({ schema: City, task: 'Paris' })
    const seen: unknown[] = []
    const e = await rejected(async () => {
      for await (const partial of stream) seen.push(partial)
    })
    expect(e).toBeInstanceOf(OutputError)
    expect(seen.at(-1)).toMatchObject({ population: 'many' })
    expect(await rejected(stream.object)).toBe(e)
    expect(await rejected(stream.result)).toBe(e)
  })

  it('text that is not JSON yields nothing and ends in an OutputError', async () => {
    const { ctx } = setup([{ text: 'I cannot do that.', chunks: ['I cannot', ' do that.'] }])
    const stream = ctx.streamObject({ schema: City, task: 'Paris' })
    const seen: unknown[] = []
    expect(
      await rejected(async () => {
        for await (const partial of stream) seen.push(partial)
      }),
    ).toBeInstanceOf(OutputError)
    expect(seen).toEqual([])
  })

  it('abort mid-stream by the signal: the partials so far, then an AbortedError with the partial text', async () => {
    const { ctx } = setup([{ text, chunks: text.match(/[\s\S]{1,10}/g)!, delayMs: 2 }])
    const controller = new AbortController()
    const stream = ctx.streamObject({ schema: City, task: 'Paris', signal: controller.signal })
    const seen: DeepPartial<City>[] = []
    const e = await rejected(async () => {
      for await (const partial of stream) {
        seen.push(partial)
        if (partial.country) controller.abort()
      }
    })
    expect(e).toBeInstanceOf(AbortedError)
    expect(e.reason).toBe('cancelled')
    expect(e.partial.text.length).toBeLessThan(text.length)
    expect(seen.at(-1)!.country).toBe('France')
    expect(seen.some((s) => s.landmarks?.length)).toBe(false)
    expect(await rejected(stream.object)).toBe(e)
  })

  it('cancel() stops the call: object rejects with an AbortedError, reason cancelled', async () => {
    const { ctx } = setup([{ text, chunks: [...text], delayMs: 1 }])
    const stream = ctx.streamObject({ schema: City, task: 'Paris' })
    const seen: DeepPartial<City>[] = []
    const e = await rejected(async () => {
      for await (const partial of stream) {
        seen.push(partial)
        if (partial.name === 'Paris') stream.cancel()
      }
    })
    expect(e).toBeInstanceOf(AbortedError)
    expect(e.reason).toBe('cancelled')
    expect(seen.at(-1)!.name).toBe('Paris')
    expect(seen.at(-1)!.population).toBeUndefined()
    expect(await rejected(stream.object)).toBe(e)
  })

  it('property: whatever the chunking of any JSON object, each partial is a deep partial of the final object, and the last is it', async () => {
    /** `p` is what a prefix of `final`'s text may show: strings cut, keys and elements missing, only the last element partial. */
    const partialOf = (p: unknown, final: unknown): boolean => {
      if (typeof final === 'string') return typeof p === 'string' && final.startsWith(p)
      if (Array.isArray(final)) return Array.isArray(p) && p.length <= final.length && p.every((x, k) => (k < p.length - 1 ? JSON.stringify(x) === JSON.stringify(final[k]) : partialOf(x, final[k])))
      if (final && typeof final === 'object') return !!p && typeof p === 'object' && Object.keys(p).every((k) => Object.hasOwn(final, k) && partialOf((p as any)[k], (final as any)[k]))
      return Object.is(p, final)
    }
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1 }), async (value, cuts) => {
        const text = JSON.stringify(value)
        const chunks: string[] = []
        for (let at = 0, k = 0; at < text.length; k++) chunks.push(text.slice(at, (at += cuts[k % cuts.length]!)))
        const { ctx } = setup([{ text, chunks }])
        const stream = ctx.streamObject({ schema: { type: 'object' }, task: 'any' })
        const seen: unknown[] = []
        for await (const partial of stream) seen.push(partial)
        const final = JSON.parse(text)
        for (const p of seen) if (!partialOf(p, final)) throw new Error(`${JSON.stringify(p)} is not a partial of ${text}`)
        expect(seen.at(-1)).toEqual(final)
        expect(await stream.object).toEqual(final)
      }),
      { numRuns: 150 },
    )
  })

  it('regression (quadratic re-parsing): a 100 KB answer in 25,000 deltas streams in well under 5 s, its last partial whole', async () => {
    const big = { items: Array.from({ length: 1500 }, (_, i) => ({ id: i, label: `item number ${i}`, tags: ['a', 'b', 'c'], ok: i % 2 === 0 })) }
    const text = JSON.stringify(big)
    expect(text.length).toBeGreaterThan(100_000)
    const { ctx } = setup([{ text, chunks: text.match(/[\s\S]{1,4}/g)! }])
    const started = Date.now()
    const stream = ctx.streamObject({ schema: { type: 'object' }, task: 'many' })
    let last: unknown
    let count = 0
    for await (const partial of stream) (last = partial), count++
    // 0.4 s here; unthrottled (25,000 parses of 50 KB on average) 59 s.
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(count).toBeGreaterThan(1)
    expect(last).toEqual(big)
  }, 30_000)

  it('prototype keys in a streamed answer stay data', async () => {
    const text = '{"__proto__": {"admin": true}, "constructor": {"prototype": {"admin": true}}, "name": "x"}'
    const { ctx } = setup([{ text, chunks: [...text] }])
    const seen: any[] = []
    const stream = ctx.streamObject({ schema: { type: 'object' }, task: 'x' })
    for await (const partial of stream) seen.push(partial)
    for (const p of seen) expect(Object.getPrototypeOf(p)).toBe(Object.prototype)
    expect(seen.at(-1).admin).toBeUndefined()
    expect(({} as any).admin).toBeUndefined()
    expect(Object.hasOwn((await stream.object) as object, '__proto__')).toBe(true)
  })

  it('iterated once; a second iteration is a ValidationError', async () => {
    const { ctx } = setup([text])
    const stream = ctx.streamObject({ schema: City, task: 'Paris' })
    for await (const _ of stream);
    await expect(async () => {
      for await (const _ of stream);
    }).rejects.toThrow(ValidationError)
  })

  it('nobody iterating and nobody awaiting: no unhandled rejection', async () => {
    const { ctx } = setup(['not json'])
    const stream = ctx.streamObject({ schema: City, task: 'Paris' })
    await new Promise((r) => setTimeout(r, 20))
    expect(await rejected(stream.result)).toBeInstanceOf(OutputError)
  })
})

describe('generateChatCompletion with output.format json', () => {
  it('parses and validates the reply: result.object; the reply is appended as text', async () => {
    const { ctx, mock } = setup([JSON.stringify(PARIS)], { output: { format: 'json', schema: City } })
    ctx.addCompletionMessage({ role: 'user', content: 'Paris as an object' })
    const r = await ctx.generateChatCompletion()
    expect(r.object).toEqual(PARIS)
    expect(mock.lastRequest).toMatchObject({ responseFormat: 'json', jsonSchema: { type: 'object' } })
    // The user said "object", not "JSON": the executor says it.
    expect(mock.lastRequest!.messages[0]).toEqual({ role: 'system', content: 'Reply with JSON.' })
    expect(ctx.getCompletionMessages().at(-1)).toEqual({ role: 'assistant', content: JSON.stringify(PARIS) })
  })

  it('a system prompt that says JSON is left alone; one that does not gets the line appended', async () => {
    const { ctx, mock } = setup(['{}', '{}'], { output: { format: 'json' } })
    ctx.setCompletionMessages([{ role: 'system', content: 'Answer in JSON.', name: 'rules' }, { role: 'user', content: 'hi' }])
    await ctx.generateChatCompletion({ append: false })
    expect(mock.lastRequest!.messages[0]).toEqual({ role: 'system', content: 'Answer in JSON.', name: 'rules' })
    ctx.setCompletionMessages([{ role: 'system', content: 'Be brief.', name: 'rules' }, { role: 'user', content: 'hi' }])
    const r = await ctx.generateChatCompletion({ append: false })
    expect(mock.lastRequest!.messages[0]).toEqual({ role: 'system', content: 'Be brief.\n\nReply with JSON.', name: 'rules' })
    expect(r.object).toEqual({})
  })

  it('a reply that fails the schema is an OutputError; without format json nothing is parsed', async () => {
    const { ctx } = setup(['{"name": 1}'], { output: { format: 'json', schema: City } })
    ctx.addCompletionMessage({ role: 'user', content: 'Paris' })
    expect(await rejected(ctx.generateChatCompletion())).toBeInstanceOf(OutputError)
    const plain = setup(['{"name": 1}'])
    plain.ctx.addCompletionMessage({ role: 'user', content: 'Paris' })
    const r = await plain.ctx.generateChatCompletion()
    expect(r.object).toBeUndefined()
    expect(plain.mock.lastRequest!.responseFormat).toBeUndefined()
  })

  it('a reply with tool calls is not parsed (there is no answer yet)', async () => {
    const { ctx } = setup([{ toolCalls: [{ name: 'look', arguments: {} }] }], { output: { format: 'json' } })
    ctx.addCompletionMessage({ role: 'user', content: 'Paris' })
    const r = await ctx.generateChatCompletion({ tools: { look: { parameters: { type: 'object' } } } })
    expect(r.toolCalls).toHaveLength(1)
    expect(r.object).toBeUndefined()
  })
})
