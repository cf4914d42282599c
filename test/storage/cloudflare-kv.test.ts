import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { cloudflareKVStorage, type KVNamespaceLike } from '../../src/storage/cloudflare-kv.js'

/** A KV binding in memory that records calls and returns list pages of `pageSize` at most (KV may return short pages). */
function fakeKV(pageSize = 1000) {
  const data = new Map<string, string>()
  const calls: string[] = []
  const kv: KVNamespaceLike = {
    get: async (key, type) => (calls.push(`get ${key} ${type}`), data.get(key) ?? null),
    put: async (key, value, options) => void (calls.push(`put ${key} ${JSON.stringify(options ?? null)}`), data.set(key, value)),
    delete: async (key) => void (calls.push(`delete ${key}`), data.delete(key)),
    list: async ({ prefix = '', cursor, limit = 1000 }) => {
      calls.push(`list ${prefix} ${cursor ?? '-'} ${limit}`)
      const keys = [...data.keys()].filter((k) => k.startsWith(prefix)).sort()
      const start = cursor ? Number(cursor) : 0
      const page = keys.slice(start, start + Math.min(limit, pageSize))
      const end = start + page.length
      return end < keys.length ? { keys: page.map((name) => ({ name })), list_complete: false, cursor: String(end) } : { keys: page.map((name) => ({ name })), list_complete: true }
    },
  }
  return { kv, data, calls }
}

// The workerd runner (workerd.node.test.ts) runs the conformance suite on a real KV namespace; these
// check what a local fake can show exactly: which calls are made.
describe('cloudflareKVStorage', () => {
  it('reads text and parses it itself, and writes JSON text', async () => {
    const { kv, data, calls } = fakeKV()
    const adapter = cloudflareKVStorage(kv)
    await adapter.set('k', { a: [1] })
    expect(data.get('k')).toBe('{"a":[1]}')
    expect(await adapter.get('k')).toEqual({ a: [1] })
    expect(calls).toEqual(['put k null', 'get k text'])
  })
  it('passes expirationTtl to every put, and refuses one under 60 seconds', async () => {
    const { kv, calls } = fakeKV()
    await cloudflareKVStorage(kv, { expirationTtl: 3600 }).setMany!([
      ['a', 1],
      ['b', 2],
    ])
    expect(calls).toEqual(['put a {"expirationTtl":3600}', 'put b {"expirationTtl":3600}'])
    for (const bad of [59, 0, 60.5, Number.NaN]) {
      expect(() => cloudflareKVStorage(kv, { expirationTtl: bad })).toThrow(expect.objectContaining({ code: 'invalid_argument', path: 'expirationTtl' }))
    }
  })
  it('follows KV cursors and list_complete, even through pages shorter than the limit', async () => {
    const { kv } = fakeKV(3)
    const adapter = cloudflareKVStorage(kv)
    await adapter.setMany!(Array.from({ length: 8 }, (_, i): [string, number] => [`p/${i}`, i]))
    const first = await adapter.list('p/', { limit: 5 })
    expect(first).toEqual({ keys: ['p/0', 'p/1', 'p/2'], cursor: '3' })
    const keys = [...first.keys]
    for (let cursor = first.cursor; cursor; ) {
      const page = await adapter.list('p/', { limit: 5, cursor })
      keys.push(...page.keys)
      cursor = page.cursor
    }
    expect(keys).toEqual(['p/0', 'p/1', 'p/2', 'p/3', 'p/4', 'p/5', 'p/6', 'p/7'])
  })
  it('checks every key and value of a batch before the first put', async () => {
    const { kv, calls } = fakeKV()
    const adapter = cloudflareKVStorage(kv)
    const big = 'x'.repeat(25 * 1024 * 1024)
    const cases: [string, [string, string][], string][] = [
      ['a 513-byte key', [['ok', 'v'], ['k'.repeat(513), 'v']], 'too_large'],
      ['a 171-character key of 3-byte characters', [['ok', 'v'], ['日'.repeat(171), 'v']], 'too_large'],
      ['a value over 25 MiB', [['ok', 'v'], ['big', big]], 'too_large'],
      ['an empty key', [['ok', 'v'], ['', 'v']], 'invalid_argument'],
      ['the key "."', [['ok', 'v'], ['.', 'v']], 'invalid_argument'],
      ['the key ".."', [['ok', 'v'], ['..', 'v']], 'invalid_argument'],
    ]
    for (const [label, entries, code] of cases) {
      const e = await adapter.setMany!(entries).catch((x: unknown) => x)
      expect(e, label).toBeInstanceOf(ValidationError)
      expect((e as ValidationError).code, label).toBe(code)
      expect((e as ValidationError).path, label).toBe(entries[1]![0])
      expect((e as Error).message.length, label).toBeLessThan(200)
    }
    expect(calls).toEqual([])
    await adapter.set('日'.repeat(170) + 'ab', 'fits: 512 bytes')
    expect(calls).toHaveLength(1)
  })
  it('declares no compareAndSet, eventual consistency, and KV’s limits', () => {
    const adapter = cloudflareKVStorage(fakeKV().kv)
    expect(adapter.compareAndSet).toBeUndefined()
    expect(adapter.capabilities).toEqual({ atomicBatch: false, compareAndSet: false, consistency: 'eventual', maxKeyBytes: 512, maxValueBytes: 26_214_400 })
  })
})
