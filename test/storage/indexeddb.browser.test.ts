import { describe, expect, it } from 'vitest'
import { promisifyRequest } from 'idb-keyval'
import { indexedDBStorage } from '../../src/storage/indexeddb.js'
import { conformance } from './run.js'

// A database per adapter: idb-keyval keeps its connection open, so deleting one would block; the
// browser profile of a test run is thrown away anyway.
const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let n = 0
const freshName = () => `agentctx-test-${run}-${n++}`

/** Creates database `dbName` holding only the object store `storeName`. */
async function createDatabase(dbName: string, storeName: string): Promise<void> {
  const open = indexedDB.open(dbName, 1)
  open.onupgradeneeded = () => open.result.createObjectStore(storeName)
  ;(await promisifyRequest(open)).close()
}

conformance('indexedDB', {
  make: async () => indexedDBStorage({ dbName: freshName() }),
  // A database agentctx did not create, without its store: every call fails with NotFoundError.
  broken: async () => {
    const dbName = freshName()
    await createDatabase(dbName, 'someone-else')
    return indexedDBStorage({ dbName, storeName: 'kv' })
  },
})

describe('indexedDBStorage', () => {
  it("uses database 'agentctx', store 'kv' by default, and stores JSON text", async () => {
    const adapter = indexedDBStorage()
    await adapter.set(`default-check-${run}`, { a: [1] })
    const db = await promisifyRequest(indexedDB.open('agentctx'))
    const text = await promisifyRequest(db.transaction('kv').objectStore('kv').get(`default-check-${run}`))
    db.close()
    expect(text).toBe('{"a":[1]}')
    await adapter.delete(`default-check-${run}`)
  })

  it('serializes compareAndSet across two connections to one database: one writer of eight wins', async () => {
    const dbName = freshName()
    const [a, b] = [indexedDBStorage({ dbName }), indexedDBStorage({ dbName })]
    await a.set('h', { v: 0 })
    const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).compareAndSet!('h', { v: 0 }, { v: i + 1 }, [[`t/${i}`, i]])))
    expect(wins.filter(Boolean)).toHaveLength(1)
    const winner = wins.indexOf(true)
    expect(await b.get('h')).toEqual({ v: winner + 1 })
    expect((await a.list('t/')).keys).toEqual([`t/${winner}`])
  })

  it('bounds a prefix listing exactly, even with U+FFFF code units in keys', async () => {
    const adapter = indexedDBStorage({ dbName: freshName() })
    const keys = ['z', 'z\uffff', 'z\uffffx', 'z\uffff\uffff', 'z\uffff\uffff\uffff', 'zz', '\uffff', '\uffff\uffff']
    await adapter.setMany!(keys.map((k) => [k, k]))
    expect((await adapter.list('z\uffff')).keys).toEqual(['z\uffff', 'z\uffffx', 'z\uffff\uffff', 'z\uffff\uffff\uffff'])
    expect((await adapter.list('\uffff')).keys).toEqual(['\uffff', '\uffff\uffff'])
    expect((await adapter.list('z')).keys).toEqual(['z', 'zz', 'z\uffff', 'z\uffffx', 'z\uffff\uffff', 'z\uffff\uffff\uffff'])
    expect(await adapter.list('', { limit: 3 })).toEqual({ keys: ['z', 'zz', 'z\uffff'], cursor: 'z\uffff' })
    // A cursor past the prefix's range: an empty page, not an IDBKeyRange DataError.
    expect(await adapter.list('z\uffff', { cursor: '\uffff' })).toEqual({ keys: [] })
    // A cursor before the prefix (not one this adapter returned): the page still holds only the prefix's keys.
    expect((await adapter.list('z\uffff', { cursor: 'a' })).keys).toEqual(['z\uffff', 'z\uffffx', 'z\uffff\uffff', 'z\uffff\uffff\uffff'])
  })

  it('names the missing store in a StorageError, without the value', async () => {
    const dbName = freshName()
    await createDatabase(dbName, 'other')
    const e = await indexedDBStorage({ dbName, storeName: 'kv' })
      .set('ctx/1/', { secret: 'hunter2' })
      .catch((x: unknown) => x as Error)
    expect(e).toMatchObject({ name: 'StorageError', code: 'storage', path: 'ctx/1/' })
    expect(String(e)).toBe('StorageError: indexedDB: set of "ctx/1/" failed (NotFoundError)')
  })
})
