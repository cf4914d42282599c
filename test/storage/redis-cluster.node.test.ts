import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StorageError, ValidationError } from '../../src/errors.js'
import { redisStorage } from '../../src/storage/redis.js'
import { createContextStore } from '../../src/storage/store.js'
import { redisMissing, startRedis, type RedisServer } from './redis.js'
import { addTurns, runtime, sample } from './store-helpers.js'
import { writersRace } from './writers-race.js'

// Redis Cluster refuses a script or command whose keys hash to different slots (CROSSSLOT), on every
// node, even a cluster of one node that owns all 16,384 slots. So one cluster-enabled redis-server,
// reached through ioredis's Cluster client, checks that everything the store does with `cluster: true`
// touches one slot per call: what would run on a real multi-node cluster, where each context's slot
// may live on another node.
const missing = redisMissing()
let server: RedisServer | undefined
let cluster: Cluster | undefined
let dir: string | undefined

beforeAll(async () => {
  if (missing) return
  dir = mkdtempSync(join(tmpdir(), 'agentctx-cluster-'))
  server = await startRedis(['--cluster-enabled', 'yes', '--dir', dir, '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'])
  const admin = new Redis(server.url)
  await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383')
  // The node reports its state ok once it has checked its slots (a few ms).
  for (let i = 0; i < 100 && !String(await admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'); i++) await new Promise((r) => setTimeout(r, 50))
  admin.disconnect()
  const { port } = new URL(server.url)
  cluster = new Cluster([{ host: '127.0.0.1', port: Number(port) }])
  await cluster.ping()
}, 30_000)

afterAll(async () => {
  cluster?.disconnect()
  await server?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(missing)('redis cluster (one cluster-enabled redis-server, ioredis Cluster)', () => {
  it('with cluster: true the store saves, loads, reads older turns, retries conflicts and deletes: every call in one slot', async () => {
    const a = redisStorage(cluster!, { cluster: true, prefix: 'c1:' })
    const store = createContextStore(a, { channel: false, runtime, recentTurns: 5 })
    // 3,000 turns: the first save is staged (over 1,000 entries), its hash in the context's slot too.
    const ctx = sample('one', 3000, 100)
    await store.save(ctx)
    addTurns(ctx, 3)
    await store.save(ctx)
    const loaded = (await store.load('one'))!
    expect((await loaded.getTurn(2))?.request).toEqual(ctx.requests.get(2))
    await loaded.loadTurns({ all: true })
    expect(loaded.toJSON()).toEqual(ctx.toJSON())
    const report = await writersRace(() => a, { writers: 3, turns: 6, id: 'raced' })
    expect([report.stored, report.lost]).toEqual([18, []])
    // Each context's keys (records and its own index) share one tag: two contexts, two tags.
    const tags = async () => [...new Set((await cluster!.keys('c1:*')).map((k) => /\{([^}]*)\}/.exec(k)![1]))].sort()
    expect(await tags()).toEqual(['agentctx/one', 'agentctx/raced'])
    await store.delete('one')
    expect(await store.load('one')).toBeUndefined()
    expect(await tags()).toEqual(['agentctx/raced'])
  })

  it('store.list() across contexts is a ValidationError before anything is sent (one tag\'s index would list a fraction); a batch spanning hash tags is refused by the server (CROSSSLOT), a StorageError, nothing written', async () => {
    const a = redisStorage(cluster!, { cluster: true, prefix: 'c2:' })
    const e = (await createContextStore(a, { channel: false }).list().catch((x: unknown) => x)) as ValidationError
    expect([e instanceof ValidationError, e.code, e.path, e.message]).toEqual([true, 'invalid_argument', 'agentctx/h/', 'redis: with cluster, "agentctx/h/" spans hash tags'])
    const batch = (await a.setMany!([['ns/h/a/', 1], ['ns/h/b/', 2]]).catch((x: unknown) => x)) as StorageError
    expect([batch instanceof StorageError, batch.path]).toEqual([true, 'ns/h/a/'])
    expect(await cluster!.keys('c2:*')).toEqual([])
  })

  it('without cluster: true the node refuses the one index shared by all keys (CROSSSLOT), as a StorageError; a prefix with a hash tag of its own puts every key in one slot instead, and then list works across contexts', async () => {
    const wrong = redisStorage(cluster!, { prefix: 'c3:' })
    expect(await wrong.set('ns/h/a/', 1).catch((x: unknown) => x)).toBeInstanceOf(StorageError)
    const pinned = redisStorage(cluster!, { prefix: '{app}:' })
    const store = createContextStore(pinned, { channel: false, runtime })
    for (const id of ['x', 'y', 'z']) await store.save(sample(id, 2, 3))
    expect((await store.list()).ids).toEqual(['x', 'y', 'z'])
  })
})
