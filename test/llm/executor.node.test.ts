import * as v from 'valibot'
import { afterEach, describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ConstraintError } from '../../src/errors.js'
import { setDefaultExecutor } from '../../src/llm/default.js'
import { OutputError } from '../../src/llm/executor.js'
import { FORMAT_INSTRUCTIONS } from '../../src/llm/format.js'
import { messageTokens } from '../../src/llm/fit.js'
import type { CompletionMessage } from '../../src/state/messages.js'
import type { Provider } from '../../src/llm/types.js'
import { anthropic } from '../../src/providers/anthropic.js'
import { AbortedError, ProviderError } from '../../src/providers/kernel/errors.js'
import { gemini } from '../../src/providers/gemini.js'
import { openai } from '../../src/providers/openai.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { expectNoKey } from '../providers/suite.js'
import { anthropicError, anthropicServer, message, messageEvents } from '../providers/servers/anthropic.js'
import { generateChunks, generateResponse, geminiError, geminiServer } from '../providers/servers/gemini.js'
import { hang, json, KEY, sse, type Loopback, type Seen, type Step } from '../providers/servers/loopback.js'
import { completion, completionChunks, openaiError, openaiServer } from '../providers/servers/openai.js'
import { serveWires } from '../providers/servers/per-wire.js'

/**
 * `ctx.execute` and `ctx.generateChatCompletion` end to end: real `fetch` over loopback HTTP to the
 * fake servers of test/providers/servers, which check every request against each provider's
 * documented format (a request that breaks it gets a 418 and is listed in `server.problems`).
 */

// A second fake key, for the context's variables: neither may leak anywhere.
const VAR_KEY = 'sk-var-Hq3nT8wPz6Lk1Vb9'
const CALL_KEY = 'sk-call-Rt5yU2iOp7As4Df0'

interface Wire {
  name: 'openai' | 'anthropic' | 'gemini'
  model: string
  serve(): Promise<Loopback>
  make(server: Loopback): Provider
  text(text: string, usage: [number, number]): Step
  stream(deltas: string[], usage: [number, number]): Step
  toolCall(stream: boolean): Step
  error(status: number, message: string): Step
  /** The system prompt and the user text the server received. */
  prompt(seen: Seen): { system: string | undefined; user: string }
  key(seen: Seen): string | undefined
  /** How the request asked for JSON. */
  jsonAsk(seen: Seen): unknown
  /** The tool call and its result as the second request carried them back. */
  toolRoundTrip(seen: Seen): unknown
  toolsSent(seen: Seen): unknown
}

const call = { id: 'call_w1', name: 'get_weather', args: { city: 'Paris' } }

const wires: Wire[] = [
  {
    name: 'openai',
    model: 'gpt-4o',
    serve: openaiServer,
    make: (s) => openai({ baseURL: `${s.url}/v1`, apiKey: KEY, retryDelay: 1 }),
    text: (text, usage) => json(completion({ content: text, usage })),
    stream: (deltas, usage) => sse(completionChunks(deltas, { usage })),
    toolCall: (stream) => {
      const toolCalls = [{ id: call.id, name: call.name, arguments: JSON.stringify(call.args) }]
      return stream ? sse(completionChunks([], { toolCalls, usage: [40, 12] })) : json(completion({ toolCalls, usage: [40, 12] }))
    },
    error: (status, msg) => json(openaiError(msg, status === 429 ? 'requests' : 'invalid_request_error', status === 400 && /context/.test(msg) ? 'context_length_exceeded' : null), status),
    prompt: (s) => ({ system: s.body.messages.find((m: any) => m.role === 'system')?.content, user: s.body.messages.find((m: any) => m.role === 'user').content }),
    key: (s) => s.headers.authorization?.replace(/^Bearer /, ''),
    jsonAsk: (s) => s.body.response_format,
    toolRoundTrip: (s) => [s.body.messages[2].tool_calls, s.body.messages[3]],
    toolsSent: (s) => s.body.tools.map((t: any) => t.function.name),
  },
  {
    name: 'anthropic',
    model: 'claude-haiku-4-5',
    serve: anthropicServer,
    make: (s) => anthropic({ baseURL: s.url, apiKey: KEY, retryDelay: 1 }),
    text: (text, usage) => json(message({ text, usage })),
    stream: (deltas, usage) => sse(messageEvents(deltas, { usage })),
    toolCall: (stream) => {
      const toolUses = [{ id: call.id, name: call.name, input: call.args }]
      return stream ? sse(messageEvents([], { toolUses, usage: [40, 12] })) : json(message({ toolUses, usage: [40, 12] }))
    },
    error: (status, msg) => json(anthropicError(status === 429 ? 'rate_limit_error' : 'invalid_request_error', msg), status),
    prompt: (s) => ({ system: s.body.system, user: s.body.messages[0].content }),
    key: (s) => s.headers['x-api-key'] as string | undefined,
    jsonAsk: (s) => s.body.system,
    toolRoundTrip: (s) => [s.body.messages[1].content, s.body.messages[2].content],
    toolsSent: (s) => s.body.tools.map((t: any) => t.name),
  },
  {
    name: 'gemini',
    model: 'gemini-2.5-flash',
    serve: geminiServer,
    make: (s) => gemini({ baseURL: `${s.url}/v1beta`, apiKey: KEY, retryDelay: 1 }),
    text: (text, usage) => json(generateResponse({ text, usage })),
    stream: (deltas, usage) => sse(generateChunks(deltas, { usage })),
    toolCall: (stream) => {
      const calls = [{ name: call.name, args: call.args }]
      return stream ? sse(generateChunks([], { calls, usage: [40, 12] })) : json(generateResponse({ calls, usage: [40, 12] }))
    },
    error: (status, msg) => json(geminiError(status, msg, status === 429 ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT'), status),
    prompt: (s) => ({ system: s.body.systemInstruction?.parts[0].text, user: s.body.contents[0].parts[0].text }),
    key: (s) => s.headers['x-goog-api-key'] as string | undefined,
    jsonAsk: (s) => s.body.generationConfig,
    toolRoundTrip: (s) => [s.body.contents[1].parts, s.body.contents[2].parts],
    toolsSent: (s) => s.body.tools[0].functionDeclarations.map((f: any) => f.name),
  },
]

const wired = serveWires(wires, (w, server) => w.make(server))
const servers = wired.servers
afterEach(() => setDefaultExecutor(undefined))

const ctxFor = (w: Wire, config: ConstructorParameters<typeof Context>[0] = {}, variables?: Record<string, string>) =>
  new Context({ routing: { model: w.model }, ...config }, { executor: wired.executor, variables })

/** What `fn` rejected with, checked for leaked keys. */
async function rejected(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn()
  } catch (e) {
    expectNoKey(e)
    for (const k of [VAR_KEY, CALL_KEY]) expect(`${String(e)} ${JSON.stringify(e)}`).not.toContain(k)
    return e
  }
  throw new Error('expected a rejection')
}

const prices: Record<string, [number, number]> = { 'gpt-4o': [2.5, 10], 'claude-haiku-4-5': [1, 5], 'gemini-2.5-flash': [0.3, 2.5] }

describe.each(wires)('ctx.execute over $name', (w) => {
  const server = () => servers[w.name]!

  it('sends the system prompt, the inputs as compact JSON pruned to maxTokens, and the task; returns the whole response', async () => {
    const ctx = ctxFor(w, { intent: 'summarize', constraints: { maxTokens: 60 } })
    ctx.addInput({ title: 'Book 1', year: 1999 }, { relevance: 0.9 })
    // An object is never cut: it does not fit, and the scan goes on to a smaller input that does.
    ctx.addInput({ notes: 'Drop me: I am long and not relevant enough to fit. '.repeat(20) }, { relevance: 0.5 })
    ctx.addInput('Keep me too.', { relevance: 0.2 })
    server().queue(w.text('Two books.', [1000, 200]))
    const r = await ctx.execute({ task: 'Summarize the books', systemPrompt: 'You are terse.' })
    const { system, user } = w.prompt(server().seen[0]!)
    expect(system).toBe('You are terse.')
    expect(user).toBe('Context:\n{"title":"Book 1","year":1999}\n\nKeep me too.\n\nTask: Summarize the books')
    expect(user).not.toContain('[object Object]')
    const [pin, pout] = prices[w.model]!
    expect(r).toEqual({
      result: 'Two books.',
      contextId: ctx.id,
      modelUsed: w.model,
      providerUsed: w.name,
      duration: expect.any(Number),
      usage: { inputTokens: 1000, outputTokens: 200 },
      cost: expect.closeTo((1000 * pin + 200 * pout) / 1e6, 12),
      finishReason: 'stop',
      metadata: { intent: 'summarize', inputCount: 2, totalInputTokens: ctx.inputs[0]!.tokens + ctx.inputs[2]!.tokens },
      // One step (no tools): the provider call itself, priced as the whole.
      steps: [{ stepNumber: 0, text: 'Two books.', toolCalls: [], toolResults: [], finishReason: 'stop', usage: { inputTokens: 1000, outputTokens: 200 }, cost: r.cost, model: w.model, provider: w.name }],
      toolCalls: [],
    })
    expect(r.duration).toBeGreaterThanOrEqual(0)
    expect(r.duration).toBeLessThan(30) // seconds
  })

  it('streams through onToken, with the usage the stream reports', async () => {
    const ctx = ctxFor(w)
    server().queue(w.stream(['Hel', 'lo ', 'world'], [30, 3]))
    const tokens: string[] = []
    const r = await ctx.execute({ task: 'Greet', onToken: (t) => tokens.push(t) })
    expect(tokens).toEqual(['Hel', 'lo ', 'world'])
    expect(r.result).toBe('Hello world')
    expect(r.usage).toEqual({ inputTokens: 30, outputTokens: 3 })
  })

  it('output.format json asks the provider for JSON its own way; a Standard Schema validates the answer', async () => {
    const schema = v.object({ title: v.string() })
    server().queue(w.text('{"title":"Dune"}', [10, 5]))
    const r = await ctxFor(w, { output: { format: 'json', schema } }).execute({ task: 'Give a title' })
    expect(r.result).toEqual({ title: 'Dune' })
    const asked = w.jsonAsk(server().seen[0]!)
    // The valibot schema goes as JSON Schema (issue 9), as a JSON Schema object does below.
    const sent = { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] }
    if (w.name === 'openai') expect(asked).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema: sent } })
    if (w.name === 'anthropic') expect(asked).toContain(`Reply with one JSON value and nothing else: no prose, no code fences. It must match this JSON Schema: ${JSON.stringify(sent)}`)
    if (w.name === 'gemini') expect(asked).toMatchObject({ responseMimeType: 'application/json', responseJsonSchema: sent })
    // OpenAI's JSON mode refuses messages that never say "JSON": the executor adds it.
    expect(w.prompt(server().seen[0]!).user).toMatch(/JSON/)

    server().queue(w.text('{"title":42}', [10, 5]))
    const e = await rejected(() => ctxFor(w, { output: { format: 'json', schema } }).execute({ task: 'Give a title as JSON' }))
    expect(e).toBeInstanceOf(OutputError)
    expect(e.issues[0].path).toBe('title')
  })

  it('a JSON Schema in output.schema is sent to the provider', async () => {
    const schema = { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] }
    server().queue(w.text('```json\n{"title":"Dune"}\n```', [10, 5]))
    const r = await ctxFor(w, { output: { format: 'json', schema } }).execute({ task: 'Give a title' })
    expect(r.result).toEqual({ title: 'Dune' })
    const asked = w.jsonAsk(server().seen[0]!)
    if (w.name === 'openai') expect(asked).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema } })
    if (w.name === 'anthropic') expect(asked).toContain(JSON.stringify(schema))
    if (w.name === 'gemini') expect(asked).toMatchObject({ responseMimeType: 'application/json', responseJsonSchema: schema })
  })

  it('maxTime aborts a hanging server: AbortedError, reason and code timeout, and the server sees the connection closed', async () => {
    server().queue(hang)
    const e = await rejected(() => ctxFor(w, { constraints: { maxTime: 0.3 } }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(AbortedError)
    expect(e).toMatchObject({ code: 'timeout', reason: 'timeout', path: 'constraints.maxTime' })
    expect(e.message).toContain('0.3 s')
    await server().seen[0]!.clientClosed
  })

  it("the caller's signal aborts a stream: AbortedError with the partial text; the server sees the close", async () => {
    const controller = new AbortController()
    server().queue(sse(w.name === 'openai' ? completionChunks(['one ', 'two ']).slice(0, 3) : w.name === 'anthropic' ? messageEvents(['one ', 'two ']).slice(0, 5) : generateChunks(['one ', 'two '], { finish: null }), 'hold'))
    const e = await rejected(() =>
      ctxFor(w, { routing: { model: w.model, fallbacks: [wires.find((x) => x !== w)!.model] }, constraints: { maxTime: 30 } }).execute({
        task: 'x',
        signal: controller.signal,
        onToken: (t) => t === 'two ' && controller.abort(),
      }),
    )
    expect(e).toBeInstanceOf(AbortedError)
    expect(e.code).toBe('aborted')
    expect(e.partial.text).toBe('one two ')
    await server().seen[0]!.clientClosed
    // No fallback after an abort.
    for (const other of wires) if (other !== w) expect(servers[other.name]!.seen).toHaveLength(0)
  })

  it('maxCost refuses before any request: the server sees nothing', async () => {
    const e = await rejected(() => ctxFor(w, { routing: { model: w.model, maxOutputTokens: 100_000 }, constraints: { maxCost: 0.001 } }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ConstraintError)
    expect(e.message).toMatch(/estimated cost \$[\d.]+ .* exceeds constraints\.maxCost \$0\.001/)
    expect(server().seen).toHaveLength(0)
  })

  it("API key precedence: the call's, then variables, then the provider's; none leaks into errors, toJSON or the store", async () => {
    const variables = { [`${w.name.toUpperCase()}_API_KEY`]: VAR_KEY }
    server().queue(w.text('a', [1, 1]), w.text('b', [1, 1]), w.text('c', [1, 1]))
    await ctxFor(w).execute({ task: 'x' })
    await ctxFor(w, {}, variables).execute({ task: 'x' })
    await ctxFor(w, {}, variables).execute({ task: 'x', apiKey: CALL_KEY })
    expect(server().seen.map((s) => w.key(s))).toEqual([KEY, VAR_KEY, CALL_KEY])

    // A server that echoes the key it got (as OpenAI's 401 does) leaks nothing through our errors.
    const ctx = ctxFor(w, {}, variables)
    for (const key of [VAR_KEY, CALL_KEY]) {
      server().queue(w.error(401, `Incorrect API key provided: ${key}.`))
      const e = await rejected(() => ctx.execute({ task: 'x', apiKey: key === CALL_KEY ? key : undefined }))
      expect(e).toBeInstanceOf(ProviderError)
      expect(e.message).toContain('***')
    }
    const adapter = memoryStorage()
    ctx.addInput({ note: 'saved' })
    await createContextStore(adapter).save(ctx)
    const { keys } = await adapter.list('')
    const written = await Promise.all(keys.map((k) => adapter.get(k)))
    for (const text of [JSON.stringify(ctx), JSON.stringify(ctx.toJSON()), JSON.stringify(written)]) {
      for (const key of [KEY, VAR_KEY, CALL_KEY]) expect(text).not.toContain(key)
    }
    expect(written.length).toBeGreaterThan(0)
  })
})

describe.each(wires)('ctx.generateChatCompletion over $name', (w) => {
  const server = () => servers[w.name]!
  const tools = [{ name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }]

  it.each([false, true])('tool calls come back into the history and the result goes out in the wire format (streamed: %s)', async (stream) => {
    const ctx = ctxFor(w)
    ctx.addCompletionMessage({ role: 'system', content: 'Use tools.' })
    ctx.addCompletionMessage({ role: 'user', content: 'Weather in Paris?' })
    server().queue(w.toolCall(stream))
    const tokens: string[] = []
    const first = await ctx.generateChatCompletion({ tools, ...(stream && { onToken: (t: string) => tokens.push(t) }) })
    expect(w.toolsSent(server().seen[0]!)).toEqual(['get_weather'])
    expect(first.finishReason).toBe('tool_calls')
    expect(first.toolCalls).toHaveLength(1)
    const got = first.toolCalls[0]!
    expect(got).toMatchObject({ name: 'get_weather', arguments: { city: 'Paris' } })
    const [pin, pout] = prices[w.model]!
    expect(first.cost).toBeCloseTo((40 * pin + 12 * pout) / 1e6, 12)
    const history = ctx.getCompletionMessages()
    expect(history.at(-1)).toEqual({ role: 'assistant', content: '', toolCalls: [got] })

    ctx.addCompletionMessage({ role: 'tool', toolCallId: got.id, name: 'get_weather', content: '{"sky":"sunny"}' })
    server().queue(stream ? w.stream(['Sunny.'], [60, 2]) : w.text('Sunny.', [60, 2]))
    const second = await ctx.generateChatCompletion({ tools, ...(stream && { onToken: (t: string) => tokens.push(t) }) })
    expect(second.text).toBe('Sunny.')
    if (stream) expect(tokens).toEqual(['Sunny.'])
    const back = w.toolRoundTrip(server().seen[1]!)
    if (w.name === 'openai') {
      expect(back).toEqual([
        [{ id: got.id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        { role: 'tool', tool_call_id: got.id, content: '{"sky":"sunny"}' },
      ])
    }
    if (w.name === 'anthropic') {
      expect(back).toEqual([
        [{ type: 'tool_use', id: got.id, name: 'get_weather', input: { city: 'Paris' } }],
        [{ type: 'tool_result', tool_use_id: got.id, content: '{"sky":"sunny"}' }],
      ])
    }
    if (w.name === 'gemini') {
      expect(back).toEqual([[{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }], [{ functionResponse: { name: 'get_weather', response: { sky: 'sunny' } } }]])
    }
    expect(ctx.getCompletionMessages()).toHaveLength(5)
  })

  it('append: false leaves the history unchanged', async () => {
    const ctx = ctxFor(w)
    ctx.addCompletionMessage({ role: 'user', content: 'Hi' })
    server().queue(w.text('Hello!', [5, 2]))
    expect((await ctx.generateChatCompletion({ append: false })).text).toBe('Hello!')
    expect(ctx.getCompletionMessages()).toEqual([{ role: 'user', content: 'Hi' }])
  })
})

describe('fallbacks over HTTP', () => {
  const [oa, an, ge] = wires as [Wire, Wire, Wire]
  const routing = { model: oa.model, fallbacks: [an.model, ge.model] }

  it('429 until the retries are exhausted, then the next model; a context-window 400 too', async () => {
    const rate = oa.error(429, 'Rate limit reached')
    servers.openai!.queue(rate, rate, rate)
    servers.anthropic!.queue(an.error(400, 'prompt is too long: 208310 tokens > 200000 maximum'))
    servers.gemini!.queue(ge.text('from gemini', [3, 2]))
    const r = await new Context({ routing }, { executor: wired.executor }).execute({ task: 'x' })
    expect(r).toMatchObject({ result: 'from gemini', modelUsed: ge.model, providerUsed: 'gemini' })
    // 1 try + maxRetries (2) on OpenAI, then one request to each fallback.
    expect([servers.openai!.seen.length, servers.anthropic!.seen.length, servers.gemini!.seen.length]).toEqual([3, 1, 1])
  })

  it('not on another 400: its error is thrown and no fallback is asked', async () => {
    servers.openai!.queue(oa.error(400, "Invalid value for 'temperature'"))
    const e = await rejected(() => new Context({ routing }, { executor: wired.executor }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ProviderError)
    expect(e.status).toBe(400)
    expect(servers.anthropic!.seen).toHaveLength(0)
    expect(servers.gemini!.seen).toHaveLength(0)
  })

  it('a 500 on every model: the last error', async () => {
    for (const w of wires) servers[w.name]!.queue(...Array.from({ length: 3 }, () => w.error(500, 'boom')))
    const e = await rejected(() => new Context({ routing }, { executor: wired.executor }).execute({ task: 'x' }))
    expect(e).toMatchObject({ provider: 'gemini', status: 500 })
  })
})

describe('executor lookup over HTTP', () => {
  it('setDefaultExecutor serves contexts created without one, and contexts read by fromJSON', async () => {
    setDefaultExecutor(wired.executor)
    servers.openai!.queue(json(completion({ content: 'default' })), json(completion({ content: 'restored' })))
    const ctx = new Context({ routing: { model: 'gpt-4o-mini' } })
    expect((await ctx.execute({ task: 'x' })).result).toBe('default')
    expect((await Context.fromJSON(JSON.stringify(ctx)).execute({ task: 'x' })).result).toBe('restored')
  })
})

/** How many messages a request carried, system prompt included, in each wire format. */
function sentCount(w: Wire, seen: Seen): number {
  const b = seen.body as any
  if (w.name === 'openai') return b.messages.length
  if (w.name === 'anthropic') return b.messages.length + (b.system ? 1 : 0)
  return b.contents.length + (b.systemInstruction ? 1 : 0)
}

describe.each(wires)('history that fits, over $name', (w) => {
  const server = () => servers[w.name]!
  // gpt-3.5-turbo's 4,096-token window, called through this wire's provider.
  const small = { model: 'gpt-3.5-turbo', provider: w.name }
  const chat200 = (ctx: Context, words = 8) => {
    ctx.addCompletionMessage({ role: 'system', content: 'You are a weather assistant.' })
    for (let i = 0; i < 100; i++) {
      ctx.addCompletionMessage({ role: 'user', content: `Question ${i}: ${'what is the weather like in the city today '.repeat(words / 8)}` })
      ctx.addCompletionMessage({ role: 'assistant', content: `Answer ${i}: ${'it is sunny and twenty degrees in the city '.repeat(words / 8)}` })
    }
    ctx.addCompletionMessage({ role: 'user', content: 'And in Paris?' })
  }

  it('a 200-message history to a 4k-window model with constraints.maxTokens 200 sends the newest that fit', async () => {
    const ctx = ctxFor(w, { routing: small, constraints: { maxTokens: 200 } })
    chat200(ctx)
    server().queue(w.text('Rainy.', [150, 2]))
    const result = await ctx.generateChatCompletion()
    const sent = sentCount(w, server().seen[0]!)
    expect(result.metadata.omittedMessages).toBeGreaterThan(180)
    expect(sent).toBe(202 - result.metadata.omittedMessages)
    expect(w.prompt(server().seen[0]!).system).toBe('You are a weather assistant.')
    // The stored history keeps every message; only the request was fitted.
    expect(ctx.getCompletionMessages()).toHaveLength(203)
  })

  it('without maxTokens the window bounds the history: 4,096 less 1,024 output and the margin', async () => {
    const ctx = ctxFor(w, { routing: small })
    chat200(ctx, 32)
    server().queue(w.text('Rainy.', [150, 2]))
    const result = await ctx.generateChatCompletion()
    expect(result.metadata.omittedMessages).toBeGreaterThan(50)
    expect(result.metadata.omittedMessages).toBeLessThan(200)
    expect(sentCount(w, server().seen[0]!)).toBe(202 - result.metadata.omittedMessages)
  })

  it('nothing omitted when the history fits', async () => {
    const ctx = ctxFor(w)
    ctx.addCompletionMessage({ role: 'user', content: 'Hi' })
    server().queue(w.text('Hello!', [5, 2]))
    expect((await ctx.generateChatCompletion()).metadata).toEqual({ omittedMessages: 0 })
  })

  it('never sends a tool result without its call (the server checks every request)', async () => {
    const h: CompletionMessage[] = [
      { role: 'user', content: 'Weather in Paris and Rome? '.repeat(4) },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_a', name: 'get_weather', arguments: { city: 'Paris' } }, { id: 'call_b', name: 'get_weather', arguments: { city: 'Rome' } }] },
      { role: 'tool', toolCallId: 'call_a', name: 'get_weather', content: '{"sky":"sunny","detail":"' + 'clear skies all day '.repeat(6) + '"}' },
      { role: 'tool', toolCallId: 'call_b', name: 'get_weather', content: '{"sky":"rain"}' },
      { role: 'user', content: 'Thanks! And tomorrow?' },
    ]
    // Room for call_b's result and what follows it, not for the whole group.
    const tail = h.slice(3).reduce((a, m) => a + messageTokens(m), 0)
    const ctx = ctxFor(w, { constraints: { maxTokens: tail + 1 } })
    ctx.setCompletionMessages(h)
    server().queue(w.text('Same.', [30, 2]))
    const result = await ctx.generateChatCompletion()
    expect(result.metadata.omittedMessages).toBe(4)
    expect(sentCount(w, server().seen[0]!)).toBe(1)
  })

  it.each(['markdown', 'html', 'text'] as const)('output.format %s reaches the model as a system instruction', async (format) => {
    const ctx = ctxFor(w, { output: { format } })
    ctx.addCompletionMessage({ role: 'system', content: 'Be brief.' })
    ctx.addCompletionMessage({ role: 'user', content: 'Hi' })
    server().queue(w.text('Hello!', [5, 2]), w.text('Hello again!', [5, 2]), w.text('Done.', [5, 2]))
    await ctx.generateChatCompletion()
    await ctx.generateChatCompletion()
    expect(w.prompt(server().seen[0]!).system).toBe(`Be brief.\n\n${FORMAT_INSTRUCTIONS[format]}`)
    // Not stored, so not added twice.
    expect(w.prompt(server().seen[1]!).system).toBe(`Be brief.\n\n${FORMAT_INSTRUCTIONS[format]}`)
    expect(ctx.getCompletionMessages()[0]).toEqual({ role: 'system', content: 'Be brief.' })
    await ctx.execute({ task: 'Say hi' })
    expect(w.prompt(server().seen[2]!).system).toBe(FORMAT_INSTRUCTIONS[format])
  })
})

describe('history that fits: fallbacks', () => {
  const [oa] = wires as [Wire]
  it('a window too small for the last question passes to the next model of the chain', async () => {
    const ctx = ctxFor(oa, { routing: { model: 'gpt-3.5-turbo', fallbacks: ['gpt-4o'] } })
    ctx.addCompletionMessage({ role: 'user', content: 'Summarize: ' + 'the quick brown fox jumps over the lazy dog '.repeat(400) })
    servers.openai!.queue(oa.text('A fox.', [4000, 3]))
    const result = await ctx.generateChatCompletion()
    expect(result.text).toBe('A fox.')
    expect(servers.openai!.seen[0]!.body.model).toBe('gpt-4o')
    expect(result.metadata.omittedMessages).toBe(0)
  })
  it('constraints.maxTokens under the last question is a ConstraintError naming both numbers, before any request', async () => {
    const ctx = ctxFor(oa, { constraints: { maxTokens: 50 } })
    ctx.addCompletionMessage({ role: 'user', content: 'Summarize: ' + 'the quick brown fox jumps over the lazy dog '.repeat(20) })
    const e = await rejected(() => ctx.generateChatCompletion())
    expect(e).toBeInstanceOf(ConstraintError)
    expect(e.path).toBe('constraints.maxTokens')
    expect(e.message).toMatch(/budget of 50 tokens, but .* take \d+$/)
    expect(servers.openai!.seen).toHaveLength(0)
  })
})
