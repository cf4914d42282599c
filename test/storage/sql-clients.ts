/**
 * Each SQL client adapted to `SqlDatabase`: the snippets the docs show (docs/sql.md), written
 * once here and tested against the real engines. Structural types, so this file imports no client
 * and runs inside workerd too (D1).
 */
import type { SqlDatabase, SqlResult, SqlStatement, SqlValue } from '../../src/storage/sql.js'

// ---- D1 (Cloudflare Workers) -----------------------------------------------------------------

/** The part of a D1 binding (`env.DB`) used. */
export interface D1Like {
  prepare(sql: string): { bind(...values: unknown[]): D1StatementLike }
  batch(statements: D1StatementLike[]): Promise<{ results: Record<string, unknown>[]; meta: { changes: number } }[]>
}
interface D1StatementLike {
  all(): Promise<{ results: Record<string, unknown>[]; meta: { changes: number } }>
}

/** D1: `batch` runs its statements in one transaction (D1 has no interactive transactions). */
export function d1Database(d1: D1Like): SqlDatabase {
  const result = (r: { results: Record<string, unknown>[]; meta: { changes: number } }) => ({ rows: r.results, changes: r.meta.changes })
  return {
    query: async (sql, params) => result(await d1.prepare(sql).bind(...params).all()),
    batch: async (statements) => (await d1.batch(statements.map((s) => d1.prepare(s.sql).bind(...s.params)))).map(result),
  }
}

// ---- better-sqlite3 (Node) -------------------------------------------------------------------

/** The part of a better-sqlite3 `Database` used. */
export interface BetterSqlite3Like {
  prepare(sql: string): { reader: boolean; all(...params: unknown[]): unknown[]; run(...params: unknown[]): { changes: number } }
  transaction<F extends () => unknown>(fn: F): { immediate(): ReturnType<F> }
}

/**
 * better-sqlite3: synchronous; `transaction(…).immediate()` takes the write lock at BEGIN, so a
 * second process's writer waits (with a busy timeout) instead of failing mid-transaction.
 */
export function betterSqlite3Database(db: BetterSqlite3Like): SqlDatabase {
  const run = (sql: string, params: SqlValue[]): SqlResult => {
    const statement = db.prepare(sql)
    return statement.reader ? { rows: statement.all(...params) as Record<string, unknown>[] } : statement.run(...params)
  }
  return {
    query: run,
    batch: (statements) => db.transaction(() => statements.map((s) => run(s.sql, s.params))).immediate(),
  }
}

// ---- pg (node-postgres) ------------------------------------------------------------------------

/** The part of a pg `Pool` used. */
export interface PgPoolLike {
  query(sql: string, params: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>
  connect(): Promise<{ query: PgPoolLike['query']; release(error?: Error | boolean): void }>
}

/** pg: a batch takes one connection from the pool for BEGIN … COMMIT. */
export function pgDatabase(pool: PgPoolLike): SqlDatabase {
  const result = (r: { rows: Record<string, unknown>[]; rowCount: number | null }) => ({ rows: r.rows, changes: r.rowCount ?? 0 })
  return {
    query: async (sql, params) => result(await pool.query(sql, params)),
    batch: async (statements) => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN', [])
        const results: SqlResult[] = []
        for (const s of statements) results.push(result(await client.query(s.sql, s.params)))
        await client.query('COMMIT', [])
        return results
      } catch (error) {
        await client.query('ROLLBACK', []).catch(() => {})
        throw error
      } finally {
        client.release()
      }
    },
  }
}

// ---- postgres (porsager) ---------------------------------------------------------------------

/** The part of a `postgres()` instance used. */
export interface PostgresJsLike {
  unsafe(sql: string, params: never[]): PromiseLike<Record<string, unknown>[] & { count: number }>
  begin<T>(fn: (tx: PostgresJsLike) => T | Promise<T>): Promise<T>
}

/** postgres (porsager): `begin` runs the statements on one connection in BEGIN … COMMIT. */
export function postgresJsDatabase(sql: PostgresJsLike): SqlDatabase {
  const run = async (db: PostgresJsLike, text: string, params: SqlValue[]) => {
    const rows = await db.unsafe(text, params as never[])
    return { rows: [...rows], changes: rows.count }
  }
  return {
    query: (text, params) => run(sql, text, params),
    batch: (statements) =>
      sql.begin(async (tx) => {
        const results: SqlResult[] = []
        for (const s of statements) results.push(await run(tx, s.sql, s.params))
        return results
      }),
  }
}

// ---- libSQL (@libsql/client: Turso, or a local file) -------------------------------------------

/** The part of a libSQL `Client` used. */
export interface LibsqlClientLike {
  execute(statement: { sql: string; args: SqlValue[] }): Promise<{ rows: unknown[]; rowsAffected: number }>
  batch(statements: { sql: string; args: SqlValue[] }[], mode: 'write'): Promise<{ rows: unknown[]; rowsAffected: number }[]>
}

/** libSQL: `batch(…, 'write')` runs the statements in one transaction. */
export function libsqlDatabase(client: LibsqlClientLike): SqlDatabase {
  const result = (r: { rows: unknown[]; rowsAffected: number }) => ({ rows: r.rows as Record<string, unknown>[], changes: r.rowsAffected })
  return {
    query: async (sql, args) => result(await client.execute({ sql, args })),
    batch: async (statements) => (await client.batch(statements.map((s) => ({ sql: s.sql, args: s.params })), 'write')).map(result),
  }
}

/** Statements as `SqlStatement`s, for tests that write raw SQL. */
export const statement = (sql: string, ...params: SqlValue[]): SqlStatement => ({ sql, params })
