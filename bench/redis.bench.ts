/**
 * The context store on `redisStorage` (ioredis) against a real redis-server started here on
 * loopback, beside unstorage's Redis driver (also ioredis) on the same server:
 *
 * 1. Saving one new turn on a 10,000-turn context ÷ on a 10-turn one (store-core.ts: interleaved
 *    rounds, medians; the bound is ≤ 1.5).
 * 2. Saves per second with 1, 4 and 16 sessions saving at once: each session is its own store on its
 *    own connection (a function instance each), adding a turn and saving as fast as it can for
 *    `SECONDS`; the figure is all saves done ÷ the time. redisStorage's save is one Lua script (the
 *    compare-and-set of the header with the turn record); unstorage's is three commands (the turn
 *    record, a read of the header, the header), without compare-and-set.
 *
 * The server runs without persistence (`--save ''`, `--appendonly no`), as the tests start it.
 *
 * Run: npx esbuild bench/redis.bench.ts --bundle --platform=node --format=esm --packages=external --outfile=node_modules/.cache/redis.bench.mjs && node node_modules/.cache/redis.bench.mjs
 */
import { cpus } from 'node:os'
import { Redis } from 'ioredis'
import { createStorage } from 'unstorage'
import redisDriver from 'unstorage/drivers/redis'
import type { StorageAdapter } from '../src/storage/adapter.js'
import { redisStorage } from '../src/storage/redis.js'
import { createContextStore } from '../src/storage/store.js'
import { unstorageStorage } from '../src/storage/unstorage.js'
import { startRedis } from '../test/storage/redis.js'
import { concurrentSaves, storeBench } from './store-core.js'

const SECONDS = 5
const log = (line: string) => console.error(line)
const server = await startRedis()
const closers: (() => Promise<unknown> | void)[] = []
const ioredis = () => {
  const c = new Redis(server.url)
  closers.push(() => c.disconnect())
  return c
}
const unstorageOn = (base: string) => {
  const s = createStorage({ driver: redisDriver({ url: server.url, base }) })
  closers.push(() => s.dispose())
  return unstorageStorage(s, { consistency: 'strong' })
}
const backends: [string, (run: string) => StorageAdapter][] = [
  ['redisStorage (ioredis)', (run) => redisStorage(ioredis(), { prefix: `${run}:` })],
  ['unstorage Redis driver (ioredis)', (run) => unstorageOn(run)],
]

try {
  const admin = ioredis()
  const info = String(await admin.info('server'))
  console.log(`Node ${process.version}, ${cpus().length} cores; Redis ${/redis_version:(\S+)/.exec(info)?.[1]} on loopback, no persistence\n`)

  const ratios: number[] = []
  for (const [label, make] of backends) {
    log(`${label}: save at 10,000 turns ÷ at 10`)
    const result = await storeBench({ make: async () => make(`ratio-${label.length}`), rounds: 1000, loads: 200, log })
    console.log(`### ${label}\n`)
    console.log(result.markdown + '\n')
    ratios.push(result.saveRatio)
  }

  const rows = ['| sessions at once | backend | saves | saves per second | median save | p99 save |', '| ---: | --- | ---: | ---: | ---: | ---: |']
  for (const sessions of [1, 4, 16]) {
    for (const [label, make] of backends) {
      log(`${label}: ${sessions} concurrent sessions for ${SECONDS} s`)
      const run = `tp-${sessions}-${label.length}`
      const stores = Array.from({ length: sessions }, () => createContextStore(make(run), { channel: false }))
      const { times, elapsed } = await concurrentSaves(stores, SECONDS, 'c')
      const sorted = [...times].sort((a, b) => a - b)
      const at = (q: number) => sorted[Math.floor(sorted.length * q)]!
      rows.push(`| ${sessions} | ${label} | ${times.length.toLocaleString('en')} | ${Math.round(times.length / elapsed).toLocaleString('en')} | ${at(0.5).toFixed(2)} ms | ${at(0.99).toFixed(2)} ms |`)
    }
  }
  console.log('### Saves per second, one redis-server, each session its own connection\n')
  console.log(rows.join('\n'))
  if (ratios[0]! > 1.5) process.exitCode = 1
} finally {
  for (const close of closers) await close()
  await server.stop()
}
