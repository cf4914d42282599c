import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Context, createContextStore, Executor, memoryStorage, Router } from '../../src/index.js'
import type { ModelSpec } from '../../src/llm/models.js'
import { message, messageEvents } from '../providers/servers/anthropic.js'
import { generateChunks, generateResponse } from '../providers/servers/gemini.js'
import { json, loopback, sse, type Loopback } from '../providers/servers/loopback.js'
import { completion, completionChunks } from '../providers/servers/openai.js'
import { wires } from '../providers/wires.js'

// ctx.usage over real HTTP on 127.0.0.1: what each provider's server reports, whole and streamed,
// a broken stream's partial, summed and priced, kept by a store.

// Per wire: a whole reply and a streamed one that report [input, output] tokens.
const replies = {
  openai: { whole: (u: [number, number]) => completion({ content: 'Hi', usage: u }), stream: (u: [number, number]) => completionChunks(['Hi'], { usage: u }) },
  anthropic: { whole: (u: [number, number]) => message({ text: 'Hi', usage: u }), stream: (u: [number, number]) => messageEvents(['Hi'], { usage: u }) },
  gemini: { whole: (u: [number, number]) => generateResponse({ text: 'Hi', usage: u }), stream: (u: [number, number]) => generateChunks(['Hi'], { usage: u }) },
}

// $1 per 1K input tokens, $2 per 1K output: costs easy to check by hand.
const spec = (id: string, provider: string): ModelSpec => ({ id, provider, contextWindow: 100_000, maxOutput: 1000, quality: 0.5, speed: 0.5, inputPricePer1K: 1, outputPricePer1K: 2 })

describe.each(wires)('$name: ctx.usage over real HTTP', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await loopback(() => [])
  })
  afterAll(() => server.close())

  const setup = () => {
    const executor = new Executor({ providers: [w.make(server.url, { maxRetries: 0 })], router: new Router([spec('test-model', w.name), spec('test-model-2', w.name)]) })
    return { executor, ctx: new Context({ routing: { model: 'test-model', fallbacks: ['test-model-2'] } }, { executor }) }
  }

  it('whole and streamed replies: the reported tokens summed, priced, and kept by a store', async () => {
    const { executor, ctx } = setup()
    server.queue(json(replies[w.name].whole([1000, 500])), sse(replies[w.name].stream([200, 100])))
    await ctx.execute({ task: 'Say hi.' })
    ctx.addCompletionMessage({ role: 'user', content: 'again' })
    await ctx.generateChatCompletion({ onToken: () => {} })
    // (1000 + 200) × $1/1K + (500 + 100) × $2/1K = $1.20 + $1.20.
    expect(ctx.usage).toEqual({ inputTokens: 1200, outputTokens: 600, cost: expect.closeTo(2.4, 12), calls: 2, unpricedCalls: 0 })
    const store = createContextStore(memoryStorage(), { runtime: { executor } })
    await store.save(ctx)
    expect((await store.load(ctx.id))!.usage).toEqual(ctx.usage)
  })

  it("a stream that breaks before its first token is billed for its partial (estimated); the fallback's reported usage is added", async () => {
    const { ctx } = setup()
    server.queue(sse(w.partial([]), 'drop'), sse(replies[w.name].stream([200, 100])))
    const r = await ctx.execute({ task: 'Say hi.', onToken: () => {} })
    expect(r.modelUsed).toBe('test-model-2')
    const u = ctx.usage
    expect(u).toMatchObject({ calls: 2, estimated: true, unpricedCalls: 0 })
    expect(u.inputTokens).toBeGreaterThan(200)
    expect(u.cost).toBeCloseTo((u.inputTokens * 1 + u.outputTokens * 2) / 1000, 12)
  })
})
