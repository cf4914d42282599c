import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { sqlStorage } from '../../src/storage/sql.js'
import { conformance, registerCases } from './run.js'
import { betterSqlite3Database, type BetterSqlite3Like } from './sql-clients.js'
import { sqlMatchesModel } from './sql-model.js'
import { freshTable, sqlCases, sqlHarness, sqlStoreHarness, type SqlEngine } from './sql-cases.js'
import { storeSuite } from './store-run.js'
import { twoAgents } from './two-agents.js'
import { writersRace } from './writers-race.js'

// sqlStorage over SQLite through better-sqlite3 (version 12: 13 needs Node 22), on a database file
// in WAL mode, as a server would use it; racing writers each open their own connection to it.
const dir = mkdtempSync(join(tmpdir(), 'agentctx-sqlite-'))
const file = join(dir, 'test.db')
const connections: Database.Database[] = []
const open = () => {
  const db = new Database(file)
  // WAL: readers do not wait for the writer; busy_timeout: a writer waits up to 5 s for another's lock.
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  connections.push(db)
  return betterSqlite3Database(db as unknown as BetterSqlite3Like)
}
afterAll(() => {
  for (const db of connections) db.close()
  rmSync(dir, { recursive: true, force: true })
})

const engine: SqlEngine = { db: open(), dialect: 'sqlite', connect: open }
const label = 'sqlStorage sqlite (better-sqlite3, WAL file)'
conformance(label, sqlHarness(engine))
storeSuite(label, sqlStoreHarness(engine))
registerCases(`${label}: SQL`, sqlCases, engine)

describe(`${label}: concurrency and layout`, () => {
  it('3 writers × 19 turns on one context, each writer its own connection, random delays: no turn lost, every write checked', async () => {
    const table = freshTable()
    const report = await writersRace(() => sqlStorage(open(), { dialect: 'sqlite', table }))
    expect(report.stored).toBe(57)
    expect(report.lost).toEqual([])
    expect(report.conflicts).toBeGreaterThan(0)
  }, 60_000)

  it('two agents on one session, each its own connection: no turn lost, none twice; the loser of each race runs its turn again', async () => {
    const table = freshTable()
    const report = await twoAgents(() => sqlStorage(open(), { dialect: 'sqlite', table }))
    expect([report.stored, report.lost, report.duplicated, report.errors]).toEqual([40, [], [], []])
    expect(report.retries).toBeGreaterThan(0)
  }, 60_000)

  it('the table is where the docs say: key TEXT PRIMARY KEY, value TEXT, WITHOUT ROWID; rows readable in SQL', async () => {
    const table = freshTable()
    await sqlStorage(engine.db, { dialect: 'sqlite', table }).set('ctx/1/h/', { turns: 1, text: 'ünï' })
    expect((await engine.db.query(`SELECT key, value FROM ${table}`, [])).rows).toEqual([{ key: 'ctx/1/h/', value: '{"turns":1,"text":"ünï"}' }])
    const [ddl] = (await engine.db.query(`SELECT sql FROM sqlite_schema WHERE name = ?`, [table])).rows!
    expect(ddl!.sql).toBe(`CREATE TABLE "${table}" (key TEXT NOT NULL COLLATE BINARY PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`)
  })

  it('property: any sequence of every operation, hostile keys and any JSON, gives what the memory adapter gives (200 runs)', async () => {
    await sqlMatchesModel(() => sqlStorage(engine.db, { dialect: 'sqlite', table: freshTable() }), 200)
  }, 120_000)

  it('an in-memory database works the same (one connection)', async () => {
    const memory = new Database(':memory:')
    const a = sqlStorage(betterSqlite3Database(memory as unknown as BetterSqlite3Like), { dialect: 'sqlite' })
    expect(await a.compareAndSet!('k', undefined, { v: 1 }, [['k/1', 1]])).toBe(true)
    expect((await a.list('k')).keys).toEqual(['k', 'k/1'])
    memory.close()
  })
})
