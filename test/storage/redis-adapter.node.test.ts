import { Redis as UpstashRedis } from '@upstash/redis'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ContextError, StorageError, ValidationError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'
import { encodeKey } from '../../src/storage/adapter.js'
import { redisStorage, type RedisClientLike, type RedisEval } from '../../src/storage/redis.js'
import { createContextStore } from '../../src/storage/store.js'
import { CLIENTS, redisClients } from './redis-clients.js'
import { runtime, sample } from './store-helpers.js'

// What the shared suites do not show: the key layout in Redis, compare-and-set against text spelled
// otherwise, values that are not ours, scripts flushed from the server's cache, Upstash's response
// options, client detection, and properties over open-ended keys and values.
const redis = redisClients()
const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

describe.skipIf(redis.missing)('redisStorage', () => {
  it("lays a context out under one hash tag: header, turns and chunks in one slot, one sorted-set index; the prefix goes first", async () => {
    const a = await redis.make('ioredis', { prefix: 'app:' })
    const store = createContextStore(a, { channel: false })
    const ctx = sample('s-1', 3, 40)
    await store.save(ctx)
    const keys = (await redis.raw().keys('*')).sort()
    expect(keys[0]).toBe('app:#index')
    const values = keys.slice(1)
    expect(values.length).toBeGreaterThan(3)
    // Every value key of context s-1 carries the tag {agentctx/s-1}: namespace and id, the first and third segments.
    for (const k of values) expect(k).toMatch(/^app:\{agentctx\/s-1\}:agentctx\/[hd]\/s-1\//)
    expect(await redis.raw().get('app:{agentctx/s-1}:agentctx/h/s-1/')).toMatch(/^\{"format":1,/)
    expect((await redis.raw().zrange('app:#index', 0, -1)).sort()).toEqual(values.map((k) => k.slice('app:{agentctx/s-1}:'.length)).sort())
    // Another prefix on the same database sees nothing of it.
    expect(await redisStorage(redis.client('ioredis'), { prefix: 'other:' }).list('')).toEqual({ keys: [] })
  })

  it('a "}" or "%" in a key cannot end or fake the hash tag', async () => {
    const a = await redis.make('ioredis')
    await a.set('ns/h/a}b%7D/', 1)
    await a.set('ns/h/a%7Db/', 2)
    expect((await redis.raw().keys('{*')).sort()).toEqual(['{ns/a%257Db}:ns/h/a%7Db/', '{ns/a%7Db%257D}:ns/h/a}b%7D/'])
    expect(await a.getMany!(['ns/h/a}b%7D/', 'ns/h/a%7Db/'])).toEqual([1, 2])
  })

  for (const name of CLIENTS) {
    it(`${name}: compareAndSet of a value stored with its keys in another order succeeds (a second round on the stored text), and fails once the value differs`, async () => {
      const a = await redis.make(name)
      // Written by hand: same JSON as {2:0,a:[1,{x:1,y:2}],b:1}, other text.
      await redis.raw().set('{k}:k', '{"b":1,"a":[1,{"y":2,"x":1}],"2":0}')
      await redis.raw().zadd('#index', 0, 'k')
      expect(await a.compareAndSet!('k', { '2': 0, a: [1, { x: 1, y: 2 }], b: 1 }, 'next', [['k/also', true]])).toBe(true)
      expect(await a.getMany!(['k', 'k/also'])).toEqual(['next', true])
      await redis.raw().set('{k}:k', '{"b":1,"a":[1,{"y":2,"x":1}],"2":0}')
      expect(await a.compareAndSet!('k', { '2': 0, a: [1, { x: 1, y: 3 }], b: 1 }, 'no')).toBe(false)
      expect(await a.compareAndSet!('k', { '2': 0, a: [1, { x: 1, y: 2 }] }, 'no')).toBe(false)
      expect(await redis.raw().get('{k}:k')).toBe('{"b":1,"a":[1,{"y":2,"x":1}],"2":0}')
    })

    it(`${name}: a stored value that is not JSON is a ValidationError (invalid_state) naming the key, in get, getMany and compareAndSet; another type at the key (WRONGTYPE) is a StorageError`, async () => {
      const a = await redis.make(name)
      await redis.raw().set('{bad}:bad', 'not json sk-secret')
      for (const call of [() => a.get('bad'), () => a.getMany!(['ok', 'bad']), () => a.compareAndSet!('bad', { v: 1 }, 2)] as (() => Promise<unknown>)[]) {
        const e = (await Promise.resolve().then(call).catch((x: unknown) => x)) as ContextError
        expect(e).toBeInstanceOf(ValidationError)
        expect([e.code, e.path]).toEqual(['invalid_state', 'bad'])
        expect(e.message).not.toContain('sk-secret')
      }
      await redis.raw().hset('{hash}:hash', 'f', 'sk-secret')
      const e = (await a.get('hash').catch((x: unknown) => x)) as StorageError
      expect(e).toBeInstanceOf(StorageError)
      expect(e.message).toMatch(/^redis: get of "hash" failed( \((ReplyError|UpstashError)\))?$/)
      expect(e.message).not.toContain('sk-secret')
    })

    it(`${name}: a SCRIPT FLUSH (or a restarted server) changes nothing: EVAL sends the script each time`, async () => {
      const a = await redis.make(name)
      await a.set('x', 1)
      await redis.raw().script('FLUSH')
      await a.set('y', 2)
      expect(await a.getMany!(['x', 'y'])).toEqual([1, 2])
      expect((await a.list('')).keys).toEqual(['x', 'y'])
      await redis.raw().script('FLUSH')
      expect(await a.compareAndSet!('x', 1, 3)).toBe(true)
    })

    it(`${name}: a key with a lone surrogate is refused before anything is sent (its UTF-8 form would alias another key)`, async () => {
      const a = await redis.make(name)
      for (const key of ['a\ud800', '\udc00b', 'x\udbff\udbffy']) {
        for (const call of [() => a.set(key, 1), () => a.get(key), () => a.list(key), () => a.compareAndSet!('ok', undefined, 1, [[key, 1]])] as (() => Promise<unknown>)[]) {
          const e = (await Promise.resolve().then(call).catch((x: unknown) => x)) as ContextError
          expect([e instanceof ValidationError, e.code, e.path]).toEqual([true, 'invalid_argument', key])
        }
      }
      expect(await redis.raw().dbsize()).toBe(0)
      await a.set('ok 🙂', 1)
      expect(await a.get('ok 🙂')).toBe(1)
    })
  }

  for (const name of CLIENTS) {
    it(`${name}: regression: a batch of 120,000 entries is written whole (it overflowed the call stack: 240,000 arguments spread into one call), staged in requests of 1,000; a staged compare-and-set that fails writes nothing`, async () => {
      const a = await redis.make(name)
      // Keys holding ':' and a newline: the staged form spells each as `<bytes>:<key><text>`.
      const entries = Array.from({ length: 120_000 }, (_, i): [string, Json] => [`big/${i}:é\n`, i])
      await a.setMany!(entries)
      expect((await a.list('big/', { limit: 3 })).keys).toEqual(entries.map(([k]) => k).sort(utf8Order).slice(0, 3))
      expect(await a.getMany!(['big/0:é\n', 'big/119999:é\n', 'big/x'])).toEqual([0, 119_999, undefined])
      expect(await redis.raw().zcard('#index')).toBe(120_000)
      const also = entries.slice(0, 5000).map(([k]): [string, Json] => [k, 'changed'])
      expect(await a.compareAndSet!('big/head', { stale: true }, 1, also)).toBe(false)
      expect(await a.compareAndSet!('big/head', undefined, 1, also)).toBe(true)
      expect(await a.getMany!(['big/head', 'big/0:é\n', 'big/4999:é\n', 'big/5000:é\n'])).toEqual([1, 'changed', 'changed', 5000])
      await a.deleteMany!(entries.slice(0, 1500).map(([k]) => k))
      expect(await a.getMany!(['big/0:é\n', 'big/1499:é\n', 'big/6000:é\n'])).toEqual([undefined, undefined, 6000])
      // No staging hash is left behind, written or refused.
      expect(await redis.raw().keys('*~*')).toEqual([])
    }, 120_000)
  }

  it('@upstash/redis with any response options: base64 or not, automatic deserialization on or off, auto-pipelining on or off', async () => {
    const { url, token } = redis.upstash()
    const values: Json[] = ['"quoted"', '123', 'true', 'null', '{"a":1}', 12345678901234567000, { b: '2', n: [1, '1'] }, 'ünï 🙂']
    for (const responseEncoding of [undefined, false] as const) {
      for (const automaticDeserialization of [true, false]) {
        for (const enableAutoPipelining of [true, false]) {
          const a = await redis.make('upstash')
          const client = new UpstashRedis({ url, token, retry: false, enableTelemetry: false, responseEncoding, automaticDeserialization, enableAutoPipelining })
          const s = redisStorage(client)
          const what = JSON.stringify({ responseEncoding, automaticDeserialization, enableAutoPipelining })
          await s.setMany!(values.map((v, i): [string, Json] => [`v/${i}`, v]))
          expect(await s.getMany!(values.map((_, i) => `v/${i}`)), what).toEqual(values)
          expect((await s.list('v/')).keys, what).toEqual(values.map((_, i) => `v/${i}`))
          expect(await s.compareAndSet!('v/6', { n: [1, '1'], b: '2' }, 'x'), what).toBe(true)
        }
      }
    }
    const paths = new Set(redis.upstash().requests.map((r) => r.path))
    expect([...paths].sort()).toEqual(['/', '/pipeline'])
  })

  it('a cursor from another prefix lists nothing outside the prefix: before it, from the start; past it, nothing', async () => {
    const a = await redis.make('ioredis')
    await a.setMany!([['a/1', 1], ['b/1', 1], ['b/2', 1], ['c/1', 1]])
    expect(await a.list('b/', { cursor: 'a/1' })).toEqual({ keys: ['b/1', 'b/2'] })
    expect(await a.list('b/', { cursor: 'c/0' })).toEqual({ keys: [] })
    expect(await a.list('b/', { cursor: 'b/1' })).toEqual({ keys: ['b/2'] })
  })

  it('an eval function is a client too (any library that can run EVAL)', async () => {
    await redis.raw().flushdb()
    const io = redis.client('ioredis') as unknown as { call(...a: (string | number)[]): Promise<unknown> }
    const run: RedisEval = (script, keys, args) => io.call('EVAL', script, keys.length, ...keys, ...args)
    const a = redisStorage(run)
    await a.set('f', { v: 1 })
    expect(await a.compareAndSet!('f', { v: 1 }, { v: 2 })).toBe(true)
    expect(await redisStorage(redis.client('ioredis')).get('f')).toEqual({ v: 2 })
  })

  it('anything else as a client is a ValidationError naming client', () => {
    for (const bad of [{}, { get() {} }, null, 'redis://127.0.0.1']) {
      expect(() => redisStorage(bad as unknown as RedisClientLike)).toThrowError(expect.objectContaining({ code: 'invalid_argument', path: 'client' }) as Error)
    }
  })

  it('maxValueBytes refuses a longer value (UTF-8 bytes of its JSON text) before any write, naming the key and not the value', async () => {
    const a = await redis.make('node-redis', { maxValueBytes: 100 })
    expect(a.capabilities.maxValueBytes).toBe(100)
    await a.set('v', 'é'.repeat(48)) // 96 bytes + 2 quotes: 98
    const e = (await a.setMany!([['w', 1], ['v', 'é'.repeat(50) + 'sk-secret']]).catch((x: unknown) => x)) as ContextError
    expect([e.code, e.path, e.message.includes('sk-secret')]).toEqual(['too_large', 'v', false])
    expect(await a.getMany!(['v', 'w'])).toEqual(['é'.repeat(48), undefined])
  })

  it('property: any batch of sets and deletes of any keys and JSON values reads back as a map would, listed in UTF-8 byte order', async () => {
    const key = fc.string({ unit: 'grapheme', maxLength: 8 })
    const op = fc.tuple(key, fc.option(fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, { nil: undefined }))
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { maxLength: 6 }), { maxLength: 5 }), fc.constantFrom(...CLIENTS), async (batches, name) => {
        const a = await redis.make(name)
        const model = new Map<string, Json>()
        for (const batch of batches) {
          const sets = batch.filter((o): o is [string, Json] => o[1] !== undefined)
          const dels = batch.filter((o) => o[1] === undefined).map((o) => o[0])
          await a.setMany!(sets)
          await a.deleteMany!(dels)
          for (const [k, v] of sets) model.set(k, JSON.parse(JSON.stringify(v)) as Json)
          for (const k of dels) model.delete(k)
        }
        const keys = [...model.keys()].sort(utf8Order)
        expect((await a.list('')).keys).toEqual(keys)
        expect(await a.getMany!(keys)).toEqual(keys.map((k) => model.get(k)))
      }),
      { numRuns: 30 },
    )
  })

  it('property: compareAndSet succeeds against any JSON value with its object keys in any order, and writes nothing against any other', async () => {
    // A copy of `v` with every object's keys reversed: equal JSON, other text (when it has 2+ keys).
    const reorder = (v: Json): Json =>
      Array.isArray(v) ? v.map(reorder) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)])) : v
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, fc.constantFrom(...CLIENTS), async (v, other, name) => {
        const a = await redis.make(name)
        // Stored with its keys in the reordered order, compared against the original.
        await a.set('c', reorder(v))
        const equal = JSON.stringify(other) === JSON.stringify(v) || JSON.stringify(reorder(other)) === JSON.stringify(reorder(v))
        if (!equal) expect(await a.compareAndSet!('c', other, 'no', [['c/x', 1]])).toBe(false)
        expect(await a.get('c/x')).toBeUndefined()
        expect(await a.compareAndSet!('c', v, 'yes', [['c/y', 1]])).toBe(true)
        expect(await a.getMany!(['c', 'c/y'])).toEqual(['yes', 1])
      }),
      { numRuns: 40 },
    )
  })

  it('a context saved through one client loads through the others (one layout whatever the client)', async () => {
    const [first, ...others] = CLIENTS
    const a = await redis.make(first!)
    const ctx = sample('shared', 30, 70)
    await createContextStore(a, { channel: false }).save(ctx)
    for (const name of others) {
      const loaded = await createContextStore(redisStorage(redis.client(name)), { channel: false, runtime }).load('shared')
      await loaded!.loadTurns({ all: true })
      expect(loaded!.toJSON()).toEqual(ctx.toJSON())
      expect(loaded).toBeInstanceOf(Context)
    }
    expect(encodeKey(['h', 'shared'])).toBe('h/shared/')
  })
})
