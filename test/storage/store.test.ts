import { describe, expect, it } from 'vitest'
import { createStorage } from 'unstorage'
import { Context } from '../../src/context.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { recordingUnstorage } from './recorders.js'
import { recordingCalls, withoutCas, type BackendWrite } from './store-helpers.js'
import { storeSuite } from './store-run.js'

// The context store on the memory adapter and on unstorage's memory driver (no compareAndSet), in
// Node and in Chromium. store.browser.test.ts runs it on IndexedDB and localStorage,
// store-workerd.node.test.ts on Workers KV and Durable Objects, store-redis.node.test.ts on Redis.
storeSuite('memory', { make: async () => memoryStorage() })
storeSuite('memory without compareAndSet', {
  make: async () => withoutCas(memoryStorage()),
  recorded: async () => {
    const log: BackendWrite[] = []
    return { adapter: recordingCalls(withoutCas(memoryStorage()), log), log }
  },
})
storeSuite('unstorage (memory driver)', {
  make: async () => unstorageStorage(createStorage(), { consistency: 'strong' }),
  recorded: async () => {
    const log: BackendWrite[] = []
    return { adapter: unstorageStorage(recordingUnstorage(createStorage(), log), { consistency: 'strong' }), log }
  },
})

describe('createContextStore', () => {
  it('subscribe without a channel returns a no-op unsubscribe', () => {
    const store = createContextStore(memoryStorage(), { channel: false })
    const off = store.subscribe(() => {
      throw new Error('never called')
    })
    expect(off()).toBeUndefined()
  })

  it('keeps the documented layout: header, zero-padded turn records, 32-message chunks', async () => {
    const adapter = memoryStorage()
    const store = createContextStore(adapter, { channel: false })
    const ctx = Context.init({ flow: 'f', node: 'start' }, { id: 'a/b' })
    ctx.addRequest('one')
    ctx.addRequest('two')
    for (let i = 0; i < 33; i++) ctx.addCompletionMessage({ role: 'user', content: `m${i}` })
    await store.save(ctx)
    const keys = (await adapter.list('')).keys
    expect(keys.map((k) => k.replace(/\/d\/a%2Fb\/[^/]+\//, '/d/a%2Fb/<epoch>/'))).toEqual([
      'agentctx/d/a%2Fb/<epoch>/m/0/0000000000/',
      'agentctx/d/a%2Fb/<epoch>/t/0000000000/',
      'agentctx/d/a%2Fb/<epoch>/t/0000000001/',
      'agentctx/h/a%2Fb/',
    ])
    const header = (await adapter.get('agentctx/h/a%2Fb/')) as Record<string, unknown>
    expect(header).toMatchObject({ format: 1, rev: 1, sealed: 1, tail: [{ id: 2, request: { text: 'two' } }], msg: { gen: 0, chunks: 1, tail: [{ role: 'user', content: 'm32' }] } })
    expect(Object.keys(header.state as object)).not.toContain('turns')
    expect(Object.keys(header.state as object)).not.toContain('messages')
  })
})
