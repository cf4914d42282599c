import { createStorage } from 'unstorage'
import redisDriver from 'unstorage/drivers/redis'
import { afterAll, describe, expect, it } from 'vitest'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { CLIENTS, redisClients } from './redis-clients.js'
import { twoAgents } from './two-agents.js'
import { writersRace } from './writers-race.js'

// The dialog framework's concurrency test (writers-race.ts: 3 writers × 19 turns on one context,
// random delays, every write read back) and two agent instances on one session (two-agents.ts), on
// redisStorage through each client against a real redis-server. Every writer and agent has its own
// connection (its own client object), as separate function instances would.
const redis = redisClients()

describe.skipIf(redis.missing)('redis: writers racing on one context', () => {
  for (const name of CLIENTS) {
    it(`${name}: 3 writers × 19 turns, all 57 stored once, ids 1..57, the losers retried`, async () => {
      await redis.raw().flushdb()
      const report = await writersRace(() => redis.fresh(name))
      expect([report.stored, report.saves, report.lost, report.duplicated]).toEqual([57, 57, [], []])
      // Random 0-4 ms delays around each save over real connections: the writers overlap.
      expect(report.conflicts).toBeGreaterThan(0)
    }, 60_000)

    it(`${name}: two agent instances on one session lose no turn (the loser runs its turn again)`, async () => {
      await redis.raw().flushdb()
      const report = await twoAgents(() => redis.fresh(name))
      expect([report.stored, report.count, report.lost, report.duplicated, report.errors]).toEqual([40, 40, [], [], []])
      expect(report.retries).toBeGreaterThan(0)
    }, 60_000)
  }

  // Issue 11's motive, measured on the same server: unstorage's Redis driver has no compare-and-set,
  // so racing writers overwrite each other's headers and turns vanish without an error.
  const drivers: ReturnType<typeof createStorage>[] = []
  afterAll(async () => {
    for (const d of drivers) await d.dispose()
  })
  it('beside it, unstorage’s Redis driver (no compare-and-set) loses turns in the same race, without an error', async () => {
    await redis.raw().flushdb()
    const make = () => {
      const d = createStorage({ driver: redisDriver({ url: redis.server().url, base: 'race' }) })
      drivers.push(d)
      return unstorageStorage(d, { consistency: 'strong' })
    }
    const report = await writersRace(make, { strict: false })
    expect(report.saves).toBe(57)
    expect(report.lost.length).toBeGreaterThan(0)
  }, 60_000)
})
