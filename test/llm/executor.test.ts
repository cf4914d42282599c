import * as v from 'valibot'
import { afterEach, describe, expect, it } from 'vitest'
import { Context, type Output } from '../../src/context.js'
import { ConstraintError, ContextError, ValidationError } from '../../src/errors.js'
import { getDefaultExecutor, setDefaultExecutor } from '../../src/llm/default.js'
import { Executor, OutputError, renderPrompt } from '../../src/llm/executor.js'
import { overlayRouting } from '../../src/llm/routing.js'
import { Router } from '../../src/llm/router.js'
import type { ChatRequest } from '../../src/llm/types.js'
import { AbortedError, ProviderError } from '../../src/providers/kernel/errors.js'
import { fakeProvider, providerError, reply, waitForAbort, type FakeProvider } from './fake-provider.js'

/** What `fn` rejected with (a `ContextError`), failing when it resolves. */
async function rejected(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ContextError)
    return e
  }
  throw new Error('expected a rejection')
}

/** An executor over fake `openai`, `anthropic` and `gemini` providers (or the names given). */
function setup(names = ['openai', 'anthropic', 'gemini'], options: Partial<ConstructorParameters<typeof Executor>[0]> = {}) {
  const fakes: Record<string, FakeProvider> = {}
  for (const n of names) fakes[n] = fakeProvider(n)
  const executor = new Executor({ providers: Object.values(fakes), ...options })
  const ctx = (config: ConstructorParameters<typeof Context>[0] = {}, variables?: Record<string, string>) => new Context(config, { executor, variables })
  const calls = () => names.flatMap((n) => fakes[n]!.requests.map((r) => `${n}:${r.model}`))
  return { fakes, executor, ctx, calls }
}

const userText = (r: ChatRequest) => r.messages.find((m) => m.role === 'user')!.content as string

afterEach(() => setDefaultExecutor(undefined))

describe('new Executor', () => {
  it('needs at least one provider, and says how to give one', () => {
    for (const bad of [undefined, {}, { providers: [] }, { providers: 'openai' }]) {
      const e = (() => {
        try {
          new Executor(bad as never)
        } catch (err) {
          return err as ValidationError
        }
      })()
      expect(e).toBeInstanceOf(ValidationError)
      expect(e!.path).toBe('providers')
      expect(e!.message).toContain('new Executor({ providers: [openai()] })')
    }
    expect(() => new Executor({ providers: [{ name: 'x' } as never] })).toThrow(/providers: each must be a provider/)
  })

  it('models(): the registry models of its providers only; of another router when given', () => {
    const { executor } = setup(['anthropic'])
    expect(executor.models().map((m) => m.provider)).toEqual(executor.models().map(() => 'anthropic'))
    expect(executor.models().length).toBeGreaterThan(2)
    const router = new Router([{ id: 'c', provider: 'anthropic', contextWindow: 10, maxOutput: 5, quality: 1, speed: 1, inputPricePer1K: 0, outputPricePer1K: 0 }])
    expect(executor.models(router).map((m) => m.id)).toEqual(['c'])
  })
})

describe('the executor on its own: a plain ModelContext, no Context', () => {
  it('execute runs over plain data: inputs pruned to constraints.maxTokens, the key from variables, the id echoed', async () => {
    const { fakes, executor } = setup(['openai'])
    fakes.openai!.queue('done')
    const r = await executor.execute(
      {
        contextId: 'plain-1',
        intent: 'summarize',
        inputs: [{ data: 'kept', relevance: 1, tokens: 5 }, { data: { dropped: true }, relevance: 0.1, tokens: 500 }],
        constraints: { maxTokens: 100 },
        routing: { model: 'gpt-4o-mini' },
        variables: { OPENAI_API_KEY: 'sk-plain' },
      },
      { task: 'Sum up' },
    )
    expect(r).toMatchObject({ result: 'done', contextId: 'plain-1', modelUsed: 'gpt-4o-mini', metadata: { intent: 'summarize', inputCount: 1 } })
    expect(fakes.openai!.requests[0]!.apiKey).toBe('sk-plain')
    expect(userText(fakes.openai!.requests[0]!)).toBe('Context:\nkept\n\nTask: Sum up')
  })

  it('chat runs over context.messages and appends nothing (the Context applies the result)', async () => {
    const { fakes, executor } = setup(['openai'])
    fakes.openai!.queue('hello')
    const messages = [{ role: 'user' as const, content: 'hi' }]
    const r = await executor.chat({ contextId: 'plain-2', routing: { model: 'gpt-4o-mini' }, messages })
    expect(r.text).toBe('hello')
    expect(messages).toEqual([{ role: 'user', content: 'hi' }])
    const ctx = setup(['openai'])
    ctx.fakes.openai!.queue('hello')
    const c = ctx.ctx({ routing: { model: 'gpt-4o-mini' } })
    c.addCompletionMessage({ role: 'user', content: 'hi' })
    await c.generateChatCompletion()
    expect(c.getCompletionMessages().map((m) => m.role)).toEqual(['user', 'assistant'])
  })

  it('a Context passed where the plain data goes, or nothing, is a ValidationError naming context', async () => {
    const { executor } = setup(['openai'])
    expect((await rejected(() => executor.execute(undefined as never, { task: 'x' }))).path).toBe('context')
    expect((await rejected(() => executor.chat({ messages: [] } as never))).path).toBe('context')
  })
})

describe('renderPrompt', () => {
  it('is the task alone without inputs; else Context:, the inputs (objects as compact JSON), Task:', () => {
    expect(renderPrompt([], 'Sum up')).toBe('Sum up')
    expect(renderPrompt(['a text', { title: 'Book 1', n: [1, 2] }, 3, null], 'Sum up')).toBe(
      'Context:\na text\n\n{"title":"Book 1","n":[1,2]}\n\n3\n\nnull\n\nTask: Sum up',
    )
  })
})

describe('execute: prompt and response', () => {
  it('sends the system prompt, the inputs most relevant first (no [object Object]) and the task; returns every field', async () => {
    const { fakes, ctx } = setup()
    const c = ctx({ intent: 'analyze', routing: { model: 'gpt-4o' } })
    c.addInput({ title: 'Book 2' }, { relevance: 0.7 }).addInput({ title: 'Book 1' }, { relevance: 0.9 }).addInput('plain text', { relevance: 0.7 })
    fakes.openai!.queue({ text: 'Both are books.', usage: { inputTokens: 1200, outputTokens: 300 }, finishReason: 'stop' })
    const r = await c.execute({ task: 'Compare them', systemPrompt: 'You are an analyst.' })
    const sent = fakes.openai!.requests[0]!
    expect(sent.messages).toEqual([
      { role: 'system', content: 'You are an analyst.' },
      { role: 'user', content: 'Context:\n{"title":"Book 1"}\n\n{"title":"Book 2"}\n\nplain text\n\nTask: Compare them' },
    ])
    expect(JSON.stringify(sent.messages)).not.toContain('[object Object]')
    expect(sent.model).toBe('gpt-4o')
    expect(r.result).toBe('Both are books.')
    expect(r.contextId).toBe(c.id)
    expect(r.modelUsed).toBe('gpt-4o')
    expect(r.providerUsed).toBe('openai')
    expect(typeof r.duration).toBe('number')
    expect(r.duration).toBeGreaterThanOrEqual(0)
    // Seconds, not milliseconds: a fake answers in well under a minute.
    expect(r.duration).toBeLessThan(60)
    expect(r.usage).toEqual({ inputTokens: 1200, outputTokens: 300 })
    // gpt-4o: $2.50 / $10 per 1M tokens.
    expect(r.cost).toBeCloseTo((1200 * 2.5 + 300 * 10) / 1e6, 12)
    expect(r.finishReason).toBe('stop')
    const tokens = c.inputs.reduce((n, i) => n + i.tokens, 0)
    expect(r.metadata).toEqual({ intent: 'analyze', inputCount: 3, totalInputTokens: tokens })
  })

  it('without inputs or system prompt, the user message is the task alone', async () => {
    const { fakes, ctx } = setup()
    fakes.openai!.queue('ok')
    const r = await ctx({ routing: { model: 'gpt-4o-mini' } }).execute({ task: 'Hi' })
    expect(fakes.openai!.requests[0]!.messages).toEqual([{ role: 'user', content: 'Hi' }])
    expect(r.metadata).toEqual({ intent: undefined, inputCount: 0, totalInputTokens: 0 })
  })

  it('maxTokens prunes: only what fits with the system prompt and task is sent, scanning past an input that does not fit', async () => {
    const { fakes, ctx } = setup()
    const c = ctx({ routing: { model: 'gpt-4o' }, constraints: { maxTokens: 100 } })
    // System + task + 8 framing take ~12 tokens here: 88 remain for inputs.
    c.addInput('kept first', { relevance: 1, tokens: 50 })
    c.addInput({ big: 'object, never cut' }, { relevance: 0.9, tokens: 60 })
    c.addInput('small, less relevant, still fits', { relevance: 0.5, tokens: 20 })
    c.addInput('too much now', { relevance: 0.4, tokens: 30 })
    fakes.openai!.queue('ok')
    const r = await c.execute({ task: 'Go', systemPrompt: 'Be brief.' })
    const text = userText(fakes.openai!.requests[0]!)
    expect(text).toContain('kept first')
    expect(text).toContain('small, less relevant, still fits')
    expect(text).not.toContain('object, never cut')
    expect(text).not.toContain('too much now')
    expect(r.metadata.inputCount).toBe(2)
    expect(r.metadata.totalInputTokens).toBe(70)
    // Execution prunes a copy: the context keeps all four.
    expect(c.inputs).toHaveLength(4)
  })

  it('maxTokens: a text that does not fit whole is cut to fill the budget left, when at least 32 tokens remain', async () => {
    const { fakes, ctx } = setup()
    const c = ctx({ routing: { model: 'gpt-4o' }, constraints: { maxTokens: 80 } })
    c.addInput('word '.repeat(500).trim())
    fakes.openai!.queue('ok')
    const r = await c.execute({ task: 'Go' })
    const text = userText(fakes.openai!.requests[0]!)
    expect(text).toMatch(/^Context:\n(word )+word…\n\nTask: Go$/)
    expect(r.metadata.inputCount).toBe(1)
    expect(r.metadata.totalInputTokens).toBeLessThanOrEqual(80)
    expect(r.metadata.totalInputTokens).toBeGreaterThan(40)
  })

  it('maxTokens smaller than the system prompt and task alone is a ConstraintError before any request', async () => {
    const { fakes, ctx } = setup()
    const e = await rejected(() => ctx({ routing: { model: 'gpt-4o' }, constraints: { maxTokens: 5 } }).execute({ task: 'a task of several words here' }))
    expect(e).toBeInstanceOf(ConstraintError)
    expect(e.path).toBe('constraints.maxTokens')
    expect(e.message).toMatch(/constraints\.maxTokens is 5, but the system prompt and task alone take \d+ tokens/)
    expect(fakes.openai!.requests).toHaveLength(0)
  })

  it('bad requests are ValidationErrors naming the field', async () => {
    const { ctx } = setup()
    const c = ctx({ routing: { model: 'gpt-4o' } })
    expect((await rejected(() => c.execute(undefined as never))).path).toBe('task')
    expect((await rejected(() => c.execute({ task: '' }))).path).toBe('task')
    expect((await rejected(() => c.execute({ task: 3 as never }))).path).toBe('task')
    expect((await rejected(() => c.execute({ task: 'x', systemPrompt: 1 as never }))).path).toBe('systemPrompt')
    expect((await rejected(() => c.execute({ task: 'x', apiKey: 12345 as never }))).path).toBe('apiKey')
    expect((await rejected(() => c.execute({ task: 'x', onToken: 'yes' as never }))).path).toBe('onToken')
    const e = await rejected(() => c.execute({ task: 'x', overrideRouting: { modle: 'gpt-4o' } as never }))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe('overrideRouting.modle')
    expect((await rejected(() => c.execute({ task: 'x', overrideRouting: { temperature: 3 } }))).path).toBe('overrideRouting.temperature')
    expect((await rejected(() => c.execute({ task: 'x', overrideRouting: 'gpt-4o' as never }))).path).toBe('overrideRouting')
  })

  it('streams through onToken; the result is the whole text', async () => {
    const { fakes, ctx } = setup()
    fakes.openai!.queue('one two three')
    const tokens: string[] = []
    const r = await ctx({ routing: { model: 'gpt-4o' } }).execute({ task: 'count', onToken: (t) => tokens.push(t) })
    expect(tokens).toEqual(['one ', 'two ', 'three'])
    expect(r.result).toBe('one two three')
  })

  it('a model without prices reports cost undefined', async () => {
    const { fakes, ctx } = setup()
    fakes.openai!.queue('ok')
    const r = await ctx({ routing: { model: 'gpt-9-preview' } }).execute({ task: 'x' })
    expect(r.modelUsed).toBe('gpt-9-preview')
    expect(r.cost).toBeUndefined()
  })
})

describe('execute: routing', () => {
  it('infers the provider from the model (the registry first, then the id prefix)', async () => {
    const { fakes, ctx, calls } = setup()
    fakes.anthropic!.queue('a')
    fakes.gemini!.queue('g')
    fakes.openai!.queue('o')
    expect((await ctx({ routing: { model: 'claude-haiku-4-5' } }).execute({ task: 'x' })).providerUsed).toBe('anthropic')
    expect((await ctx({ routing: { model: 'gemini-9-ultra' } }).execute({ task: 'x' })).providerUsed).toBe('gemini')
    expect((await ctx({ routing: { model: 'o4-mini' } }).execute({ task: 'x' })).providerUsed).toBe('openai')
    expect(calls()).toEqual(['openai:o4-mini', 'anthropic:claude-haiku-4-5', 'gemini:gemini-9-ultra'])
  })

  it('routing.provider serves a model of its own (an OpenAI-compatible server under another name)', async () => {
    const { fakes, ctx } = setup(['openai', 'ollama'])
    fakes.ollama!.queue('local')
    const r = await ctx({ routing: { model: 'llama3.2', provider: 'ollama' } }).execute({ task: 'x' })
    expect(r.providerUsed).toBe('ollama')
    expect(fakes.ollama!.requests[0]!.model).toBe('llama3.2')
  })

  it('an unknown model with no provider to infer is an error listing the known models and the fix', async () => {
    const { ctx } = setup()
    const e = await rejected(() => ctx({ routing: { model: 'llama3.2' } }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe('routing.provider')
    expect(e.message).toContain('set routing.provider')
    expect(e.message).toContain('registerModel')
    expect(e.message).toContain('gpt-4o-mini')
    expect(e.message).toContain('claude-haiku-4-5')
  })

  it("a model whose provider the executor lacks names the fix: new Executor({ providers: [...] })", async () => {
    const { ctx, fakes } = setup(['openai'])
    const e = await rejected(() => ctx({ routing: { model: 'claude-haiku-4-5' } }).execute({ task: 'x' }))
    expect(e.path).toBe('routing.provider')
    expect(e.message).toContain('new Executor({ providers: [anthropic()] })')
    expect(fakes.openai!.requests).toHaveLength(0)
  })

  it('neither model nor strategy: an error saying to set one', async () => {
    const { ctx } = setup()
    const e = await rejected(() => ctx().execute({ task: 'x' }))
    expect(e.path).toBe('routing')
    expect(e.message).toContain('set routing.model or routing.strategy')
  })

  it("a strategy picks among the models of the executor's providers only", async () => {
    const cheapest = async (names: string[], strategy = 'cost_optimized' as const) => {
      const { fakes, ctx } = setup(names)
      for (const n of names) fakes[n]!.queue('ok')
      return (await ctx({ routing: { strategy } }).execute({ task: 'x' })).modelUsed
    }
    // gpt-4.1-nano and gemini-2.5-flash-lite cost the same; the higher quality wins the tie.
    expect(await cheapest(['openai', 'anthropic', 'gemini'])).toBe('gemini-2.5-flash-lite')
    expect(await cheapest(['openai'])).toBe('gpt-4.1-nano')
    expect(await cheapest(['anthropic'])).toBe('claude-haiku-4-5')
    expect(await cheapest(['anthropic'], 'quality_optimized' as never)).toBe('claude-opus-4-5')
  })

  it('a strategy with routing.provider picks among that provider; with no model of the executor, says so', async () => {
    const { fakes, ctx } = setup()
    fakes.anthropic!.queue('ok')
    expect((await ctx({ routing: { strategy: 'speed_optimized', provider: 'anthropic' } }).execute({ task: 'x' })).modelUsed).toBe('claude-haiku-4-5')
    const lonely = new Executor({ providers: [fakeProvider('mistral')] })
    const e = await rejected(() => new Context({ routing: { strategy: 'cost_optimized' } }, { executor: lonely }).execute({ task: 'x' }))
    expect(e.path).toBe('routing.strategy')
    expect(e.message).toContain('mistral')
  })

  it('ctx.route({ strategy }) with an executor picks among its providers too', () => {
    const { ctx } = setup(['anthropic'])
    expect(ctx().route({ strategy: 'cost_optimized' }).routing).toEqual({ model: 'claude-haiku-4-5', provider: 'anthropic', strategy: 'cost_optimized' })
    // Without an executor: the whole registry.
    expect(new Context({}, { router: new Router() }).route({ strategy: 'cost_optimized' }).routing.model).toBe('gemini-2.5-flash-lite')
  })

  it('regression: overrideRouting { model } over a routing with another provider infers the new one (not the inherited provider)', async () => {
    const { fakes, ctx, calls } = setup()
    const c = ctx().route({ model: 'gpt-4o' })
    expect(c.routing.provider).toBe('openai')
    fakes.anthropic!.queue('from claude')
    const r = await c.execute({ task: 'x', overrideRouting: { model: 'claude-haiku-4-5' } })
    expect(r.providerUsed).toBe('anthropic')
    expect(calls()).toEqual(['anthropic:claude-haiku-4-5'])
    // The override is for this call only.
    expect(c.routing).toEqual({ model: 'gpt-4o', provider: 'openai' })
  })

  it('overrideRouting { strategy } picks anew rather than keeping the model an earlier strategy chose', async () => {
    const { fakes, ctx } = setup(['anthropic'])
    const c = ctx().route({ strategy: 'cost_optimized' })
    fakes.anthropic!.queue('ok')
    expect((await c.execute({ task: 'x', overrideRouting: { strategy: 'quality_optimized' } })).modelUsed).toBe('claude-opus-4-5')
  })

  it('falsy values are values: temperature 0 reaches the provider; maxOutputTokens from routing, the executor, or 1024', async () => {
    const { fakes, ctx } = setup()
    fakes.openai!.queue('a', 'b')
    await ctx({ routing: { model: 'gpt-4o', temperature: 0, maxOutputTokens: 7 } }).execute({ task: 'x' })
    await ctx({ routing: { model: 'gpt-4o' } }).execute({ task: 'x' })
    expect(fakes.openai!.requests.map((r) => [r.temperature, r.maxOutputTokens])).toEqual([
      [0, 7],
      [undefined, 1024],
    ])
    // Capped at the model's own maximum (gpt-4o: 16,384), each model of the chain its own.
    fakes.openai!.queue(providerError('openai', 503))
    fakes.anthropic!.queue('ok')
    await ctx({ routing: { model: 'gpt-4o', maxOutputTokens: 50_000, fallbacks: ['claude-sonnet-4-5'] } }).execute({ task: 'x' })
    expect(fakes.openai!.requests[2]!.maxOutputTokens).toBe(16_384)
    expect(fakes.anthropic!.requests[0]!.maxOutputTokens).toBe(50_000)
    const other = setup(['openai'], { maxOutputTokens: 256 })
    other.fakes.openai!.queue('c')
    await other.ctx({ routing: { model: 'gpt-4o' } }).execute({ task: 'x' })
    expect(other.fakes.openai!.requests[0]!.maxOutputTokens).toBe(256)
  })
})

describe('overlayRouting', () => {
  it('lays keys over; a model, provider or strategy replaces all three; undefined is "not given"', () => {
    const base = { model: 'gpt-4o', provider: 'openai', strategy: 'cost_optimized' as const, temperature: 0.3, fallbacks: ['gpt-4o-mini'] }
    expect(overlayRouting(base, { temperature: 1 })).toEqual({ ...base, temperature: 1 })
    expect(overlayRouting(base, { model: 'claude-haiku-4-5' })).toEqual({ model: 'claude-haiku-4-5', temperature: 0.3, fallbacks: ['gpt-4o-mini'] })
    expect(overlayRouting(base, { provider: 'anthropic', strategy: 'speed_optimized' })).toEqual({ provider: 'anthropic', strategy: 'speed_optimized', temperature: 0.3, fallbacks: ['gpt-4o-mini'] })
    expect(overlayRouting(base, { model: undefined, temperature: undefined })).toEqual(base)
    expect(overlayRouting(base)).toEqual(base)
  })
})

describe('executor lookup', () => {
  it("the runtime's executor, else the default one; the runtime's wins; fromJSON's runtime too", async () => {
    const a = setup(['openai'])
    const b = setup(['openai'])
    a.fakes.openai!.queue('from a', 'a again')
    b.fakes.openai!.queue('from b', 'b again')
    setDefaultExecutor(b.executor)
    expect(getDefaultExecutor()).toBe(b.executor)
    const routing = { model: 'gpt-4o' }
    expect((await new Context({ routing }).execute({ task: 'x' })).result).toBe('from b')
    expect((await new Context({ routing }, { executor: a.executor }).execute({ task: 'x' })).result).toBe('from a')
    const json = new Context({ routing }).toJSON()
    expect((await Context.fromJSON(json, { executor: a.executor }).execute({ task: 'x' })).result).toBe('a again')
    expect((await Context.fromJSON(json).execute({ task: 'x' })).result).toBe('b again')
  })

  it('extend and merge keep the runtime executor', async () => {
    const { fakes, ctx } = setup(['openai'])
    fakes.openai!.queue('child', 'merged')
    const parent = ctx({ routing: { model: 'gpt-4o' } })
    expect((await parent.extend({ intent: 'x' }).execute({ task: 'x' })).result).toBe('child')
    expect((await parent.merge(new Context()).execute({ task: 'x' })).result).toBe('merged')
  })

  it('regression: no executor rejects (never throws synchronously) with an error naming both fixes', async () => {
    const c = new Context({ routing: { model: 'gpt-4o' } })
    let promise: Promise<unknown> | undefined
    expect(() => (promise = c.execute({ task: 'x' }))).not.toThrow()
    const e = await rejected(() => promise!)
    expect(e.path).toBe('executor')
    expect(e.message).toContain('new Context(config, { executor: new Executor({ providers: [openai()] }) })')
    expect(e.message).toContain('setDefaultExecutor')
    expect(() => void c.generateChatCompletion().catch(() => {})).not.toThrow()
    expect((await rejected(() => c.generateChatCompletion())).path).toBe('executor')
  })

  it('a provider given where an executor belongs says so', async () => {
    const provider = fakeProvider('openai')
    expect(() => setDefaultExecutor(provider as never)).toThrow(/executor: must be an Executor, not a provider/)
    const e = await rejected(() => new Context({}, { executor: provider as never }).execute({ task: 'x' }))
    expect(e.path).toBe('runtime.executor')
  })
})

describe('execute: constraints', () => {
  it('maxCost refuses before any request when the estimate exceeds it, with both numbers', async () => {
    const { fakes, ctx } = setup()
    const c = ctx({ routing: { model: 'gpt-4', maxOutputTokens: 1000 }, constraints: { maxCost: 0.01 } })
    const e = await rejected(() => c.execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ConstraintError)
    expect(e.code).toBe('constraint')
    expect(e.path).toBe('constraints.maxCost')
    // gpt-4: 1000 output tokens at $60 / 1M alone are $0.06.
    expect(e.message).toMatch(/estimated cost \$0\.06\d* .* exceeds constraints\.maxCost \$0\.01/)
    expect(fakes.openai!.requests).toHaveLength(0)
  })

  it('maxCost 0 is a limit, not "no limit"; under the limit the call goes through', async () => {
    const { fakes, ctx } = setup()
    expect((await rejected(() => ctx({ routing: { model: 'gpt-4o-mini' }, constraints: { maxCost: 0 } }).execute({ task: 'x' }))).path).toBe('constraints.maxCost')
    fakes.openai!.queue('cheap')
    expect((await ctx({ routing: { model: 'gpt-4o-mini' }, constraints: { maxCost: 0.01 } }).execute({ task: 'x' })).result).toBe('cheap')
    expect(fakes.openai!.requests).toHaveLength(1)
  })

  it('maxCost with a model without prices is refused, saying to register it', async () => {
    const { ctx } = setup()
    const e = await rejected(() => ctx({ routing: { model: 'gpt-9-preview' }, constraints: { maxCost: 1 } }).execute({ task: 'x' }))
    expect(e.message).toBe('gpt-9-preview: no price to check constraints.maxCost against; registerModel it')
    expect(e.message).toContain('registerModel')
  })

  it('a strategy only picks models under maxCost; none under it is a ConstraintError', async () => {
    const { fakes, ctx } = setup(['anthropic'])
    fakes.anthropic!.queue('ok')
    const r = await ctx({ routing: { strategy: 'quality_optimized', maxOutputTokens: 1000 }, constraints: { maxCost: 0.01 } }).execute({ task: 'x' })
    // Opus 4.5 would cost 1000 × $25 / 1M = $0.025 of output alone; Sonnet 4.5 $0.015; Haiku 4.5 $0.005.
    expect(r.modelUsed).toBe('claude-haiku-4-5')
    const e = await rejected(() => ctx({ routing: { strategy: 'cost_optimized', maxOutputTokens: 1000 }, constraints: { maxCost: 0.0001 } }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ConstraintError)
  })

  it('regression: maxTime was a ConstraintError, an abort an AbortedError: maxTime is an AbortedError, reason and code timeout, naming maxTime, the provider error as its cause', async () => {
    const { fakes, ctx } = setup()
    fakes.openai!.queue(waitForAbort('openai'))
    const e = await rejected(() => ctx({ routing: { model: 'gpt-4o' }, constraints: { maxTime: 0.05 } }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(AbortedError)
    expect(e).toMatchObject({ name: 'AbortedError', code: 'timeout', reason: 'timeout' })
    expect(e.signalReason?.name).toBe('TimeoutError')
    expect(e.path).toBe('constraints.maxTime')
    expect(e.message).toBe('constraints.maxTime: gpt-4o did not finish within 0.05 s')
    expect(e.cause).toBeInstanceOf(AbortedError)
    expect(fakes.openai!.requests[0]!.signal!.aborted).toBe(true)
  })

  it('regression: maxTime 1.1 (1100.0000000000002 ms) and 1e7 s (past the 2^31 ms timer limit) neither throw nor fire at once', async () => {
    const { fakes, ctx } = setup()
    for (const maxTime of [1.1, 1e7]) {
      fakes.openai!.queue(async (request) => {
        // An overflowing timer fires after 1 ms.
        await new Promise((resolve) => setTimeout(resolve, 20))
        expect(request.signal!.aborted).toBe(false)
        return reply('ok', request, 'openai')
      })
      expect((await ctx({ routing: { model: 'gpt-4o' }, constraints: { maxTime } }).execute({ task: 'x' })).result).toBe('ok')
    }
  })

  it("the caller's signal aborts too (an AbortedError, code aborted), also beside maxTime", async () => {
    const { fakes, ctx } = setup()
    for (const constraints of [{}, { maxTime: 30 }]) {
      fakes.openai!.queue(waitForAbort('openai'))
      const controller = new AbortController()
      const pending = rejected(() => ctx({ routing: { model: 'gpt-4o' }, constraints }).execute({ task: 'x', signal: controller.signal }))
      controller.abort()
      const e = await pending
      expect(e).toBeInstanceOf(AbortedError)
      expect(e).toMatchObject({ code: 'aborted', reason: 'cancelled' })
    }
  })

  it('without maxTime or a signal, the provider gets no signal', async () => {
    const { fakes, ctx } = setup()
    fakes.openai!.queue('ok')
    await ctx({ routing: { model: 'gpt-4o' } }).execute({ task: 'x' })
    expect(fakes.openai!.requests[0]!.signal).toBeUndefined()
  })
})

describe('execute: fallbacks', () => {
  const routing = { model: 'gpt-4o', fallbacks: ['claude-haiku-4-5', 'gemini-2.5-flash'] }

  it('are tried in order on retryable errors (429, 5xx), each with its own provider', async () => {
    const { fakes, ctx, calls } = setup()
    fakes.openai!.queue(providerError('openai', 429))
    fakes.anthropic!.queue(providerError('anthropic', 503))
    fakes.gemini!.queue('gemini answered')
    const r = await ctx({ routing }).execute({ task: 'x' })
    expect(r).toMatchObject({ result: 'gemini answered', modelUsed: 'gemini-2.5-flash', providerUsed: 'gemini' })
    expect(calls()).toEqual(['openai:gpt-4o', 'anthropic:claude-haiku-4-5', 'gemini:gemini-2.5-flash'])
    // Priced with the model that answered: gemini-2.5-flash at $0.30 / $2.50 per 1M.
    expect(r.cost).toBeCloseTo((10 * 0.3 + 5 * 2.5) / 1e6, 12)
  })

  it("are tried on a context-window 400 (each provider's wording), not on another 400", async () => {
    for (const error of [
      providerError('openai', 400, "This model's maximum context length is 128000 tokens", 'context_length_exceeded'),
      providerError('openai', 400, 'prompt is too long: 208310 tokens > 200000 maximum'),
    ]) {
      const { fakes, ctx } = setup()
      fakes.openai!.queue(error)
      fakes.anthropic!.queue('bigger window')
      expect((await ctx({ routing }).execute({ task: 'x' })).modelUsed).toBe('claude-haiku-4-5')
    }
    const { fakes, ctx, calls } = setup()
    fakes.openai!.queue(providerError('openai', 400, 'temperature: must be <= 2'))
    const e = await rejected(() => ctx({ routing }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ProviderError)
    expect(e.status).toBe(400)
    expect(calls()).toEqual(['openai:gpt-4o'])
  })

  it('a model whose window is too small for the estimate is skipped without a request', async () => {
    const { fakes, ctx, calls } = setup()
    const c = ctx({ routing: { model: 'gpt-3.5-turbo', fallbacks: ['gpt-4o'] } }).addInput('x', { tokens: 5000 })
    fakes.openai!.queue('roomy')
    expect((await c.execute({ task: 'x' })).modelUsed).toBe('gpt-4o')
    expect(calls()).toEqual(['openai:gpt-4o'])
    // Without a fallback: the window ConstraintError.
    const e = await rejected(() => ctx({ routing: { model: 'gpt-3.5-turbo' } }).addInput('x', { tokens: 5000 }).execute({ task: 'x' }))
    expect(e).toBeInstanceOf(ConstraintError)
    expect(e.path).toBe('routing.model')
    expect(e.message).toMatch(/gpt-3\.5-turbo: \d+ input \+ 1024 output tokens exceed its 4096-token window/)
  })

  it('never after an abort, a timeout, or a streamed token; the last error when all fail', async () => {
    const { fakes, ctx, calls } = setup()
    const controller = new AbortController()
    fakes.openai!.queue(waitForAbort('openai'))
    const pending = rejected(() => ctx({ routing }).execute({ task: 'x', signal: controller.signal }))
    controller.abort()
    expect(await pending).toBeInstanceOf(AbortedError)
    fakes.openai!.queue(waitForAbort('openai'))
    expect((await rejected(() => ctx({ routing, constraints: { maxTime: 0.02 } }).execute({ task: 'x' }))).code).toBe('timeout')
    // regression: a stream that broke after a token must not be continued by another model's answer.
    fakes.openai!.queue((request) => {
      request.onToken!('Hel')
      throw providerError('openai', 500, 'stream ended early')
    })
    const seen: string[] = []
    const e = await rejected(() => ctx({ routing }).execute({ task: 'x', onToken: (t) => seen.push(t) }))
    expect(e.status).toBe(500)
    expect(seen).toEqual(['Hel'])
    expect(calls()).toEqual(['openai:gpt-4o', 'openai:gpt-4o', 'openai:gpt-4o'])

    const all = setup()
    all.fakes.openai!.queue(providerError('openai', 500))
    all.fakes.anthropic!.queue(providerError('anthropic', 529))
    all.fakes.gemini!.queue(providerError('gemini', 503))
    const last = await rejected(() => all.ctx({ routing }).execute({ task: 'x' }))
    expect(last.provider).toBe('gemini')
  })

  it('maxCost: a routed model over it is refused despite fallbacks; a fallback over it is skipped', async () => {
    const { fakes, ctx, calls } = setup()
    const e = await rejected(() => ctx({ routing: { model: 'gpt-4', fallbacks: ['gpt-4o-mini'], maxOutputTokens: 1000 }, constraints: { maxCost: 0.01 } }).execute({ task: 'x' }))
    expect(e.path).toBe('constraints.maxCost')
    expect(calls()).toEqual([])
    fakes.openai!.queue(providerError('openai', 429))
    fakes.anthropic!.queue('cheap enough')
    const r = await ctx({ routing: { model: 'gpt-4o-mini', fallbacks: ['gpt-4', 'claude-haiku-4-5'], maxOutputTokens: 1000 }, constraints: { maxCost: 0.01 } }).execute({ task: 'x' })
    expect(r.modelUsed).toBe('claude-haiku-4-5')
    expect(calls()).toEqual(['openai:gpt-4o-mini', 'anthropic:claude-haiku-4-5'])
  })

  it('a fallback whose provider the executor lacks is an error before any request', async () => {
    const { ctx, calls } = setup(['openai'])
    const e = await rejected(() => ctx({ routing }).execute({ task: 'x' }))
    expect(e.path).toBe('routing.fallbacks')
    expect(e.message).toContain('anthropic()')
    expect(calls()).toEqual([])
  })
})

describe('execute: API keys', () => {
  it('precedence: the call\'s apiKey, then variables[<PROVIDER>_API_KEY], then the provider\'s own (undefined here)', async () => {
    const { fakes, ctx } = setup()
    const routing = { model: 'gpt-4o' }
    fakes.openai!.queue('1', '2', '3', '4')
    await ctx({ routing }, { OPENAI_API_KEY: 'from-variables' }).execute({ task: 'x', apiKey: 'from-call' })
    await ctx({ routing }, { OPENAI_API_KEY: 'from-variables' }).execute({ task: 'x' })
    await ctx({ routing }, { ANTHROPIC_API_KEY: 'not-for-openai' }).execute({ task: 'x' })
    // An empty string is no key: the next source is used.
    await ctx({ routing }, { OPENAI_API_KEY: '' }).execute({ task: 'x', apiKey: '' })
    expect(fakes.openai!.requests.map((r) => r.apiKey)).toEqual(['from-call', 'from-variables', undefined, undefined])
  })

  it('the variable is named after the provider: ANTHROPIC_API_KEY, GEMINI_API_KEY, GROQ_API_KEY for a provider named groq', async () => {
    const { fakes, ctx } = setup(['anthropic', 'gemini', 'groq'])
    const variables = { ANTHROPIC_API_KEY: 'a', GEMINI_API_KEY: 'g', GROQ_API_KEY: 'q' }
    fakes.anthropic!.queue('ok')
    fakes.gemini!.queue('ok')
    fakes.groq!.queue('ok')
    await ctx({ routing: { model: 'claude-haiku-4-5' } }, variables).execute({ task: 'x' })
    await ctx({ routing: { model: 'gemini-2.5-flash' } }, variables).execute({ task: 'x' })
    await ctx({ routing: { model: 'llama-3.3-70b', provider: 'groq' } }, variables).execute({ task: 'x' })
    expect([fakes.anthropic!, fakes.gemini!, fakes.groq!].map((f) => f.requests[0]!.apiKey)).toEqual(['a', 'g', 'q'])
  })
})

describe('execute: JSON output', () => {
  const json = (output: Output, text: string) => {
    const { fakes, ctx } = setup()
    fakes.openai!.queue(text)
    return { run: (task = 'Give the user') => ctx({ routing: { model: 'gpt-4o' }, output }).execute({ task }), fakes }
  }

  it("asks for JSON, reminds the model when the prompt never says JSON (OpenAI's JSON mode requires it), parses the answer", async () => {
    const { run, fakes } = json({ format: 'json' }, '{"name":"Ann","age":31}')
    const r = await run()
    expect(r.result).toEqual({ name: 'Ann', age: 31 })
    const sent = fakes.openai!.requests[0]!
    expect(sent.responseFormat).toBe('json')
    expect(sent.jsonSchema).toBeUndefined()
    expect(userText(sent)).toBe('Give the user\nReply with JSON.')
    const again = json({ format: 'json' }, '[1]')
    await again.run('Give the user as JSON')
    expect(userText(again.fakes.openai!.requests[0]!)).toBe('Give the user as JSON')
  })

  it('tolerates a ```json fence; anything else that is not JSON is an OutputError with the raw text', async () => {
    expect((await json({ format: 'json' }, '```json\n{"ok":true}\n```').run()).result).toEqual({ ok: true })
    expect((await json({ format: 'json' }, '  ```\n[1,2]```  ').run()).result).toEqual([1, 2])
    const e = await rejected(() => json({ format: 'json' }, 'Sure! Here it is: {"ok":true}').run())
    expect(e).toBeInstanceOf(OutputError)
    expect(e.path).toBe('output')
    expect(e.text).toBe('Sure! Here it is: {"ok":true}')
    expect(e.message).toContain('did not answer with JSON')
  })

  it('a JSON Schema in output.schema is sent to the provider and not validated here', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] }
    const { run, fakes } = json({ format: 'json', schema }, '{"other":1}')
    expect((await run()).result).toEqual({ other: 1 })
    expect(fakes.openai!.requests[0]!.jsonSchema).toEqual(schema)
  })

  it('a Standard Schema (valibot) validates and transforms the result; a failing one lists its issues', async () => {
    const User = v.object({ name: v.string(), age: v.pipe(v.number(), v.minValue(18)), tags: v.optional(v.array(v.string()), []) })
    const ok = json({ format: 'json', schema: User }, '{"name":"Ann","age":31}')
    expect((await ok.run()).result).toEqual({ name: 'Ann', age: 31, tags: [] })
    // Sent as JSON Schema too (issue 9: converted by @valibot/to-json-schema), optional keys not required.
    expect(ok.fakes.openai!.requests[0]!.jsonSchema).toMatchObject({ type: 'object', properties: { age: { type: 'number', minimum: 18 } }, required: ['name', 'age'] })
    const e = await rejected(() => json({ format: 'json', schema: User }, '{"name":7,"age":12}').run())
    expect(e).toBeInstanceOf(OutputError)
    expect(e.issues.map((i: { path?: string }) => i.path)).toEqual(['name', 'age'])
    expect(e.message).toMatch(/^output\.schema rejected the model's answer: name: /)
    const all = await rejected(() => new Context({ routing: { model: 'gpt-4o' }, output: { format: 'json', schema: v.object({ a: v.string(), b: v.string() }) } }, {
      executor: (() => {
        const f = fakeProvider('openai')
        f.queue('{}')
        return new Executor({ providers: [f] })
      })(),
    }).execute({ task: 'json' }))
    // Every issue, each with its path.
    expect(all.issues.map((i: { path?: string }) => i.path)).toEqual(['a', 'b'])
  })

  it('regression: a Standard Schema that is a function (ArkType types are callable) is still used', async () => {
    const schema = Object.assign(() => true, {
      '~standard': { version: 1, vendor: 'callable', validate: (value: unknown) => (Array.isArray(value) ? { value } : { issues: [{ message: 'must be an array' }] }) },
    })
    expect((await json({ format: 'json', schema }, '[1]').run()).result).toEqual([1])
    const e = await rejected(() => json({ format: 'json', schema }, '{}').run())
    expect(e.issues).toEqual([{ message: 'must be an array', path: undefined }])
  })

  it('a schema without a format means JSON; format text with a schema returns the text', async () => {
    const r = await json({ schema: v.array(v.number()) }, '[1,2]').run()
    expect(r.result).toEqual([1, 2])
    const text = json({ format: 'text', schema: { type: 'object' } }, 'plain')
    expect((await text.run()).result).toBe('plain')
    expect(text.fakes.openai!.requests[0]!.responseFormat).toBeUndefined()
  })
})

describe('generateChatCompletion', () => {
  const tools = [{ name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }]

  it('sends the history and tools; appends the reply with its tool calls; the tool result goes back on the next call', async () => {
    const { fakes, ctx } = setup()
    const c = ctx({ routing: { model: 'gpt-4o' } })
    c.addCompletionMessage({ role: 'user', content: 'Weather in Paris?' })
    const call = { id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }
    fakes.openai!.queue({ text: '', toolCalls: [call], message: { role: 'assistant', content: '', toolCalls: [call] }, finishReason: 'tool_calls' }, 'Sunny, 21 °C.')
    const first = await c.generateChatCompletion({ tools, toolChoice: 'auto' })
    expect(first.toolCalls).toEqual([call])
    expect(first.cost).toBeCloseTo((10 * 2.5 + 5 * 10) / 1e6, 12)
    expect(fakes.openai!.requests[0]).toMatchObject({ tools, toolChoice: 'auto', messages: [{ role: 'user', content: 'Weather in Paris?' }] })
    expect(c.getCompletionMessages().at(-1)).toEqual({ role: 'assistant', content: '', toolCalls: [call] })
    c.addCompletionMessage({ role: 'tool', toolCallId: 'call_1', content: '{"sky":"sunny","c":21}' })
    const second = await c.generateChatCompletion({ tools })
    expect(second.text).toBe('Sunny, 21 °C.')
    expect(fakes.openai!.requests[1]!.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', toolCallId: 'call_1', content: '{"sky":"sunny","c":21}' },
    ])
    expect(c.getCompletionMessages()).toHaveLength(4)
  })

  it('append: false leaves the history as it was; onToken streams', async () => {
    const { fakes, ctx } = setup()
    const c = ctx({ routing: { model: 'gpt-4o' } })
    c.addCompletionMessage({ role: 'user', content: 'Hi' })
    fakes.openai!.queue('Hello there')
    const tokens: string[] = []
    const r = await c.generateChatCompletion({ append: false, onToken: (t) => tokens.push(t) })
    expect(r.text).toBe('Hello there')
    expect(tokens.join('')).toBe('Hello there')
    expect(c.getCompletionMessages()).toEqual([{ role: 'user', content: 'Hi' }])
  })

  it('an empty history or bad options are ValidationErrors; maxCost applies to chats too', async () => {
    const { fakes, ctx } = setup()
    expect((await rejected(() => ctx({ routing: { model: 'gpt-4o' } }).generateChatCompletion())).path).toBe('messages')
    const c = ctx({ routing: { model: 'gpt-4', maxOutputTokens: 1000 }, constraints: { maxCost: 0.001 } })
    c.addCompletionMessage({ role: 'user', content: 'Hi' })
    expect((await rejected(() => c.generateChatCompletion('fast' as never))).path).toBe('options')
    expect((await rejected(() => c.generateChatCompletion())).path).toBe('constraints.maxCost')
    expect(fakes.openai!.requests).toHaveLength(0)
  })

})

