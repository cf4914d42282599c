import { afterAll, beforeAll } from 'vitest'
import { Redis } from 'ioredis'
import { createStorage, type Storage } from 'unstorage'
import redisDriver from 'unstorage/drivers/redis'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { redisMissing, startRedis, type RedisServer } from './redis.js'
import { storeSuite } from './store-run.js'

// The context store on unstorage's Redis driver against a real redis-server this file starts and stops.
const missing = redisMissing()
if (missing) console.warn(`context store on unstorage-redis skipped: ${missing}`)

let server: RedisServer | undefined
let storage: Storage | undefined
let client: Redis | undefined
beforeAll(async () => {
  if (missing) return
  server = await startRedis()
  client = new Redis(server.url, { lazyConnect: true })
  storage = createStorage({ driver: redisDriver({ url: server.url, base: 'agentctx-store-test' }) })
}, 20_000)
afterAll(async () => {
  await storage?.dispose()
  client?.disconnect()
  await server?.stop()
})

storeSuite(
  'unstorage (redis driver, real redis-server)',
  {
    make: async () => {
      await client!.flushdb()
      return unstorageStorage(storage!, { consistency: 'strong' })
    },
  },
  missing,
)
