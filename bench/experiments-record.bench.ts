/**
 * Recordings per second of `experiments.record(ctx)` with 1, 4 and 16 concurrent recorders (issue
 * 10), each recorder a tracker of its own (as separate isolates or servers would be), recording
 * distinct sessions of one test with two outcomes. Beside the default 8 shards, the same run with 1
 * shard shows why the aggregates are sharded: every recorder then retries on one hot record.
 *
 * Backends: the memory adapter (each call one synchronous step: the tracker's own CPU cost; a
 * recorder that loses a compare-and-set waits ≥ 1 ms, in which the others finish dozens of
 * recordings alone, so contention barely shows); the same behind 1 ms a call (what a store across a
 * network sees: here the shards matter); Redis through ioredis on a redis-server started here
 * on loopback (a connection per recorder; compare-and-set by Lua), skipped with a note when
 * redis-server is not installed; SQLite through better-sqlite3 (a WAL file; compare-and-set as
 * conditional statements in one transaction). The contexts are built before the clock starts; a
 * figure is the median of 3 runs. "CAS retries" counts compare-and-set calls that found the record
 * changed, per recording.
 *
 * Then evaluate's time at 100 and at 100,000 sessions recorded (`node … evaluate` runs only that).
 *
 * Run (dependencies stay external, resolved from node_modules):
 *   npx esbuild bench/experiments-record.bench.ts --bundle --platform=node --format=esm --packages=external --outfile=node_modules/.cache/experiments-record.bench.mjs && node node_modules/.cache/experiments-record.bench.mjs
 */
import Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Context } from '../src/context.js'
import { createExperiments } from '../src/experiments/tracker.js'
import type { StorageAdapter } from '../src/storage/adapter.js'
import { memoryStorage } from '../src/storage/memory.js'
import { redisStorage } from '../src/storage/redis.js'
import { sqlStorage } from '../src/storage/sql.js'
import { redisMissing, startRedis } from '../test/storage/redis.js'
import { betterSqlite3Database } from '../test/storage/sql-clients.js'

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** `adapter` counting the compare-and-set calls that found the record changed. */
function counting(adapter: StorageAdapter): StorageAdapter & { lost: number } {
  const out = { ...adapter, lost: 0 }
  out.compareAndSet = async (...a) => {
    const ok = await adapter.compareAndSet!(...a)
    if (!ok) out.lost++
    return ok
  }
  return out
}

/**
 * `adapter` answering each call after `ms` milliseconds, as a store across a network would: the
 * memory adapter alone answers within the same tick, so a failed recorder's jittered wait (≥ 1 ms)
 * lets the others run alone and contention never shows.
 */
function latency(adapter: StorageAdapter, ms: number): StorageAdapter {
  const late =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A) => {
      await new Promise((r) => setTimeout(r, ms))
      return fn(...a)
    }
  return {
    ...adapter,
    get: late(adapter.get),
    list: late(adapter.list),
    getMany: late(adapter.getMany!),
    setMany: late(adapter.setMany!),
    compareAndSet: late(adapter.compareAndSet!),
  }
}

/** Sessions of test `t` (two options, two outcomes), built before the clock starts. */
function sessions(n: number, run: string): Context[] {
  return Array.from({ length: n }, (_, i) => {
    const ctx = new Context({ sessionId: `${run}-${i}` })
    ctx.addTest('t', { a: 1, b: 1 })
    ctx.addOutcome('converted', 'boolean')
    ctx.addOutcome('turns', 'integer')
    ctx.setOutcome('converted', i % 3 === 0)
    ctx.setOutcome('turns', i % 7)
    return ctx
  })
}

/** Recordings per second and CAS retries per recording, `recorders` trackers sharing `total` sessions. */
async function measure(adapters: StorageAdapter[], recorders: number, total: number, shards: number, run: string) {
  const all = sessions(total, run)
  const counted = adapters.map(counting)
  const trackers = Array.from({ length: recorders }, (_, r) => createExperiments(counted[r % counted.length]!, { shards, namespace: `bench-${run}` }))
  const start = performance.now()
  let gaveUp = 0
  await Promise.all(
    trackers.map(async (x, r) => {
      for (let i = r; i < total; i += recorders) {
        // A recording that lost MAX_TRIES compare-and-sets in a row: a ContextConflictError, counted.
        await x.record(all[i]!).catch((e: { code?: string }) => {
          if (e?.code !== 'conflict') throw e
          gaveUp++
        })
      }
    }),
  )
  const seconds = (performance.now() - start) / 1000
  const report = await trackers[0]!.report('t')
  const n = report.options.reduce((s, o) => s + o.n, 0)
  if (n !== total - gaveUp) throw new Error(`${run}: ${n} sessions counted of ${total - gaveUp}`)
  return { perSecond: (total - gaveUp) / seconds, retries: counted.reduce((s, a) => s + a.lost, 0) / total, gaveUp }
}

async function table(name: string, make: (recorders: number) => Promise<StorageAdapter[]>, total: number, shardCounts = [8, 1]) {
  console.log(`\n${name} (${total} sessions a run, median of 3)\n`)
  console.log('| recorders | shards | recordings/s | CAS retries per recording | gave up (of a run) |')
  console.log('|---|---|---|---|---|')
  // A warm-up run first (JIT, connections), then the configurations interleaved round by round, so
  // that drift (a growing keyspace, GC) hits each alike.
  await measure(await make(16), 16, total, 8, `${name}-warm`)
  const configs = shardCounts.flatMap((shards) => [1, 4, 16].map((recorders) => ({ shards, recorders, runs: [] as { perSecond: number; retries: number; gaveUp: number }[] })))
  for (let k = 0; k < 3; k++) {
    for (const c of configs) c.runs.push(await measure(await make(c.recorders), c.recorders, total, c.shards, `${name}-${c.shards}-${c.recorders}-${k}`))
  }
  for (const { shards, recorders, runs } of configs) {
    const rate = median(runs.map((r) => r.perSecond))
    const retries = median(runs.map((r) => r.retries))
    const gaveUp = median(runs.map((r) => r.gaveUp))
    console.log(`| ${recorders} | ${shards} | ${Math.round(rate).toLocaleString('en')} | ${retries.toFixed(2)} | ${gaveUp} |`)
  }
}

// `node … evaluate` runs only the evaluate-cost line.
const tables = process.argv[2] !== 'evaluate'
const memory = memoryStorage()
if (tables) await table('memory', async () => [memory], 4000)
if (tables) await table('memory behind 1 ms a call (a store across a network)', async () => [latency(memory, 1)], 800, [1, 8, 32])

/**
 * Evaluate's cost against the sessions recorded: a fresh tracker (nothing cached) evaluating a test
 * of 100 sessions and one of 100,000, on the memory adapter; median of 50 evaluations each. Its reads
 * are the same 11 records at any count (test/experiments/tracker.test.ts counts them).
 */
async function evaluateCost(sessionsRecorded: number): Promise<number> {
  const adapter = memoryStorage()
  const x = createExperiments(adapter)
  const stop = { maxConfidence: 99.99, targetOutcome: 'converted' }
  for (let i = 0; i < sessionsRecorded; i += 1000) {
    await Promise.all(
      sessions(Math.min(1000, sessionsRecorded - i), `eval-${sessionsRecorded}-${i}`).map((ctx) => {
        // The bench's sessions carry no stop conditions; these need maxConfidence to run the statistics.
        const fresh = new Context({ sessionId: ctx.sessionId })
        fresh.addTest('t', { a: 1, b: 1 }, '', stop)
        fresh.addOutcome('converted', 'boolean')
        fresh.setOutcome('converted', ctx.getOutcome('converted'))
        return x.record(fresh)
      }),
    )
  }
  const times: number[] = []
  for (let k = 0; k < 50; k++) {
    const start = performance.now()
    const e = await createExperiments(adapter).evaluate('t')
    times.push(performance.now() - start)
    if (e.iterations !== sessionsRecorded) throw new Error(`evaluate saw ${e.iterations} of ${sessionsRecorded}`)
  }
  return median(times)
}
const [few, many] = [await evaluateCost(100), await evaluateCost(100_000)]
console.log(`\nevaluate (memory, fresh tracker, median of 50): ${few.toFixed(3)} ms at 100 sessions, ${many.toFixed(3)} ms at 100,000 (${(many / few).toFixed(2)}x)`)

if (!tables) process.exit(0)
const dir = mkdtempSync(join(tmpdir(), 'exp-bench-'))
const sqlite = new Database(join(dir, 'bench.db'))
sqlite.pragma('journal_mode = WAL')
const sql = sqlStorage(betterSqlite3Database(sqlite), { dialect: 'sqlite' })
await table('SQLite (better-sqlite3, WAL file)', async () => [sql], 2000)
sqlite.close()
rmSync(dir, { recursive: true, force: true })

const missing = redisMissing()
if (missing) console.log(`\nRedis skipped: ${missing}`)
else {
  const server = await startRedis()
  const clients: Redis[] = Array.from({ length: 16 }, () => new Redis(server.url))
  await table('Redis (ioredis, loopback, a connection per recorder)', async (recorders) => clients.slice(0, recorders).map((c) => redisStorage(c)), 2000)
  await Promise.all(clients.map((c) => c.quit()))
  await server.stop()
}
