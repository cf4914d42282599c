import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { AbortedError } from '../../src/abort.js'
import { Context } from '../../src/context.js'
import { Executor } from '../../src/llm/executor.js'
import type { StepResult } from '../../src/llm/stream.js'
import { tool, type Tools } from '../../src/llm/tools.js'
import { createContextStore } from '../../src/storage/store.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { mockProvider, type MockReply } from '../../src/test/index.js'

/**
 * The tool loop (maxSteps > 1) over mockProvider: one tool, parallel calls, invalid arguments, a
 * throwing tool, an unknown tool, abort mid-loop, maxSteps reached, maxCost and maxTime over the
 * loop, every message appended to the context (and kept through toJSON/fromJSON and a store).
 * Over real HTTP for the three providers: tools.node.test.ts.
 */

const setup = (replies: MockReply[], config: ConstructorParameters<typeof Context>[0] = {}) => {
  const mock = mockProvider({ name: 'openai', replies })
  const executor = new Executor({ providers: [mock] })
  const ctx = new Context({ routing: { model: 'gpt-4o-mini' }, ...config }, { executor })
  ctx.addCompletionMessage({ role: 'user', content: 'Weather in Paris and Rome?' })
  return { mock, ctx, executor }
}

const weather = tool({
  description: 'Weather of a city',
  parameters: v.object({ city: v.string() }),
  execute: async ({ city }) => ({ city, sky: city === 'Paris' ? 'sunny' : 'rain' }),
})

describe('tool loop', () => {
  it('one tool: call → validate → execute → append → call again; result has steps, summed usage and cost; the context holds every message', async () => {
    const { ctx, mock } = setup([
      { toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }], usage: { inputTokens: 10, outputTokens: 5 } },
      { text: 'Sunny in Paris.', usage: { inputTokens: 30, outputTokens: 4 } },
    ])
    const finished: StepResult[] = []
    const r = await ctx.generateChatCompletion({ tools: { weather }, maxSteps: 3, onStepFinish: (s) => void finished.push(s) })
    expect(r.text).toBe('Sunny in Paris.')
    expect(r.finishReason).toBe('stop')
    expect(r.usage).toEqual({ inputTokens: 40, outputTokens: 9 })
    expect(r.steps).toHaveLength(2)
    expect(r.cost).toBeCloseTo(r.steps[0]!.cost! + r.steps[1]!.cost!, 12)
    expect(r.steps[0]!.toolResults).toEqual([{ toolCallId: 'c1', toolName: 'weather', result: { city: 'Paris', sky: 'sunny' } }])
    expect(finished.map((s) => s.stepNumber)).toEqual([0, 1])
    expect(ctx.getCompletionMessages().slice(1)).toEqual([
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }] },
      { role: 'tool', toolCallId: 'c1', name: 'weather', content: '{"city":"Paris","sky":"sunny"}' },
      { role: 'assistant', content: 'Sunny in Paris.' },
    ])
    // The second request carried the call and its result; tools went as JSON Schema.
    expect(mock.calls[1]!.messages.slice(-2)).toEqual(ctx.getCompletionMessages().slice(1, 3))
    expect(mock.calls[0]!.tools).toEqual([
      { name: 'weather', description: 'Weather of a city', parameters: expect.objectContaining({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }) },
    ])
    mock.assertDone()
  })

  it('parallel calls run concurrently (both start before either ends), results in call order', async () => {
    const { ctx } = setup([
      {
        toolCalls: [
          { id: 'a', name: 'slow', arguments: { city: 'Paris' } },
          { id: 'b', name: 'slow', arguments: { city: 'Rome' } },
        ],
      },
      'Done.',
    ])
    const events: string[] = []
    const slow = tool({
      parameters: v.object({ city: v.string() }),
      execute: async ({ city }, { toolCallId }) => {
        events.push(`start ${toolCallId}`)
        await new Promise((r) => setTimeout(r, city === 'Paris' ? 30 : 5))
        events.push(`end ${toolCallId}`)
        return city
      },
    })
    const r = await ctx.generateChatCompletion({ tools: { slow }, maxSteps: 2 })
    expect(events.slice(0, 2)).toEqual(['start a', 'start b'])
    expect(r.steps[0]!.toolResults.map((t) => t.result)).toEqual(['Paris', 'Rome'])
  })

  it('invalid arguments go back to the model as an error result naming the path; execute never runs', async () => {
    let ran = 0
    const { ctx, mock } = setup([{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 42 } }] }, 'Sorry.'])
    const w = tool({ parameters: v.object({ city: v.string() }), execute: () => ran++ })
    const r = await ctx.generateChatCompletion({ tools: { weather: w }, maxSteps: 2 })
    expect(ran).toBe(0)
    const res = r.steps[0]!.toolResults[0]!
    expect(res.isError).toBe(true)
    expect(res.result).toMatch(/^Error: invalid arguments: city: /)
    expect(mock.calls[1]!.messages.at(-1)).toMatchObject({ role: 'tool', toolCallId: 'c1', content: res.result })
  })

  it('arguments that are not JSON go back as an error result', async () => {
    const { ctx } = setup([{ toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city": "Par' }] }, 'Sorry.'])
    const r = await ctx.generateChatCompletion({ tools: { weather }, maxSteps: 2 })
    expect(r.steps[0]!.toolResults[0]).toMatchObject({ isError: true, result: expect.stringMatching(/not a JSON object/) })
  })

  it('a throwing tool is an error result with its message; the loop goes on', async () => {
    const { ctx } = setup([{ toolCalls: [{ id: 'c1', name: 'boom', arguments: {} }] }, 'It failed.'])
    const r = await ctx.generateChatCompletion({
      tools: {
        boom: {
          parameters: { type: 'object', properties: {} },
          execute: () => {
            throw new Error('database down')
          },
        },
      },
      maxSteps: 2,
    })
    expect(r.steps[0]!.toolResults[0]).toEqual({ toolCallId: 'c1', toolName: 'boom', result: 'Error: database down', isError: true })
    expect(r.text).toBe('It failed.')
  })

  it('an unknown tool name is an error result listing the tools', async () => {
    const { ctx } = setup([{ toolCalls: [{ id: 'c1', name: 'nope', arguments: {} }] }, 'Ok.'])
    const r = await ctx.generateChatCompletion({ tools: { weather }, maxSteps: 2 })
    expect(r.steps[0]!.toolResults[0]).toMatchObject({ isError: true, result: 'Error: no tool named "nope"; the tools are weather' })
  })

  it('a tool returning what is not JSON (a function, a cycle) is an error result, not a crash', async () => {
    const cyc: any = {}
    cyc.self = cyc
    const { ctx } = setup([{ toolCalls: [{ id: 'c1', name: 'bad', arguments: {} }] }, 'Ok.'])
    const r = await ctx.generateChatCompletion({ tools: { bad: { execute: () => cyc } }, maxSteps: 2 })
    expect(r.steps[0]!.toolResults[0]!.isError).toBe(true)
  })

  it('maxSteps reached: finishReason tool_calls with the pending calls, not run', async () => {
    let ran = 0
    const { ctx, mock } = setup([
      { toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }] },
      { toolCalls: [{ id: 'c2', name: 'weather', arguments: { city: 'Rome' } }] },
    ])
    const counting = tool({ parameters: v.object({ city: v.string() }), execute: () => ++ran })
    const r = await ctx.generateChatCompletion({ tools: { weather: counting }, maxSteps: 2 })
    expect(ran).toBe(1)
    expect(r.finishReason).toBe('tool_calls')
    expect(r.toolCalls).toEqual([{ id: 'c2', name: 'weather', arguments: { city: 'Rome' } }])
    expect(r.steps.map((s) => s.toolResults.length)).toEqual([1, 0])
    expect(ctx.getCompletionMessages().at(-1)).toMatchObject({ role: 'assistant', toolCalls: [{ id: 'c2' }] })
    mock.assertDone()
  })

  it('default maxSteps 1: tool calls are returned, not run (today’s behaviour); the array form is still taken', async () => {
    let ran = 0
    const { ctx } = setup([{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }] }])
    const r = await ctx.generateChatCompletion({ tools: { weather: { ...weather, execute: () => ran++ } } })
    expect(ran).toBe(0)
    expect(r.finishReason).toBe('tool_calls')
    const { ctx: c2, mock } = setup([{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }] }])
    await c2.generateChatCompletion({ tools: [{ name: 'weather', parameters: { type: 'object' } }], maxSteps: 5 })
    expect(mock.calls).toHaveLength(1)
  })

  it('a tool without execute stops the loop and returns its calls to the caller', async () => {
    const { ctx, mock } = setup([{ toolCalls: [{ id: 'c1', name: 'ask_user', arguments: {} }] }])
    const r = await ctx.generateChatCompletion({ tools: { ask_user: { description: 'Ask the user' }, weather }, maxSteps: 5 })
    expect(r.finishReason).toBe('tool_calls')
    expect(mock.calls).toHaveLength(1)
  })

  it('abort mid-loop: the running tool sees its signal abort, the loop stops at once, the steps done stay in the history', async () => {
    const controller = new AbortController()
    let toolSignal: AbortSignal | undefined
    const { ctx, mock } = setup([{ toolCalls: [{ id: 'c1', name: 'stuck', arguments: {} }], usage: { inputTokens: 10, outputTokens: 3 } }, 'never'])
    const started = Date.now()
    const p = ctx.generateChatCompletion({
      signal: controller.signal,
      maxSteps: 3,
      tools: {
        // A tool that ignores its signal: the loop must not wait for it.
        stuck: {
          execute: (_args, { signal }) => {
            toolSignal = signal
            setTimeout(() => controller.abort(), 10)
            return new Promise(() => {})
          },
        },
      },
    })
    const err = await p.catch((e) => e)
    expect(Date.now() - started).toBeLessThan(1000)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err.reason).toBe('cancelled')
    expect(err.partial.usage).toEqual({ inputTokens: 10, outputTokens: 3 })
    expect(toolSignal!.aborted).toBe(true)
    expect(mock.calls).toHaveLength(1)
    expect(ctx.getCompletionMessages().at(-1)).toMatchObject({ role: 'assistant', toolCalls: [{ id: 'c1' }] })
  })

  it('abort during the second provider call: the partial usage sums the steps so far', async () => {
    const controller = new AbortController()
    const { ctx } = setup([
      { toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }], usage: { inputTokens: 10, outputTokens: 3 } },
      { text: 'Sun ny', chunks: ['Sun', ' ny'], hang: true },
    ])
    const s = ctx.streamChatCompletion({ signal: controller.signal, maxSteps: 3, tools: { weather } })
    for await (const p of s) if (p.type === 'text-delta' && p.text === ' ny') controller.abort()
    const err = await s.result.catch((e) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err.partial.text).toBe('Sun ny')
    expect(err.partial.usage.inputTokens).toBeGreaterThan(10)
  })

  it('constraints.maxTime bounds the whole loop, tools included: AbortedError timeout at constraints.maxTime', async () => {
    const { ctx } = setup([{ toolCalls: [{ id: 'c1', name: 'slow', arguments: {} }] }, 'late'], { constraints: { maxTime: 0.05 } })
    const err = await ctx
      .generateChatCompletion({ maxSteps: 3, tools: { slow: { execute: (_a, { signal }) => new Promise((r) => signal.addEventListener('abort', r)) } } })
      .catch((e) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err).toMatchObject({ reason: 'timeout', code: 'timeout', path: 'constraints.maxTime' })
  })

  it('constraints.maxCost bounds the loop: a step the remaining budget cannot afford is refused (ConstraintError at constraints.maxCost)', async () => {
    // gpt-4o-mini: $0.15 / $0.60 per million. The first step spends 1e6 input tokens ($0.15) of a $0.1503
    // budget; the next one's estimate is at least its 1024 output tokens ($0.000614), over the $0.0003 left.
    const { ctx, mock } = setup(
      [{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }], usage: { inputTokens: 1_000_000, outputTokens: 0 } }, 'never'],
      { constraints: { maxCost: 0.1503 } },
    )
    const err = await ctx.generateChatCompletion({ maxSteps: 3, tools: { weather } }).catch((e) => e)
    expect(err).toMatchObject({ name: 'ConstraintError', path: 'constraints.maxCost' })
    expect(mock.calls).toHaveLength(1)
    // The step done stays: the caller can go on with a larger budget.
    expect(ctx.getCompletionMessages().at(-1)).toMatchObject({ role: 'tool', toolCallId: 'c1' })
  })

  it('the budget spent exactly: refused before the next step without asking the model', async () => {
    const { ctx, mock } = setup(
      [{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }], usage: { inputTokens: 1_000_000, outputTokens: 0 } }, 'never'],
      { constraints: { maxCost: 0.15 } },
    )
    const err = await ctx.generateChatCompletion({ maxSteps: 3, tools: { weather } }).catch((e) => e)
    expect(err).toMatchObject({ name: 'ConstraintError', path: 'constraints.maxCost', message: expect.stringMatching(/spent \$0\.15 in 1 steps/) })
    expect(mock.calls).toHaveLength(1)
  })

  it('the messages of a loop are saved: toJSON/fromJSON and a store round trip keep every call and result', async () => {
    const { ctx, executor } = setup([{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }] }, 'Sunny.'])
    const store = createContextStore(memoryStorage())
    await ctx.generateChatCompletion({ tools: { weather }, maxSteps: 2 })
    const restored = Context.fromJSON(JSON.parse(JSON.stringify(ctx)), { executor })
    expect(restored.getCompletionMessages()).toEqual(ctx.getCompletionMessages())
    await store.save(ctx)
    const loaded = await store.load(ctx.id)
    expect(loaded!.getCompletionMessages()).toEqual(ctx.getCompletionMessages())
    expect(loaded!.getCompletionMessages().map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant'])
  })

  it('append: false appends nothing, also in a loop', async () => {
    const { ctx } = setup([{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }] }, 'Sunny.'])
    await ctx.generateChatCompletion({ tools: { weather }, maxSteps: 2, append: false })
    expect(ctx.getCompletionMessages()).toHaveLength(1)
  })

  it('the tool gets the plain ModelContext (id, variables), the conversation and its call id', async () => {
    const { ctx } = setup([{ toolCalls: [{ id: 'c9', name: 'peek', arguments: {} }] }, 'ok'])
    let seen: any
    await ctx.generateChatCompletion({ maxSteps: 2, tools: { peek: { execute: (_a, o) => void (seen = o) } } })
    expect(seen.toolCallId).toBe('c9')
    expect(seen.context.contextId).toBe(ctx.id)
    expect(seen.messages.at(-1)).toMatchObject({ role: 'assistant', toolCalls: [{ id: 'c9' }] })
    expect(seen.signal).toBeInstanceOf(AbortSignal)
  })

  it('streamed loop: parts in order (deltas, tool-call, tool-result, step-finish per step, then finish); result equals the non-streamed loop', async () => {
    const replies: MockReply[] = [
      { text: 'Let me check.', chunks: ['Let me', ' check.'], toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }], usage: { inputTokens: 5, outputTokens: 5 } },
      { text: 'Sunny.', chunks: ['Sunny.'], usage: { inputTokens: 9, outputTokens: 2 } },
    ]
    const s = setup(replies).ctx.streamChatCompletion({ tools: { weather }, maxSteps: 3 })
    const types: string[] = []
    for await (const p of s) types.push(p.type)
    expect(types).toEqual(['text-delta', 'text-delta', 'tool-call', 'tool-result', 'step-finish', 'text-delta', 'step-finish', 'finish'])
    expect(await s.text).toBe('Let me check.Sunny.')
    const whole = await setup(replies).ctx.generateChatCompletion({ tools: { weather }, maxSteps: 3 })
    expect(await s.result).toEqual(whole)
  })

  it('execute runs the loop too (nothing appended to the history), result parsed from the last step', async () => {
    const { ctx, mock } = setup([{ toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Paris' } }] }, 'Sunny.'])
    const before = ctx.getCompletionMessages().length
    const r = await ctx.execute({ task: 'Weather?', tools: { weather }, maxSteps: 2 })
    expect(r.result).toBe('Sunny.')
    expect(r.steps).toHaveLength(2)
    expect(mock.calls[1]!.messages.at(-1)).toMatchObject({ role: 'tool', toolCallId: 'c1' })
    expect(ctx.getCompletionMessages()).toHaveLength(before)
  })

  it.each<[string, unknown, string]>([
    ['a name with a space', { 'get weather': {} }, 'tools.get weather'],
    ['a tool that is not an object', { weather: 3 }, 'tools.weather'],
    ['execute not a function', { weather: { execute: 'x' } }, 'tools.weather.execute'],
    ['a description not a string', { weather: { description: 1 } }, 'tools.weather.description'],
    ['parameters neither JSON Schema nor Standard Schema', { weather: { parameters: [1] } }, 'tools.weather.parameters'],
    ['an array entry without a name', [{ description: 'x' }], 'tools[0].name'],
    ['tools a string', 'weather', 'tools'],
  ])('bad tools (%s): a ValidationError naming its path, before any request', async (_what, tools, path) => {
    const { ctx, mock } = setup(['x'])
    await expect(ctx.generateChatCompletion({ tools: tools as Tools, maxSteps: 2 })).rejects.toMatchObject({ name: 'ValidationError', path })
    expect(mock.calls).toHaveLength(0)
  })

  it('a throwing onStepFinish fails the call with its error (an error part in a stream)', async () => {
    const { ctx } = setup(['x'])
    const s = ctx.streamChatCompletion({
      onStepFinish: () => {
        throw new Error('hook')
      },
    })
    const parts: string[] = []
    for await (const p of s) parts.push(p.type)
    expect(parts).toEqual(['text-delta', 'step-finish', 'error'])
    await expect(s.result).rejects.toThrow('hook')
  })
})
