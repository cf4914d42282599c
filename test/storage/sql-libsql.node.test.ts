import { createClient, type Client } from '@libsql/client'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { sqlStorage } from '../../src/storage/sql.js'
import { conformance, registerCases } from './run.js'
import { libsqlDatabase } from './sql-clients.js'
import { sqlMatchesModel } from './sql-model.js'
import { freshTable, sqlCases, sqlHarness, sqlStoreHarness, type SqlEngine } from './sql-cases.js'
import { storeSuite } from './store-run.js'
import { twoAgents } from './two-agents.js'
import { writersRace } from './writers-race.js'

// sqlStorage over libSQL (@libsql/client, the client of Turso) on a local database file: the same
// client and batches as against Turso, without the network.
const dir = mkdtempSync(join(tmpdir(), 'agentctx-libsql-'))
const url = `file:${join(dir, 'test.db')}`
const clients: Client[] = []
const open = () => {
  const client = createClient({ url })
  clients.push(client)
  return libsqlDatabase(client)
}
afterAll(() => {
  for (const client of clients) client.close()
  rmSync(dir, { recursive: true, force: true })
})

const engine: SqlEngine = { db: open(), dialect: 'sqlite', connect: open }
const label = 'sqlStorage sqlite (libSQL, local file)'
conformance(label, sqlHarness(engine))
storeSuite(label, sqlStoreHarness(engine))
registerCases(`${label}: SQL`, sqlCases, engine)

describe(`${label}: concurrency`, () => {
  it('3 writers × 19 turns on one context, each writer its own client on the file, random delays: no turn lost, every write checked', async () => {
    const table = freshTable()
    const report = await writersRace(() => sqlStorage(engine.connect!(), { dialect: 'sqlite', table }))
    expect(report.stored).toBe(57)
    expect(report.lost).toEqual([])
    expect(report.conflicts).toBeGreaterThan(0)
  }, 60_000)

  it('property: any sequence of every operation, hostile keys and any JSON, gives what the memory adapter gives (100 runs)', async () => {
    await sqlMatchesModel(() => sqlStorage(engine.db, { dialect: 'sqlite', table: freshTable() }), 100)
  }, 120_000)

  it('two agents on one session: no turn lost, none twice; the loser of each race runs its turn again', async () => {
    const table = freshTable()
    const report = await twoAgents(() => sqlStorage(engine.db, { dialect: 'sqlite', table }))
    expect([report.stored, report.lost, report.duplicated, report.errors]).toEqual([40, [], [], []])
    expect(report.retries).toBeGreaterThan(0)
  }, 60_000)
})
