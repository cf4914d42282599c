/**
 * The context store on `sqlStorage`:
 *
 * 1. Saving one new turn on a 10,000-turn context ÷ on a 10-turn one (store-core.ts: interleaved
 *    rounds, medians; the bound is ≤ 1.5), on PostgreSQL (pg, one server started here on
 *    loopback) and on SQLite (better-sqlite3, a WAL file in the temp folder).
 * 2. Saves per second with 1, 4 and 16 sessions saving at once against the same PostgreSQL server:
 *    each session is its own store on its own connection (a function instance each), adding a turn
 *    and saving, as fast as it can, for `SECONDS`; the figure is all saves done ÷ the time.
 *
 * The PostgreSQL server runs with its default durability (fsync on, synchronous_commit on): each
 * save's commit waits for the disk, as in production.
 *
 * Run: npx esbuild bench/sql.bench.ts --bundle --platform=node --format=esm --packages=external --outfile=node_modules/.cache/sql.bench.mjs && node node_modules/.cache/sql.bench.mjs
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { sqlStorage } from '../src/storage/sql.js'
import { createContextStore } from '../src/storage/store.js'
import { startPostgres } from '../test/storage/postgres.js'
import { betterSqlite3Database, pgDatabase, type BetterSqlite3Like, type PgPoolLike } from '../test/storage/sql-clients.js'
import { concurrentSaves, storeBench } from './store-core.js'

const SECONDS = 5
const log = (line: string) => console.error(line)
let tables = 0

const server = await startPostgres()
const pools: pg.Pool[] = []
const pool = (max: number) => {
  const p = new pg.Pool({ host: server.host, port: server.port, user: server.user, database: server.database, max })
  pools.push(p)
  return pgDatabase(p as unknown as PgPoolLike)
}
const dir = mkdtempSync(join(tmpdir(), 'agentctx-sqlite-bench-'))
const sqlite = new Database(join(dir, 'bench.db'))
sqlite.pragma('journal_mode = WAL')
// NORMAL: WAL's usual pairing (a commit is durable once the WAL is checkpointed or synced).
sqlite.pragma('synchronous = NORMAL')

try {
  const pgVersion = await pool(1).query('SHOW server_version', [])
  console.log(`Node ${process.version}, ${cpus().length} cores; PostgreSQL ${String(pgVersion.rows?.[0]?.server_version)} (pg), SQLite ${String((sqlite.prepare('select sqlite_version() v').get() as { v: string }).v)} (better-sqlite3)\n`)

  log('PostgreSQL: save at 10,000 turns ÷ at 10')
  const pgDb = pool(4)
  const onPg = await storeBench({ make: async () => sqlStorage(pgDb, { dialect: 'postgres', table: `bench${++tables}` }), rounds: 300, loads: 100, log })
  console.log('### PostgreSQL (pg)\n')
  console.log(onPg.markdown)

  log('SQLite: save at 10,000 turns ÷ at 10')
  const liteDb = betterSqlite3Database(sqlite as unknown as BetterSqlite3Like)
  const onLite = await storeBench({ make: async () => sqlStorage(liteDb, { dialect: 'sqlite', table: `bench${++tables}` }), rounds: 1000, loads: 300, log })
  console.log('\n### SQLite (better-sqlite3, WAL file)\n')
  console.log(onLite.markdown)

  // Throughput: sessions saving at once, each on its own connection.
  const table = `bench${++tables}`
  const rowsOut = ['| sessions at once | saves | saves per second | median save |', '| ---: | ---: | ---: | ---: |']
  for (const sessions of [1, 4, 16]) {
    log(`PostgreSQL: ${sessions} concurrent sessions for ${SECONDS} s`)
    const stores = Array.from({ length: sessions }, () => createContextStore(sqlStorage(pool(1), { dialect: 'postgres', table }), { channel: false }))
    const { times, elapsed } = await concurrentSaves(stores, SECONDS, `c${sessions}-`)
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!
    rowsOut.push(`| ${sessions} | ${times.length.toLocaleString('en')} | ${Math.round(times.length / elapsed).toLocaleString('en')} | ${median.toFixed(2)} ms |`)
  }
  console.log('\n### Saves per second, one PostgreSQL server (fsync on), each session its own connection\n')
  console.log(rowsOut.join('\n'))
  if (onPg.saveRatio > 1.5 || onLite.saveRatio > 1.5) process.exitCode = 1
} finally {
  await Promise.all(pools.map((p) => p.end()))
  await server.stop()
  sqlite.close()
  rmSync(dir, { recursive: true, force: true })
}
