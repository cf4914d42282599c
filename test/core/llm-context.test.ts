import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ConstraintError, ValidationError } from '../../src/errors.js'
import type { ModelSpec } from '../../src/llm/models.js'
import { Executor } from '../../src/llm/executor.js'
import { Router } from '../../src/llm/router.js'
import { estimateTokens } from '../../src/llm/tokens.js'
import { thrown } from './helpers.js'

/** The error `fn` throws: a ValidationError whose path is `path`, the context's inputs unchanged. */
function refused(ctx: Context, fn: () => unknown, path: string): ValidationError {
  const before = JSON.stringify(ctx)
  const e = thrown(fn)
  expect(e).toBeInstanceOf(ValidationError)
  expect(e.path).toBe(path)
  expect(e.message.startsWith(`${path}: `)).toBe(true)
  expect(JSON.stringify(ctx)).toBe(before)
  return e as ValidationError
}

describe('addInput / inputs / getTotalTokens', () => {
  it('adds any JSON with relevance 1 by default, counts objects as compact JSON (never [object Object]), chains', () => {
    const ctx = new Context({ intent: 'analyze' })
    expect(ctx.getTotalTokens()).toBe(0)
    expect(ctx.addInput({ title: 'Book 1' }, { relevance: 0.9 }).addInput('plain text')).toBe(ctx)
    expect(ctx.inputs).toEqual([
      { data: { title: 'Book 1' }, relevance: 0.9, tokens: estimateTokens('{"title":"Book 1"}') },
      { data: 'plain text', relevance: 1, tokens: estimateTokens('plain text') },
    ])
    expect(estimateTokens('{"title":"Book 1"}')).not.toBe(estimateTokens('[object Object]'))
    expect(ctx.getTotalTokens()).toBe(estimateTokens('{"title":"Book 1"}') + estimateTokens('plain text'))
  })

  it('takes given tokens as they are, 0 included; relevance 0 and 1 are valid; numbers, null and arrays are data', () => {
    const ctx = new Context()
    ctx.addInput('x', { tokens: 0, relevance: 0 }).addInput(42, { tokens: 7, relevance: 1 }).addInput(null).addInput([1, 'a'])
    expect(ctx.inputs.map((i) => [i.relevance, i.tokens])).toEqual([
      [0, 0],
      [1, 7],
      [1, estimateTokens('null')],
      [1, estimateTokens('[1,"a"]')],
    ])
    expect(ctx.getTotalTokens()).toBe(7 + estimateTokens('null') + estimateTokens('[1,"a"]'))
  })

  it("counts with the runtime's token counter when given", () => {
    const ctx = new Context({}, { tokenCounter: (t) => t.length })
    ctx.addInput({ a: 1 })
    expect(ctx.inputs[0]!.tokens).toBe('{"a":1}'.length)
  })

  it('copies the data: later edits to the object change nothing; inputs are frozen copies', () => {
    const data = { list: [1, 2] }
    const ctx = new Context().addInput(data)
    data.list.push(3)
    expect(ctx.inputs[0]!.data).toEqual({ list: [1, 2] })
    expect(Object.isFrozen(ctx.inputs[0])).toBe(true)
    expect(() => ((ctx.inputs[0] as { relevance: number }).relevance = 0)).toThrow(TypeError)
  })

  it('refuses a relevance outside 0..1 or not a number, naming the field', () => {
    const ctx = new Context().addInput('kept')
    for (const relevance of [1.5, -0.1, NaN, Infinity, '0.5', null, true]) refused(ctx, () => ctx.addInput('x', { relevance: relevance as never }), 'relevance')
  })

  it('refuses tokens that are not an integer >= 0, naming the field', () => {
    const ctx = new Context()
    for (const tokens of [-1, 1.5, NaN, Infinity, '3', null]) refused(ctx, () => ctx.addInput('x', { tokens: tokens as never }), 'tokens')
  })

  it('refuses options that are not an object or hold an unknown key (a typo is not silently ignored)', () => {
    const ctx = new Context()
    refused(ctx, () => ctx.addInput('x', 0.5 as never), 'options')
    refused(ctx, () => ctx.addInput('x', [] as never), 'options')
    const e = refused(ctx, () => ctx.addInput('x', { relevence: 0.5 } as never), 'options.relevence')
    expect(e.message).toContain('known: relevance tokens')
    ctx.addInput('x', undefined)
    expect(ctx.inputs).toHaveLength(1)
  })

  it('refuses data that is not JSON at path data', () => {
    const ctx = new Context()
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const data of [undefined, () => 1, cyclic, new Date(0), 10n]) expect(thrown(() => ctx.addInput(data)).path).toMatch(/^data/)
    expect(ctx.inputs).toHaveLength(0)
  })

  it('inputs survive toJSON / fromJSON', () => {
    const ctx = new Context().addInput({ a: [1] }, { relevance: 0.25, tokens: 3 })
    expect(Context.fromJSON(JSON.stringify(ctx)).inputs).toEqual(ctx.inputs)
  })
})

describe('prune', () => {
  const make = (constraints = {}) =>
    new Context({ constraints })
      .addInput('a', { relevance: 0.5, tokens: 40 })
      .addInput('b', { relevance: 0.9, tokens: 70 })
      .addInput('c', { relevance: 0.5, tokens: 20 })
      .addInput('d', { relevance: 0.1, tokens: 10 })

  it('keeps the most relevant inputs that fit, scanning past one that does not (not stopping there)', () => {
    // b (70) fits 100; a (40) does not fit the 30 left; c (20) does; d (10) does too.
    expect(make().prune({ maxTokens: 100 }).inputs.map((i) => i.data)).toEqual(['b', 'c', 'd'])
  })

  it('defaults maxTokens to constraints.maxTokens; without either, only orders and filters', () => {
    expect(make({ maxTokens: 75 }).prune().inputs.map((i) => i.data)).toEqual(['b'])
    // Ties keep their order (a before c).
    expect(make().prune().inputs.map((i) => i.data)).toEqual(['b', 'a', 'c', 'd'])
  })

  it('maxTokens 0 keeps nothing; threshold 0 keeps relevance 0 inputs (falsy values are values)', () => {
    expect(make({ maxTokens: 75 }).prune({ maxTokens: 0 }).inputs).toEqual([])
    expect(new Context().addInput('z', { relevance: 0 }).prune({ relevanceThreshold: 0 }).inputs).toHaveLength(1)
  })

  it('drops inputs below relevanceThreshold; chains; getTotalTokens follows', () => {
    const ctx = make()
    expect(ctx.prune({ relevanceThreshold: 0.5 })).toBe(ctx)
    expect(ctx.inputs.map((i) => i.data)).toEqual(['b', 'a', 'c'])
    expect(ctx.getTotalTokens()).toBe(130)
  })

  it('cuts a text to fill the budget, never an object', () => {
    const long = 'word '.repeat(400).trim()
    const text = new Context().addInput(long).prune({ maxTokens: 50 })
    expect((text.inputs[0]!.data as string).endsWith('…')).toBe(true)
    expect(text.getTotalTokens()).toBeLessThanOrEqual(50)
    const obj = new Context().addInput({ long }).prune({ maxTokens: 50 })
    expect(obj.inputs).toEqual([])
  })

  it('refuses bad options naming the field, and changes nothing', () => {
    const ctx = make()
    for (const maxTokens of [-1, NaN, '10', null]) refused(ctx, () => ctx.prune({ maxTokens: maxTokens as never }), 'maxTokens')
    for (const relevanceThreshold of [1.5, -1, NaN, '0.5']) refused(ctx, () => ctx.prune({ relevanceThreshold: relevanceThreshold as never }), 'relevanceThreshold')
    const e = refused(ctx, () => ctx.prune({ max_tokens: 10 } as never), 'options.max_tokens')
    expect(e.message).toBe('options.max_tokens: unknown key (did you mean maxTokens?); known: maxTokens relevanceThreshold')
    refused(ctx, () => ctx.prune(2000 as never), 'options')
  })
})

describe('route', () => {
  // The model table is not bundled with Context: route() takes the runtime's router or the executor's.
  const withRouter = () => ({ router: new Router() })

  it('without a router or an executor: a ValidationError naming the fix, the routing unchanged', () => {
    const ctx = new Context({ routing: { temperature: 0 } })
    const e = refused(ctx, () => ctx.route({ model: 'gpt-4' }), 'router')
    expect(e.message).toContain('new Router()')
  })

  it("with an executor and no runtime router: the executor's registry", () => {
    const executor = new Executor({ providers: [{ name: 'openai', chat: async () => { throw new Error('not called') } }] })
    expect(new Context({}, { executor }).route({ model: 'gpt-4' }).routing).toEqual({ model: 'gpt-4', provider: 'openai' })
  })

  it('a model sets its provider (inferred from the registry); chains; stored in toJSON', () => {
    const ctx = new Context({}, withRouter())
    expect(ctx.route({ model: 'claude-3-opus' })).toBe(ctx)
    expect(ctx.routing).toEqual({ model: 'claude-3-opus', provider: 'anthropic' })
    expect(ctx.toJSON().routing).toEqual({ model: 'claude-3-opus', provider: 'anthropic' })
    // A new model replaces the provider too.
    expect(ctx.route({ model: 'gpt-4' }).routing).toEqual({ model: 'gpt-4', provider: 'openai' })
  })

  it('the document example: route({ model: "gpt-4", provider: "openai" }); a contradicting provider is refused', () => {
    expect(new Context({}, withRouter()).route({ model: 'gpt-4', provider: 'openai' }).routing).toEqual({ model: 'gpt-4', provider: 'openai' })
    const ctx = new Context({}, withRouter())
    refused(ctx, () => ctx.route({ model: 'gpt-4', provider: 'anthropic' }), 'provider')
  })

  it('an unknown model is an error listing the known ones', () => {
    const ctx = new Context({}, withRouter())
    const e = refused(ctx, () => ctx.route({ model: 'gpt-7' }), 'model')
    expect(e.message).toContain('gpt-4o-mini')
    expect(e.message).toContain('registerModel')
  })

  it('a strategy picks a model and records itself, keeping other routing keys', () => {
    const ctx = new Context({ routing: { temperature: 0 } }, withRouter()).route({ strategy: 'quality_optimized' })
    expect(ctx.routing).toMatchObject({ model: 'gpt-5', provider: 'openai', strategy: 'quality_optimized', temperature: 0 })
  })

  it("a strategy counts the inputs as execute will send them: at most constraints.maxTokens (runtime router)", () => {
    const spec = (id: string, contextWindow: number, speed: number): ModelSpec => ({ id, provider: 'openai', contextWindow, maxOutput: 4096, quality: 0.5, speed, inputPricePer1K: 0.001, outputPricePer1K: 0.001 })
    const router = new Router([spec('small-fast', 4096, 0.9), spec('big-slow', 128000, 0.3)])
    const make = (constraints = {}) => new Context({ constraints }, { router }).addInput('x', { tokens: 10_000 })
    expect(make().route({ strategy: 'speed_optimized' }).routing.model).toBe('big-slow')
    expect(make({ maxTokens: 2000 }).route({ strategy: 'speed_optimized' }).routing.model).toBe('small-fast')
  })

  it('maxCost limits the strategy; none under it is a ConstraintError', () => {
    const ctx = new Context({ constraints: { maxCost: 0.000001 } }, withRouter())
    expect(() => ctx.route({ strategy: 'cost_optimized' })).toThrow(ConstraintError)
    expect(ctx.routing).toEqual({})
  })

  it('refuses bad options naming the field', () => {
    const ctx = new Context({}, withRouter())
    refused(ctx, () => ctx.route({ strategy: 'cheapest' }), 'strategy')
    refused(ctx, () => ctx.route({ modle: 'gpt-4' } as never), 'options.modle')
    refused(ctx, () => ctx.route('gpt-4' as never), 'options')
    refused(ctx, () => ctx.route({ model: '' }), 'model')
  })
})

describe('extend', () => {
  it('the document example: the child has the parent inputs and its own, and the parent is unchanged', () => {
    const parent = new Context({ intent: 'analyze', constraints: { maxTokens: 2000 } })
    parent.addInput({ base: 'data' })
    const before = JSON.stringify(parent)
    const child = parent.extend({ intent: 'summarize' })
    child.addInput({ additional: 'data' })
    expect(child.inputs.map((i) => i.data)).toEqual([{ base: 'data' }, { additional: 'data' }])
    expect(child.intent).toBe('summarize')
    expect(child.constraints).toEqual({ maxTokens: 2000 })
    expect(child.parentId).toBe(parent.id)
    expect(child.id).not.toBe(parent.id)
    expect(JSON.stringify(parent)).toBe(before)
  })

  it('inherits intent, category, constraints, routing, output, metadata, session, variables; not data or history', () => {
    const parent = new Context(
      {
        intent: 'analyze',
        category: 'books',
        agentId: 'agent-1',
        constraints: { maxTokens: 100, maxCost: 0.5 },
        routing: { model: 'gpt-4o', provider: 'openai', temperature: 0.2 },
        output: { format: 'json' },
        metadata: { team: 'a', level: 1 },
        variables: { OPENAI_API_KEY: 'k' },
        data: { user: 'Ann' },
      },
    )
    parent.addCompletionMessage({ role: 'user', content: 'hi' })
    const child = parent.extend()
    expect(child).toMatchObject({ intent: 'analyze', category: 'books', agentId: 'agent-1', sessionId: parent.sessionId, parentId: parent.id })
    expect(child.constraints).toEqual(parent.constraints)
    expect(child.routing).toEqual(parent.routing)
    expect(child.output).toEqual({ format: 'json' })
    expect(child.metadata).toEqual(parent.metadata)
    expect(child.variables).toEqual({ OPENAI_API_KEY: 'k' })
    expect(child.data).toEqual({})
    expect(child.getCompletionMessages()).toEqual([])
  })

  it('overrides key by key inside constraints, metadata and output; a new model drops the inherited provider', () => {
    const parent = new Context({
      constraints: { maxTokens: 100, maxCost: 0.5 },
      routing: { model: 'gpt-4o', provider: 'openai', temperature: 0.2 },
      output: { format: 'json', schema: { type: 'object' } },
      metadata: { team: 'a', level: 1 },
    })
    const child = parent.extend({
      constraints: { maxCost: 0.1 },
      routing: { model: 'claude-haiku-4-5' },
      output: { format: 'text' },
      metadata: { level: 2 },
      category: 'new',
    })
    expect(child.constraints).toEqual({ maxTokens: 100, maxCost: 0.1 })
    expect(child.routing).toEqual({ model: 'claude-haiku-4-5', temperature: 0.2 })
    expect(child.output).toEqual({ format: 'text', schema: { type: 'object' } })
    expect(child.metadata).toEqual({ team: 'a', level: 2 })
    expect(child.category).toBe('new')
    // undefined means "not given": the parent's value stays.
    expect(parent.extend({ constraints: { maxTokens: undefined }, intent: undefined }).constraints).toEqual({ maxTokens: 100, maxCost: 0.5 })
  })

  it('the child and the parent do not share inputs; a Standard Schema is inherited', async () => {
    const schema = v.object({ a: v.string() })
    const parent = new Context({ output: { format: 'json', schema } }).addInput({ x: 1 })
    const child = parent.extend()
    child.addInput('more')
    expect(parent.inputs).toHaveLength(1)
    expect(child.output.schema).toBe(schema)
    expect(child.toJSON().output).toEqual({ format: 'json' })
  })

  it('refuses a config that is not an object, an unknown key, or a bad value, naming it', () => {
    const parent = new Context({ constraints: { maxTokens: 10 } })
    refused(parent, () => parent.extend('summarize' as never), 'config')
    expect(refused(parent, () => parent.extend({ max_tokens: 5 } as never), 'config.max_tokens').message).toContain('did you mean maxTokens?')
    refused(parent, () => parent.extend({ constraints: null as never }), 'config.constraints')
    refused(parent, () => parent.extend({ metadata: [] as never }), 'config.metadata')
    refused(parent, () => parent.extend({ constraints: { maxTokens: -1 } }), 'config.constraints.maxTokens')
    refused(parent, () => parent.extend({ routing: { model: 'x', temperature: 9 } }), 'config.routing.temperature')
  })
})

describe('merge', () => {
  it('the document example: both inputs, max_tokens 2000 (the stricter)', () => {
    const ctx1 = new Context({ intent: 'analyze', constraints: { maxTokens: 2000 } }).addInput({ d: 1 })
    const ctx2 = new Context({ intent: 'analyze', constraints: { maxTokens: 3000 } }).addInput({ d: 2 })
    const merged = ctx1.merge(ctx2)
    expect(merged.inputs.map((i) => i.data)).toEqual([{ d: 1 }, { d: 2 }])
    expect(merged.constraints).toEqual({ maxTokens: 2000 })
    expect([ctx1.id, ctx2.id]).not.toContain(merged.id)
  })

  it('regression (merge keeping only max_tokens): every numeric constraint takes the stricter value; one-sided ones are kept', () => {
    const a = new Context({ constraints: { maxTokens: 3000, maxTime: 5, maxCost: 0.2 } })
    const b = new Context({ constraints: { maxTokens: 2000, maxTime: 30, maxCost: 0.05 } })
    expect(a.merge(b).constraints).toEqual({ maxTokens: 2000, maxTime: 5, maxCost: 0.05 })
    expect(new Context({ constraints: { maxTime: 9 } }).merge(new Context({ constraints: { maxCost: 0 } })).constraints).toEqual({ maxTime: 9, maxCost: 0 })
  })

  it("the other's routing wins; its model drops this one's provider", () => {
    const a = new Context({ routing: { model: 'gpt-4o', provider: 'openai', temperature: 0.2, maxOutputTokens: 50 } })
    const b = new Context({ routing: { model: 'claude-haiku-4-5', temperature: 1 } })
    expect(a.merge(b).routing).toEqual({ model: 'claude-haiku-4-5', temperature: 1, maxOutputTokens: 50 })
    expect(b.merge(new Context({ routing: { fallbacks: ['gpt-4o'] } })).routing).toEqual({ model: 'claude-haiku-4-5', temperature: 1, fallbacks: ['gpt-4o'] })
  })

  it("metadata and output merged key by key, the other's winning; intent the other's when set", () => {
    const a = new Context({ intent: 'analyze', metadata: { x: 1, y: 1 }, output: { format: 'json', schema: { type: 'array' } } })
    const b = new Context({ metadata: { y: 2, z: 2 }, output: { format: 'markdown' } })
    const m = a.merge(b)
    expect(m.metadata).toEqual({ x: 1, y: 2, z: 2 })
    expect(m.output).toEqual({ format: 'markdown', schema: { type: 'array' } })
    expect(m.intent).toBe('analyze')
    expect(b.merge(new Context({ intent: 'extract' })).intent).toBe('extract')
  })

  it("regression: the other's JSON Schema wins over this one's Standard Schema", () => {
    const standard = v.string()
    const a = new Context({ output: { schema: standard } })
    expect(a.merge(new Context({ output: { schema: { type: 'string' } } })).output.schema).toEqual({ type: 'string' })
    expect(a.merge(new Context()).output.schema).toBe(standard)
    expect(new Context().merge(a).output.schema).toBe(standard)
  })

  it('inputs with the same data are kept once, at the highest relevance, in first-seen order', () => {
    const a = new Context().addInput({ k: 1 }, { relevance: 0.3 }).addInput('shared', { relevance: 0.9 })
    const b = new Context().addInput('shared', { relevance: 0.4 }).addInput({ k: 1 }, { relevance: 0.8 }).addInput('only b', { relevance: 0 })
    expect(a.merge(b).inputs.map((i) => [i.data, i.relevance])).toEqual([
      [{ k: 1 }, 0.8],
      ['shared', 0.9],
      ['only b', 0],
    ])
  })

  it("this one's session, variables and runtime; neither side changes; merging with itself dedupes", () => {
    const a = new Context({ variables: { K: '1' } }).addInput('x')
    const b = new Context({ variables: { K: '2' } }).addInput('y')
    const [ja, jb] = [JSON.stringify(a), JSON.stringify(b)]
    const m = a.merge(b)
    expect(m.sessionId).toBe(a.sessionId)
    expect(m.variables).toEqual({ K: '1' })
    expect(m.parentId).toBeUndefined()
    expect([JSON.stringify(a), JSON.stringify(b)]).toEqual([ja, jb])
    expect(a.merge(a).inputs).toEqual(a.inputs)
  })

  it('refuses what is not a Context', () => {
    const a = new Context()
    refused(a, () => a.merge({} as never), 'other')
    refused(a, () => a.merge(a.toJSON() as never), 'other')
  })
})
