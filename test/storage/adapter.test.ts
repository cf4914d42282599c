import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ContextError, StorageError, ValidationError } from '../../src/errors.js'
import {
  attempt,
  batchDelete,
  batchGet,
  batchSet,
  decode,
  decodeKey,
  encode,
  encodeKey,
  jsonEqual,
  MAX_PAGE,
  namespaced,
  pageLimit,
  pageOf,
  showKey,
  type StorageAdapter,
} from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'

const isPrefix = (a: string[], b: string[]) => a.length <= b.length && a.every((s, i) => s === b[i])

describe('encodeKey / decodeKey', () => {
  it('terminates every segment with "/" and escapes "/" and "%" inside one', () => {
    expect(encodeKey(['ctx', '1'])).toBe('ctx/1/')
    expect(encodeKey(['ctx', '10', 't'])).toBe('ctx/10/t/')
    expect(encodeKey(['a/b', '50%'])).toBe('a%2Fb/50%25/')
    expect(encodeKey(['%2F'])).toBe('%252F/')
    expect(encodeKey([''])).toBe('/')
    expect(encodeKey([])).toBe('')
    expect(decodeKey('a%2Fb/50%25/')).toEqual(['a/b', '50%'])
    expect(decodeKey('%252F/')).toEqual(['%2F'])
    expect(decodeKey('/')).toEqual([''])
  })
  it("does not make context '1' a prefix of context '10' (the original's delete-by-prefix bug)", () => {
    expect(encodeKey(['ctx', '10', 'h']).startsWith(encodeKey(['ctx', '1']))).toBe(false)
    expect(encodeKey(['ctx', '1', 'h']).startsWith(encodeKey(['ctx', '1']))).toBe(true)
  })
  it('round-trips any segments', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' })), (segments) => {
        expect(decodeKey(encodeKey(segments))).toEqual(segments)
      }),
      { numRuns: 200 },
    )
  })
  it('makes one key a string prefix of another exactly when its segments are a prefix of the other’s', () => {
    const segment = fc.oneof(fc.constantFrom('', '/', '%', '%2F', '1', '10', 'a/b'), fc.string())
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 4 }), fc.array(segment, { maxLength: 4 }), (a, b) => {
        expect(encodeKey(b).startsWith(encodeKey(a))).toBe(isPrefix(a, b))
      }),
      { numRuns: 2000 },
    )
  })
  it('refuses to decode a key without the final "/"', () => {
    expect(() => decodeKey('ctx/1')).toThrow(
      expect.objectContaining({ name: 'ValidationError', code: 'invalid_argument', path: 'ctx/1', message: '"ctx/1" is not an encoded key (no final "/")' }),
    )
    expect(decodeKey('')).toEqual([])
  })
})

describe('namespaced', () => {
  it('prefixes keys with the encoded namespace and strips it from listings', async () => {
    const raw = memoryStorage()
    const ns = namespaced(raw, 'tenant/a')
    await ns.set('k', 1)
    expect((await raw.list('')).keys).toEqual(['tenant%2Fa/k'])
    await ns.setMany!([
      ['x/1', 1],
      ['x/2', 2],
      ['x/3', 3],
    ])
    const first = await ns.list('x/', { limit: 2 })
    expect(first.keys).toEqual(['x/1', 'x/2'])
    expect(await ns.list('x/', { limit: 2, cursor: first.cursor })).toEqual({ keys: ['x/3'], cursor: undefined })
    expect(await ns.getMany!(['x/1', 'nope'])).toEqual([1, undefined])
    await ns.deleteMany!(['x/1'])
    expect(await ns.compareAndSet!('k', 1, 2, [['x/9', 9]])).toBe(true)
    expect((await raw.list('')).keys).toEqual(['tenant%2Fa/k', 'tenant%2Fa/x/2', 'tenant%2Fa/x/3', 'tenant%2Fa/x/9'])
  })
  it('offers only the optional methods its adapter has, and shrinks maxKeyBytes by the prefix', () => {
    const bare: StorageAdapter = {
      name: 'bare',
      capabilities: { atomicBatch: false, compareAndSet: false, consistency: 'eventual', maxKeyBytes: 512 },
      get: async () => undefined,
      set: async () => {},
      delete: async () => {},
      list: async () => ({ keys: [] }),
    }
    const ns = namespaced(bare, 'é')
    expect([ns.getMany, ns.setMany, ns.deleteMany, ns.compareAndSet]).toEqual([undefined, undefined, undefined, undefined])
    expect(ns.capabilities.maxKeyBytes).toBe(512 - 3)
    expect(ns.name).toBe('bare')
    expect(namespaced(memoryStorage(), 'x').capabilities.maxKeyBytes).toBeUndefined()
  })
  it('refuses a namespace that is not a string', () => {
    expect(() => namespaced(memoryStorage(), 1 as unknown as string)).toThrow(ValidationError)
  })
})

describe('jsonEqual', () => {
  it.each([
    [1, 1, true],
    [0, -0, true],
    ['1', 1, false],
    [null, undefined, false],
    [undefined, undefined, true],
    [[1, [2]], [1, [2]], true],
    [[1, 2], [2, 1], false],
    [{ a: 1, b: [1] }, { b: [1], a: 1 }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: undefined } as never, { b: undefined } as never, false],
    [{}, [], false],
    [{ 0: 'x' }, ['x'], false],
    [{ b: 1, '2': 0 }, JSON.parse('{"2":0,"b":1}'), true],
  ])('jsonEqual(%j, %j) is %s', (a, b, equal) => {
    expect(jsonEqual(a, b)).toBe(equal)
    expect(jsonEqual(b, a)).toBe(equal)
  })
  it('does not see inherited properties', () => {
    expect(jsonEqual({ toString: 1 } as never, {})).toBe(false)
    expect(jsonEqual({}, { toString: 1 } as never)).toBe(false)
  })
})

describe('list helpers', () => {
  it('pageLimit defaults to and caps at 1000, and refuses what is not a positive integer', () => {
    expect(pageLimit()).toBe(MAX_PAGE)
    expect(pageLimit(1)).toBe(1)
    expect(pageLimit(10_000)).toBe(1000)
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '5' as unknown as number]) {
      expect(() => pageLimit(bad)).toThrow(ValidationError)
    }
  })
  it('pageOf filters, sorts and pages after the cursor', () => {
    const keys = ['b', 'a/2', 'a/1', 'a/3', 'a']
    expect(pageOf(keys, 'a/', { limit: 2 })).toEqual({ keys: ['a/1', 'a/2'], cursor: 'a/2' })
    expect(pageOf(keys, 'a/', { limit: 2, cursor: 'a/2' })).toEqual({ keys: ['a/3'] })
    expect(pageOf(keys, 'a/', { limit: 3 })).toEqual({ keys: ['a/1', 'a/2', 'a/3'] })
    expect(pageOf(keys, '')).toEqual({ keys: ['a', 'a/1', 'a/2', 'a/3', 'b'] })
  })
})

describe('errors', () => {
  it('attempt wraps a backend failure in a StorageError naming adapter, operation and key, not the cause’s text', async () => {
    const cause = new TypeError('cannot store {"apiKey":"sk-123"}')
    const e = (await attempt('kv', 'set', 'ctx/1/', () => Promise.reject(cause)).catch((x: unknown) => x)) as StorageError
    expect(e).toBeInstanceOf(StorageError)
    expect(e.message).toBe('kv: set of "ctx/1/" failed (TypeError)')
    expect(e.path).toBe('ctx/1/')
    expect(e.cause).toBe(cause)
  })
  it('attempt names the first key of a batch and how many more, and handles odd throwables', async () => {
    await expect(attempt('kv', 'setMany', ['a', 'b', 'c'], () => Promise.reject(new Error('x')))).rejects.toThrow('kv: setMany of "a" and 2 more failed')
    await expect(attempt('kv', 'getMany', [], () => Promise.reject(null))).rejects.toThrow('kv: getMany of "" failed')
    await expect(attempt('kv', 'get', 'k', () => Promise.reject('a string'))).rejects.toThrow('kv: get of "k" failed')
  })
  it('attempt lets ContextErrors through and returns results', async () => {
    const own = new ValidationError('too_large', 'mine')
    await expect(attempt('kv', 'set', 'k', () => Promise.reject(own))).rejects.toBe(own)
    await expect(attempt('kv', 'get', 'k', () => 5)).resolves.toBe(5)
  })
  it('showKey quotes, escapes and cuts at 80 characters', () => {
    expect(showKey('a\nb')).toBe('"a\\nb"')
    expect(showKey('k'.repeat(100))).toBe(JSON.stringify('k'.repeat(80) + '…'))
  })
  it('encode refuses what has no JSON text, naming the key only', () => {
    for (const bad of [undefined, { n: 1n }, (() => 1) as never]) {
      expect(() => encode('memory', 'k', bad as never)).toThrow(
        expect.objectContaining({ code: 'invalid_argument', path: 'k', message: 'memory: the value for "k" is not JSON' }),
      )
    }
    const cycle: Record<string, unknown> = { secret: 'hunter2' }
    cycle.self = cycle
    expect(() => encode('memory', 'k', cycle as never)).toThrow(/the value for "k" is not JSON/)
  })
  it('decode reads absent as undefined and refuses text that is not JSON without quoting it', () => {
    expect(decode('m', 'k', null)).toBeUndefined()
    expect(decode('m', 'k', undefined)).toBeUndefined()
    expect(decode('m', 'k', 'null')).toBeNull()
    const e = (() => {
      try {
        decode('m', 'ctx/1/', '{"secret":"hunter2"')
      } catch (x) {
        return x as ContextError
      }
    })()
    expect(e).toMatchObject({ code: 'invalid_state', path: 'ctx/1/', message: 'm: the stored value of "ctx/1/" is not JSON' })
    expect(e?.cause).toBeUndefined()
  })
})

describe('batch fallbacks', () => {
  it('use the batch methods when present and one call per key otherwise', async () => {
    const calls: string[] = []
    const inner = memoryStorage()
    const plain: StorageAdapter = {
      name: 'plain',
      capabilities: inner.capabilities,
      get: (k) => (calls.push(`get ${k}`), inner.get(k)),
      set: (k, v) => (calls.push(`set ${k}`), inner.set(k, v)),
      delete: (k) => (calls.push(`delete ${k}`), inner.delete(k)),
      list: inner.list,
    }
    await batchSet(plain, [
      ['a', 1],
      ['b', 2],
    ])
    expect(await batchGet(plain, ['a', 'x'])).toEqual([1, undefined])
    await batchDelete(plain, ['a'])
    expect(calls).toEqual(['set a', 'set b', 'get a', 'get x', 'delete a'])
    await batchSet(inner, [['c', 3]])
    expect(await batchGet(inner, ['b', 'c'])).toEqual([2, 3])
  })
})

describe('memoryStorage', () => {
  it('keeps JSON text, so what JSON.stringify drops inside a value is dropped', async () => {
    const m = memoryStorage()
    await m.set('k', { a: undefined, d: new Date(0), n: [NaN] } as never)
    expect(await m.get('k')).toEqual({ d: '1970-01-01T00:00:00.000Z', n: [null] })
  })
  it('writes nothing of a compareAndSet whose value cannot be encoded, even when the expectation holds', async () => {
    const m = memoryStorage()
    await m.set('h', 1)
    await expect(m.compareAndSet!('h', 1, { n: 1n } as never)).rejects.toThrow(ValidationError)
    expect(await m.get('h')).toBe(1)
  })
})
