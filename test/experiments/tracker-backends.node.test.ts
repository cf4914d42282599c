import Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisStorage } from '../../src/storage/redis.js'
import { sqlStorage } from '../../src/storage/sql.js'
import { redisMissing, startRedis, type RedisServer } from '../storage/redis.js'
import { betterSqlite3Database } from '../storage/sql-clients.js'
import { trackerCases } from './tracker-cases.js'

// The tracker's concurrency cases on the Redis and SQL adapters (compare-and-set by a Lua script, and
// by conditional statements in one transaction): a real redis-server on loopback started here (a
// connection per adapter: each tracker of a case shares one here, so the calls of the 16 trackers
// interleave on the server), and SQLite through better-sqlite3 on a WAL file.
const missing = redisMissing()
let server: RedisServer | undefined
const clients: Redis[] = []
let run = 0
beforeAll(async () => {
  if (!missing) server = await startRedis()
}, 20_000)
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()))
  await server?.stop()
})

describe.skipIf(missing)('createExperiments over redisStorage (ioredis, loopback redis-server)', () => {
  it.each(Object.keys(trackerCases))('%s', async (name) => {
    const client = new Redis(server!.url)
    clients.push(client)
    expect(await trackerCases[name]!(async () => redisStorage(client, { prefix: `case${run++}:` }))).toBeNull()
  })
})

describe('createExperiments over sqlStorage (SQLite through better-sqlite3, WAL file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exp-sqlite-'))
  const db = new Database(join(dir, 'tracker.db'))
  db.pragma('journal_mode = WAL')
  afterAll(() => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })
  it.each(Object.keys(trackerCases))('%s', async (name) => {
    expect(await trackerCases[name]!(async () => sqlStorage(betterSqlite3Database(db), { dialect: 'sqlite', table: `case${run++}` }))).toBeNull()
  })
})
