import { describe, expect, it } from 'vitest'
import { Context, internals } from '../../src/context.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'

/**
 * A sealed turn changed after it was written (the agent adds a background event to the turn that
 * started its task, `Turns.setAt`) is written again by the next save, and that save's failure
 * neither loses the change for the save after it nor breaks the stored version.
 */
function faulty(adapter: StorageAdapter, cas: boolean) {
  let armed = false
  const wrapped = Object.create(adapter) as Record<string, unknown>
  const fail = (name: string) => {
    const f = (adapter as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!
    wrapped[name] = (...a: unknown[]) => {
      if (armed) {
        armed = false
        return Promise.reject(new Error(`disk full during ${name}`))
      }
      return f.apply(adapter, a)
    }
  }
  if (cas) fail('compareAndSet')
  else {
    // Without compare-and-set the header is the last write, through `set`: the crash comes after the records.
    fail('set')
    delete wrapped.compareAndSet
    wrapped.compareAndSet = undefined
    wrapped.capabilities = { ...adapter.capabilities, compareAndSet: false }
  }
  return { adapter: wrapped as unknown as StorageAdapter, arm: () => (armed = true) }
}

async function sessionWithSealedTurn1(adapter: StorageAdapter) {
  const store = createContextStore(adapter, { channel: false, recentTurns: 0 })
  const ctx = new Context({ contextId: 's' })
  ctx.addResponse({ text: 'greeting' })
  for (const t of ['one', 'two', 'three']) {
    ctx.addRequest(t)
    ctx.addResponse({ text: `re ${t}` })
    await store.save(ctx)
  }
  return { store, ctx }
}

const addition = { text: 're one', background: [{ type: 'text_to_speech', data: { text: 'ready' }, timestamp: '2026-01-01T00:00:00.000Z', background: { task: 'order' }, turn: 1 }] }

describe('a sealed turn changed after it was written', () => {
  for (const cas of [true, false]) {
    it(`is written again by the next save; a failed save keeps it for the one after (${cas ? 'compare-and-set' : 'no compare-and-set'})`, async () => {
      const { adapter, arm } = faulty(memoryStorage(), cas)
      const { store, ctx } = await sessionWithSealedTurn1(adapter)
      const fresh = () => createContextStore(adapter, { channel: false, recentTurns: 0 })
      expect(internals(ctx).turns.setAt(1, 'response', addition)).toBe(true)
      arm()
      await expect(store.save(ctx)).rejects.toThrow('disk full')
      // The stored version still loads whole. With compare-and-set nothing of the failed save was
      // written; without, the record went first and the previous header reads it: the addition
      // appears early, nothing is lost.
      const after = (await fresh().load('s'))!
      expect(after.currentTurnId).toBe(3)
      expect((await after.getTurn(1))?.response).toEqual(cas ? { text: 're one' } : addition)
      expect((await after.getTurn(2))?.response).toEqual({ text: 're two' })
      await store.save(ctx)
      const saved = (await fresh().load('s'))!
      expect((await saved.getTurn(1))?.response).toEqual(addition)
      expect(saved.responses.get(3)).toEqual({ text: 're three' })
    })
  }

  it('an old stored turn without background loads and gains one; a turn not in memory is never overwritten', async () => {
    const adapter = memoryStorage()
    const { store } = await sessionWithSealedTurn1(adapter)
    const loaded = (await store.load('s'))! // recentTurns 0: turn 1 is not in memory
    expect(internals(loaded).turns.setAt(1, 'response', { text: 'clobbered' })).toBe(false)
    await store.save(loaded)
    expect((await (await store.load('s'))!.getTurn(1))?.response).toEqual({ text: 're one' })
  })
})
