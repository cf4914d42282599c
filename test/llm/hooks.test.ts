import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest'
import { Context, Executor, ProviderError, ValidationError, type ExecutorOptions, type Routing } from '../../src/index.js'
import type { ModelErrorEvent, ModelFinishEvent, ModelRequestEvent } from '../../src/llm/hooks.js'
import { mockProvider, type MockProvider } from '../../src/test/index.js'

// Executor hooks for logs and metrics: every provider call seen, nothing secret in them, and a hook
// that fails never fails the call.

type Event = ['request', ModelRequestEvent] | ['finish', ModelFinishEvent] | ['error', ModelErrorEvent]

function recorder() {
  const events: Event[] = []
  const hooks: Pick<ExecutorOptions, 'onRequest' | 'onFinish' | 'onError'> = {
    onRequest: (e) => void events.push(['request', e]),
    onFinish: (e) => void events.push(['finish', e]),
    onError: (e) => void events.push(['error', e]),
  }
  return { events, hooks }
}

const context = (routing: Routing, providers: MockProvider[], hooks: object) =>
  new Context({ routing }, { executor: new Executor({ providers, ...hooks }), variables: { OPENAI_API_KEY: 'sk-from-variables-000000000' } })

describe('Executor hooks', () => {
  let consoleError: MockInstance
  beforeEach(() => {
    consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
  })
  afterEach(() => consoleError.mockRestore())

  it('onRequest before and onFinish after a call, with the call, its usage, cost, finish reason, duration and request id', async () => {
    const { events, hooks } = recorder()
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'Paris', usage: { inputTokens: 1000, outputTokens: 1000 } }] })
    const ctx = context({ model: 'gpt-4o-mini' }, [mock], hooks)
    await ctx.execute({ task: 'Capital of France?', systemPrompt: 'Be brief.' })
    const call = { contextId: ctx.id, provider: 'openai', model: 'gpt-4o-mini', attempt: 0 }
    expect(events).toEqual([
      ['request', { ...call, messages: 2, tools: 0, stream: false, maxOutputTokens: 1024 }],
      ['finish', { ...call, usage: { inputTokens: 1000, outputTokens: 1000 }, cost: expect.closeTo(0.00075, 12), finishReason: 'stop', durationMs: expect.any(Number), requestId: undefined }],
    ])
    expect((events[1]![1] as ModelFinishEvent).durationMs).toBeGreaterThanOrEqual(0)
  })

  it('fallbacks: each attempt is seen, the failed one with the ProviderError and no usage, the next with attempt 1', async () => {
    const { events, hooks } = recorder()
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'rate_limit' }, 'from the fallback'] })
    await context({ model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] }, [mock], hooks).execute({ task: 'x' })
    expect(events.map(([kind, e]) => [kind, e.model, e.attempt])).toEqual([
      ['request', 'gpt-4o', 0],
      ['error', 'gpt-4o', 0],
      ['request', 'gpt-4o-mini', 1],
      ['finish', 'gpt-4o-mini', 1],
    ])
    const failed = events[1]![1] as ModelErrorEvent
    expect(failed.error).toBeInstanceOf(ProviderError)
    expect(failed.error).toMatchObject({ status: 429, retryable: true })
    expect('usage' in failed).toBe(false)
  })

  it('a fallback skipped before any request (over its window) is no attempt: the attempts count the calls made', async () => {
    const { events, hooks } = recorder()
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'server' }, 'ok'] })
    // gpt-4 (8k window) cannot take 9,000 output tokens; gpt-4o-mini can.
    await context({ model: 'gpt-4o', fallbacks: ['gpt-4', 'gpt-4o-mini'], maxOutputTokens: 9000 }, [mock], hooks).execute({ task: 'x' })
    expect(events.filter(([k]) => k === 'request').map(([, e]) => [e.model, e.attempt])).toEqual([
      ['gpt-4o', 0],
      ['gpt-4o-mini', 1],
    ])
  })

  it('a stream broken before its first token: onError carries its partial usage and cost, the fallback then answers', async () => {
    const { events, hooks } = recorder()
    const mock = mockProvider({ name: 'openai', replies: [{ chunks: ['never'], breakAfter: 0 }, 'ok'] })
    await context({ model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] }, [mock], hooks).execute({ task: 'x', onToken: () => {} })
    const [, failed] = events[1] as ['error', ModelErrorEvent]
    expect(failed.usage).toMatchObject({ outputTokens: 0, estimated: true })
    expect(failed.cost).toBeGreaterThan(0)
    expect((events[0]![1] as ModelRequestEvent).stream).toBe(true)
    expect(events.map(([k]) => k)).toEqual(['request', 'error', 'request', 'finish'])
  })

  it('every call of a session: execute and chat, tools counted, the history fitted (messages is what was sent)', async () => {
    const { events, hooks } = recorder()
    const mock = mockProvider({ name: 'openai', replies: ['one', 'two', 'three'] })
    const ctx = context({ model: 'gpt-4o-mini' }, [mock], hooks)
    ctx.addCompletionMessage({ role: 'user', content: 'hi' })
    await ctx.generateChatCompletion()
    ctx.addCompletionMessage({ role: 'user', content: 'again' })
    await ctx.generateChatCompletion({ tools: [{ name: 'a' }, { name: 'b' }] })
    await ctx.execute({ task: 'x' })
    const requests = events.filter(([k]) => k === 'request').map(([, e]) => [(e as ModelRequestEvent).messages, (e as ModelRequestEvent).tools])
    expect(requests).toEqual([
      [1, 0],
      [3, 2],
      [1, 0],
    ])
    expect(events.filter(([k]) => k === 'finish')).toHaveLength(3)
  })

  it('each step of a tool loop and a stream is a call the hooks see', async () => {
    const { events, hooks } = recorder()
    const mock = mockProvider({ name: 'openai', replies: [{ toolCalls: [{ name: 'now', arguments: {} }] }, 'noon', 'streamed'] })
    const ctx = context({ model: 'gpt-4o-mini' }, [mock], hooks)
    ctx.addCompletionMessage({ role: 'user', content: 'time?' })
    await ctx.generateChatCompletion({ tools: { now: { parameters: { type: 'object' }, execute: () => '12:00' } }, maxSteps: 2 })
    expect(await ctx.streamChatCompletion().text).toBe('streamed')
    const requests = events.filter(([k]) => k === 'request').map(([, e]) => e as ModelRequestEvent)
    // Step 2 carries the assistant's tool call and the tool's result; the stream, the whole history (4).
    expect(requests.map((e) => [e.messages, e.tools, e.stream])).toEqual([
      [1, 1, false],
      [3, 1, false],
      [4, 0, true],
    ])
    expect(events.filter(([k]) => k === 'finish').map(([, e]) => (e as ModelFinishEvent).finishReason)).toEqual(['tool_calls', 'stop', 'stop'])
  })

  it('a hook that mutates its event changes neither the result nor ctx.usage', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'ok', usage: { inputTokens: 10, outputTokens: 2 } }] })
    const ctx = context({ model: 'gpt-4o-mini' }, [mock], { onFinish: (e: ModelFinishEvent) => ((e.usage.inputTokens = 1e9), (e.usage.outputTokens = -1)) })
    const r = await ctx.execute({ task: 'x' })
    expect(r.usage).toEqual({ inputTokens: 10, outputTokens: 2 })
    expect(ctx.usage).toMatchObject({ inputTokens: 10, outputTokens: 2 })
  })

  it.each([
    ['throws', () => { throw new Error('hook bug') }],
    ['rejects (async)', async () => { throw new Error('hook bug') }],
  ])('a hook that %s never breaks the call: the reply, the fallback and the usage stand; it is reported with console.error', async (_, bad) => {
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'overloaded' }, { text: 'ok', usage: { inputTokens: 5, outputTokens: 1 } }] })
    const ctx = context({ model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] }, [mock], { onRequest: bad, onFinish: bad, onError: bad })
    const r = await ctx.execute({ task: 'x' })
    expect(r.result).toBe('ok')
    expect(ctx.usage).toMatchObject({ inputTokens: 5, calls: 1 })
    // An async hook's rejection is reported a microtask later.
    await new Promise((resolve) => setTimeout(resolve, 0))
    const reported = consoleError.mock.calls.map((c) => String(c[0]))
    expect(reported.filter((m) => m.includes('onRequest'))).toHaveLength(2)
    expect(reported.filter((m) => m.includes('onError'))).toHaveLength(1)
    expect(reported.filter((m) => m.includes('onFinish'))).toHaveLength(1)
    expect(consoleError.mock.calls.every((c) => (c[1] as Error).message === 'hook bug')).toBe(true)
  })

  it('a hook that throws does not turn a failure into another: the provider error still reaches the caller', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'auth' }] })
    const ctx = context({ model: 'gpt-4o-mini' }, [mock], { onError: () => { throw new TypeError('hook bug') } })
    const e = await ctx.execute({ task: 'x' }).catch((x) => x)
    expect(e).toBeInstanceOf(ProviderError)
    expect(e.status).toBe(401)
  })

  it.each(['onRequest', 'onFinish', 'onError'])('%s that is not a function is a ValidationError naming it', (name) => {
    const e = (() => {
      try {
        new Executor({ providers: [mockProvider()], [name]: 'log' })
      } catch (x) {
        return x as ValidationError
      }
    })()
    expect(e).toBeInstanceOf(ValidationError)
    expect(e!.path).toBe(name)
  })

  it('no hook sees the variables, the call key or the messages: only counts and ids', async () => {
    const seen: unknown[] = []
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'rate_limit' }, 'ok'] })
    const hooks = { onRequest: (e: unknown) => seen.push(e), onFinish: (e: unknown) => seen.push(e), onError: (e: unknown) => seen.push(e) }
    const ctx = context({ model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] }, [mock], hooks)
    await ctx.execute({ task: 'the secret question', apiKey: 'sk-call-key-1111111111111' })
    const text = JSON.stringify(seen, (_k, v) => (v instanceof Error ? { ...v, message: v.message, stack: v.stack } : v))
    for (const secret of ['sk-from-variables', 'sk-call-key', 'secret question']) expect(text).not.toContain(secret)
  })
})
