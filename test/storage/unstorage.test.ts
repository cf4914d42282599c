import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { createStorage, defineDriver, normalizeKey, prefixStorage } from 'unstorage'
import { encodeKey } from '../../src/storage/adapter.js'
import { fromItemKey, toItemKey, unstorageStorage } from '../../src/storage/unstorage.js'
import { SECRET } from './conformance.js'
import { conformance } from './run.js'

const failing = defineDriver(() => {
  const fail = () => {
    throw new Error(`driver down while holding ${SECRET}`)
  }
  return { name: 'failing', hasItem: fail, getItem: fail, setItem: fail, removeItem: fail, getKeys: fail, clear: fail }
})

// unstorage's default (memory) driver, in Node and Chromium; unstorage-redis.node.test.ts runs the Redis driver.
conformance('unstorage (memory driver)', {
  make: async () => unstorageStorage(createStorage(), { consistency: 'strong' }),
  broken: async () => unstorageStorage(createStorage({ driver: failing({}) })),
})
conformance('unstorage (memory driver, under prefixStorage)', {
  make: async () => unstorageStorage(prefixStorage(createStorage(), 'agentctx'), { consistency: 'strong' }),
})

describe('unstorage key mapping', () => {
  it('maps keys as documented', () => {
    expect(toItemKey('ctx/1/')).toBe('_ctx:_1:_')
    expect(toItemKey('a:b?c/d$')).toBe('_a%3Ab%3Fc:_d%24')
    expect(toItemKey('')).toBe('_')
    expect(toItemKey("it's (*)!")).toBe('_it%27s%20%28%2a%29%21')
  })
  it('survives unstorage normalization and decodes back, for any key', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (key) => {
        const item = toItemKey(key)
        expect(normalizeKey(item)).toBe(item)
        expect(item).toMatch(/^[A-Za-z0-9._~%:-]+$/)
        expect(item.split(':').some((p) => p === '.' || p === '..')).toBe(false)
        expect(item.endsWith('$')).toBe(false)
        expect(fromItemKey(item)).toBe(key)
      }),
      { numRuns: 500 },
    )
  })
  it('maps encodeKey segments so a context prefix is an unstorage base of whole segments', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), fc.string(), (segments, extra) => {
        const prefix = encodeKey(segments)
        const key = prefix + encodeKey([extra])
        expect(toItemKey(key).startsWith(toItemKey(prefix).slice(0, -2) + ':')).toBe(true)
      }),
    )
  })
  it('ignores keys it did not write instead of misreading them', async () => {
    expect(fromItemKey('foo:bar')).toBeUndefined()
    expect(fromItemKey('_a%E0%A4%A')).toBeUndefined()
    const storage = createStorage()
    await storage.setItem('foreign:key', 'x')
    const adapter = unstorageStorage(storage)
    await adapter.set('ours', 1)
    expect((await adapter.list('')).keys).toEqual(['ours'])
  })
  it('asks the driver only for the base of the prefix’s whole segments', async () => {
    const storage = createStorage()
    const bases: (string | undefined)[] = []
    const adapter = unstorageStorage({ ...storage, getKeys: (base?: string) => (bases.push(base), storage.getKeys(base)) })
    await adapter.set(encodeKey(['ctx', '1', 'h']), 1)
    await adapter.set(encodeKey(['ctx', '10', 'h']), 10)
    expect((await adapter.list(encodeKey(['ctx', '1']))).keys).toEqual(['ctx/1/h/'])
    expect((await adapter.list('ctx/1')).keys).toEqual(['ctx/1/h/', 'ctx/10/h/'])
    expect((await adapter.list('')).keys).toEqual(['ctx/1/h/', 'ctx/10/h/'])
    expect(bases).toEqual(['_ctx:_1', '_ctx', ''])
  })
  it('stores plain JSON text, which unstorage’s own getItem also reads', async () => {
    const storage = createStorage()
    await unstorageStorage(storage).set('ctx/1/', { turns: 2 })
    expect(await storage.getItemRaw('_ctx:_1:_')).toBe('{"turns":2}')
    expect(await storage.getItem('_ctx:_1:_')).toEqual({ turns: 2 })
  })
  it('decodes drivers that hand raw values back as bytes', async () => {
    const bytes = new TextEncoder().encode('{"a":1}')
    const adapter = unstorageStorage({ getItemRaw: async () => bytes, setItemRaw: async () => {}, removeItem: async () => {}, getKeys: async () => [] })
    expect(await adapter.get('k')).toEqual({ a: 1 })
  })
})
