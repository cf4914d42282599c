import { Redis as UpstashRedis } from '@upstash/redis'
import { redisStorage, type RedisClientLike } from '../../src/storage/redis.js'
import { SECRET } from './conformance.js'
import { vi } from 'vitest'
import { CLIENTS, redisClients } from './redis-clients.js'
import { conformance } from './run.js'

// redisStorage against a real redis-server this file starts, through each client: ioredis and
// node-redis over RESP, @upstash/redis over REST through the loopback Upstash server.
const redis = redisClients()
// A case through @upstash/redis makes hundreds of HTTP requests (each a round trip through the
// loopback REST server): 5 s is too short on a loaded 2-core machine (seen at load average 19).
vi.setConfig({ testTimeout: 60_000 })

/** A client of the same shape whose every call fails with a message holding SECRET, as a backend might echo a value. */
function failing(client: RedisClientLike): RedisClientLike {
  const fail = () => Promise.reject(new Error(`ERR something broke near ${SECRET}`))
  return new Proxy(client, { get: (target, p) => (p === 'eval' ? fail : Reflect.get(target, p)) })
}

for (const name of CLIENTS) {
  conformance(
    `redis (${name}, real redis-server)`,
    {
      make: () => redis.make(name),
      broken: async () =>
        name === 'upstash'
          ? // A real refusal: the wrong token gets 401, and @upstash/redis's error quotes the whole
            // command it sent (values included) in its message.
            redisStorage(new UpstashRedis({ url: redis.upstash().url, token: 'wrong', retry: false, enableTelemetry: false }))
          : redisStorage(failing(redis.client(name))),
    },
    redis.missing,
  )
}
