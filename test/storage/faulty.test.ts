import { describe, expect, it } from 'vitest'
import { createStorage } from 'unstorage'
import { StorageError } from '../../src/errors.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { faulty } from './faulty.js'

describe('faulty (test-only crash injection)', () => {
  it('fails the k-th record written, then disarms so the next write works', async () => {
    const f = faulty(memoryStorage(), 2)
    await f.set('a', 1)
    const e = await f.set('b', 2).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(StorageError)
    expect(e).toMatchObject({ code: 'storage', path: 'b', message: 'memory: injected failure writing "b"' })
    expect(f.failAt).toBeUndefined()
    await f.set('b', 3)
    expect(await f.getMany!(['a', 'b'])).toEqual([1, 3])
    expect(f.writes).toBe(3)
  })
  it('fails a whole batch on an atomic backend', async () => {
    const f = faulty(memoryStorage(), 3)
    await expect(
      f.setMany!([
        ['a', 1],
        ['b', 2],
        ['c', 3],
        ['d', 4],
      ]),
    ).rejects.toThrow('injected failure writing "c"')
    expect((await f.list('')).keys).toEqual([])
  })
  it('leaves the records before the failing one on a non-atomic backend', async () => {
    const f = faulty(unstorageStorage(createStorage()), 3)
    await expect(
      f.setMany!([
        ['a', 1],
        ['b', 2],
        ['c', 3],
      ]),
    ).rejects.toThrow('injected failure writing "c"')
    expect((await f.list('')).keys).toEqual(['a', 'b'])
    f.failAt = f.writes + 1
    await expect(f.deleteMany!(['a', 'b'])).rejects.toThrow('injected failure writing "a"')
    expect((await f.list('')).keys).toEqual(['a', 'b'])
  })
  it('counts compareAndSet’s value and `also`, and fails it atomically', async () => {
    const f = faulty(memoryStorage())
    expect(await f.compareAndSet!('h', undefined, 1, [['t', 1]])).toBe(true)
    expect(f.writes).toBe(2)
    f.failAt = 4
    await expect(f.compareAndSet!('h', 1, 2, [['u', 2]])).rejects.toThrow('injected failure writing "u"')
    expect(await f.getMany!(['h', 'u'])).toEqual([1, undefined])
    expect(await f.compareAndSet!('h', 1, 2, [['u', 2]])).toBe(true)
  })
  it('mirrors the optional methods and capabilities of what it wraps', () => {
    const f = faulty(unstorageStorage(createStorage()))
    expect(f.compareAndSet).toBeUndefined()
    expect(f.capabilities.atomicBatch).toBe(false)
  })
})
