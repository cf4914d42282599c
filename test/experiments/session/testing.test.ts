import { describe, expect, it } from 'vitest'
import { Context } from '../../../src/context.js'
import { ValidationError } from '../../../src/errors.js'
import type { OutcomeType } from '../../../src/experiments/session/outcomes.js'
import { Testing } from '../../../src/experiments/session/testing.js'
import type { StopConditions, TestOptions } from '../../../src/experiments/session/tests.js'
import { thrown } from '../../core/helpers.js'

describe('addTest: bad input', () => {
  it.each([
    ['a negative weight', { a: 0.5, b: -0.5 }, {}, 'tests.t.options.b', /finite number >= 0, not -0.5/],
    ['a negative weight, array form', [['a', 0.5], ['b', -0.5]], {}, 'tests.t.options.b', /finite number >= 0, not -0.5/],
    ['all weights zero', { a: 0, b: 0 }, {}, 'tests.t.options', /above 0/],
    ['all weights zero, array form', [['a', 0], ['b', 0]], {}, 'tests.t.options', /above 0/],
    ['no options', {}, {}, 'tests.t.options', /above 0/],
    ['no options, array form', [], {}, 'tests.t.options', /above 0/],
    ['a string weight', { a: '0.5', b: 0.5 }, {}, 'tests.t.options.a', /finite number >= 0, not string/],
    ['NaN', { a: NaN }, {}, 'tests.t.options.a', /finite number >= 0, not NaN/],
    ['Infinity', { a: Infinity, b: 1 }, {}, 'tests.t.options.a', /finite number >= 0, not Infinity/],
    ['-Infinity, array form', [['a', 1], ['b', -Infinity]], {}, 'tests.t.options.b', /finite number >= 0, not -Infinity/],
    ['weights whose sum overflows to Infinity', { a: 1e308, b: 1e308 }, {}, 'tests.t.options', /sum past the largest number/],
    ['an option given twice, array form', [['a', 1], ['a', 2]], {}, 'tests.t.options.a', /given twice/],
    ['a pair that is not a pair', [['a', 1], ['b']], {}, 'tests.t.options[1]', /\[value, weight\] pair/],
    ['a pair with a number value', [[1, 1]], {}, 'tests.t.options[0]', /value a string/],
    ['a pair with value "__proto__"', [['__proto__', 1]], {}, 'tests.t.options[0]', /__proto__/],
    ['an entry that is not an array', [{ value: 'a', weight: 1 }], {}, 'tests.t.options[0]', /\[value, weight\] pair/],
    ['options that are not an object', null, {}, 'tests.t.options', /object of weights or an array/],
    ['options that are a string', 'a', {}, 'tests.t.options', /object of weights or an array/],
    ['stop.default that is not an option', { a: 1, b: 1 }, { default: 'c' }, 'tests.t', /stop.default must be one of the options/],
    ['stopOn 3', { a: 1 }, { stopOn: 3 }, 'tests.t.stop.stopOn', /Expected/],
    ['maxConfidence over 100', { a: 1 }, { maxConfidence: 101 }, 'tests.t.stop.maxConfidence', /0..100/],
    ['maxIterations 0', { a: 1 }, { maxIterations: 0 }, 'tests.t.stop.maxIterations', /integer >= 1/],
    ['maxIterations 1.5', { a: 1 }, { maxIterations: 1.5 }, 'tests.t.stop.maxIterations', /integer/],
    ['notify that is not a list', { a: 1 }, { notify: 'a@b.c' }, 'tests.t.stop.notify', /Array/],
    ['a snake_case stop key', { a: 1 }, { max_iterations: 10 }, 'tests.t.stop.max_iterations', /did you mean maxIterations/],
  ])('refuses %s with a ValidationError naming the path', (_, options, stop, path, message) => {
    const ctx = new Context()
    const e = thrown(() => ctx.addTest('t', options as TestOptions, '', stop as StopConditions))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.code).toBe('invalid_argument')
    expect(e.path).toBe(path)
    expect(e.message).toMatch(message)
    expect(thrown(() => ctx.getTest('t')).code).toBe('not_found') // nothing was added
  })

  it('refuses a bad name or description', () => {
    const ctx = new Context()
    expect(thrown(() => ctx.addTest('', { a: 1 })).path).toBe('name')
    expect(thrown(() => ctx.addTest(3 as unknown as string, { a: 1 })).path).toBe('name')
    expect(thrown(() => ctx.addTest('__proto__', { a: 1 })).path).toBe('name')
    expect(thrown(() => ctx.addTest('t', { a: 1 }, 5 as unknown as string)).path).toBe('tests.t.description')
  })

  it('regression: a stored value of "toString" is not "one of the options" (it was, through `in`)', () => {
    const state = new Context().toJSON()
    state.testing.tests.t = { options: [['a', 1]], description: '', stop: { default: 'constructor' }, value: 'a' }
    expect(thrown(() => Context.fromJSON(state)).path).toBe('testing.tests.t')
    state.testing.tests.t = { options: [['a', 1]], description: '', stop: {}, value: 'toString' }
    expect(thrown(() => Context.fromJSON(state)).path).toBe('testing.tests.t')
  })

  it('getTest of an unknown test is a ContextError (not_found) naming it', () => {
    const e = thrown(() => new Context().getTest('nope'))
    expect(e.code).toBe('not_found')
    expect(e.path).toBe('tests.nope')
    expect(e.message).toMatch(/"nope"/)
  })
})

describe('addTests', () => {
  it('adds several tests and returns the drawn values by name', () => {
    // The key "e" is in bucket 0.2622 of greeting (hello: [0, 0.5)) and 0.7736 of upsell (subtle: [0.5, 1)).
    const ctx = new Context({ assignmentKey: 'e' })
    const drawn = ctx.addTests([
      { name: 'greeting', options: { hello: 1, hi: 1 } },
      { name: 'upsell', options: { direct: 0.5, subtle: 0.5 }, description: 'Upsell', stop: { maxIterations: 100, default: 'direct' } },
    ])
    expect(drawn).toEqual({ greeting: 'hello', upsell: 'subtle' })
    expect(ctx.getTest('upsell')).toBe('subtle')
  })

  it('keeps the value of a test already added', () => {
    const ctx = new Context({ assignmentKey: 'e' })
    ctx.addTest('greeting', { hello: 1, hi: 1 })
    expect(ctx.addTests([{ name: 'greeting', options: { other: 1 } }])).toEqual({ greeting: 'hello' })
  })

  it('is all or none: one bad definition adds nothing', () => {
    const ctx = new Context()
    const e = thrown(() =>
      ctx.addTests([
        { name: 'good', options: { a: 1 } },
        { name: 'bad', options: { a: -1 } },
      ]),
    )
    expect(e.path).toBe('tests.bad.options.a')
    expect(thrown(() => ctx.getTest('good')).code).toBe('not_found')
    expect(ctx.toJSON().testing.tests).toEqual({})
  })

  it('regression: a null entry is a ValidationError, not a TypeError', () => {
    const ctx = new Context()
    const e = thrown(() => ctx.addTests([{ name: 'ok', options: { a: 1 } }, null as never]))
    expect(e).toBeInstanceOf(ValidationError)
    expect(ctx.toJSON().testing.tests).toEqual({})
  })

  it('refuses a non-array', () => {
    expect(thrown(() => new Context().addTests({} as never)).path).toBe('tests')
  })
})

describe('outcomes', () => {
  it.each([
    ['boolean', false],
    ['integer', 0],
    ['float', 0],
    ['string', ''],
  ] as [OutcomeType, unknown][])('a %s outcome starts at %j', (type, value) => {
    const ctx = new Context()
    ctx.addOutcome('o', type, 'desc')
    expect(ctx.getOutcome('o')).toBe(value)
    expect(ctx.toJSON().testing.outcomes.o).toEqual({ type, description: 'desc', value })
  })

  it('setOutcome checks the type and returns the previous value', () => {
    const ctx = new Context()
    ctx.addOutcomes([
      { name: 'b', type: 'boolean' },
      { name: 'i', type: 'integer' },
      { name: 'f', type: 'float' },
      { name: 's', type: 'string' },
    ])
    expect(ctx.setOutcome('b', true)).toBe(false)
    expect(ctx.setOutcome('i', 3)).toBe(0)
    expect(ctx.setOutcome('i', -7)).toBe(3)
    expect(ctx.setOutcome('f', 29.99)).toBe(0)
    expect(ctx.setOutcome('f', 2)).toBe(29.99) // an integer is a float
    expect(ctx.setOutcome('s', 'premium')).toBe('')
    expect([ctx.getOutcome('b'), ctx.getOutcome('i'), ctx.getOutcome('f'), ctx.getOutcome('s')]).toEqual([true, -7, 2, 'premium'])
  })

  it.each([
    ['integer', 1.5],
    ['integer', '1'],
    ['integer', 2 ** 53],
    ['integer', true],
    ['float', NaN],
    ['float', Infinity],
    ['float', '1.5'],
    ['boolean', 1],
    ['boolean', 'true'],
    ['string', 5],
    ['string', null],
  ] as [OutcomeType, unknown][])('setOutcome on a %s outcome refuses %j and keeps the old value', (type, value) => {
    const ctx = new Context()
    ctx.addOutcome('o', type)
    const before = ctx.getOutcome('o')
    const e = thrown(() => ctx.setOutcome('o', value as number))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe('outcomes.o')
    expect(e.message).toMatch(new RegExp(`must be of type ${type}`))
    expect(ctx.getOutcome('o')).toBe(before)
  })

  it.each([
    ['integer', 1.5, 'not 1.5'],
    ['integer', 2 ** 53, 'not 9007199254740992'],
    ['integer', -(2 ** 53), 'not -9007199254740992'],
    ['integer', NaN, 'not NaN'],
    ['float', NaN, 'not NaN'],
    ['float', -Infinity, 'not -Infinity'],
    ['float', 10n, 'not bigint'],
    ['string', null, 'not null'],
    ['boolean', 'secret-ish text', 'not string'],
  ] as [OutcomeType, unknown, string][])('the error for a %s set to %s names the outcome and says what was given (%s), never echoing a string', (type, value, given) => {
    const ctx = new Context()
    ctx.addOutcome('checkout_total', type)
    const e = thrown(() => ctx.setOutcome('checkout_total', value as number))
    expect(e.message).toBe(`outcomes.checkout_total: must be of type ${type}, ${given}`)
    expect(e.message).not.toMatch(/secret-ish/)
  })

  it('an integer takes every safe integer, up to ±(2^53 - 1); a float takes integers and any finite number', () => {
    const ctx = new Context()
    ctx.addOutcomes([
      { name: 'i', type: 'integer' },
      { name: 'f', type: 'float' },
    ])
    for (const n of [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 0, -1]) {
      ctx.setOutcome('i', n)
      expect(Context.fromJSON(JSON.stringify(ctx)).getOutcome('i')).toBe(n)
    }
    for (const x of [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e-300, 7]) {
      ctx.setOutcome('f', x)
      expect(Context.fromJSON(JSON.stringify(ctx)).getOutcome('f')).toBe(x)
    }
  })

  it('a float counter at Number.MAX_VALUE triggers to itself (x + 1 rounds back), never to Infinity', () => {
    const ctx = new Context()
    ctx.addOutcome('f', 'float')
    ctx.setOutcome('f', Number.MAX_VALUE)
    expect(ctx.triggerOutcome('f')).toBe(Number.MAX_VALUE)
  })

  it('set, trigger and reset each return what the issue says (previous, new, previous), for every type', () => {
    const ctx = new Context()
    ctx.addOutcomes([
      { name: 'b', type: 'boolean' },
      { name: 'i', type: 'integer' },
      { name: 'f', type: 'float' },
      { name: 's', type: 'string' },
    ])
    expect([ctx.setOutcome('b', false), ctx.triggerOutcome('b'), ctx.resetOutcome('b'), ctx.getOutcome('b')]).toEqual([false, true, true, false])
    expect([ctx.setOutcome('i', 41), ctx.triggerOutcome('i'), ctx.resetOutcome('i'), ctx.getOutcome('i')]).toEqual([0, 42, 42, 0])
    expect([ctx.setOutcome('f', 0.25), ctx.triggerOutcome('f'), ctx.resetOutcome('f'), ctx.getOutcome('f')]).toEqual([0, 1.25, 1.25, 0])
    expect([ctx.setOutcome('s', 'gold'), ctx.setOutcome('s', 'silver'), ctx.resetOutcome('s'), ctx.getOutcome('s')]).toEqual(['', 'gold', 'silver', ''])
  })

  it('regression: setOutcome stores -0 as 0, as JSON reads it back', () => {
    const ctx = new Context()
    ctx.addOutcome('f', 'float')
    ctx.setOutcome('f', -0)
    expect(Object.is(ctx.getOutcome('f'), 0)).toBe(true)
  })

  it('triggerOutcome: a boolean becomes true, a number goes up by 1; returns the new value', () => {
    const ctx = new Context()
    ctx.addOutcome('satisfied', 'boolean')
    ctx.addOutcome('count', 'integer')
    ctx.addOutcome('score', 'float')
    expect(ctx.triggerOutcome('satisfied')).toBe(true)
    expect(ctx.triggerOutcome('satisfied')).toBe(true)
    expect(ctx.triggerOutcome('count')).toBe(1)
    expect(ctx.triggerOutcome('count')).toBe(2)
    ctx.setOutcome('score', 0.5)
    expect(ctx.triggerOutcome('score')).toBe(1.5)
  })

  it('triggerOutcome on a string outcome is a ValidationError naming the outcome', () => {
    const ctx = new Context()
    ctx.addOutcome('segment', 'string')
    const e = thrown(() => ctx.triggerOutcome('segment'))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe('outcomes.segment')
    expect(e.message).toMatch(/setOutcome/)
    expect(ctx.getOutcome('segment')).toBe('')
  })

  it('regression: triggering an integer at 2^53 - 1 is refused, not stored as a value fromJSON would refuse', () => {
    const ctx = new Context()
    ctx.addOutcome('n', 'integer')
    ctx.setOutcome('n', Number.MAX_SAFE_INTEGER)
    expect(thrown(() => ctx.triggerOutcome('n')).path).toBe('outcomes.n')
    expect(ctx.getOutcome('n')).toBe(Number.MAX_SAFE_INTEGER)
    expect(Context.fromJSON(JSON.stringify(ctx)).getOutcome('n')).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('resetOutcome goes back to the default and returns the previous value', () => {
    const ctx = new Context()
    ctx.addOutcome('count', 'integer')
    ctx.addOutcome('done', 'boolean')
    ctx.triggerOutcome('count')
    ctx.triggerOutcome('count')
    ctx.triggerOutcome('done')
    expect(ctx.resetOutcome('count')).toBe(2)
    expect(ctx.getOutcome('count')).toBe(0)
    expect(ctx.resetOutcome('done')).toBe(true)
    expect(ctx.getOutcome('done')).toBe(false)
    expect(ctx.resetOutcome('done')).toBe(false)
  })

  it('every outcome method names an unknown outcome with not_found', () => {
    const ctx = new Context()
    for (const call of [
      () => ctx.getOutcome('x'),
      () => ctx.setOutcome('x', 1),
      () => ctx.triggerOutcome('x'),
      () => ctx.resetOutcome('x'),
    ]) {
      const e = thrown(call)
      expect(e.code).toBe('not_found')
      expect(e.path).toBe('outcomes.x')
    }
  })

  it('addOutcome again with the same type keeps the value; with another type it is an error', () => {
    const ctx = new Context()
    ctx.addOutcome('count', 'integer')
    ctx.triggerOutcome('count')
    ctx.addOutcome('count', 'integer', 'again')
    expect(ctx.getOutcome('count')).toBe(1)
    const e = thrown(() => ctx.addOutcome('count', 'float'))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe('outcomes.count.type')
    expect(e.message).toMatch(/already added as integer/)
    expect(ctx.toJSON().testing.outcomes.count!.type).toBe('integer')
  })

  it('refuses an unknown type or a bad name or description', () => {
    const ctx = new Context()
    expect(thrown(() => ctx.addOutcome('o', 'number' as OutcomeType)).path).toBe('outcomes.o.type')
    // regression: "toString" found Object.prototype.toString as its default and failed as "not JSON"
    const e = thrown(() => ctx.addOutcome('o', 'toString' as OutcomeType))
    expect(e.path).toBe('outcomes.o.type')
    expect(e.message).toMatch(/"boolean" \| "integer" \| "float" \| "string"/)
    expect(thrown(() => ctx.addOutcome('', 'integer')).path).toBe('name')
    expect(thrown(() => ctx.addOutcome('__proto__', 'integer')).path).toBe('name')
    expect(thrown(() => ctx.addOutcome('o', 'integer', 1 as unknown as string)).path).toBe('outcomes.o.description')
    expect(ctx.toJSON().testing.outcomes).toEqual({})
  })

  it('addOutcomes is all or none', () => {
    const ctx = new Context()
    ctx.addOutcome('kept', 'integer')
    const e = thrown(() =>
      ctx.addOutcomes([
        { name: 'a', type: 'boolean' },
        { name: 'kept', type: 'string' }, // conflicts with the existing one
      ]),
    )
    expect(e.path).toBe('outcomes.kept.type')
    expect(Object.keys(ctx.toJSON().testing.outcomes)).toEqual(['kept'])
    expect(thrown(() => ctx.addOutcomes([{ name: 'b', type: 'boolean' }, null as never])).code).toBe('invalid_argument')
    expect(thrown(() => ctx.addOutcomes('x' as never)).path).toBe('outcomes')
    expect(Object.keys(ctx.toJSON().testing.outcomes)).toEqual(['kept'])
    ctx.addOutcomes([
      { name: 'a', type: 'boolean', description: 'A' },
      { name: 'b', type: 'float' },
    ])
    expect(ctx.toJSON().testing.outcomes).toEqual({
      kept: { type: 'integer', description: '', value: 0 },
      a: { type: 'boolean', description: 'A', value: false },
      b: { type: 'float', description: '', value: 0 },
    })
  })

  it('ctx.testing is the same manager the ctx methods use', () => {
    const ctx = new Context()
    ctx.testing.addOutcome('o', 'integer')
    ctx.triggerOutcome('o')
    expect(ctx.testing.getOutcome('o')).toBe(1)
    expect(ctx.testing).toBeInstanceOf(Testing)
    expect(ctx.testing).toBe(ctx.testing)
  })
})

describe('testing metadata', () => {
  it('returns a stored 0, false, "" or null, not the default', () => {
    const ctx = new Context()
    const stored: [string, unknown][] = [
      ['zero', 0],
      ['no', false],
      ['empty', ''],
      ['nothing', null],
    ]
    for (const [k, v] of stored) ctx.setTestingMetadata(k, v)
    for (const [k, v] of stored) expect(ctx.getTestingMetadata(k, 'DEFAULT')).toBe(v)
    expect(ctx.getTestingMetadata('unset', 'DEFAULT')).toBe('DEFAULT')
    expect(ctx.getTestingMetadata('unset')).toBeUndefined()
  })

  it('stores any JSON as a copy, and refuses what is not JSON at testing.metadata.<key>', () => {
    const ctx = new Context()
    const value = { tags: ['a'] }
    ctx.setTestingMetadata('info', value)
    value.tags.push('b')
    const read = ctx.getTestingMetadata('info') as { tags: string[] }
    expect(read).toEqual({ tags: ['a'] })
    read.tags.push('c')
    expect(ctx.getTestingMetadata('info')).toEqual({ tags: ['a'] })
    expect(thrown(() => ctx.setTestingMetadata('bad', new Map())).path).toBe('testing.metadata.bad')
    expect(thrown(() => ctx.setTestingMetadata(1 as unknown as string, 1)).path).toBe('key')
    expect(ctx.getTestingMetadata('bad')).toBeUndefined()
  })

  it('regression: keys "constructor" and "prototype" survive fromJSON', () => {
    const ctx = new Context()
    ctx.setTestingMetadata('constructor', 'c')
    ctx.setTestingMetadata('prototype', 'p')
    const back = Context.fromJSON(JSON.stringify(ctx))
    expect(back.getTestingMetadata('constructor')).toBe('c')
    expect(back.getTestingMetadata('prototype')).toBe('p')
  })
})
