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
