import { describe, expect, it } from 'vitest'
import { AbortedError, Context, Executor, isContextWindowError, ProviderError, type ContextConfig } from '../../src/index.js'
import { mockProvider, type MockFaultKind, type MockProvider } from '../../src/test/index.js'

// The mock as users use it: behind the Executor, through ctx.execute and ctx.generateChatCompletion.
// Named `openai` (and `anthropic`), it stands in for the real providers with the built-in model table:
// routing, fallbacks and prices work as in production.
const context = (config: ContextConfig, ...providers: MockProvider[]) => new Context(config, { executor: new Executor({ providers }) })

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

describe('mockProvider behind the Executor', () => {
  it('ctx.execute: the prompt reaches the mock, its answer comes back with usage and cost', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'Paris', usage: { inputTokens: 1000, outputTokens: 1000 } }] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock).addInput({ country: 'France' })
    const r = await ctx.execute({ task: 'Name the capital.', systemPrompt: 'Be brief.' })
    expect(r).toMatchObject({ result: 'Paris', providerUsed: 'openai', modelUsed: 'gpt-4o-mini', usage: { inputTokens: 1000, outputTokens: 1000 }, finishReason: 'stop' })
    // gpt-4o-mini: $0.15 in, $0.60 out per million tokens.
    expect(r.cost).toBeCloseTo(0.00075, 8)
    expect(mock.lastRequest!.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Context:\n{"country":"France"}\n\nTask: Name the capital.' },
    ])
    mock.assertDone()
  })

  it('a mock of any name serves any model id when the routing names it', async () => {
    const mock = mockProvider({ replies: ['hi'] })
    const r = await context({ routing: { model: 'my-local-model', provider: 'mock' } }, mock).execute({ task: 'x' })
    expect([r.result, r.providerUsed, r.cost]).toEqual(['hi', 'mock', undefined])
  })

  it('ctx.execute with output JSON: the scripted JSON text is parsed', async () => {
    const mock = mockProvider({ name: 'openai', replies: ['{"capital": "Paris"}'] })
    const r = await context({ routing: { model: 'gpt-4o-mini' }, output: { format: 'json' } }, mock).execute({ task: 'Capital of France?' })
    expect(r.result).toEqual({ capital: 'Paris' })
    expect(mock.lastRequest!.responseFormat).toBe('json')
  })

  it('streams through onToken: the caller gets the scripted chunks', async () => {
    const deltas: string[] = []
    const mock = mockProvider({ name: 'openai', replies: [{ chunks: ['Hel', 'lo'] }] })
    const r = await context({ routing: { model: 'gpt-4o-mini' } }, mock).execute({ task: 'x', onToken: (d) => void deltas.push(d) })
    expect([deltas, r.result, mock.lastRequest!.stream]).toEqual([['Hel', 'lo'], 'Hello', true])
  })

  it('tool calls round-trip through the completion messages: call, result, call again', async () => {
    const mock = mockProvider({
      name: 'openai',
      replies: [{ toolCalls: [{ name: 'weather', arguments: { city: 'Paris' } }] }, 'Sunny and 21 °C in Paris.'],
    })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    ctx.addCompletionMessage({ role: 'user', content: 'Weather in Paris?' })
    const tools = [{ name: 'weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }]
    const first = await ctx.generateChatCompletion({ tools })
    expect(first.finishReason).toBe('tool_calls')
    const call = first.toolCalls[0]!
    expect(call).toEqual({ id: 'call_1', name: 'weather', arguments: { city: 'Paris' } })
    ctx.addCompletionMessage({ role: 'tool', toolCallId: call.id, content: '{"sky": "sunny", "celsius": 21}' })
    const second = await ctx.generateChatCompletion({ tools })
    expect(second.text).toBe('Sunny and 21 °C in Paris.')
    expect(mock.calls[0]!.tools).toEqual(tools)
    expect(mock.lastRequest!.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', toolCallId: 'call_1', content: '{"sky": "sunny", "celsius": 21}' },
    ])
    expect(ctx.getCompletionMessages().at(-1)).toEqual({ role: 'assistant', content: 'Sunny and 21 °C in Paris.' })
    // The history with the tool call survives serialization: the context's schema accepts what the mock made.
    expect(Context.fromJSON(JSON.stringify(ctx)).getCompletionMessages()).toEqual(ctx.getCompletionMessages())
    mock.assertDone()
  })

  it("the key in the context's variables reaches the reply function, and never the record", async () => {
    let key: string | undefined
    const mock = mockProvider({ name: 'openai', replies: [(request) => ((key = request.apiKey), 'ok')] })
    const ctx = new Context({ routing: { model: 'gpt-4o-mini' } }, { executor: new Executor({ providers: [mock] }), variables: { OPENAI_API_KEY: 'sk-from-variables-123' } })
    await ctx.execute({ task: 'x' })
    expect(key).toBe('sk-from-variables-123')
    expect(JSON.stringify(mock.calls)).not.toContain('sk-from')
  })
})

describe('faults through the Executor', () => {
  const retried: MockFaultKind[] = ['rate_limit', 'server', 'overloaded', 'network', 'context_window']
  it.each(retried)('%s on the routed model: the fallback answers', async (error) => {
    const mock = mockProvider({ name: 'openai', replies: [{ error }, 'from the fallback'] })
    const r = await context({ routing: { model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] } }, mock).execute({ task: 'x' })
    expect([r.result, r.modelUsed]).toEqual(['from the fallback', 'gpt-4o-mini'])
    expect(mock.calls.map((c) => c.model)).toEqual(['gpt-4o', 'gpt-4o-mini'])
  })

  it('a fallback on another provider: two mocks, as an OpenAI → Anthropic chain', async () => {
    const openai = mockProvider({ name: 'openai', replies: [{ error: 'overloaded' }] })
    const anthropic = mockProvider({ name: 'anthropic', replies: ['Claude here'] })
    const r = await context({ routing: { model: 'gpt-4o', fallbacks: ['claude-haiku-4-5'] } }, openai, anthropic).execute({ task: 'x' })
    expect([r.result, r.providerUsed]).toEqual(['Claude here', 'anthropic'])
    openai.assertDone()
    anthropic.assertDone()
  })

  it('context_window: isContextWindowError is true when no fallback is left', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'context_window' }] })
    const e = await rejection(context({ routing: { model: 'gpt-4o' } }, mock).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ProviderError)
    expect(isContextWindowError(e)).toBe(true)
  })

  it.each(['auth', 'retryable: false'])('%s: not retried, the fallback is never called', async (which) => {
    const fault = which === 'auth' ? { error: 'auth' as const } : { error: 'server' as const, retryable: false }
    const mock = mockProvider({ name: 'openai', replies: [fault, 'unused'] })
    const e = await rejection(context({ routing: { model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] } }, mock).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ProviderError)
    expect([mock.calls.length, mock.pending]).toEqual([1, 1])
  })

  it('a stream that breaks after a delta is not retried (the caller has the text), and keeps it in partial', async () => {
    const deltas: string[] = []
    const mock = mockProvider({ name: 'openai', replies: [{ chunks: ['Hel', 'lo'], breakAfter: 1 }, 'unused'] })
    const e = await rejection(context({ routing: { model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] } }, mock).execute({ task: 'x', onToken: (d) => void deltas.push(d) }))
    expect(deltas).toEqual(['Hel'])
    expect(e).toBeInstanceOf(ProviderError)
    expect(e.partial.text).toBe('Hel')
    expect(mock.pending).toBe(1)
  })

  it('a stream that breaks before its first delta is retried on the fallback', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ chunks: ['Hel', 'lo'], breakAfter: 0 }, 'Hi'] })
    const r = await context({ routing: { model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] } }, mock).execute({ task: 'x', onToken: () => {} })
    expect(r.result).toBe('Hi')
  })
})

describe('aborts through the Executor', () => {
  it("the caller's signal aborts a hanging call: AbortedError with the partial, no fallback tried", async () => {
    const controller = new AbortController()
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'Once upon', hang: true }, 'unused'] })
    const ctx = context({ routing: { model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] } }, mock)
    const call = ctx.execute({ task: 'x', signal: controller.signal, onToken: () => controller.abort() })
    const e = await rejection(call)
    expect(e).toBeInstanceOf(AbortedError)
    expect(e.partial.text).toBe('Once ')
    expect(mock.calls).toHaveLength(1)
  })

  it('constraints.maxTime ends a hanging call: an error with code timeout, partial kept', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'Once upon', hang: true }] })
    const started = Date.now()
    const e = await rejection(context({ routing: { model: 'gpt-4o' }, constraints: { maxTime: 0.05 } }, mock).execute({ task: 'x', onToken: () => {} }))
    expect(e.code).toBe('timeout')
    expect(e.partial.text).toBe('Once upon')
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('constraints.maxTime ends a slow answer (delayMs) too', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'late', delayMs: 5000 }] })
    const e = await rejection(context({ routing: { model: 'gpt-4o' }, constraints: { maxTime: 0.05 } }, mock).execute({ task: 'x' }))
    expect(e.code).toBe('timeout')
  })
})
