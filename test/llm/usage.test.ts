import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { AbortedError, Context, ContextError, createContextStore, Executor, memoryStorage, type ContextConfig } from '../../src/index.js'
import { addUsage, NO_USAGE } from '../../src/llm/usage.js'
import type { ModelContext } from '../../src/llm/types.js'
import { mockProvider, type MockProvider, type MockReply } from '../../src/test/index.js'

// ctx.usage: every provider call made through a context, summed and serialized with it.
// gpt-4o-mini: $0.15 in, $0.60 out per million tokens; gpt-4o: $2.50 in, $10 out.
const MINI = (i: number, o: number) => (i * 0.15 + o * 0.6) / 1e6
const GPT4O = (i: number, o: number) => (i * 2.5 + o * 10) / 1e6

const context = (config: ContextConfig, ...providers: MockProvider[]) => new Context(config, { executor: new Executor({ providers }) })
const said = (inputTokens: number, outputTokens: number, text = 'ok'): MockReply => ({ text, usage: { inputTokens, outputTokens } })

describe('ctx.usage', () => {
  it('starts at zero, frozen, and is absent from toJSON until the first call (states stay as they were)', () => {
    const ctx = new Context()
    expect(ctx.usage).toEqual({ inputTokens: 0, outputTokens: 0, cost: 0, calls: 0, unpricedCalls: 0 })
    expect(Object.isFrozen(ctx.usage)).toBe(true)
    expect('usage' in ctx.toJSON()).toBe(false)
  })

  it('sums execute and chat calls: tokens, cost of priced calls, calls', async () => {
    const mock = mockProvider({ name: 'openai', replies: [said(1000, 200), said(300, 40)] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    const a = await ctx.execute({ task: 'x' })
    ctx.addCompletionMessage({ role: 'user', content: 'hi' })
    const b = await ctx.generateChatCompletion()
    expect(ctx.usage).toEqual({ inputTokens: 1300, outputTokens: 240, cost: expect.closeTo(MINI(1300, 240), 12), calls: 2, unpricedCalls: 0 })
    expect(ctx.usage.cost).toBeCloseTo(a.cost! + b.cost!, 15)
  })

  it('a model without prices adds its tokens and an unpriced call, never to cost', async () => {
    const local = mockProvider({ name: 'local', replies: [said(10, 5)] })
    const openai = mockProvider({ name: 'openai', replies: [said(1000, 0)] })
    const ctx = new Context({ routing: { model: 'my-model', provider: 'local' } }, { executor: new Executor({ providers: [local, openai] }) })
    await ctx.execute({ task: 'x' })
    expect(ctx.usage).toEqual({ inputTokens: 10, outputTokens: 5, cost: 0, calls: 1, unpricedCalls: 1 })
    await ctx.execute({ task: 'y', overrideRouting: { model: 'gpt-4o-mini' } })
    expect(ctx.usage).toMatchObject({ inputTokens: 1010, calls: 2, unpricedCalls: 1, cost: expect.closeTo(MINI(1000, 0), 12) })
  })

  it('fallbacks: an attempt refused without usage (a 429 after retries) adds nothing; the fallback that answered counts, at its own price', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'rate_limit' }, said(1000, 100)] })
    const ctx = context({ routing: { model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] } }, mock)
    const r = await ctx.execute({ task: 'x' })
    expect(r.modelUsed).toBe('gpt-4o-mini')
    expect(ctx.usage).toEqual({ inputTokens: 1000, outputTokens: 100, cost: expect.closeTo(MINI(1000, 100), 12), calls: 1, unpricedCalls: 0 })
  })

  it('fallbacks: a stream broken before its first token is billed for its partial (estimated) and the fallback counts too', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ chunks: ['never'], breakAfter: 0 }, said(1000, 100)] })
    const ctx = context({ routing: { model: 'gpt-4o', fallbacks: ['gpt-4o-mini'] } }, mock)
    await ctx.execute({ task: 'x', onToken: () => {} })
    const u = ctx.usage
    expect(u.calls).toBe(2)
    expect(u.estimated).toBe(true)
    // The partial's input is estimated from the prompt (4 characters a token): more than 0, priced at gpt-4o.
    const partialInput = u.inputTokens - 1000
    expect(partialInput).toBeGreaterThan(0)
    expect(u.cost).toBeCloseTo(GPT4O(partialInput, 0) + MINI(1000, 100), 12)
  })

  it('an aborted stream keeps what it produced: the partial counts, the error is the AbortedError', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'Hello there', hang: true }] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    const stop = new AbortController()
    const e = await ctx.execute({ task: 'x', signal: stop.signal, onToken: (d) => d.includes('there') && stop.abort() }).catch((x) => x)
    expect(e).toBeInstanceOf(AbortedError)
    expect(ctx.usage).toMatchObject({ calls: 1, estimated: true })
    expect(ctx.usage.outputTokens).toBe(Math.ceil('Hello there'.length / 4))
  })

  it('constraints.maxTime: the timed-out partial counts as well', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ text: 'slow words', hang: true }] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' }, constraints: { maxTime: 0.05 } }, mock)
    const e = await ctx.execute({ task: 'x', onToken: () => {} }).catch((x) => x)
    expect(e).toMatchObject({ reason: 'timeout' })
    expect(ctx.usage).toMatchObject({ calls: 1, outputTokens: Math.ceil('slow words'.length / 4), estimated: true })
  })

  it('a call that fails with no usage at all (401) adds nothing', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ error: 'auth' }] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    await expect(ctx.execute({ task: 'x' })).rejects.toThrow()
    expect(ctx.usage).toEqual(NO_USAGE)
  })

  it('a tool loop: each step is a call; ctx.usage grows by the result\'s summed usage and cost', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ toolCalls: [{ name: 'add', arguments: { a: 1, b: 2 } }], usage: { inputTokens: 100, outputTokens: 20 } }, said(150, 5, '3')] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    ctx.addCompletionMessage({ role: 'user', content: '1 + 2?' })
    const add = { parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } } }, execute: ({ a, b }: { a: number; b: number }) => a + b }
    const r = await ctx.generateChatCompletion({ tools: { add }, maxSteps: 3 })
    expect(r.steps).toHaveLength(2)
    expect(ctx.usage).toEqual({ inputTokens: 250, outputTokens: 25, cost: expect.closeTo(MINI(250, 25), 12), calls: 2, unpricedCalls: 0 })
    expect([ctx.usage.inputTokens, ctx.usage.outputTokens]).toEqual([r.usage.inputTokens, r.usage.outputTokens])
    expect(ctx.usage.cost).toBeCloseTo(r.cost!, 15)
  })

  it('streams: a stream read to its end counts; a cancelled one counts its partial', async () => {
    const mock = mockProvider({ name: 'openai', replies: [said(40, 4, 'one two'), { text: 'one two three four', chunks: ['one', ' two', ' three', ' four'], delayMs: 5 }] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    ctx.addCompletionMessage({ role: 'user', content: 'count' })
    expect(await ctx.streamChatCompletion().text).toBe('one two')
    expect(ctx.usage).toMatchObject({ inputTokens: 40, outputTokens: 4, calls: 1 })
    const s = ctx.streamChatCompletion()
    let parts = 0
    for await (const _ of s) if (++parts === 2) s.cancel()
    const partial = (await s.result.catch((e) => e)).partial
    expect(ctx.usage).toMatchObject({ inputTokens: 40 + partial.usage.inputTokens, outputTokens: 4 + partial.usage.outputTokens, calls: 2, estimated: true })
  })

  it('objects: generateObject and streamObject calls count like any other', async () => {
    const mock = mockProvider({ name: 'openai', replies: [said(100, 10, '{"city":"Paris"}'), said(50, 5, '{"city":"Rome"}')] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    const schema = { type: 'object', properties: { city: { type: 'string' } } }
    expect((await ctx.generateObject({ schema, task: 'A city.' })).object).toEqual({ city: 'Paris' })
    ctx.addCompletionMessage({ role: 'user', content: 'Another city.' })
    expect(await ctx.streamObject({ schema }).object).toEqual({ city: 'Rome' })
    expect(ctx.usage).toEqual({ inputTokens: 150, outputTokens: 15, cost: expect.closeTo(MINI(150, 15), 12), calls: 2, unpricedCalls: 0 })
  })

  it('toJSON/fromJSON keep it; a version-1 state written before it existed loads as zeros', async () => {
    const mock = mockProvider({ name: 'openai', replies: [said(1000, 200)] })
    const ctx = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    await ctx.execute({ task: 'x' })
    const json = JSON.parse(JSON.stringify(ctx))
    expect(json.usage).toEqual({ inputTokens: 1000, outputTokens: 200, cost: expect.closeTo(MINI(1000, 200), 15), calls: 1, unpricedCalls: 0 })
    expect(Context.fromJSON(json).usage).toEqual(ctx.usage)
    const { usage: _, ...old } = json
    expect(Context.fromJSON(old).usage).toEqual(NO_USAGE)
  })

  it.each([
    [{ inputTokens: -1 }, 'usage.inputTokens'],
    [{ calls: 1.5 }, 'usage.calls'],
    [{ cost: 'free' }, 'usage.cost'],
    [{ estimated: false }, 'usage.estimated'],
    [{ tokens: 3 }, 'usage'],
  ])('fromJSON refuses a bad usage %j, naming %s', (bad, path) => {
    const state = { ...new Context().toJSON(), usage: { ...NO_USAGE, ...bad } }
    const e = (() => {
      try {
        Context.fromJSON(state)
      } catch (x) {
        return x as ContextError
      }
    })()
    expect(e).toBeInstanceOf(ContextError)
    expect(e!.code).toBe('invalid_state')
    expect(e!.path).toContain(path)
  })

  it('new Context({ usage }) is refused: usage is counted, never set', () => {
    expect(() => new Context({ usage: NO_USAGE } as ContextConfig)).toThrow(/usage/)
  })

  it('extend and merge start at zero, and a child call never counts in its parent (a call is counted in one context)', async () => {
    const mock = mockProvider({ name: 'openai', replies: [said(100, 10), said(7, 3)] })
    const parent = context({ routing: { model: 'gpt-4o-mini' } }, mock)
    await parent.execute({ task: 'x' })
    const child = parent.extend()
    expect(child.usage).toEqual(NO_USAGE)
    await child.execute({ task: 'y' })
    expect(child.usage).toMatchObject({ inputTokens: 7, calls: 1 })
    expect(parent.usage).toMatchObject({ inputTokens: 100, calls: 1 })
    expect(parent.merge(child).usage).toEqual(NO_USAGE)
  })

  it('a store keeps it: save, load, call again, save, load (memoryStorage)', async () => {
    const storage = memoryStorage()
    const mock = mockProvider({ name: 'openai', replies: [said(1000, 200), said(500, 50)] })
    const runtime = { executor: new Executor({ providers: [mock] }) }
    const store = createContextStore(storage, { runtime })
    const ctx = new Context({ routing: { model: 'gpt-4o-mini' } }, runtime)
    await ctx.execute({ task: 'x' })
    await store.save(ctx)
    const loaded = (await store.load(ctx.id))!
    expect(loaded.usage).toEqual(ctx.usage)
    // Only the usage changes: the store must still see a change and write it.
    await loaded.execute({ task: 'y' })
    await store.save(loaded)
    const again = (await store.load(ctx.id))!
    expect(again.usage).toEqual({ inputTokens: 1500, outputTokens: 250, cost: expect.closeTo(MINI(1500, 250), 12), calls: 2, unpricedCalls: 0 })
  })

  it('Executor without a Context: ModelContext.onUsage gets each call (usage, cost, model, provider); one that throws breaks nothing', async () => {
    const mock = mockProvider({ name: 'openai', replies: [said(1000, 0), said(1, 1)] })
    const executor = new Executor({ providers: [mock] })
    const seen: unknown[] = []
    const base: ModelContext = { contextId: 'c', routing: { model: 'gpt-4o-mini' } }
    await executor.execute({ ...base, onUsage: (...args) => seen.push(args) }, { task: 'x' })
    expect(seen).toEqual([[{ inputTokens: 1000, outputTokens: 0 }, MINI(1000, 0), 'gpt-4o-mini', 'openai']])
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const r = await executor.execute({ ...base, onUsage: () => { throw new Error('boom') } }, { task: 'x' })
      expect(r.result).toBe('ok')
      expect(error).toHaveBeenCalledOnce()
      expect(String(error.mock.calls[0]![0])).toContain('onUsage')
    } finally {
      error.mockRestore()
    }
  })

  it('property: the totals are the sums of what the calls reported, priced or not, whatever the order', async () => {
    const call = fc.record({ i: fc.nat(1e6), o: fc.nat(1e6), priced: fc.boolean(), estimated: fc.boolean() })
    await fc.assert(
      fc.asyncProperty(fc.array(call, { maxLength: 12 }), async (calls) => {
        const replies = calls.map(({ i, o, estimated }) => ({ text: 'ok', usage: estimated ? { inputTokens: i } : { inputTokens: i, outputTokens: o } }))
        // Both mocks answer from one script, in the order of the calls.
        let next = 0
        const priced = mockProvider({ name: 'openai', replies: () => replies[next++]! })
        const unpriced = mockProvider({ name: 'local', replies: () => replies[next++]! })
        const ctx = new Context({}, { executor: new Executor({ providers: [priced, unpriced] }) })
        let expected = NO_USAGE as ReturnType<typeof addUsage>
        for (const c of calls) {
          const routing = c.priced ? { model: 'gpt-4o-mini' } : { model: 'mine', provider: 'local' }
          const r = await ctx.execute({ task: 'x', overrideRouting: routing })
          expected = addUsage(expected, r.usage, r.cost)
          expect(r.usage.inputTokens).toBe(c.i)
          if (!c.estimated) expect(r.usage.outputTokens).toBe(c.o)
        }
        const u = ctx.usage
        expect(u.calls).toBe(calls.length)
        expect(u.unpricedCalls).toBe(calls.filter((c) => !c.priced).length)
        expect(u.inputTokens).toBe(calls.reduce((s, c) => s + c.i, 0))
        expect(u.estimated).toBe(calls.some((c) => c.estimated) || undefined)
        expect(u).toEqual(expected)
        // And it survives JSON whatever the numbers.
        expect(Context.fromJSON(JSON.stringify(ctx)).usage).toEqual(u)
      }),
      { numRuns: 40 },
    )
  })

  it('addUsage: a missing, negative, NaN or infinite count adds 0 and a bad cost is unpriced, never poisoning the total', () => {
    const t = addUsage(undefined, { inputTokens: NaN, outputTokens: -3 } as never, Infinity)
    expect(t).toEqual({ inputTokens: 0, outputTokens: 0, cost: 0, calls: 1, unpricedCalls: 1 })
    expect(addUsage(t, {} as never, NaN)).toEqual({ inputTokens: 0, outputTokens: 0, cost: 0, calls: 2, unpricedCalls: 2 })
    expect(addUsage(undefined, { inputTokens: 2.6, outputTokens: 1e300 }, 0.5)).toEqual({ inputTokens: 3, outputTokens: 0, cost: 0.5, calls: 1, unpricedCalls: 0 })
  })

  it('regression "a fraction fails the stored schema": a custom provider reporting 2.5 tokens leaves a context that still saves and loads', async () => {
    const odd = { name: 'odd', chat: async (r: { model: string }) => ({ message: { role: 'assistant' as const, content: 'ok' }, text: 'ok', toolCalls: [], finishReason: 'stop' as const, usage: { inputTokens: 2.5, outputTokens: Number.NaN }, model: r.model, provider: 'odd' }) }
    const ctx = new Context({ routing: { model: 'm', provider: 'odd' } }, { executor: new Executor({ providers: [odd] }) })
    await ctx.execute({ task: 'x' })
    expect(ctx.usage).toEqual({ inputTokens: 3, outputTokens: 0, cost: 0, calls: 1, unpricedCalls: 1 })
    expect(Context.fromJSON(JSON.stringify(ctx)).usage).toEqual(ctx.usage)
  })
})
