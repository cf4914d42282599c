import { afterAll, describe, expect, it } from 'vitest'
import { StorageError } from '../../src/errors.js'
import { localStorageStorage } from '../../src/storage/local.js'
import { conformance } from './run.js'
import { brokenStorage } from './fake-storage.js'

// Each adapter gets a prefix of its own inside the real storage areas, removed after the file.
const run = `agentctx-test-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}/`
let n = 0
const cleanUp = (storage: Storage) => {
  for (let i = storage.length - 1; i >= 0; i--) if (storage.key(i)?.startsWith(run)) storage.removeItem(storage.key(i)!)
}
afterAll(() => {
  cleanUp(localStorage)
  cleanUp(sessionStorage)
})

conformance('localStorage', {
  make: async () => localStorageStorage({ prefix: `${run}${n++}/` }),
  broken: async () => localStorageStorage({ storage: brokenStorage() }),
})
conformance('sessionStorage', {
  make: async () => localStorageStorage({ storage: sessionStorage, prefix: `${run}${n++}/` }),
})

describe('localStorageStorage in Chromium', () => {
  it('uses window.localStorage by default and names sessionStorage when given it', async () => {
    const local = localStorageStorage({ prefix: run })
    expect(local.name).toBe('localStorage')
    await local.set('default', [1])
    expect(localStorage.getItem(`${run}default`)).toBe('[1]')
    expect(localStorageStorage({ storage: sessionStorage }).name).toBe('sessionStorage')
  })

  it('turns a real QuotaExceededError into a StorageError and half-writes nothing', async () => {
    const local = localStorageStorage({ prefix: `${run}quota/` })
    await local.setMany!([
      ['h', { v: 1 }],
      ['t/1', 'turn one'],
    ])
    // Fill the origin's area to within 1,024 characters: 1 Mi-character chunks, halved on each refusal.
    const filler: string[] = []
    try {
      let chunk = 'f'.repeat(1 << 20)
      while (chunk.length >= 1024) {
        try {
          localStorage.setItem(`${run}fill/${filler.length}`, chunk)
          filler.push(`${run}fill/${filler.length}`)
        } catch (e) {
          expect((e as DOMException).name).toBe('QuotaExceededError')
          chunk = chunk.slice(0, chunk.length >> 1)
        }
      }
      expect(filler.length).toBeGreaterThan(0)
      const big = 'b'.repeat(64 * 1024)

      const e = (await local.set('h', { v: 2, big }).catch((x: unknown) => x)) as StorageError
      expect(e).toBeInstanceOf(StorageError)
      expect(e.code).toBe('storage')
      expect(e.message).toBe('localStorage: writing "h" failed: the storage quota is full')
      expect((e.cause as DOMException).name).toBe('QuotaExceededError')
      expect(await local.get('h')).toEqual({ v: 1 })

      await expect(
        local.setMany!([
          ['t/1', 'changed'],
          ['t/2', 'new'],
          ['t/3', big],
        ]),
      ).rejects.toThrow(/writing "t\/3" failed: the storage quota is full/)
      expect(await local.getMany!(['t/1', 't/2', 't/3'])).toEqual(['turn one', undefined, undefined])

      await expect(local.compareAndSet!('h', { v: 1 }, { v: 2 }, [['t/2', big]])).rejects.toThrow(/quota is full/)
      expect(await local.getMany!(['h', 't/2'])).toEqual([{ v: 1 }, undefined])
    } finally {
      for (const k of filler) localStorage.removeItem(k)
    }
    // With room again, the same writes succeed.
    expect(await local.compareAndSet!('h', { v: 1 }, { v: 2 }, [['t/2', 'two']])).toBe(true)
    expect(await local.getMany!(['h', 't/2'])).toEqual([{ v: 2 }, 'two'])
  })

  it('has BroadcastChannel, which the context store will use to tell other tabs', async () => {
    expect(typeof BroadcastChannel).toBe('function')
    const [a, b] = [new BroadcastChannel(run), new BroadcastChannel(run)]
    const got = new Promise((resolve) => (b.onmessage = (e) => resolve(e.data)))
    a.postMessage({ changed: 'ctx/1/' })
    expect(await got).toEqual({ changed: 'ctx/1/' })
    a.close()
    b.close()
  })
})
