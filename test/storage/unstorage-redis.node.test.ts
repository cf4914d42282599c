import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createStorage, type Storage } from 'unstorage'
import redisDriver from 'unstorage/drivers/redis'
import { encodeKey, namespaced } from '../../src/storage/adapter.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { conformance } from './run.js'
import { redisMissing, startRedis, type RedisServer } from './redis.js'

// unstorage's Redis driver (ioredis) against a real redis-server this file starts and stops.
const missing = redisMissing()
if (missing) console.warn(`unstorage-redis tests skipped: ${missing}`)

let server: RedisServer | undefined
let storage: Storage | undefined
let client: Redis | undefined
beforeAll(async () => {
  if (missing) return
  server = await startRedis()
  client = new Redis(server.url, { lazyConnect: true })
  storage = createStorage({ driver: redisDriver({ url: server.url, base: 'agentctx-test' }) })
}, 20_000)
afterAll(async () => {
  await storage?.dispose()
  client?.disconnect()
  await server?.stop()
})

conformance(
  'unstorage (redis driver, real redis-server)',
  {
    make: async () => {
      await client!.flushdb()
      return unstorageStorage(storage!, { consistency: 'strong' })
    },
  },
  missing,
)

describe.skipIf(missing)('unstorage redis layout', () => {
  it('keeps our keys readable in Redis: driver base, then one `:` per key segment', async () => {
    await client!.flushdb()
    const store = namespaced(unstorageStorage(storage!), 'agentctx')
    await store.set(encodeKey(['ctx', '1', 'h']), { turns: 1 })
    await store.set(encodeKey(['ctx', '10', 'h']), { turns: 10 })
    expect((await client!.keys('*')).sort()).toEqual(['agentctx-test:_agentctx:_ctx:_10:_h:_', 'agentctx-test:_agentctx:_ctx:_1:_h:_'])
    expect(await client!.get('agentctx-test:_agentctx:_ctx:_1:_h:_')).toBe('{"turns":1}')
    expect((await store.list(encodeKey(['ctx', '1']))).keys).toEqual(['ctx/1/h/'])
  })
})
