import pg from 'pg'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StorageError } from '../../src/errors.js'
import { sqlStorage, type SqlDatabase } from '../../src/storage/sql.js'
import { postgresMissing, startPostgres, type PostgresServer } from './postgres.js'
import { conformance, registerCases } from './run.js'
import { pgDatabase, postgresJsDatabase, type PgPoolLike, type PostgresJsLike } from './sql-clients.js'
import { sqlMatchesModel } from './sql-model.js'
import { freshTable, sqlCases, sqlHarness, sqlStoreHarness, type SqlEngine } from './sql-cases.js'
import { storeSuite } from './store-run.js'
import { twoAgents } from './two-agents.js'
import { writersRace } from './writers-race.js'

// sqlStorage against a real PostgreSQL (Debian's package) this file starts on a loopback port and
// stops, through pg (node-postgres) and through postgres (porsager).
const missing = postgresMissing()
if (missing) console.warn(`PostgreSQL tests skipped: ${missing}`)

let server: PostgresServer | undefined
const pools: pg.Pool[] = []
const sqls: postgres.Sql[] = []
const pool = () => {
  const p = new pg.Pool({ host: server!.host, port: server!.port, user: server!.user, database: server!.database, max: 8 })
  pools.push(p)
  return p
}
const porsager = () => {
  const s = postgres({ host: server!.host, port: server!.port, user: server!.user, database: server!.database, max: 8, onnotice: () => {} })
  sqls.push(s)
  return s
}
let pgDb: SqlDatabase | undefined
let jsDb: SqlDatabase | undefined

beforeAll(async () => {
  if (missing) return
  // No durability needed by tests: fsync off keeps a cluster's thousands of commits fast.
  server = await startPostgres({ fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' })
  pgDb = pgDatabase(pool() as unknown as PgPoolLike)
  jsDb = postgresJsDatabase(porsager() as unknown as PostgresJsLike)
}, 60_000)
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()))
  await Promise.all(sqls.map((s) => s.end({ timeout: 1 })))
  await server?.stop()
})

/** An engine whose database is read when a case runs (after beforeAll). */
const engine = (db: () => SqlDatabase, connect: () => SqlDatabase): SqlEngine => ({
  dialect: 'postgres',
  get db() {
    return db()
  },
  connect,
})
const viaPg = engine(
  () => pgDb!,
  () => pgDatabase(pool() as unknown as PgPoolLike),
)
const viaJs = engine(
  () => jsDb!,
  () => postgresJsDatabase(porsager() as unknown as PostgresJsLike),
)

for (const [label, e] of [
  ['sqlStorage postgres (pg, real PostgreSQL)', viaPg],
  ['sqlStorage postgres (postgres.js, real PostgreSQL)', viaJs],
] as const) {
  conformance(label, sqlHarness(e), missing)
  storeSuite(label, sqlStoreHarness(e), missing)
  registerCases(`${label}: SQL`, sqlCases, e, missing)
}

describe.skipIf(missing)('sqlStorage postgres: concurrency (real PostgreSQL)', () => {
  it('3 writers × 19 turns on one context, each writer its own pool, random delays: no turn lost, every write checked', async () => {
    const table = freshTable()
    const report = await writersRace(() => sqlStorage(viaPg.connect!(), { dialect: 'postgres', table }))
    expect(report.stored).toBe(57)
    expect(report.lost).toEqual([])
    // Conflicts depend on timing; with 3 writers racing over 57 saves, some are certain.
    expect(report.conflicts).toBeGreaterThan(0)
  }, 120_000)

  it('pg and postgres.js writers race on one context: the two clients agree', async () => {
    const table = freshTable()
    let n = 0
    const report = await writersRace(() => sqlStorage(n++ % 2 ? viaJs.connect!() : viaPg.connect!(), { dialect: 'postgres', table }))
    expect(report.stored).toBe(57)
  }, 120_000)

  it('regression: under READ COMMITTED a losing compareAndSet left its `also` written; in REPEATABLE READ (40001 retried) 8 pools race one key for 20 rounds, one wins each, its `also` alone written', async () => {
    const table = freshTable()
    let serializationFailures = 0
    const counted = (db: SqlDatabase): SqlDatabase => ({
      query: (sql, params) => db.query(sql, params),
      batch: async (statements) => {
        try {
          return await db.batch(statements)
        } catch (e) {
          if ((e as { code?: string }).code === '40001') serializationFailures++
          throw e
        }
      },
    })
    const adapters = Array.from({ length: 8 }, () => sqlStorage(counted(viaPg.connect!()), { dialect: 'postgres', table }))
    await adapters[0]!.set('race', 0)
    for (let round = 0; round < 20; round++) {
      const wins = await Promise.all(adapters.map((a, i) => a.compareAndSet!('race', round, round + 1, [[`race/${round}/${i}`, i]])))
      expect(wins.filter(Boolean).length).toBe(1)
      expect((await adapters[0]!.list(`race/${round}/`)).keys).toEqual([`race/${round}/${wins.indexOf(true)}`])
    }
    expect(await adapters[0]!.get('race')).toBe(20)
    // Timing decides how many batches meet a concurrent commit; over 140 losing tries, some do.
    expect(serializationFailures).toBeGreaterThan(0)
  }, 120_000)

  it('regression: two setMany over the same keys in opposite orders deadlocked (40P01); written in key order, 20 rounds go through', async () => {
    const table = freshTable()
    const [a, b] = [0, 1].map(() => sqlStorage(viaPg.connect!(), { dialect: 'postgres', table }))
    const keys = Array.from({ length: 3000 }, (_, i) => `dl/${String(i).padStart(4, '0')}`)
    for (let round = 0; round < 20; round++) {
      await Promise.all([
        a!.setMany!(keys.map((k): [string, number] => [k, round])),
        b!.setMany!([...keys].reverse().map((k): [string, number] => [k, -round])),
      ])
      const values = await a!.getMany!(keys)
      // One batch after the other: all of one, never a mix.
      expect(new Set(values).size).toBe(1)
    }
  }, 120_000)

  it('two agents on one session, each its own pool: no turn lost, none twice; the loser of each race runs its turn again', async () => {
    const table = freshTable()
    const report = await twoAgents(() => sqlStorage(viaPg.connect!(), { dialect: 'postgres', table }))
    expect([report.stored, report.lost, report.duplicated, report.errors]).toEqual([40, [], [], []])
    expect(report.retries).toBeGreaterThan(0)
  }, 120_000)

  it('property: any sequence of every operation, hostile keys and any JSON, gives what the memory adapter gives (100 runs each client)', async () => {
    await sqlMatchesModel(() => sqlStorage(viaPg.db, { dialect: 'postgres', table: freshTable() }), 100)
    await sqlMatchesModel(() => sqlStorage(viaJs.db, { dialect: 'postgres', table: freshTable() }), 100)
  }, 240_000)

  it('regression: a role without CREATE on the schema works on a table made for it (PostgreSQL refuses CREATE TABLE IF NOT EXISTS before looking); without the table, a StorageError', async () => {
    const table = freshTable()
    const role = `r_${table}`
    await viaPg.db.query(`CREATE ROLE ${role} LOGIN`, [])
    await viaPg.db.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`, [])
    const limited = new pg.Pool({ host: server!.host, port: server!.port, user: role, database: server!.database, max: 2 })
    pools.push(limited)
    const db = pgDatabase(limited as unknown as PgPoolLike)
    const err = await sqlStorage(db, { dialect: 'postgres', table })
      .set('k', 1)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StorageError)
    expect((err as StorageError).message).toBe('postgres: set of "k" failed (error)')
    // The owner makes the table and grants what the adapter needs; no CREATE on the schema.
    await sqlStorage(viaPg.db, { dialect: 'postgres', table }).list('')
    await viaPg.db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${role}`, [])
    const a = sqlStorage(db, { dialect: 'postgres', table })
    await a.set('k', 1)
    expect(await a.compareAndSet!('k', 1, 2, [['k/1', 1]])).toBe(true)
    expect(await a.getMany!(['k', 'k/1'])).toEqual([2, 1])
  })

  it('the table is where the docs say: key COLLATE "C" primary key, value text; keys and values readable in SQL', async () => {
    const table = freshTable()
    const a = sqlStorage(viaPg.db, { dialect: 'postgres', table })
    await a.set('ctx/1/h/', { turns: 1, text: 'ünï' })
    const { rows } = await viaPg.db.query(`SELECT key, value FROM ${table}`, [])
    expect(rows).toEqual([{ key: 'ctx/1/h/', value: '{"turns":1,"text":"ünï"}' }])
    const columns = await viaPg.db.query(
      `SELECT column_name, data_type, collation_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [table],
    )
    expect(columns.rows).toEqual([
      { column_name: 'key', data_type: 'text', collation_name: 'C' },
      { column_name: 'value', data_type: 'text', collation_name: 'C' },
    ])
  })
})
