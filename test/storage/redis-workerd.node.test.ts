import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CaseResult } from './conformance.js'
import { bundleWorker } from './miniflare.js'
import { redisMissing, startRedis, type RedisServer } from './redis.js'
import { reportConformance } from './run.js'
import { reportStoreSuite } from './store-run.js'
import { startUpstash, type UpstashServer } from './upstash-server.js'
import type { WritersRaceReport } from './writers-race.js'

// redisStorage over @upstash/redis inside workerd (miniflare 3): the suites run in the Worker
// (workerd/redis-worker.ts), whose fetch reaches the loopback Upstash server in front of a real
// redis-server started here; each case's result is reported as its own test.
const missing = redisMissing()
let redis: RedisServer | undefined
let upstash: UpstashServer | undefined
let mf: Miniflare | undefined
const results: Record<string, CaseResult[]> = {}
let race: WritersRaceReport | undefined

beforeAll(async () => {
  if (missing) return
  redis = await startRedis()
  upstash = await startUpstash(redis.url)
  mf = new Miniflare({
    modules: true,
    script: await bundleWorker(new URL('./workerd/redis-worker.ts', import.meta.url).pathname),
    compatibilityDate: '2024-09-23',
    bindings: { UPSTASH_URL: upstash.url, UPSTASH_TOKEN: upstash.token },
  })
  await mf.ready
  for (const route of ['conformance', 'store']) {
    const response = await mf.dispatchFetch(`http://localhost/${route}`)
    if (!response.ok) throw new Error(`/${route}: HTTP ${response.status}: ${await response.text()}`)
    results[route] = (await response.json()) as CaseResult[]
  }
  const response = await mf.dispatchFetch('http://localhost/race')
  if (!response.ok) throw new Error(`/race: HTTP ${response.status}: ${await response.text()}`)
  race = (await response.json()) as WritersRaceReport
}, 180_000)
afterAll(async () => {
  await mf?.dispose()
  await upstash?.close()
  await redis?.stop()
})

if (missing) {
  // Only off CI: redisMissing() throws when CI is set, so CI always runs the suites below.
  it.skipIf(missing)(`redis (upstash, workerd): ${missing}`, () => {})
} else {
  reportConformance('redis (upstash, workerd)', () => results.conformance)
  reportStoreSuite('redis (upstash, workerd)', () => results.store)
  describe('redis (upstash, workerd): writers racing', () => {
    it('3 writers × 19 turns inside the Worker, each its own client: all 57 stored once, the losers retried', () => {
      expect([race!.stored, race!.saves, race!.lost, race!.duplicated]).toEqual([57, 57, [], []])
      expect(race!.conflicts).toBeGreaterThan(0)
    })
  })
}
