import { describe, expect, it } from 'vitest'
import { durableObjectStorage, type DurableObjectStorageLike, type DurableObjectTransactionLike } from '../../src/storage/durable-object.js'

/** A Durable Object storage in memory that records every call; `transaction` runs the closure on the same object. */
function fakeStorage() {
  const data = new Map<string, unknown>()
  const calls: string[] = []
  const txn: DurableObjectTransactionLike = {
    get: async (keys) => (calls.push(`get ${keys.length}`), new Map(keys.filter((k) => data.has(k)).map((k) => [k, data.get(k)]))),
    put: async (entries) => void (calls.push(`put ${Object.keys(entries).length}`), Object.entries(entries).forEach(([k, v]) => data.set(k, v))),
    delete: async (keys) => (calls.push(`delete ${keys.length}`), keys.filter((k) => data.delete(k)).length),
    list: async ({ prefix = '', startAfter, limit = Infinity }) => {
      calls.push(`list ${prefix} ${startAfter ?? '-'} ${limit}`)
      const keys = [...data.keys()].filter((k) => k.startsWith(prefix) && (startAfter === undefined || k > startAfter)).sort()
      return new Map(keys.slice(0, limit).map((k) => [k, data.get(k)]))
    },
  }
  const storage: DurableObjectStorageLike = { ...txn, transaction: (closure) => (calls.push('transaction'), closure(txn)) }
  return { storage, data, calls }
}

// The workerd runner (workerd.node.test.ts) runs the conformance suite on real Durable Object
// storage; these check the call pattern, which decides atomicity in production.
describe('durableObjectStorage', () => {
  it('splits batches into calls of at most 128 pairs, all issued before its first await (so they coalesce)', async () => {
    const { storage, calls } = fakeStorage()
    const adapter = durableObjectStorage(storage)
    const pending = adapter.setMany!(Array.from({ length: 300 }, (_, i): [string, number] => [`k/${String(i).padStart(3, '0')}`, i]))
    expect(calls).toEqual(['put 128', 'put 128', 'put 44'])
    await pending
    calls.length = 0
    const keys = Array.from({ length: 260 }, (_, i) => `k/${String(i).padStart(3, '0')}`)
    const values = adapter.getMany!(keys)
    expect(calls).toEqual(['get 128', 'get 128', 'get 4'])
    expect(await values).toEqual(keys.map((_, i) => i))
    calls.length = 0
    const deleting = adapter.deleteMany!(keys)
    expect(calls).toEqual(['delete 128', 'delete 128', 'delete 4'])
    await deleting
    expect((await adapter.list('')).keys).toHaveLength(40)
  })
  it('runs compareAndSet in one transaction and writes value and `also` in one put', async () => {
    const { storage, calls } = fakeStorage()
    const adapter = durableObjectStorage(storage)
    expect(await adapter.compareAndSet!('h', undefined, { v: 1 }, [['t/1', 1]])).toBe(true)
    expect(calls).toEqual(['transaction', 'get 1', 'put 2'])
    calls.length = 0
    expect(await adapter.compareAndSet!('h', { v: 1 }, undefined, [['t/2', 2]])).toBe(true)
    expect(calls).toEqual(['transaction', 'get 1', 'put 1', 'delete 1'])
    expect(await adapter.get('h')).toBeUndefined()
  })
  it('lists one more than the limit to know whether a page follows', async () => {
    const { storage, calls } = fakeStorage()
    const adapter = durableObjectStorage(storage)
    await adapter.setMany!([
      ['a/1', 1],
      ['a/2', 2],
      ['a/3', 3],
    ])
    calls.length = 0
    expect(await adapter.list('a/', { limit: 2 })).toEqual({ keys: ['a/1', 'a/2'], cursor: 'a/2' })
    expect(await adapter.list('a/', { limit: 2, cursor: 'a/2' })).toEqual({ keys: ['a/3'] })
    expect(calls).toEqual(['list a/ - 3', 'list a/ a/2 3'])
  })
  it('refuses keys over 2,048 bytes and values over maxValueBytes (counted as V8 stores strings) before any call', async () => {
    const { storage, calls } = fakeStorage()
    const adapter = durableObjectStorage(storage, { maxValueBytes: 100 })
    expect(adapter.capabilities).toMatchObject({ maxKeyBytes: 2048, maxValueBytes: 100, consistency: 'strong', atomicBatch: true, compareAndSet: true })
    await adapter.set('k', 'a'.repeat(98)) // JSON text: 100 one-byte characters
    await expect(adapter.set('k', 'a'.repeat(99))).rejects.toThrow('durableObject: the value for "k" is over 100 bytes')
    // One character past U+00FF makes V8 store the whole string with two bytes per character.
    await expect(adapter.set('k', 'ā' + 'a'.repeat(48))).rejects.toMatchObject({ code: 'too_large', path: 'k' })
    await adapter.set('k', 'ā' + 'a'.repeat(47))
    await expect(adapter.setMany!([['ok', 1], ['ü'.repeat(1025), 1]])).rejects.toMatchObject({ code: 'too_large' })
    expect(calls).toEqual(['put 1', 'put 1'])
    expect(durableObjectStorage(storage).capabilities.maxValueBytes).toBe(131_072)
  })
})
