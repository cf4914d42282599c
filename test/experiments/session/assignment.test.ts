import { describe, expect, it } from 'vitest'
import { Context } from '../../../src/context.js'
import { ValidationError } from '../../../src/errors.js'
import { chooseOption, hashBucket } from '../../../src/experiments/session/hash.js'
import { Testing } from '../../../src/experiments/session/testing.js'
import { testOptions } from '../../../src/experiments/session/tests.js'
import { memoryStorage } from '../../../src/storage/memory.js'
import { createContextStore } from '../../../src/storage/store.js'
import { thrown } from '../../core/helpers.js'

const greeting = { 'Hello!': 0.5, 'Hi there!': 0.3, 'Welcome!': 0.2 }

/** The value `key` gets in `test` with these weights, computed from the hash directly. */
const expected = (test: string, key: string, options: [string, number][]) => options[chooseOption(hashBucket(test, key), options.map((o) => o[1]))]![0]

describe('sticky assignment: the same key gets the same option', () => {
  it('one user (assignmentKey) gets the same option in every session, with nothing stored', () => {
    for (let user = 0; user < 200; user++) {
      const key = `user-${user}`
      const first = new Context({ assignmentKey: key }).addTest('greeting_style', greeting)
      for (let session = 0; session < 3; session++) {
        expect(new Context({ assignmentKey: key, sessionId: `s-${user}-${session}` }).addTest('greeting_style', greeting)).toBe(first)
      }
      expect(first).toBe(expected('greeting_style', key, Object.entries(greeting)))
    }
  })

  it('without an assignmentKey the session id is hashed: a session id gets one option, whatever the context id', () => {
    for (let i = 0; i < 100; i++) {
      const sessionId = `session-${i}`
      const value = new Context({ sessionId }).addTest('greeting_style', greeting)
      expect(new Context({ sessionId, contextId: `other-${i}` }).addTest('greeting_style', greeting)).toBe(value)
      expect(value).toBe(expected('greeting_style', sessionId, Object.entries(greeting)))
    }
  })

  it('the assignmentKey wins over the session id', () => {
    // "user-1" is in bucket 0.8491 of greeting_style (Welcome!), "user-4" in 0.0082 (Hello!).
    expect(new Context({ sessionId: 'user-4', assignmentKey: 'user-1' }).addTest('greeting_style', greeting)).toBe('Welcome!')
    expect(new Context({ sessionId: 'user-1', assignmentKey: 'user-4' }).addTest('greeting_style', greeting)).toBe('Hello!')
  })

  it('10,000 keys split in proportion to the weights (50 / 30 / 20 within 2 points)', () => {
    const counts = new Map<string, number>()
    for (let i = 0; i < 10_000; i++) {
      const v = new Testing(undefined, `user-${i}`).addTest('greeting_style', greeting)
      counts.set(v, (counts.get(v) ?? 0) + 1)
    }
    // Standard deviations of the shares at n = 10,000: 0.5, 0.46 and 0.4 points; 2 points is 4+ sigma.
    expect(Math.abs(counts.get('Hello!')! / 10_000 - 0.5)).toBeLessThan(0.02)
    expect(Math.abs(counts.get('Hi there!')! / 10_000 - 0.3)).toBeLessThan(0.02)
    expect(Math.abs(counts.get('Welcome!')! / 10_000 - 0.2)).toBeLessThan(0.02)
  })

  it('two tests are assigned independently: the seed is the test name', () => {
    let same = 0
    for (let i = 0; i < 2000; i++) {
      const t = new Testing(undefined, `user-${i}`)
      if (t.addTest('a', { x: 1, y: 1 }) === t.addTest('b', { x: 1, y: 1 })) same++
    }
    expect(Math.abs(same / 2000 - 0.5)).toBeLessThan(0.05) // sd 1.1 points
  })

  it('a Testing without a key is a random session of its own (a nanoid key): 2,000 split about 50 / 50', () => {
    let a = 0
    for (let i = 0; i < 2000; i++) if (new Testing().addTest('t', { a: 1, b: 1 }) === 'a') a++
    expect(Math.abs(a / 2000 - 0.5)).toBeLessThan(0.07)
  })

  it('weights need not sum to 1: { 5, 3, 2 } is the same test as { 0.5, 0.3, 0.2 }', () => {
    for (let i = 0; i < 500; i++) {
      const key = `k${i}`
      expect(new Testing(undefined, key).addTest('t', { a: 5, b: 3, c: 2 })).toBe(new Testing(undefined, key).addTest('t', { a: 0.5, b: 0.3, c: 0.2 }))
    }
  })

  it('an option of weight 0 is never chosen', () => {
    for (let i = 0; i < 2000; i++) expect(new Testing(undefined, `k${i}`).addTest('t', [['off', 0], ['on', 1], ['alsoOff', 0]])).toBe('on')
  })
})

describe('a test already added keeps its value', () => {
  it('across turns: later addTest calls return it, whatever options they give', () => {
    const ctx = new Context({ assignmentKey: 'user-1' })
    const first = ctx.addTest('greeting_style', greeting)
    ctx.addRequest('hi')
    expect(ctx.addTest('greeting_style', greeting)).toBe(first)
    expect(ctx.addTest('greeting_style', { other: 1 })).toBe(first)
    expect(ctx.getTest('greeting_style')).toBe(first)
  })

  it('across save and load, even if the weights change later (no re-assignment)', () => {
    const ctx = new Context({ assignmentKey: 'user-1' })
    ctx.addTest('t', greeting, 'a description', { maxIterations: 10, default: 'Hello!' })
    expect(ctx.getTest('t')).toBe(expected('t', 'user-1', Object.entries(greeting)))
    const back = Context.fromJSON(JSON.stringify(ctx))
    expect(back.assignmentKey).toBe('user-1')
    expect(back.addTest('t', { 'Hello!': 1, 'Welcome!': 0 })).toBe(ctx.getTest('t'))
    expect(back.toJSON().testing.tests.t).toEqual({
      options: [['Hello!', 0.5], ['Hi there!', 0.3], ['Welcome!', 0.2]],
      description: 'a description',
      stop: { maxIterations: 10, default: 'Hello!' },
      value: ctx.getTest('t'),
    })
  })

  it('a session re-keyed after the fact keeps what it stored (the stored value wins over the hash)', () => {
    const ctx = new Context({ assignmentKey: 'user-1' })
    const v = ctx.addTest('greeting_style', greeting)
    const state = ctx.toJSON()
    state.assignmentKey = 'user-4' // user-4 would hash to Hello!
    expect(Context.fromJSON(state).getTest('greeting_style')).toBe(v)
    expect(Context.fromJSON(state).addTest('other', greeting)).toBe(expected('other', 'user-4', Object.entries(greeting)))
  })
})

describe('options as an object or as [value, weight] pairs', () => {
  it('the pair form keeps its order, which decides the ranges: control first', () => {
    for (let i = 0; i < 300; i++) {
      const key = `k${i}`
      const pairs: [string, number][] = [['control', 0.5], ['treatment', 0.5]]
      const reversed: [string, number][] = [['treatment', 0.5], ['control', 0.5]]
      expect(new Testing(undefined, key).addTest('t', pairs)).toBe(expected('t', key, pairs))
      expect(new Testing(undefined, key).addTest('t', reversed)).toBe(expected('t', key, reversed))
    }
  })

  it('integer-like object keys are reordered by JavaScript ({ "2": …, "1": … } is 1 first); the pair form is not', () => {
    const object = { '2': 0.9, '1': 0.1 }
    expect(Object.keys(object)).toEqual(['1', '2'])
    const fromObject = new Context({ assignmentKey: 'k' })
    fromObject.addTest('t', object)
    expect(fromObject.toJSON().testing.tests.t!.options).toEqual([['1', 0.1], ['2', 0.9]])
    const fromPairs = new Context({ assignmentKey: 'k' })
    fromPairs.addTest('t', [['2', 0.9], ['1', 0.1]])
    expect(fromPairs.toJSON().testing.tests.t!.options).toEqual([['2', 0.9], ['1', 0.1]])
    // …and the order survives JSON, which would reorder an object's keys again.
    expect(Context.fromJSON(JSON.stringify(fromPairs)).toJSON().testing.tests.t!.options).toEqual([['2', 0.9], ['1', 0.1]])
  })

  it('both forms give the same value for the same order', () => {
    for (let i = 0; i < 300; i++) {
      const key = `k${i}`
      expect(new Testing(undefined, key).addTest('t', greeting)).toBe(new Testing(undefined, key).addTest('t', Object.entries(greeting)))
    }
  })

  it('the pairs are copied: changing the array after addTest changes nothing stored', () => {
    const pairs: [string, number][] = [['a', 1], ['b', 1]]
    const ctx = new Context()
    ctx.addTest('t', pairs)
    pairs[0]![1] = 100
    pairs.push(['c', 1])
    expect(ctx.toJSON().testing.tests.t!.options).toEqual([['a', 1], ['b', 1]])
  })

  it('addTests takes both forms, all or none', () => {
    const ctx = new Context({ assignmentKey: 'e' })
    expect(
      ctx.addTests([
        { name: 'greeting', options: [['hello', 1], ['hi', 1]] },
        { name: 'upsell', options: { direct: 1, subtle: 1 } },
      ]),
    ).toEqual({ greeting: expected('greeting', 'e', [['hello', 1], ['hi', 1]]), upsell: expected('upsell', 'e', [['direct', 1], ['subtle', 1]]) })
    const e = thrown(() => ctx.addTests([{ name: 'x', options: [['a', 1]] }, { name: 'y', options: [['a', 1], ['a', 1]] }]))
    expect(e.path).toBe('tests.y.options.a')
    expect(thrown(() => ctx.getTest('x')).code).toBe('not_found')
  })

  it('testOptions reads a record in order, whatever the stored shape', () => {
    const ctx = new Context()
    ctx.addTest('t', [['z', 2], ['a', 1]])
    expect(testOptions(ctx.toJSON().testing.tests.t!)).toEqual([
      { value: 'z', weight: 2 },
      { value: 'a', weight: 1 },
    ])
  })
})

describe('states written before issue 10', () => {
  /** A state as version 1 wrote it before: options as an object, no assignmentKey. */
  const oldState = () => {
    const state = new Context({ sessionId: 's-1' }).toJSON() as unknown as { testing: { tests: Record<string, unknown> } }
    state.testing.tests.greeting = { options: { hello: 0.5, hi: 0.5, off: 0 }, description: '', stop: { default: 'hello' }, value: 'hi' }
    return state
  }

  it('load: the object form is read as its entries, in order, and the stored value is kept', () => {
    for (const input of [oldState(), JSON.stringify(oldState())]) {
      const ctx = Context.fromJSON(input)
      expect(ctx.getTest('greeting')).toBe('hi')
      expect(ctx.assignmentKey).toBeUndefined()
      expect(ctx.toJSON().testing.tests.greeting!.options).toEqual([['hello', 0.5], ['hi', 0.5], ['off', 0]])
      expect(ctx.testing.exposures()[0]!.options.map((o) => o.value)).toEqual(['hello', 'hi', 'off'])
    }
  })

  it('a bad weight in the old form is still refused, at its path', () => {
    const state = oldState()
    ;(state.testing.tests.greeting as { options: Record<string, number> }).options.hi = -1
    const e = thrown(() => Context.fromJSON(state))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.code).toBe('invalid_state')
    expect(e.path).toBe('testing.tests.greeting.options.hi')
    expect(e.message).toBe('testing.tests.greeting.options.hi: the weight must be a finite number >= 0, not -1')
  })

  it.each([
    ['options given twice', [['a', 1], ['a', 1]], 'a', /options\.a: is given twice/],
    ['an option "__proto__"', [['__proto__', 1]], '__proto__', /__proto__/],
    ['no option above 0', [['a', 0]], 'a', /above 0/],
    ['a pair of three', [['a', 1, 2]], 'a', /options\[0\]: must be a \[value, weight\] pair/],
    ['options that are a string', 'a', 'a', /options: must be an object of weights or an array/],
    ['weights summing to Infinity', [['a', 1e308], ['b', 1e308]], 'a', /sum past the largest number/],
    ['concluded that is not true', [['a', 1]], 'a', /concluded/, { concluded: false }],
  ] as [string, unknown, string, RegExp, object?][])('a stored test with %s is refused (invalid_state)', (_, options, value, message, extra) => {
    const state = new Context().toJSON() as unknown as { testing: { tests: Record<string, unknown> } }
    state.testing.tests.t = { options, description: '', stop: {}, value, ...extra }
    const e = thrown(() => Context.fromJSON(JSON.stringify(state)))
    expect(e.code).toBe('invalid_state')
    expect(e.path).toMatch(/^testing\.tests\.t/)
    expect(e.message).toMatch(message)
  })
})

describe('assignmentKey in the config and the store', () => {
  it('is refused when empty, not a string or over 512 characters, naming config.assignmentKey', () => {
    for (const bad of ['', 5, 'x'.repeat(513), null]) {
      const e = thrown(() => new Context({ assignmentKey: bad as string }))
      expect(e).toBeInstanceOf(ValidationError)
      expect(e.path).toBe('config.assignmentKey')
    }
    expect(new Context({ assignmentKey: 'x'.repeat(512) }).assignmentKey).toHaveLength(512)
    expect(thrown(() => new Context({ assignment_key: 'u' } as never)).message).toMatch(/did you mean assignmentKey/)
  })

  it('is kept by extend (a child of the same user) and by merge (this side\'s)', () => {
    const ctx = new Context({ assignmentKey: 'user-1' })
    expect(ctx.extend().assignmentKey).toBe('user-1')
    expect(ctx.extend().addTest('greeting_style', greeting)).toBe(ctx.addTest('greeting_style', greeting))
    expect(ctx.extend({ assignmentKey: 'user-4' }).assignmentKey).toBe('user-4')
    expect(ctx.merge(new Context({ assignmentKey: 'user-4' })).assignmentKey).toBe('user-1')
    expect(new Context().merge(ctx).assignmentKey).toBeUndefined()
  })

  it('store.open(id, { assignmentKey }) gives a new session its key; the saved session keeps it', async () => {
    const store = createContextStore(memoryStorage())
    const ctx = await store.open('session-1', { sessionId: 'session-1', assignmentKey: 'user-1' })
    expect(ctx.assignmentKey).toBe('user-1')
    const v = ctx.addTest('greeting_style', greeting)
    expect(v).toBe(expected('greeting_style', 'user-1', Object.entries(greeting)))
    await store.save(ctx)
    const again = await store.open('session-1', { assignmentKey: 'someone-else' }) // saved: init not used
    expect(again.assignmentKey).toBe('user-1')
    expect(again.getTest('greeting_style')).toBe(v)
    // Another session of the same user gets the same option, with nothing shared but the key.
    const other = await store.open('session-2', { assignmentKey: 'user-1' })
    expect(other.addTest('greeting_style', greeting)).toBe(v)
  })
})

describe('conclusions (applyConclusions), exposures and outcome values', () => {
  it('a concluded test gives its value, marked concluded, to a session that had not added it', () => {
    const ctx = new Context({ assignmentKey: 'user-4' }) // would hash to Hello!
    ctx.testing.applyConclusions({ greeting_style: 'Welcome!' })
    expect(ctx.addTest('greeting_style', greeting)).toBe('Welcome!')
    expect(ctx.toJSON().testing.tests.greeting_style!.concluded).toBe(true)
    const back = Context.fromJSON(JSON.stringify(ctx))
    expect(back.getTest('greeting_style')).toBe('Welcome!')
    expect(back.testing.exposures()).toEqual([
      { test: 'greeting_style', value: 'Welcome!', options: testOptions(back.toJSON().testing.tests.greeting_style!), stop: {}, concluded: true },
    ])
  })

  it('a session that already has the test keeps its value (a draw is never replaced)', () => {
    const ctx = new Context({ assignmentKey: 'user-4' })
    expect(ctx.addTest('greeting_style', greeting)).toBe('Hello!')
    ctx.testing.applyConclusions({ greeting_style: 'Welcome!' })
    expect(ctx.addTest('greeting_style', greeting)).toBe('Hello!')
    expect(ctx.toJSON().testing.tests.greeting_style!.concluded).toBeUndefined()
  })

  it('a conclusion that is not one of the options given now is ignored: the test is assigned as usual', () => {
    const ctx = new Context({ assignmentKey: 'user-4' })
    ctx.testing.applyConclusions({ greeting_style: 'Gone!' })
    expect(ctx.addTest('greeting_style', greeting)).toBe('Hello!')
    expect(ctx.testing.exposures()[0]!.concluded).toBe(false)
  })

  it('a conclusion may be an option of weight 0 (the default of a test whose option was turned off)', () => {
    const ctx = new Context()
    ctx.testing.applyConclusions({ t: 'off' })
    expect(ctx.addTest('t', [['on', 1], ['off', 0]])).toBe('off')
  })

  it('addTests uses the conclusions too, all or none', () => {
    const ctx = new Context({ assignmentKey: 'user-4' })
    ctx.testing.applyConclusions({ a: 'y' })
    expect(thrown(() => ctx.addTests([{ name: 'a', options: { x: 1, y: 1 } }, { name: 'b', options: {} }])).path).toBe('tests.b.options')
    expect(ctx.testing.exposures()).toEqual([])
    expect(ctx.addTests([{ name: 'a', options: { x: 1, y: 1 } }]).a).toBe('y')
  })

  it('each applyConclusions replaces the last; conclusions are never serialized', () => {
    const ctx = new Context({ assignmentKey: 'user-4' })
    ctx.testing.applyConclusions({ a: 'y', b: 'y' })
    ctx.testing.applyConclusions({ b: 'y' })
    expect(ctx.addTest('a', { x: 1, y: 0 })).toBe('x')
    const back = Context.fromJSON(JSON.stringify(ctx))
    expect(back.addTest('b', { x: 1, y: 0 })).toBe('x') // the loaded context has no conclusions
    expect(JSON.stringify(ctx)).not.toMatch(/conclusion/)
  })

  it('refuses conclusions that are not an object of strings, naming the path', () => {
    const t = new Testing()
    expect(thrown(() => t.applyConclusions(null as never)).path).toBe('conclusions')
    expect(thrown(() => t.applyConclusions(['a'] as never)).path).toBe('conclusions')
    expect(thrown(() => t.applyConclusions({ a: 1 } as never)).path).toBe('conclusions.a')
  })

  it('regression guard: a conclusion map never answers for an inherited name ("toString", "constructor")', () => {
    const t = new Testing(undefined, 'k')
    t.applyConclusions({})
    expect(t.addTest('toString', { a: 1, b: 1 })).toBe(expected('toString', 'k', [['a', 1], ['b', 1]]))
    expect(t.exposures()[0]!.concluded).toBe(false)
  })

  it('exposures: every test in insertion order, copies (editing them changes nothing)', () => {
    const ctx = new Context({ assignmentKey: 'user-1' })
    ctx.addTest('b', [['x', 1], ['y', 3]], '', { maxIterations: 100, notify: ['a@b.c'] })
    ctx.addTest('a', { p: 1 })
    const list = ctx.testing.exposures()
    expect(list.map((e) => e.test)).toEqual(['b', 'a'])
    expect(list[0]).toEqual({ test: 'b', value: ctx.getTest('b'), options: [{ value: 'x', weight: 1 }, { value: 'y', weight: 3 }], stop: { maxIterations: 100, notify: ['a@b.c'] }, concluded: false })
    list[0]!.stop.notify!.push('evil')
    list[0]!.options[0]!.weight = 99
    expect(ctx.testing.exposures()[0]!.stop.notify).toEqual(['a@b.c'])
    expect(ctx.testing.exposures()[0]!.options[0]!.weight).toBe(1)
  })

  it('outcomeValues: every outcome\'s type and value, a fresh object each time', () => {
    const ctx = new Context()
    ctx.addOutcomes([
      { name: 'converted', type: 'boolean' },
      { name: 'messages', type: 'integer' },
      { name: 'constructor', type: 'string' },
    ])
    ctx.triggerOutcome('converted')
    ctx.setOutcome('messages', 3)
    const values = ctx.testing.outcomeValues()
    expect(values).toEqual({
      converted: { type: 'boolean', value: true },
      messages: { type: 'integer', value: 3 },
      constructor: { type: 'string', value: '' },
    })
    values.messages!.value = 100
    expect(ctx.getOutcome('messages')).toBe(3)
  })
})

it('the hand-worked bucket of test "t", key "k" is 0.6648 (also in Chromium)', () => {
  expect(hashBucket('t', 'k')).toBe(0.6648)
})
