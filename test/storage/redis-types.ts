/**
 * Compile-time checks (run by `tsc --noEmit`, not by vitest): each client's own type is accepted by
 * `redisStorage` as it comes, so `redisStorage(new Redis())`, `redisStorage(createClient())` and
 * `redisStorage(new Upstash({ url, token }))` typecheck for users without a cast.
 */
import type { Redis as UpstashRedis } from '@upstash/redis'
import type { Cluster, Redis } from 'ioredis'
import type { createClient, createCluster } from 'redis'
import type { IORedisLike, NodeRedisLike, RedisClientLike, UpstashRedisLike } from '../../src/storage/redis.js'

export const ioredis = (client: Redis): IORedisLike => client
export const ioredisCluster = (client: Cluster): IORedisLike => client
export const nodeRedis = (client: ReturnType<typeof createClient>): NodeRedisLike => client
export const nodeRedisCluster = (client: ReturnType<typeof createCluster>): NodeRedisLike => client
export const upstash = (client: UpstashRedis): UpstashRedisLike => client
export const any = (client: Redis | ReturnType<typeof createClient> | UpstashRedis): RedisClientLike => client

/** The README's and docs/redis.md's setup snippets, compiled (never run). */
export async function snippets(url: string, token: string): Promise<unknown[]> {
  const { Redis: IORedis, Cluster: IOCluster } = await import('ioredis')
  const { createClient } = await import('redis')
  const { Redis: Upstash } = await import('@upstash/redis')
  const { redisStorage } = await import('../../src/storage/redis.js')
  const { createContextStore } = await import('../../src/storage/store.js')
  const node = await createClient({ url }).connect()
  return [
    createContextStore(redisStorage(new IORedis(url))),
    createContextStore(redisStorage(node)),
    createContextStore(redisStorage(new Upstash({ url, token }))),
    createContextStore(redisStorage(Upstash.fromEnv())),
    createContextStore(redisStorage(new IOCluster([{ host: '10.0.0.1', port: 6379 }]), { cluster: true })),
    createContextStore(redisStorage(new IORedis(url), { prefix: 'myapp:' }), { namespace: 'support-bot' }),
    redisStorage((script, keys, args) => node.sendCommand(['EVAL', script, String(keys.length), ...keys, ...args])),
  ]
}
