import { afterAll, describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ContextConflictError } from '../../src/errors.js'
import { indexedDBStorage } from '../../src/storage/indexeddb.js'
import { localStorageStorage } from '../../src/storage/local.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore, type ContextChange } from '../../src/storage/store.js'
import { recordingWebStorage } from './recorders.js'
import { addTurns, sample, type BackendWrite } from './store-helpers.js'
import { storeSuite } from './store-run.js'

// The context store on IndexedDB and localStorage in real Chromium, and its BroadcastChannel.
const run = `agentctx-store-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let n = 0
afterAll(() => {
  for (let i = localStorage.length - 1; i >= 0; i--) if (localStorage.key(i)?.startsWith(run)) localStorage.removeItem(localStorage.key(i)!)
})

// The writes IndexedDB receives, by database name: idb-keyval writes with `put(value, key)` and
// `delete(key)` on an object store, patched here to log them first.
const idbLogs = new Map<string, BackendWrite[]>()
const { put, delete: del } = IDBObjectStore.prototype
IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
  idbLogs.get(this.transaction.db.name)?.push([key as string, JSON.parse(value as string)])
  return put.call(this, value, key)
}
IDBObjectStore.prototype.delete = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
  idbLogs.get(this.transaction.db.name)?.push([key as string, undefined])
  return del.call(this, key)
}
afterAll(() => {
  IDBObjectStore.prototype.put = put
  IDBObjectStore.prototype.delete = del
})

storeSuite('indexedDB', {
  make: async () => indexedDBStorage({ dbName: `${run}-${n++}` }),
  recorded: async () => {
    const dbName = `${run}-${n++}`
    const log: BackendWrite[] = []
    idbLogs.set(dbName, log)
    return { adapter: indexedDBStorage({ dbName }), log }
  },
})
storeSuite('localStorage', {
  make: async () => localStorageStorage({ prefix: `${run}/${n++}/` }),
  recorded: async () => {
    const prefix = `${run}/${n++}/`
    const log: BackendWrite[] = []
    return { adapter: localStorageStorage({ prefix, storage: recordingWebStorage(localStorage, prefix, log) }), log }
  },
})

describe('context store across tabs (two IndexedDB connections)', () => {
  it('a second tab saving from the same version gets a ContextConflictError, and its retry keeps both', async () => {
    const dbName = `${run}-tabs`
    const [tab1, tab2] = [createContextStore(indexedDBStorage({ dbName })), createContextStore(indexedDBStorage({ dbName }))]
    await tab1.save(sample('shared', 5, 10))
    const [a, b] = [(await tab1.load('shared'))!, (await tab2.load('shared'))!]
    addTurns(a, 1, 'A')
    addTurns(b, 1, 'B')
    await tab1.save(a)
    await expect(tab2.save(b)).rejects.toBeInstanceOf(ContextConflictError)
    const retry = (await tab2.load('shared'))!
    addTurns(retry, 1, 'B')
    await tab2.save(retry)
    const back = (await tab1.load('shared'))!
    expect([...back.requests.values()].slice(-2).map((r) => r.text)).toEqual(['q6A', 'q7B'])
  })
})

describe('context store BroadcastChannel', () => {
  /** Resolves with the changes `store` hears once `until` is among them. */
  function hear(subscribe: (l: (c: ContextChange) => void) => () => void, until: (c: ContextChange) => boolean) {
    const heard: ContextChange[] = []
    let off!: () => void
    const done = new Promise<ContextChange[]>((resolve) => {
      off = subscribe((c) => {
        heard.push(c)
        if (until(c)) resolve(heard)
      })
    })
    return { done, heard, off: () => off() }
  }

  it('tells a store in another tab about saves and deletes of its namespace, not its own nor other namespaces', async () => {
    const adapter = memoryStorage()
    const namespace = `bc-${run}`
    const [tab1, tab2] = [createContextStore(adapter, { namespace }), createContextStore(adapter, { namespace })]
    const other = createContextStore(adapter, { namespace: `${namespace}-other` })
    const otherHeard = hear(createContextStore(adapter, { namespace: `${namespace}-other` }).subscribe, (c) => c.id === 'o')
    const listen = hear(tab2.subscribe, (c) => c.id === 'end')

    const ctx = await tab1.open('c1')
    ctx.addRequest('hi')
    await tab1.save(ctx)
    ctx.addRequest('again')
    await tab1.save(ctx)
    await tab2.save(new Context({ contextId: 'own' })) // tab2's own save: not reported to tab2
    const o = new Context({ contextId: 'o' })
    await other.save(o)
    await otherHeard.done // the other namespace's channel has delivered it
    await tab1.delete('c1')
    await tab1.save(new Context({ contextId: 'end' }))
    expect(await listen.done).toEqual([
      { id: 'c1', rev: 1 },
      { id: 'c1', rev: 2 },
      { id: 'c1', rev: undefined },
      { id: 'end', rev: 1 },
    ])
    expect(otherHeard.heard).toEqual([{ id: 'o', rev: 1 }])

    // After unsubscribe nothing more; a second subscriber still hears.
    listen.off()
    const again = hear(tab2.subscribe, (c) => c.id === 'end2')
    await tab1.save(new Context({ contextId: 'end2' }))
    expect(await again.done).toEqual([{ id: 'end2', rev: 1 }])
    expect(listen.heard).toHaveLength(4)
    again.off()
    otherHeard.off()
  })

  it('uses the channel name given, and none with channel: false', async () => {
    const adapter = memoryStorage()
    const named = createContextStore(adapter, { channel: `custom-${run}` })
    const raw = new BroadcastChannel(`custom-${run}`)
    const got = new Promise((resolve) => (raw.onmessage = (e) => resolve(e.data)))
    await named.save(new Context({ contextId: 'x' }))
    expect(await got).toEqual({ id: 'x', rev: 1 })
    raw.close()
    expect(createContextStore(adapter, { channel: false }).subscribe(() => {})).toBeTypeOf('function')
  })
})
