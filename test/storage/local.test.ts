import { describe, expect, it } from 'vitest'
import { ContextError, StorageError } from '../../src/errors.js'
import { localStorageStorage } from '../../src/storage/local.js'
import { conformance } from './run.js'
import { brokenStorage, FakeStorage } from './fake-storage.js'

// The adapter's logic on a Web Storage stand-in, in Node and Chromium; local.browser.test.ts runs it on the real ones.
conformance('localStorage (FakeStorage)', {
  make: async () => localStorageStorage({ storage: new FakeStorage() }),
  broken: async () => localStorageStorage({ storage: brokenStorage() }),
})

describe('localStorageStorage with a full quota', () => {
  const fill = () => {
    const storage = new FakeStorage(1000)
    return { storage, local: localStorageStorage({ storage, prefix: 'app/' }) }
  }
  it('refuses a value over the quota with a StorageError saying so, and keeps the previous value', async () => {
    const { storage, local } = fill()
    await local.set('k', 'small')
    const e = await local.set('k', 'x'.repeat(2000)).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(StorageError)
    expect((e as StorageError).code).toBe('storage')
    expect((e as StorageError).message).toBe('localStorage: writing "k" failed: the storage quota is full')
    expect((e as StorageError).path).toBe('k')
    expect(await local.get('k')).toBe('small')
    expect(storage.getItem('app/k')).toBe('"small"')
  })
  it('writes none of a setMany that overflows midway: earlier entries get their previous text back', async () => {
    const { storage, local } = fill()
    await local.setMany!([
      ['a', 'old a'],
      ['c', 'old c'],
    ])
    const before = storage.used
    const e = await local
      .setMany!([
        ['a', 'new a, longer than before'],
        ['b', 'brand new'],
        ['c', 'y'.repeat(990)],
        ['d', 'never reached'],
      ])
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(StorageError)
    expect((e as StorageError).message).toMatch(/writing "c" failed: the storage quota is full/)
    expect(await local.getMany!(['a', 'b', 'c', 'd'])).toEqual(['old a', undefined, 'old c', undefined])
    expect(storage.used).toBe(before)
  })
  it('writes none of a compareAndSet whose `also` overflows, and the next one still works', async () => {
    const { local } = fill()
    await local.set('h', 1)
    await expect(local.compareAndSet!('h', 1, 2, [['t', 'z'.repeat(2000)]])).rejects.toThrow(/quota is full/)
    expect(await local.getMany!(['h', 't'])).toEqual([1, undefined])
    expect(await local.compareAndSet!('h', 1, 2, [['t', 'ok']])).toBe(true)
    expect(await local.getMany!(['h', 't'])).toEqual([2, 'ok'])
  })
  it('keeps its keys under the prefix and lists only those', async () => {
    const storage = new FakeStorage()
    storage.setItem('other', 'not JSON at all')
    const local = localStorageStorage({ storage, prefix: 'agentctx:' })
    await local.set('a', 1)
    expect(storage.getItem('agentctx:a')).toBe('1')
    expect((await local.list('')).keys).toEqual(['a'])
  })
  it('reads a hand-edited value that is not JSON as an invalid_state error naming the key, not its text', async () => {
    const storage = new FakeStorage()
    storage.setItem('ctx/1/', '{"secret": oops')
    const e = (await localStorageStorage({ storage }).get('ctx/1/').catch((x: unknown) => x)) as ContextError
    expect(e).toBeInstanceOf(ContextError)
    expect(e.code).toBe('invalid_state')
    expect(e.message).toBe('localStorage: the stored value of "ctx/1/" is not JSON')
  })
  it.skipIf(typeof sessionStorage === 'undefined')('names sessionStorage when given it (browsers only)', () => {
    expect(localStorageStorage({ storage: sessionStorage }).name).toBe('sessionStorage')
  })
  it.skipIf(typeof localStorage !== 'undefined')('is a StorageError where the runtime has no localStorage', () => {
    expect(() => localStorageStorage()).toThrow(new StorageError('localStorage is not available in this runtime'))
  })
})
