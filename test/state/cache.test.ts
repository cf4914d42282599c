import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ValidationError } from '../../src/errors.js'
import { Cache } from '../../src/state/cache.js'
import type { Json } from '../../src/state/json.js'
import { thrown } from '../core/helpers.js'

/** An entity in the document's sense (`CachableEntity`): it serializes itself and rebuilds from JSON. */
class Order {
  constructor(
    readonly id: string,
    readonly items: string[],
  ) {}
  toCache(): Json {
    return { id: this.id, items: this.items }
  }
  static fromCache(value: Json): Order {
    const v = value as { id: string; items: string[] }
    return new Order(v.id, v.items)
  }
  get count(): number {
    return this.items.length
  }
}

/** A context on a clock the test moves by hand. */
function clocked(start = 1_000_000): { ctx: Context; advance: (ms: number) => void } {
  let now = start
  return { ctx: new Context({}, { now: () => now }), advance: (ms) => (now += ms) }
}

describe('cacheSet / cacheGet', () => {
  it('stores primitives, as the document\'s example does', () => {
    const ctx = new Context()
    ctx.cacheSet('last_query', 'weather in NYC')
    ctx.cacheSet('query_count', 5)
    ctx.cacheSet('ratio', 0.25)
    ctx.cacheSet('on', false)
    ctx.cacheSet('nothing', null)
    ctx.cacheSet('empty', '')
    expect(ctx.cacheGet('last_query')).toBe('weather in NYC')
    expect(ctx.cacheGet('query_count')).toBe(5)
    expect(ctx.cacheGet('ratio')).toBe(0.25)
    expect(ctx.cacheGet('on')).toBe(false)
    expect(ctx.cacheGet('nothing')).toBeNull()
    expect(ctx.cacheGet('empty')).toBe('')
    expect(ctx.cacheGet('absent')).toBeUndefined()
  })

  it('stores plain objects and arrays as copies both ways', () => {
    const ctx = new Context()
    const value = { city: 'NYC', days: [1, 2] }
    ctx.cacheSet('forecast', value)
    value.days.push(3) // after set: no effect
    const read = ctx.cacheGet<{ city: string; days: number[] }>('forecast')!
    expect(read).toEqual({ city: 'NYC', days: [1, 2] })
    read.days.push(9) // after get: no effect
    expect(ctx.cacheGet('forecast')).toEqual({ city: 'NYC', days: [1, 2] })
    ctx.cacheSet('list', [{ a: 1 }, 'b'])
    expect(ctx.cacheGet('list')).toEqual([{ a: 1 }, 'b'])
  })

  it('stores an entity through toCache() and rebuilds it with entityType.fromCache', () => {
    const ctx = new Context()
    ctx.cacheSet('order', new Order('A1', ['coffee', 'sandwich']))
    expect(ctx.cacheGet('order')).toEqual({ id: 'A1', items: ['coffee', 'sandwich'] })
    const order = ctx.cacheGet('order', Order)!
    expect(order).toBeInstanceOf(Order)
    expect(order.count).toBe(2)
    expect(ctx.cacheGet('missing', Order)).toBeUndefined()
  })

  it('overwrites a key, and deletes one', () => {
    const ctx = new Context()
    ctx.cacheSet('k', 1)
    ctx.cacheSet('k', 2)
    expect(ctx.cacheGet('k')).toBe(2)
    expect(ctx.cacheDelete('k')).toBe(true)
    expect(ctx.cacheDelete('k')).toBe(false)
    expect(ctx.cacheGet('k')).toBeUndefined()
  })

  it('serializes entries with their expiry and reads them back through fromJSON', () => {
    const { ctx } = clocked(5_000)
    ctx.cacheSet('a', { x: 1 })
    ctx.cacheSet('b', 'y', { ttl: 10 })
    expect(ctx.toJSON().cache).toEqual({ a: { value: { x: 1 } }, b: { value: 'y', expiresAt: 15_000 } })
    const back = Context.fromJSON(JSON.stringify(ctx), { now: () => 6_000 })
    expect(back.cacheGet('a')).toEqual({ x: 1 })
    expect(back.cacheGet('b')).toBe('y')
  })

  it('regression: keys "constructor" and "prototype" survive fromJSON (valibot\'s record dropped them)', () => {
    const ctx = new Context()
    ctx.cacheSet('constructor', 1)
    ctx.cacheSet('prototype', { a: 1 })
    const back = Context.fromJSON(JSON.stringify(ctx))
    expect(back.cacheGet('constructor')).toBe(1)
    expect(back.cacheGet('prototype')).toEqual({ a: 1 })
  })
})

describe('ttl', () => {
  it('expires an entry ttl seconds after it was set, on the injected clock', () => {
    const { ctx, advance } = clocked()
    ctx.cacheSet('session_token', 'abc', { ttl: 2 })
    advance(1_999)
    expect(ctx.cacheGet('session_token')).toBe('abc')
    advance(1)
    expect(ctx.cacheGet('session_token')).toBeUndefined()
    // Gone for good: going back in time does not resurrect it.
    advance(-5_000)
    expect(ctx.cacheGet('session_token')).toBeUndefined()
  })

  it('takes fractional seconds', () => {
    const { ctx, advance } = clocked()
    ctx.cacheSet('k', 1, { ttl: 0.5 })
    advance(499)
    expect(ctx.cacheGet('k')).toBe(1)
    advance(1)
    expect(ctx.cacheGet('k')).toBeUndefined()
  })

  it('leaves expired entries out of toJSON', () => {
    const { ctx, advance } = clocked()
    ctx.cacheSet('short', 1, { ttl: 1 })
    ctx.cacheSet('long', 2, { ttl: 100 })
    ctx.cacheSet('forever', 3)
    advance(1_000)
    expect(Object.keys(ctx.toJSON().cache).sort()).toEqual(['forever', 'long'])
  })

  it('an entry loaded already expired reads as undefined', () => {
    const { ctx } = clocked(0)
    ctx.cacheSet('k', 'v', { ttl: 1 })
    const state = ctx.toJSON()
    expect(Context.fromJSON(state, { now: () => 999 }).cacheGet('k')).toBe('v')
    expect(Context.fromJSON(state, { now: () => 1_000 }).cacheGet('k')).toBeUndefined()
  })

  it('ttl Infinity means never, and stores no expiry', () => {
    const { ctx, advance } = clocked()
    ctx.cacheSet('k', 1, { ttl: Infinity })
    advance(1e12)
    expect(ctx.cacheGet('k')).toBe(1)
    expect(ctx.toJSON().cache.k).toEqual({ value: 1 })
  })

  it('resetting a key without ttl removes its expiry', () => {
    const { ctx, advance } = clocked()
    ctx.cacheSet('k', 1, { ttl: 1 })
    ctx.cacheSet('k', 2)
    advance(10_000)
    expect(ctx.cacheGet('k')).toBe(2)
  })

  it('defaults to Date.now without a runtime clock', () => {
    const ctx = new Context()
    const before = Date.now()
    ctx.cacheSet('k', 1, { ttl: 60 })
    const { expiresAt } = ctx.toJSON().cache.k!
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000)
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000)
  })

  it.each([
    ['zero', 0],
    ['negative', -1],
    ['NaN', NaN],
    ['a string', '5'],
    ['null', null],
  ])('refuses a %s ttl with a ValidationError at options.ttl', (_, ttl) => {
    const ctx = new Context()
    const e = thrown(() => ctx.cacheSet('k', 1, { ttl: ttl as number }))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.path).toBe('options.ttl')
    expect(ctx.cacheGet('k')).toBeUndefined()
  })
})

describe('bad values', () => {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic

  it.each([
    ['a Map', new Map([['a', 1]]), 'cache.k'],
    ['a Set', new Set([1]), 'cache.k'],
    ['a class instance without toCache', new (class Session {})(), 'cache.k'],
    ['a Date', new Date(0), 'cache.k'],
    ['a function', () => 1, 'cache.k'],
    ['a cycle', cyclic, 'cache.k.self'],
    ['undefined', undefined, 'cache.k'],
    ['NaN', NaN, 'cache.k'],
    ['a bigint', 1n, 'cache.k'],
    ['a symbol', Symbol('s'), 'cache.k'],
    ['a Map deep inside', { a: [new Map()] }, 'cache.k.a[0]'],
    ['an entity whose toCache returns a Map', { toCache: () => new Map() as unknown as Json }, 'cache.k'],
  ])('refuses %s with a ContextError naming the key', (_, value, path) => {
    const ctx = new Context()
    ctx.cacheSet('k', 'before')
    const e = thrown(() => ctx.cacheSet('k', value))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.code).toBe('invalid_argument')
    expect(e.path).toBe(path)
    expect(e.message.startsWith(`${path}: `)).toBe(true)
    expect(ctx.cacheGet('k')).toBe('before') // the old value stays
  })

  it('names an odd key in quotes', () => {
    expect(thrown(() => new Context().cacheSet('my key', () => 1)).path).toBe('cache["my key"]')
  })

  it('refuses a non-string key, and "__proto__" (which fromJSON would refuse to load)', () => {
    const ctx = new Context()
    expect(thrown(() => ctx.cacheSet(1 as unknown as string, 1)).path).toBe('key')
    expect(thrown(() => ctx.cacheSet('__proto__', { polluted: true })).path).toBe('key')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(ctx.toJSON().cache).toEqual({})
  })
})

describe('Cache on its own', () => {
  it('works without a Context, from stored entries, with an injected clock', () => {
    let now = 0
    const cache = new Cache({ a: { value: 1 }, b: { value: 2, expiresAt: 10 } }, () => now)
    expect(cache.get('a')).toBe(1)
    expect(cache.get('b')).toBe(2)
    now = 10
    expect(cache.get('b')).toBeUndefined()
    expect(cache.toJSON()).toEqual({ a: { value: 1 } })
  })
})
