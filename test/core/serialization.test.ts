import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ContextError, ValidationError } from '../../src/errors.js'
import { FORMAT_VERSION, type ContextState } from '../../src/state/schema.js'
import { thrown } from './helpers.js'

/** The clock `rich()` contexts were built on, for reading them back before their cache entry expires. */
const T0 = 1_700_000_000_000
const AT_T0 = { now: () => T0 + 1 }

/** A context with something in every part of the state, user keys in snake_case on purpose. */
function rich(): Context {
  let now = T0
  const ctx = Context.init(
    { flow: 'greeting_flow', node: 'start_node' },
    {
      id: 'ctx-1',
      sessionId: 'sess-1',
      assignmentKey: 'user-4', // bucket 0.0082 of greeting_style: hello_there
      agentId: 'agent-1',
      environment: 'production|a1b2',
      functionId: 'fn-1',
      intent: 'analyze',
      category: 'support',
      parentId: 'parent-1',
      constraints: { maxTokens: 2000, maxTime: 30, maxCost: 0.25 },
      routing: { model: 'gpt-4', provider: 'openai', strategy: 'cost_optimized', temperature: 0.3, maxOutputTokens: 256, fallbacks: ['gpt-3.5-turbo'] },
      output: { format: 'json', schema: { type: 'object', additional_properties: false } },
      metadata: { team_name: 'growth' },
      variables: { OPENAI_API_KEY: 'sk-never-serialized' },
      data: { user_name: 'John', order_items: ['coffee'] },
    },
    { now: () => now },
  )
  ctx.addRequest({ text: 'hi', user_locale: 'en_US' })
  ctx.addLabel({ flow: 'main_flow', node: 'greet_node' })
  ctx.addResponse({ text: 'Hello', quick_replies: ['a'] })
  ctx.addRequest('order')
  ctx.cacheSet('last_query', 'weather in NYC')
  ctx.cacheSet('session_token', { token_value: 't' }, { ttl: 60 })
  ctx.addCompletionMessage({ role: 'system', content: 'Be brief.' })
  ctx.addCompletionMessage({ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', data: 'AAAA', mediaType: 'image/png' }], name: 'john' })
  ctx.addCompletionMessage({ role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: { city_name: 'NYC' } }] })
  ctx.addCompletionMessage({ role: 'tool', content: '21C', toolCallId: 'call_1', name: 'get_weather' })
  ctx.addTest('greeting_style', { hello_there: 0.5, hi_friend: 0.5 }, 'greeting test', {
    maxIterations: 1000,
    maxConfidence: 95,
    targetOutcome: 'conversion_rate',
    stopOn: 2,
    default: 'hello_there',
    notify: ['a@b.c'],
  })
  ctx.addOutcome('message_count', 'integer', 'Total messages')
  ctx.triggerOutcome('message_count')
  ctx.addOutcome('order_value', 'float')
  ctx.setOutcome('order_value', 29.99)
  ctx.setTestingMetadata('traffic_source', 'phone')
  ctx.frameworkData.currentNode = { node_name: 'x' }
  ctx.frameworkData.stats.turn_count = 2
  ctx.frameworkData.slots.pizza_size = 'M'
  ctx.frameworkData.serviceStates.nlu_service = 'done'
  now += 1
  return ctx
}

/** Paths whose whole subtree is user data (`*` a user-chosen key, `[]` an array index). */
const USER_SUBTREES = new Set([
  'data',
  'metadata',
  'output.schema',
  'testing.metadata',
  'frameworkData.stats',
  'frameworkData.slots',
  'frameworkData.currentNode',
  'turns[].request',
  'turns[].response',
  'messages[].toolCalls[].arguments',
  'cache.*.value',
  'inputs[].data',
  'testing.tests.*.options',
])
/** Objects whose own keys are user-chosen names (below them the format's keys appear again). */
const USER_KEYED = new Set(['cache', 'testing.tests', 'testing.outcomes'])

/** The format's own keys, with their normalized paths, user data left out. */
function formatKeys(value: unknown, path = ''): string[] {
  if (value === null || typeof value !== 'object' || USER_SUBTREES.has(path)) return []
  if (Array.isArray(value)) return value.flatMap((v) => formatKeys(v, `${path}[]`))
  const out: string[] = []
  for (const [key, child] of Object.entries(value)) {
    const name = USER_KEYED.has(path) ? '*' : key
    if (name !== '*') out.push(key)
    out.push(...formatKeys(child, path ? `${path}.${name}` : name))
  }
  return out
}

describe('toJSON', () => {
  it('is versioned', () => {
    expect(rich().toJSON().version).toBe(FORMAT_VERSION)
    expect(new Context().toJSON().version).toBe(1)
  })

  it('uses camelCase for every key of the format; only user data has snake_case keys', () => {
    const json = rich().toJSON()
    const keys = new Set(formatKeys(json))
    // The walk did reach every part of the format.
    for (const k of ['currentTurnId', 'expiresAt', 'toolCalls', 'toolCallId', 'mediaType', 'maxTokens', 'maxOutputTokens', 'stopOn', 'targetOutcome', 'frameworkData', 'sessionId', 'assignmentKey']) {
      expect(keys).toContain(k)
    }
    for (const k of keys) expect(k).toMatch(/^[a-z][A-Za-z0-9]*$/)
    // And the user's own snake_case keys are there, untouched.
    expect(JSON.stringify(json)).toContain('"user_name"')
    expect(JSON.stringify(json)).toContain('"hello_there"')
  })

  it('has exactly the documented top-level keys, and no runtime input', () => {
    const json = rich().toJSON()
    expect(Object.keys(json).sort()).toEqual(
      [
        'version', 'id', 'sessionId', 'assignmentKey', 'agentId', 'environment', 'functionId', 'intent', 'category', 'parentId', 'constraints', 'routing', 'output',
        'metadata', 'data', 'cache', 'messages', 'currentTurnId', 'turns', 'frameworkData', 'inputs', 'testing',
      ].sort(),
    )
    const text = JSON.stringify(json)
    expect(text).not.toContain('sk-never-serialized')
    expect(text).not.toContain('serviceStates')
    expect(text).not.toContain('nlu_service')
  })

  it('JSON.stringify(ctx) is JSON.stringify(ctx.toJSON())', () => {
    const ctx = rich()
    expect(JSON.stringify(ctx)).toBe(JSON.stringify(ctx.toJSON()))
    expect(JSON.parse(JSON.stringify({ nested: ctx })).nested).toEqual(ctx.toJSON())
  })

  it('returns a fresh copy: editing it changes nothing in the context', () => {
    const ctx = rich()
    const json = ctx.toJSON()
    ;(json.data as Record<string, unknown>).user_name = 'Mallory'
    json.messages.length = 0
    json.turns[0]!.label!.node === 'start_node' && json.turns.pop()
    ;(json.cache.last_query as { value: unknown }).value = 'changed'
    json.testing.outcomes.message_count!.value = 99
    expect(ctx.toJSON()).toEqual(rich().toJSON())
  })

  it('leaves out cache entries expired by the time it runs: a later fromJSON reads what was live', () => {
    const json = rich().toJSON()
    const later = Context.fromJSON(json, { now: () => T0 + 60_000 })
    expect(later.cacheGet('session_token')).toBeUndefined()
    expect(Object.keys(later.toJSON().cache)).toEqual(['last_query'])
  })
})

describe('fromJSON', () => {
  it('rebuilds an equal context from the object and from the string', () => {
    const ctx = rich()
    const json = ctx.toJSON()
    expect(Context.fromJSON(json, AT_T0).toJSON()).toEqual(json)
    expect(Context.fromJSON(JSON.stringify(ctx), AT_T0).toJSON()).toEqual(json)
    expect(Context.fromJSON(JSON.stringify(ctx, null, 2), AT_T0).toJSON()).toEqual(json)
  })

  it('restores turns, cache, messages and testing so they keep working', () => {
    const back = Context.fromJSON(JSON.stringify(rich()), { now: () => T0 + 59_999 })
    expect(back.currentTurnId).toBe(2)
    expect(back.labels.get(0)).toEqual({ flow: 'greeting_flow', node: 'start_node' })
    expect(back.lastLabel).toEqual({ flow: 'main_flow', node: 'greet_node' })
    expect(back.lastRequest).toEqual({ text: 'order' })
    expect(back.lastResponse).toEqual({ text: 'Hello', quick_replies: ['a'] })
    back.addRequest('next')
    expect(back.currentTurnId).toBe(3)
    expect(back.requests.get(3)).toEqual({ text: 'next' })
    expect(back.cacheGet('session_token')).toEqual({ token_value: 't' })
    expect(back.getCompletionMessages()).toHaveLength(4)
    expect(back.getTest('greeting_style')).toBe('hello_there')
    expect(back.triggerOutcome('message_count')).toBe(2)
    expect(back.getTestingMetadata('traffic_source')).toBe('phone')
    expect(back.currentNode).toEqual({ node_name: 'x' })
  })

  it('shares nothing with its input: editing the object afterwards changes nothing', () => {
    const json = rich().toJSON()
    const back = Context.fromJSON(json)
    ;(json.data as Record<string, unknown>).user_name = 'Mallory'
    json.turns.length = 0
    json.messages.length = 0
    expect(back.getData('user_name')).toBe('John')
    expect(back.requests.size).toBe(2)
    expect(back.getCompletionMessages()).toHaveLength(4)
  })

  it('reads the empty context', () => {
    const ctx = new Context()
    expect(Context.fromJSON(ctx.toJSON()).toJSON()).toEqual(ctx.toJSON())
  })
})

describe('fromJSON of malformed or hostile input', () => {
  const base = (): ContextState => rich().toJSON()
  const edit = (f: (s: Record<string, any>) => void): ContextState => {
    const s = base() as unknown as Record<string, any>
    f(s)
    return s as unknown as ContextState
  }

  it.each([
    ['a numeric id', edit((s) => (s.id = 5)), 'id'],
    ['an empty sessionId', edit((s) => (s.sessionId = '')), 'sessionId'],
    ['data as an array', edit((s) => (s.data = [])), 'data'],
    ['a missing part', edit((s) => delete s.cache), 'cache'],
    ['an unknown top-level key', edit((s) => (s.variables = {})), 'variables'],
    ['a snake_case key', edit((s) => (s.current_turn_id = 1)), 'current_turn_id'],
    ['a bad role', edit((s) => (s.messages[2].role = 'robot')), 'messages[2].role'],
    ['a tool call without id', edit((s) => delete s.messages[2].toolCalls[0].id), 'messages[2].toolCalls[0].id'],
    ['a negative turn id', edit((s) => (s.turns[0].id = -1)), 'turns[0].id'],
    ['turns out of order', edit((s) => s.turns.reverse()), 'turns'],
    ['a duplicated turn', edit((s) => s.turns.push(s.turns.at(-1))), 'turns'],
    ['a label without node', edit((s) => delete s.turns[1].label.node), 'turns[1].label.node'],
    ['a request text that is not a string', edit((s) => (s.turns[1].request.text = 1)), 'turns[1].request'],
    ['a fractional currentTurnId', edit((s) => (s.currentTurnId = 1.5)), 'currentTurnId'],
    ['a cache expiry that is not a number', edit((s) => (s.cache.session_token.expiresAt = 'soon')), 'cache.session_token.expiresAt'],
    ['a cache entry without value', edit((s) => (s.cache.last_query = {})), 'cache.last_query.value'],
    ['an outcome value of the wrong type', edit((s) => (s.testing.outcomes.message_count.value = 1.5)), 'testing.outcomes.message_count'],
    ['an unknown outcome type', edit((s) => (s.testing.outcomes.message_count.type = 'counter')), 'testing.outcomes.message_count.type'],
    ['a drawn value that is not an option', edit((s) => (s.testing.tests.greeting_style.value = 'nope')), 'testing.tests.greeting_style'],
    ['a negative weight', edit((s) => (s.testing.tests.greeting_style.options[1][1] = -1)), 'testing.tests.greeting_style.options.hi_friend'],
    ['an empty assignmentKey', edit((s) => (s.assignmentKey = '')), 'assignmentKey'],
    ['a test marked concluded: false', edit((s) => (s.testing.tests.greeting_style.concluded = false)), 'testing.tests.greeting_style.concluded'],
    ['constraints out of range', edit((s) => (s.constraints.maxTokens = 0)), 'constraints.maxTokens'],
    ['serviceStates, which are never serialized', edit((s) => (s.frameworkData.serviceStates = {})), 'frameworkData.serviceStates'],
    ['an input relevance over 1', edit((s) => (s.inputs = [{ data: 'x', relevance: 2, tokens: 1 }])), 'inputs[0].relevance'],
  ])('%s: a ValidationError (invalid_state) at its path', (_, state, path) => {
    for (const input of [state, JSON.stringify(state)]) {
      const e = thrown(() => Context.fromJSON(input))
      expect(e).toBeInstanceOf(ValidationError)
      expect(e.code).toBe('invalid_state')
      expect(e.path).toBe(path)
      expect(e.message.startsWith(`${path}: `)).toBe(true)
    }
  })

  it('regression: a currentTurnId below the last turn is refused (the next request would overwrite a turn)', () => {
    const e = thrown(() => Context.fromJSON(edit((s) => (s.currentTurnId = 1))))
    expect(e.code).toBe('invalid_state')
    expect(e.path).toBe('currentTurnId')
  })

  it.each([
    ['version 2', edit((s) => (s.version = 2)), /^version: 2 is not 1/],
    ['version "1"', edit((s) => (s.version = '1')), /^version: string is not 1/],
    ['version 0', edit((s) => (s.version = 0)), /^version: 0 /],
    ['no version', edit((s) => delete s.version), /^version: undefined /],
    ['a bigint version (regression: JSON.stringify threw a TypeError)', edit((s) => (s.version = 1n)), /^version: bigint /],
    ['a cyclic version (regression: JSON.stringify threw a TypeError)', edit((s) => (s.version = s)), /^version: object /],
  ])('%s: unsupported_version', (_, state, message) => {
    const e = thrown(() => Context.fromJSON(state))
    expect(e.code).toBe('unsupported_version')
    expect(e.path).toBe('version')
    expect(e.message).toMatch(message)
  })

  it('unsupported_version from a string too', () => {
    expect(thrown(() => Context.fromJSON('{"version":99}')).code).toBe('unsupported_version')
    expect(thrown(() => Context.fromJSON('{}')).code).toBe('unsupported_version')
  })

  it.each([
    ['at the top level', (j: string) => j.replace('{', '{"__proto__":{"polluted":true},'), '__proto__'],
    ['in data', (j: string) => j.replace('"data":{', '"data":{"__proto__":{"polluted":true},'), 'data.__proto__'],
    ['deep in data', (j: string) => j.replace('"order_items":["coffee"]', '"order_items":[{"__proto__":{"polluted":true}}]'), 'data.order_items[0].__proto__'],
    ['in a cache entry', (j: string) => j.replace('"cache":{', '"cache":{"__proto__":{"value":{"polluted":true}},'), 'cache.__proto__'],
    ['in a request', (j: string) => j.replace('"text":"hi"', '"text":"hi","__proto__":{"polluted":true}'), 'turns[1].request.__proto__'],
    ['in testing metadata', (j: string) => j.replace('"metadata":{"traffic_source"', '"metadata":{"__proto__":{"polluted":true},"traffic_source"'), 'testing.metadata.__proto__'],
    ['as a test name', (j: string) => j.replace('"tests":{', '"tests":{"__proto__":{"polluted":true},'), 'testing.tests.__proto__'],
  ])('a __proto__ key %s is refused and pollutes nothing', (_, inject, path) => {
    const text = inject(JSON.stringify(rich()))
    expect(text).toContain('__proto__')
    for (const input of [text, JSON.parse(text)]) {
      const e = thrown(() => Context.fromJSON(input))
      expect(e.code).toBe('invalid_state')
      expect(e.path).toBe(path)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect(Object.prototype).not.toHaveProperty('polluted')
    }
  })

  it('a 50 MB string is refused as too_large before it is parsed', () => {
    const huge = `{"version":1,"pad":"${'x'.repeat(50 * 1024 * 1024)}"}`
    const e = thrown(() => Context.fromJSON(huge))
    expect(e.code).toBe('too_large')
    expect(e.message).toMatch(/52428822 characters is over the limit of 16777216/)
  })

  it('the length limit can be set through runtime.limits', () => {
    const json = JSON.stringify(rich())
    expect(thrown(() => Context.fromJSON(json, { limits: { maxLength: 100 } })).code).toBe('too_large')
    expect(Context.fromJSON(json, { limits: { maxLength: json.length } }).id).toBe('ctx-1')
  })

  it('100,000-deep nesting is a ContextError (too_large), not a RangeError', () => {
    const text = `{"version":1,"data":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`
    const e = thrown(() => Context.fromJSON(text))
    expect(e.code).toBe('too_large')
    expect(e.message).toMatch(/nested deeper than 72 levels/)
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = { d: deep }
    expect(thrown(() => Context.fromJSON({ ...base(), data: { deep } })).code).toBe('too_large')
    expect(thrown(() => Context.fromJSON(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).code).toBe('invalid_state')
  })

  it('the depth limit can be set through runtime.limits', () => {
    const state = { ...new Context().toJSON(), data: { a: { b: { c: 1 } } } } // 4 objects deep: state, data, a, b
    expect(thrown(() => Context.fromJSON(state, { limits: { maxDepth: 3 } })).code).toBe('too_large')
    expect(Context.fromJSON(state, { limits: { maxDepth: 4 } }).getData('a')).toEqual({ b: { c: 1 } })
  })

  it('more than a million values is too_large', () => {
    const e = thrown(() => Context.fromJSON(edit((s) => (s.data = { big: new Array(1_000_001).fill(0) }))))
    expect(e.code).toBe('too_large')
  })

  it.each([
    ['the number text', '5'],
    ['the array text', '[]'],
    ['the null text', 'null'],
    ['the text true', 'true'],
    ['a JSON string', '"a context"'],
    ['a number', 5],
    ['null', null],
    ['undefined', undefined],
    ['true', true],
    ['an array', [base()]],
  ])('%s is not a context: a ContextError (invalid_state)', (_, input) => {
    const e = thrown(() => Context.fromJSON(input as string))
    expect(e.code).toBe('invalid_state')
    expect(e.message).toMatch(/must be a JSON object/)
  })

  it.each([
    ['an empty string', ''],
    ['a truncated object', '{"version":1,'],
    ['a trailing comma', '{"version":1,}'],
    ['single quotes', "{'version':1}"],
    ['NaN', '{"version":NaN}'],
    ['text', 'undefined'],
  ])('invalid JSON text (%s) is a ContextError (invalid_state)', (_, text) => {
    const e = thrown(() => Context.fromJSON(text))
    expect(e.code).toBe('invalid_state')
    expect(e.path).toBe('(root)')
    expect(e.message).toBe('state: not valid JSON')
  })

  it('regression: the parser\'s message, which quotes the text, is left out of the error', () => {
    const e = thrown(() => Context.fromJSON('{"password": "hunter2" oops}'))
    expect(e.message).not.toContain('hunter2')
  })

  it('objects that are not plain JSON are refused with a ContextError', () => {
    const withDate = { ...base(), data: { when: new Date(0) } }
    expect(thrown(() => Context.fromJSON(withDate)).path).toBe('data.when')
    expect(thrown(() => Context.fromJSON(Object.assign(new Date(0), { version: 1 }))).code).toBe('invalid_state')
    expect(thrown(() => Context.fromJSON({ ...base(), data: { f: () => 1 } })).path).toBe('data.f')
    expect(thrown(() => Context.fromJSON(new Context() as never)).code).toBe('unsupported_version')
  })

  it('every error is a ContextError with a code, and the input is left as it was', () => {
    const state = base()
    const copy = structuredClone(state)
    const bad = { ...state, data: { ok: 1, bad: undefined } }
    const e = thrown(() => Context.fromJSON(bad))
    expect(e).toBeInstanceOf(ContextError)
    expect(e.code).toBe('invalid_state')
    expect(state).toEqual(copy)
  })
})
