import { describe, expect, it } from 'vitest'
import { Context, type ContextConfig } from '../../src/context.js'
import { ContextError, ValidationError } from '../../src/errors.js'
import type { JsonObject } from '../../src/state/json.js'
import type { CompletionMessage } from '../../src/state/messages.js'
import type { NodeLabel } from '../../src/state/turns.js'
import { thrown } from './helpers.js'

const SECRET = 'sk-test-SECRET-4f9a2b'
const NANOID = /^[A-Za-z0-9_-]{21}$/
const start: NodeLabel = { flow: 'greeting_flow', node: 'start_node' }

describe('construction', () => {
  it('generates id and sessionId with nanoid when absent; id and contextId are one value', () => {
    const a = new Context()
    const b = new Context()
    expect(a.id).toMatch(NANOID)
    expect(a.sessionId).toMatch(NANOID)
    expect(a.contextId).toBe(a.id)
    expect(a.sessionId).not.toBe(a.id)
    expect(b.id).not.toBe(a.id)
    expect(b.sessionId).not.toBe(a.sessionId)
  })

  it('keeps the ids it is given', () => {
    const ctx = new Context({ contextId: 'ctx-1', sessionId: 'sess-1' })
    expect([ctx.id, ctx.contextId, ctx.sessionId]).toEqual(['ctx-1', 'ctx-1', 'sess-1'])
    expect(ctx.toJSON()).toMatchObject({ id: 'ctx-1', sessionId: 'sess-1' })
  })

  it('takes every config field of the voice-agent and LLM documents', () => {
    const config: ContextConfig = {
      intent: 'analyze',
      category: 'finance',
      constraints: { maxTokens: 2000, maxTime: 30, maxCost: 0.5 },
      routing: { model: 'gpt-4', provider: 'openai', strategy: 'quality_optimized', temperature: 0.2, maxOutputTokens: 500, fallbacks: ['gpt-3.5-turbo'] },
      output: { format: 'json', schema: { type: 'object', properties: { total: { type: 'number' } } } },
      metadata: { team: 'growth', tags: ['a'] },
      parentId: 'parent-1',
      contextId: 'ctx-1',
      agentId: 'support-bot',
      environment: 'production|a1b2c3d4',
      sessionId: 'sess-1',
      functionId: 'fn-1',
      variables: { OPENAI_API_KEY: SECRET },
      data: { user_name: 'John' },
    }
    const ctx = new Context(config)
    expect(ctx.intent).toBe('analyze')
    expect(ctx.category).toBe('finance')
    expect(ctx.constraints).toEqual(config.constraints)
    expect(ctx.routing).toEqual(config.routing)
    expect(ctx.output).toEqual(config.output)
    expect(ctx.metadata).toEqual(config.metadata)
    expect(ctx.parentId).toBe('parent-1')
    expect(ctx.agentId).toBe('support-bot')
    expect(ctx.environment).toBe('production|a1b2c3d4')
    expect(ctx.functionId).toBe('fn-1')
    expect(ctx.variables).toEqual({ OPENAI_API_KEY: SECRET })
    expect(ctx.data).toEqual({ user_name: 'John' })
    expect(ctx.inputs).toEqual([])
    expect(ctx.currentTurnId).toBe(0)
  })

  it('leaves optional fields undefined and the objects empty when not given', () => {
    const ctx = new Context()
    expect([ctx.intent, ctx.category, ctx.parentId, ctx.agentId, ctx.environment, ctx.functionId]).toEqual([undefined, undefined, undefined, undefined, undefined, undefined])
    expect([ctx.constraints, ctx.routing, ctx.output, ctx.metadata, ctx.data, ctx.variables]).toEqual([{}, {}, {}, {}, {}, {}])
  })

  it('treats a field given as undefined as not given', () => {
    const ctx = new Context({ intent: undefined, contextId: undefined, constraints: undefined, data: undefined })
    expect(ctx.intent).toBeUndefined()
    expect(ctx.id).toMatch(NANOID)
    expect(ctx.constraints).toEqual({})
    expect('intent' in ctx.toJSON()).toBe(false)
  })

  it('copies the config: editing it afterwards changes nothing', () => {
    const config = { data: { list: [1] }, metadata: { m: { n: 1 } }, constraints: { maxTokens: 10 } }
    const ctx = new Context(config)
    config.data.list.push(2)
    config.metadata.m.n = 2
    config.constraints.maxTokens = 99
    expect(ctx.getData('list')).toEqual([1])
    expect(ctx.metadata).toEqual({ m: { n: 1 } })
    expect(ctx.constraints.maxTokens).toBe(10)
  })

  it.each([
    ['a non-object config', 'analyze', 'config'],
    ['null', null, 'config'],
    ['an empty contextId', { contextId: '' }, 'config.contextId'],
    ['a numeric contextId', { contextId: 7 }, 'config.contextId'],
    ['an empty sessionId', { sessionId: '' }, 'config.sessionId'],
    ['a sessionId over 512 characters', { sessionId: 'x'.repeat(513) }, 'config.sessionId'],
    ['a numeric intent', { intent: 3 }, 'config.intent'],
    ['a non-object metadata', { metadata: [1] }, 'config.metadata'],
    ['non-JSON data', { data: { when: new Date(0) } }, 'config.data.when'],
    ['a non-string variable', { variables: { PORT: 8080 } }, 'variables.PORT'],
    ['variables that are not an object', { variables: 'x' }, 'variables'],
  ])('refuses %s with a ValidationError at %s', (_, config, path) => {
    const e = thrown(() => new Context(config as ContextConfig))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.code).toBe('invalid_argument')
    expect(e.path).toBe(path)
  })

  it('regression: an unknown config key is refused, with the camelCase spelling for a snake_case one', () => {
    // Before: `session_id` was silently ignored and a random sessionId generated in its place.
    const e = thrown(() => new Context({ session_id: 'abc' } as ContextConfig))
    expect(e.path).toBe('config.session_id')
    expect(e.message).toBe('config.session_id: unknown key (did you mean sessionId?)')
    expect(thrown(() => new Context({ context_id: 'x' } as ContextConfig)).message).toMatch(/did you mean contextId\?/)
    expect(thrown(() => new Context({ intnet: 'x' } as ContextConfig)).message).toBe('config.intnet: unknown key')
    expect(thrown(() => new Context({ id: 'x' } as ContextConfig)).path).toBe('config.id')
  })
})

describe('variables stay out of every serialization', () => {
  const ctx = new Context({ agentId: 'bot', variables: { OPENAI_API_KEY: SECRET, ANTHROPIC_API_KEY: SECRET + '2' } })

  it('are readable, frozen, and never in toJSON / JSON.stringify / String()', () => {
    expect(ctx.variables.OPENAI_API_KEY).toBe(SECRET)
    expect(Object.isFrozen(ctx.variables)).toBe(true)
    expect(JSON.stringify(ctx.toJSON())).not.toContain(SECRET)
    expect(JSON.stringify(ctx)).not.toContain(SECRET)
    expect(JSON.stringify(ctx)).not.toContain('OPENAI_API_KEY')
    expect(String(ctx)).not.toContain(SECRET)
    expect(`${ctx}`).not.toContain(SECRET)
  })

  it('are not own enumerable (or any own) properties of the instance', () => {
    expect(Object.keys(ctx)).toEqual([])
    expect(Object.getOwnPropertyNames(ctx)).toEqual([])
    expect(Object.entries(ctx)).toEqual([])
    expect(JSON.stringify({ ...ctx })).toBe('{}')
    for (const key of Object.getOwnPropertyNames(Object.getPrototypeOf(ctx))) {
      if (key === 'variables' || key === 'constructor') continue
      let value: unknown
      try {
        value = (ctx as unknown as Record<string, unknown>)[key]
      } catch {
        continue // getters that throw on an empty history
      }
      if (typeof value !== 'function') expect(JSON.stringify(value) ?? '').not.toContain(SECRET)
    }
  })

  it('never appear in an error message, even the error about a bad variable', () => {
    const e = thrown(() => new Context({ variables: { OPENAI_API_KEY: SECRET, BAD: 5 as unknown as string } }))
    expect(e.message).not.toContain(SECRET)
    expect(e.message).toMatch(/variables\.BAD/)
  })

  it('come from the runtime in fromJSON, never from the JSON', () => {
    const json = JSON.stringify(ctx)
    expect(Context.fromJSON(json).variables).toEqual({})
    expect(Context.fromJSON(json, { variables: { OPENAI_API_KEY: 'other' } }).variables.OPENAI_API_KEY).toBe('other')
    expect(new Context({}, { variables: { K: 'v' } }).variables).toEqual({ K: 'v' })
  })

  it('are refused in the JSON itself (a hand-edited state cannot smuggle them in)', () => {
    const state = { ...ctx.toJSON(), variables: { OPENAI_API_KEY: SECRET } }
    const e = thrown(() => Context.fromJSON(state))
    expect(e.path).toBe('variables')
    expect(e.message).not.toContain(SECRET)
  })
})

describe('output.schema', () => {
  const standard = { '~standard': { version: 1, vendor: 'tiny', validate: (value: unknown) => ({ value }) } }

  it('keeps a Standard Schema at runtime and never serializes it', () => {
    const ctx = new Context({ output: { format: 'json', schema: standard } })
    expect(ctx.output.schema).toBe(standard)
    expect(ctx.output.format).toBe('json')
    expect(ctx.toJSON().output).toEqual({ format: 'json' })
    expect(JSON.stringify(ctx)).not.toContain('tiny')
    expect(Context.fromJSON(JSON.stringify(ctx)).output).toEqual({ format: 'json' })
  })

  it('regression: keeps a Standard Schema that is a function (ArkType types are callable)', () => {
    const fnSchema = Object.assign((v: unknown) => v, standard)
    const ctx = new Context({ output: { schema: fnSchema } })
    expect(ctx.output.schema).toBe(fnSchema)
    expect(ctx.toJSON().output).toEqual({})
  })

  it('stores and serializes a JSON Schema', () => {
    const schema = { type: 'object', required: ['total'], properties: { total: { type: 'number' } } }
    const ctx = new Context({ output: { format: 'json', schema } })
    expect(ctx.toJSON().output).toEqual({ format: 'json', schema })
    expect(Context.fromJSON(JSON.stringify(ctx)).output.schema).toEqual(schema)
  })

  it('refuses an unknown format, an unknown key, and a schema that is neither', () => {
    expect(thrown(() => new Context({ output: { format: 'pdf' as 'json' } })).path).toBe('config.output.format')
    expect(thrown(() => new Context({ output: { style: 'x' } })).path).toBe('config.output.style')
    expect(thrown(() => new Context({ output: { schema: () => 1 } })).path).toBe('config.output.schema')
  })
})

describe('data and misc', () => {
  it('setData / getData as the voice-agent document shows', () => {
    const ctx = new Context()
    ctx.setData('user_name', 'John')
    ctx.setData('order_items', ['coffee', 'sandwich'])
    ctx.setData('order_total', 15.99)
    expect(ctx.getData('user_name', 'Guest')).toBe('John')
    expect(ctx.getData('order_items', [])).toEqual(['coffee', 'sandwich'])
    expect(ctx.getData('order_total')).toBe(15.99)
    expect(ctx.getData('missing', 'Guest')).toBe('Guest')
    expect(ctx.getData('missing')).toBeUndefined()
  })

  it('returns a stored 0, false, "" or null, not the default (the falsy-default trap)', () => {
    const ctx = new Context()
    ctx.setData('zero', 0)
    ctx.setData('no', false)
    ctx.setData('empty', '')
    ctx.setData('nothing', null)
    expect(ctx.getData('zero', 42)).toBe(0)
    expect(ctx.getData('no', true)).toBe(false)
    expect(ctx.getData('empty', 'default')).toBe('')
    expect(ctx.getData('nothing', 'default')).toBeNull()
  })

  it('does not read inherited names as data', () => {
    const ctx = new Context()
    expect(ctx.getData('toString', 'd')).toBe('d')
    expect(ctx.getData('hasOwnProperty')).toBeUndefined()
  })

  it('getData returns a copy; setData stores one', () => {
    const ctx = new Context()
    const items = ['coffee']
    ctx.setData('items', items)
    items.push('tea')
    const read = ctx.getData('items') as string[]
    read.push('cake')
    expect(ctx.getData('items')).toEqual(['coffee'])
  })

  it('data is a frozen view that follows setData and deleteData', () => {
    const ctx = new Context({ data: { a: 1 } })
    const before = ctx.data
    expect(Object.isFrozen(before)).toBe(true)
    expect(() => {
      ;(before as Record<string, unknown>).b = 2
    }).toThrow(TypeError)
    ctx.setData('b', { c: [1] })
    expect(ctx.data).toEqual({ a: 1, b: { c: [1] } })
    expect(Object.isFrozen((ctx.data.b as { c: number[] }).c)).toBe(true)
    expect(before).toEqual({ a: 1 }) // an old view does not change
    expect(ctx.deleteData('a')).toBe(true)
    expect(ctx.deleteData('a')).toBe(false)
    expect(ctx.data).toEqual({ b: { c: [1] } })
  })

  it('misc (the dialog document\'s name) is the same store as data', () => {
    const ctx = new Context()
    ctx.setData('k', 'v')
    expect(ctx.misc).toEqual({ k: 'v' })
    expect(ctx.misc).toBe(ctx.data)
    expect(Context.fromJSON(JSON.stringify(ctx)).misc).toEqual({ k: 'v' })
  })

  it('refuses what is not JSON at data.<key>, keeping the old value', () => {
    const ctx = new Context()
    ctx.setData('k', 1)
    for (const bad of [undefined, () => 1, new Map(), NaN, 1n]) {
      const e = thrown(() => ctx.setData('k', bad))
      expect(e.path).toBe('data.k')
    }
    expect(ctx.getData('k')).toBe(1)
    expect(thrown(() => ctx.setData('k', { a: [1, { b: new Set() }] })).path).toBe('data.k.a[1].b')
    expect(thrown(() => ctx.setData(5 as unknown as string, 1)).path).toBe('key')
  })

  it('regression: refuses the key "__proto__" (it was kept in memory and lost by toJSON)', () => {
    const ctx = new Context()
    const e = thrown(() => ctx.setData('__proto__', { polluted: true }))
    expect(e.path).toBe('key')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(ctx.toJSON().data).toEqual({})
  })

  it('regression: keys "constructor" and "prototype" survive fromJSON (valibot\'s record dropped them)', () => {
    const ctx = new Context()
    ctx.setData('constructor', 'c')
    ctx.setData('prototype', { p: 1 })
    const back = Context.fromJSON(JSON.stringify(ctx))
    expect(back.getData('constructor')).toBe('c')
    expect(back.getData('prototype')).toEqual({ p: 1 })
    expect(back.toJSON()).toEqual(ctx.toJSON())
  })

  it('regression: data nested 64 levels deep (the most setData takes) survives fromJSON', () => {
    // Before: the state wraps a value in 2-3 more levels, so fromJSON's depth limit of 64 refused it.
    let deep: { d: unknown } = { d: 'bottom' }
    for (let i = 1; i < 64; i++) deep = { d: deep } // 64 objects
    const ctx = new Context()
    ctx.setData('deep', deep)
    ctx.cacheSet('deep', deep)
    ctx.setTestingMetadata('deep', deep)
    ctx.addRequest({ deep: deep.d } as never) // 63 levels inside the request's own: 64, at turns[1].request
    expect(Context.fromJSON(JSON.stringify(ctx)).toJSON()).toEqual(ctx.toJSON())
    expect(thrown(() => ctx.setData('deeper', { d: deep })).code).toBe('too_large')
    // The same value given at construction is taken too (it was refused: the config was checked at 64 in all).
    expect(new Context({ data: { deep } as JsonObject }).getData('deep')).toEqual(deep)
  })
})

describe('constraints, routing, metadata: validation and frozen getters', () => {
  it.each([
    ['maxTokens 0', { constraints: { maxTokens: 0 } }, 'config.constraints.maxTokens', /integer >= 1/],
    ['maxTokens 1.5', { constraints: { maxTokens: 1.5 } }, 'config.constraints.maxTokens', /integer/],
    ['maxTokens as a string', { constraints: { maxTokens: '2000' } }, 'config.constraints.maxTokens', /number/],
    ['maxTime 0', { constraints: { maxTime: 0 } }, 'config.constraints.maxTime', /> 0/],
    ['maxCost -1', { constraints: { maxCost: -1 } }, 'config.constraints.maxCost', />= 0/],
    ['temperature 2.5', { routing: { temperature: 2.5 } }, 'config.routing.temperature', /0..2/],
    ['an unknown strategy', { routing: { strategy: 'cheapest' } }, 'config.routing.strategy', /cost_optimized/],
    ['maxOutputTokens 0', { routing: { maxOutputTokens: 0 } }, 'config.routing.maxOutputTokens', /integer >= 1/],
    ['fallbacks that are not strings', { routing: { fallbacks: [1] } }, 'config.routing.fallbacks[0]', /string/],
    ['constraints that are not an object', { constraints: 5 }, 'config.constraints', /Object/],
  ])('refuses %s', (_, config, path, message) => {
    const e = thrown(() => new Context(config as ContextConfig))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe(path)
    expect(e.message).toMatch(message)
  })

  it.each([
    [{ constraints: { max_tokens: 2000 } }, 'config.constraints.max_tokens', 'maxTokens'],
    [{ constraints: { max_time: 30 } }, 'config.constraints.max_time', 'maxTime'],
    [{ constraints: { max_cost: 1 } }, 'config.constraints.max_cost', 'maxCost'],
    [{ routing: { max_output_tokens: 100 } }, 'config.routing.max_output_tokens', 'maxOutputTokens'],
  ])('refuses the snake_case key of %j and suggests the camelCase one', (config, path, camel) => {
    const e = thrown(() => new Context(config as ContextConfig))
    expect(e.path).toBe(path)
    expect(e.message).toBe(`${path}: unknown key (did you mean ${camel}?)`)
  })

  it('refuses an unknown camelCase key without a suggestion (custom data goes in metadata)', () => {
    expect(thrown(() => new Context({ routing: { region: 'eu' } })).message).toBe('config.routing.region: unknown key')
  })

  it('returns frozen copies that cannot change the context', () => {
    const ctx = new Context({ constraints: { maxTokens: 100 }, routing: { fallbacks: ['a'] }, metadata: { m: { n: 1 } }, output: { format: 'text' } })
    for (const view of [ctx.constraints, ctx.routing, ctx.metadata, ctx.output, ctx.inputs]) expect(Object.isFrozen(view)).toBe(true)
    expect(() => {
      ;(ctx.constraints as { maxTokens: number }).maxTokens = 1
    }).toThrow(TypeError)
    expect(() => (ctx.routing.fallbacks as string[]).push('b')).toThrow(TypeError)
    expect(() => {
      ;(ctx.metadata.m as { n: number }).n = 2
    }).toThrow(TypeError)
    expect(ctx.constraints.maxTokens).toBe(100)
    expect(ctx.routing.fallbacks).toEqual(['a'])
    expect(ctx.metadata).toEqual({ m: { n: 1 } })
  })
})

describe('dialog turns (the dialog document\'s semantics)', () => {
  it('init puts the start label at key 0 and the current turn at 0', () => {
    const ctx = Context.init(start)
    expect(ctx.labels.get(0)).toEqual(start)
    expect([...ctx.labels.keys()]).toEqual([0])
    expect(ctx.currentTurnId).toBe(0)
    expect(ctx.requests.size).toBe(0)
    expect(ctx.responses.size).toBe(0)
    expect(ctx.lastLabel).toEqual(start)
    expect(ctx.lastResponse).toBeUndefined()
    expect(thrown(() => ctx.lastRequest).code).toBe('empty')
  })

  it('init takes an id (the dialog document\'s name) or any other config field', () => {
    expect(Context.init(start, { id: 'dialog-1' }).id).toBe('dialog-1')
    expect(Context.init(start, { contextId: 'c-1', agentId: 'bot' }).agentId).toBe('bot')
    expect(Context.init(start, { id: 'a', contextId: 'b' }).id).toBe('a')
    expect(Context.init(start).id).toMatch(NANOID)
    expect(Context.init(start, {}, { variables: { K: 'v' } }).variables).toEqual({ K: 'v' })
  })

  it('init refuses a bad start label', () => {
    expect(thrown(() => Context.init({ flow: 'f' } as NodeLabel)).path).toBe('startLabel.node')
    expect(thrown(() => Context.init({ flow: '', node: 'n' })).path).toBe('startLabel.flow')
  })

  it('add_request / add_response / add_label: the first request and response at key 1, then +1 a turn', () => {
    const ctx = Context.init(start)
    ctx.addRequest('hi')
    expect(ctx.currentTurnId).toBe(1)
    ctx.addLabel({ flow: 'greeting_flow', node: 'greet' })
    ctx.addResponse('Hello! How can I help?')
    expect(ctx.requests.get(1)).toEqual({ text: 'hi' })
    expect(ctx.responses.get(1)).toEqual({ text: 'Hello! How can I help?' })
    expect(ctx.labels.get(1)).toEqual({ flow: 'greeting_flow', node: 'greet' })

    ctx.addRequest({ text: 'order a coffee', intent: 'order' })
    ctx.addLabel({ flow: 'order_flow', node: 'ask_size' })
    ctx.addResponse({ text: 'Which size?', buttons: ['S', 'M', 'L'] })
    expect(ctx.currentTurnId).toBe(2)
    expect([...ctx.requests.keys()]).toEqual([1, 2])
    expect([...ctx.responses.keys()]).toEqual([1, 2])
    expect([...ctx.labels.keys()]).toEqual([0, 1, 2])
    expect(ctx.lastRequest).toEqual({ text: 'order a coffee', intent: 'order' })
    expect(ctx.lastResponse).toEqual({ text: 'Which size?', buttons: ['S', 'M', 'L'] })
    expect(ctx.lastLabel).toEqual({ flow: 'order_flow', node: 'ask_size' })
    expect([...ctx.requests]).toEqual([
      [1, { text: 'hi' }],
      [2, { text: 'order a coffee', intent: 'order' }],
    ])
  })

  it('a turn without a response: lastResponse is the latest one there is', () => {
    const ctx = Context.init(start)
    ctx.addRequest('a')
    ctx.addResponse('A')
    ctx.addRequest('b')
    expect(ctx.responses.get(2)).toBeUndefined()
    expect(ctx.lastResponse).toEqual({ text: 'A' })
  })

  it('addLabel without a start label is a ContextError, and adds nothing', () => {
    const ctx = new Context()
    ctx.addRequest('hi')
    const e = thrown(() => ctx.addLabel({ flow: 'f', node: 'n' }))
    expect(e.code).toBe('empty')
    expect(e.message).toMatch(/Context\.init/)
    expect(ctx.labels.size).toBe(0)
  })

  it('lastLabel / lastRequest throw a ContextError when empty; lastResponse is undefined', () => {
    const ctx = new Context()
    expect(thrown(() => ctx.lastLabel).code).toBe('empty')
    expect(thrown(() => ctx.lastRequest).code).toBe('empty')
    expect(ctx.lastResponse).toBeUndefined()
  })

  it('refuses a bad request, response or label with its path, and changes nothing', () => {
    const ctx = Context.init(start)
    expect(thrown(() => ctx.addRequest({ text: 5 } as never)).path).toBe('request')
    expect(ctx.currentTurnId).toBe(0) // no turn started
    expect(thrown(() => ctx.addResponse({ at: new Date() } as never)).path).toBe('response.at')
    expect(thrown(() => ctx.addLabel({ flow: 'f', node: '' })).path).toBe('label.node')
    expect(ctx.toJSON().turns).toEqual([{ id: 0, label: start }])
  })

  it('serviceStates are cleared when the next request starts a turn, and never serialized', () => {
    const ctx = Context.init(start)
    ctx.addRequest('a')
    ctx.frameworkData.serviceStates.nlu = { status: 'finished' }
    expect(ctx.frameworkData.serviceStates).toEqual({ nlu: { status: 'finished' } })
    expect(JSON.stringify(ctx)).not.toContain('serviceStates')
    ctx.addResponse('A') // a response does not end the turn's bookkeeping
    expect(ctx.frameworkData.serviceStates).toEqual({ nlu: { status: 'finished' } })
    ctx.addRequest('b')
    expect(ctx.frameworkData.serviceStates).toEqual({})
  })

  it('frameworkData currentNode, stats and slots are serialized and restored; the pipeline is runtime only', () => {
    const ctx = Context.init(start)
    ctx.frameworkData.currentNode = { response: 'Hi', transitions: ['next'] }
    ctx.frameworkData.stats.turns = 3
    ctx.frameworkData.slots.size = 'M'
    ctx.frameworkData.pipeline = { run: () => 1 }
    const json = ctx.toJSON()
    expect(json.frameworkData).toEqual({ currentNode: { response: 'Hi', transitions: ['next'] }, stats: { turns: 3 }, slots: { size: 'M' } })
    const back = Context.fromJSON(JSON.stringify(ctx))
    expect(back.currentNode).toEqual({ response: 'Hi', transitions: ['next'] })
    expect(back.frameworkData.stats).toEqual({ turns: 3 })
    expect(back.frameworkData.slots).toEqual({ size: 'M' })
    expect(back.frameworkData.serviceStates).toEqual({})
    expect(thrown(() => back.pipeline).code).toBe('empty')
    expect(ctx.pipeline).toBe(ctx.frameworkData.pipeline)
  })

  it('currentNode and pipeline throw a ContextError when unset; a null currentNode is a value', () => {
    const ctx = new Context()
    expect(thrown(() => ctx.currentNode).code).toBe('empty')
    expect(thrown(() => ctx.pipeline).code).toBe('empty')
    ctx.frameworkData.currentNode = null
    expect(ctx.currentNode).toBeNull()
    expect(ctx.toJSON().frameworkData.currentNode).toBeNull()
    expect('currentNode' in new Context().toJSON().frameworkData).toBe(false)
  })

  it('toJSON refuses non-JSON put into frameworkData, naming the path', () => {
    const ctx = new Context()
    ctx.frameworkData.stats.started = new Date() as never
    expect(thrown(() => ctx.toJSON()).path).toBe('frameworkData.stats.started')
  })
})

describe('completion messages', () => {
  const history: CompletionMessage[] = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Weather?' },
    { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'NYC' } }] },
    { role: 'tool', content: '21C', toolCallId: 'c1' },
  ]

  it('add / get / set', () => {
    const ctx = new Context()
    expect(ctx.getCompletionMessages()).toEqual([])
    for (const m of history) ctx.addCompletionMessage(m)
    expect(ctx.getCompletionMessages()).toEqual(history)
    ctx.setCompletionMessages([{ role: 'user', content: 'fresh start' }])
    expect(ctx.getCompletionMessages()).toEqual([{ role: 'user', content: 'fresh start' }])
    ctx.setCompletionMessages([])
    expect(ctx.getCompletionMessages()).toEqual([])
  })

  it('get returns a copy; add and set store copies', () => {
    const ctx = new Context()
    const m = { role: 'user' as const, content: [{ type: 'text' as const, text: 'a' }] }
    ctx.addCompletionMessage(m)
    m.content[0]!.text = 'changed'
    const read = ctx.getCompletionMessages()
    read.push({ role: 'user', content: 'x' })
    ;(read[0]!.content as { text: string }[])[0]!.text = 'changed too'
    expect(ctx.getCompletionMessages()).toEqual([{ role: 'user', content: [{ type: 'text', text: 'a' }] }])
  })

  it('set is all or nothing: a bad message leaves the old history', () => {
    const ctx = new Context()
    ctx.setCompletionMessages(history)
    const e = thrown(() => ctx.setCompletionMessages([{ role: 'user', content: 'ok' }, { role: 'tool', content: 'no id' } as CompletionMessage]))
    expect(e.path).toBe('messages[1].toolCallId')
    expect(ctx.getCompletionMessages()).toEqual(history)
    expect(thrown(() => ctx.setCompletionMessages('x' as never)).path).toBe('messages')
    expect(ctx.getCompletionMessages()).toEqual(history)
  })
})

describe("the voice-agent document's examples, in TypeScript", () => {
  it('session info and variables (StartEvent)', () => {
    const context = new Context({ agentId: 'agent-1', environment: 'production|a1b2c3d4', sessionId: 's-1', variables: { OPENAI_API_KEY: SECRET } })
    expect(`Agent: ${context.agentId}`).toBe('Agent: agent-1')
    expect(`Environment: ${context.environment}`).toBe('Environment: production|a1b2c3d4')
    expect(`Session: ${context.sessionId}`).toBe('Session: s-1')
    const apiKey = context.variables.OPENAI_API_KEY
    expect(apiKey).toBe(SECRET)
  })

  it('completion messages with a (fake) chat completion', async () => {
    const context = new Context({ variables: { ANTHROPIC_API_KEY: SECRET } })
    const generateChatCompletion = async (req: { apiKey: string; messages: CompletionMessage[] }) => {
      expect(req.apiKey).toBe(SECRET)
      return { message: { role: 'assistant' as const, content: `You said: ${(req.messages.at(-1)!.content as string)}` } }
    }
    for (const userMessage of ['hello', 'order a coffee']) {
      const messages = context.getCompletionMessages()
      messages.push({ role: 'user', content: userMessage })
      const response = await generateChatCompletion({ apiKey: context.variables.ANTHROPIC_API_KEY!, messages })
      messages.push(response.message)
      context.setCompletionMessages(messages)
    }
    expect(context.getCompletionMessages()).toEqual([
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'You said: hello' },
      { role: 'user', content: 'order a coffee' },
      { role: 'assistant', content: 'You said: order a coffee' },
    ])
  })

  it('cache', () => {
    const context = new Context()
    context.cacheSet('last_query', 'weather in NYC')
    context.cacheSet('query_count', 5)
    expect(context.cacheGet('last_query')).toBe('weather in NYC')
    expect(context.cacheGet('query_count')).toBe(5)
  })

  it('background-task example\'s data use: getData with a default until the task sets it', () => {
    const context = new Context()
    expect(context.getData('order_status', 'pending')).toBe('pending')
    context.setData('order_status', 'completed')
    expect(context.getData('order_status', 'pending')).toBe('completed')
  })

  it('A/B test: the greeting is drawn once and stays for the session', () => {
    // The key "g" hashes to bucket 0.7267 of greeting_style: the second option's range, [0.5, 0.8).
    const context = new Context({ assignmentKey: 'g' })
    const greeting = context.addTest('greeting_style', {
      'Hello! How can I help you today?': 0.5,
      'Hi there! What can I do for you?': 0.3,
      'Welcome! How may I assist you?': 0.2,
    })
    expect(greeting).toBe('Hi there! What can I do for you?')
    expect(context.getTest('greeting_style')).toBe(greeting)
  })

  it('A/B test with stop conditions (snake_case keys in camelCase)', () => {
    const context = new Context({ assignmentKey: 'b' }) // bucket 0.488 of upsell_approach: direct's [0, 0.5)
    const stop = { maxIterations: 1000, maxConfidence: 95, targetOutcome: 'conversion_rate', default: 'direct', stopOn: 2 as const, notify: ['analytics@company.com'] }
    expect(context.addTest('upsell_approach', { direct: 0.5, subtle: 0.5 }, '', stop)).toBe('direct')
    expect(context.toJSON().testing.tests.upsell_approach!.stop).toEqual(stop)
    // Written as in the Python document, the keys are refused with the camelCase spelling.
    const e = thrown(() => context.addTest('other', { a: 1 }, '', { max_iterations: 1000, stop_on: 2 } as never))
    expect(e.message).toMatch(/did you mean maxIterations\?/)
  })

  it('outcomes, with message counting', () => {
    const context = new Context()
    context.addOutcome('message_count', 'integer', 'Total messages')
    context.addOutcome('user_satisfied', 'boolean', 'User expressed satisfaction')
    context.addOutcome('order_value', 'float', 'Total order value')
    const replies: string[] = []
    for (const text of ['Hi', 'I want to order a pizza', 'Great, thank you']) {
      const userMessage = text.toLowerCase()
      context.triggerOutcome('message_count')
      if (userMessage.includes('thank you') || userMessage.includes('great')) context.triggerOutcome('user_satisfied')
      if (userMessage.includes('order')) context.setOutcome('order_value', 29.99)
      const count = context.getOutcome('message_count')
      replies.push(`This is message number ${count}.`)
    }
    expect(replies).toEqual(['This is message number 1.', 'This is message number 2.', 'This is message number 3.'])
    expect([context.getOutcome('user_satisfied'), context.getOutcome('order_value')]).toEqual([true, 29.99])
  })

  it('testing metadata', () => {
    const context = new Context()
    context.setTestingMetadata('segment', 'returning_customer')
    context.setTestingMetadata('source', 'phone')
    expect(context.getTestingMetadata('segment')).toBe('returning_customer')
    expect(context.getTestingMetadata('source')).toBe('phone')
  })
})

describe("the LLM document's examples, in TypeScript", () => {
  it("new Context({ intent: 'analyze', constraints: { maxTokens: 2000 } })", () => {
    const ctx = new Context({ intent: 'analyze', constraints: { maxTokens: 2000 } })
    expect(ctx.intent).toBe('analyze')
    expect(ctx.constraints.maxTokens).toBe(2000)
    expect(ctx.parentId).toBeUndefined()
  })

  it('toJSON, JSON.stringify, then fromJSON(JSON.parse(...)) gives the same context', () => {
    const ctx = new Context({ intent: 'analyze', constraints: { maxTokens: 2000 }, routing: { model: 'gpt-4' } })
    ctx.setData('k', [1, 2])
    const data = ctx.toJSON()
    const jsonStr = JSON.stringify(data)
    const back = Context.fromJSON(JSON.parse(jsonStr))
    expect(back).toBeInstanceOf(Context)
    expect(back.toJSON()).toEqual(data)
    expect(back.id).toBe(ctx.id)
    expect(Context.fromJSON(jsonStr).toJSON()).toEqual(data)
  })

  it('error handling: a refused call throws a ContextError the caller can branch on', () => {
    try {
      new Context({ intent: 'analyze', constraints: { maxTokens: -5 } })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(ContextError)
      expect((error as ContextError).code).toBe('invalid_argument')
      expect((error as ContextError).name).toBe('ValidationError')
    }
  })
})
