/**
 * A storage adapter on SQL (SQLite, D1, libSQL, PostgreSQL) through a small driver interface. See docs/sql.md.
 *
 * @module agentctx/storage/sql
 */
import { ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'
import { attempt, decode, encode, jsonEqual, pageLimit, showKey, type StorageAdapter } from './adapter.js'
import { IDENTIFIER, sqlText, type SqlDialect } from './sql-dialects.js'

export type { SqlDialect } from './sql-dialects.js'

/** A bound parameter: `sqlStorage` sends only strings and integers. */
export type SqlValue = string | number

/** One statement of a `SqlDatabase.batch`. */
export interface SqlStatement {
  /** The statement's text, with placeholders (`?` or `$1`). */
  sql: string
  /** The values bound to the placeholders, in order. */
  params: SqlValue[]
}

/** What a statement gave back: its rows (for a `SELECT`), and how many rows it inserted, updated or deleted. */
export interface SqlResult {
  /** The rows of a `SELECT`, by column name. */
  rows?: Record<string, unknown>[]
  /** How many rows an `INSERT`, `UPDATE` or `DELETE` changed: the compare-and-set reads it. */
  changes?: number
}

/**
 * The database as `sqlStorage` sees it: two calls any SQL client can be adapted to in a few lines
 * (D1, better-sqlite3, libSQL, `pg`, `postgres`, Neon; see the docs for each). Placeholders are `?`
 * for SQLite and `$1`, `$2`, … for PostgreSQL.
 */
export interface SqlDatabase {
  /** Runs one statement with its parameters. */
  query(sql: string, params: SqlValue[]): SqlResult | PromiseLike<SqlResult>
  /**
   * Runs the statements in order in ONE transaction: every one or none (D1's `batch`, libSQL's
   * `batch`, `BEGIN` … `COMMIT` on one connection), and resolves one result per statement, in the
   * same order (the last one's `changes` tells whether a compare-and-set wrote). A failure rejects and rolls back; the error keeps
   * its SQLSTATE in `code` (pg, postgres and Neon do), so a PostgreSQL serialization failure
   * (`40001`) is retried.
   */
  batch(statements: SqlStatement[]): SqlResult[] | PromiseLike<SqlResult[]>
}

/** Options of `sqlStorage`. */
export interface SqlStorageOptions {
  /** `'sqlite'` (D1, better-sqlite3, libSQL / Turso) or `'postgres'` (pg, postgres, Neon, …). */
  dialect: SqlDialect
  /** Table (`name` or `schema.name`: letters, digits, `_`), created on first use. `'agentctx'` by default. */
  table?: string
  /**
   * Largest value accepted, in UTF-8 bytes of its JSON text, refused with a `ValidationError`
   * (`too_large`) before any write. None by default; on D1 pass 1,900,000 (its rows hold 2,000,000 bytes, key included).
   */
  maxValueBytes?: number
}

/**
 * PostgreSQL's B-tree refuses index entries over 2,704 bytes; keys are held to 2,048 bytes, refused
 * before any write, as on Durable Objects. SQLite has no key limit short of its row size.
 */
const PG_MAX_KEY = 2048
/** UTF-16 units of JSON per statement of a batch: D1 refuses a bound string over 2,000,000 bytes (escapes and UTF-8 can triple them). */
const CHUNK_BYTES = 256 * 1024
/** A CAS that lost to a writer who stored an equal value (or a serialization failure) tries again, up to this many times. */
const CAS_TRIES = 10
/** SQLSTATEs a compare-and-set retries: serialization failure, deadlock. */
const RETRY = new Set(['40001', '40P01'])

const utf8 = (s: string) => new TextEncoder().encode(s).length
/** A lone surrogate: UTF-8 cannot hold it, and drivers turn it into U+FFFD, so two keys would meet. */
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * A storage adapter over one SQL table, `key TEXT PRIMARY KEY` (byte order: SQLite's BINARY,
 * PostgreSQL's `COLLATE "C"`) and `value TEXT` (JSON), created on first use.
 *
 * - `list` reads a key range (`key >= prefix AND key < end`, no `LIKE`), in pages of at most 1000.
 * - `setMany` and `deleteMany` are one statement, or one `batch` when large: all or nothing.
 * - `compareAndSet` reads the key, compares with `jsonEqual` in JavaScript, then writes in one
 *   `batch` whose statements are conditional on the key still holding the text it read: the
 *   `also` entries first, the key last. Another writer in between makes every statement a no-op
 *   (SQLite runs a batch under one write lock; PostgreSQL runs it in REPEATABLE READ, where a
 *   concurrent change fails it with 40001). No interactive transaction: D1 has none.
 *
 * Keys must be well-formed Unicode without U+0000 (drivers encode UTF-8 and replace lone
 * surrogates; PostgreSQL's text refuses NUL): others are a `ValidationError` before any write.
 * Order is by UTF-8 bytes, as Workers KV and Durable Objects.
 *
 * @example
 * import Database from 'better-sqlite3'
 * const sqlite = new Database('agents.db')
 * const run = (sql, params) => { const s = sqlite.prepare(sql); return s.reader ? { rows: s.all(...params) } : s.run(...params) }
 * const store = createContextStore(sqlStorage({
 *   query: run,
 *   batch: (statements) => sqlite.transaction(() => statements.map((s) => run(s.sql, s.params))).immediate(),
 * }, { dialect: 'sqlite' }))
 */
/* @__NO_SIDE_EFFECTS__ */
export function sqlStorage(db: SqlDatabase, options: SqlStorageOptions): StorageAdapter {
  const dialect = options?.dialect
  if (dialect !== 'sqlite' && dialect !== 'postgres') {
    throw new ValidationError('invalid_argument', `sqlStorage: dialect must be 'sqlite' or 'postgres', got ${JSON.stringify(String(dialect))}`, { path: 'dialect' })
  }
  const table = options.table ?? 'agentctx'
  if (typeof table !== 'string' || !IDENTIFIER.test(table)) {
    throw new ValidationError('invalid_argument', `sqlStorage: table must be a name of letters, digits and _ (or schema.name), got ${showKey(String(table))}`, {
      path: 'table',
    })
  }
  const name = dialect
  const maxKey = dialect === 'postgres' ? PG_MAX_KEY : undefined
  const maxValue = options.maxValueBytes
  if (maxValue !== undefined && !(Number.isInteger(maxValue) && maxValue > 0)) {
    throw new ValidationError('invalid_argument', `sqlStorage: maxValueBytes must be a positive integer, got ${String(maxValue)}`, { path: 'maxValueBytes' })
  }
  const sql = sqlText(dialect, table)

  let created: Promise<unknown> | undefined
  // CREATE TABLE IF NOT EXISTS once per adapter. When it fails, the table may still be there to
  // use: a role without CREATE on the schema (PostgreSQL checks that before existence) on a table
  // made for it, or two racing creators (PostgreSQL's catalog fails the second with a unique
  // violation). A probe says so; else one more CREATE, whose error is the one reported.
  const ready = () =>
    (created ??= (async () => {
      try {
        await db.query(sql.create, [])
      } catch {
        try {
          await db.query(sql.probe, [])
        } catch {
          await db.query(sql.create, [])
        }
      }
    })().catch((e: unknown) => {
      created = undefined
      throw e
    }))
  const run = async (text: string, params: SqlValue[]) => (await ready(), db.query(text, params))
  const batch = async (statements: SqlStatement[]) => (await ready(), db.batch(statements))

  const checkKey = (key: string) => {
    if (typeof key !== 'string') throw new ValidationError('invalid_argument', `${name}: a key must be a string`, { path: String(key) })
    if (LONE.test(key) || key.includes('\0')) {
      throw new ValidationError('invalid_argument', `${name}: key ${showKey(key)} holds a lone surrogate or U+0000, which SQL text cannot store`, { path: key })
    }
    if (maxKey && utf8(key) > maxKey) throw new ValidationError('too_large', `${name}: key ${showKey(key)} is over ${maxKey} bytes`, { path: key })
    return key
  }
  const text = (key: string, value: Json) => {
    checkKey(key)
    const t = encode(name, key, value)
    if (maxValue !== undefined && utf8(t) > maxValue) throw new ValidationError('too_large', `${name}: the value for ${showKey(key)} is over ${maxValue} bytes`, { path: key })
    return t
  }
  // Entries checked and encoded before any write; a key given twice keeps its last value, as
  // writing them in order would (PostgreSQL refuses one statement updating a row twice). Sorted:
  // PostgreSQL locks rows in the order it writes them, so two batches over the same keys in
  // opposite orders would deadlock; in one order the second waits for the first.
  const texts = (entries: [string, Json][]) => [...new Map(entries.map(([k, v]) => [k, text(k, v)])).entries()].sort(([a], [b]) => (a < b ? -1 : 1))
  // One JSON-array parameter per statement, each at most CHUNK_BYTES (one entry alone may be more).
  const chunks = <T>(items: T[], size: (item: T) => number): T[][] => {
    const out: T[][] = []
    let bytes = Infinity
    for (const item of items) {
      const n = size(item)
      if (bytes + n > CHUNK_BYTES) out.push([]), (bytes = 0)
      out[out.length - 1]!.push(item)
      bytes += n
    }
    return out
  }
  const pairChunks = (pairs: [string, string][]) => chunks(pairs, ([k, t]) => k.length + t.length).map((c) => JSON.stringify(c))
  const keyChunks = (keys: string[]) => chunks(keys, (k) => k.length).map((c) => JSON.stringify(c))
  // One statement runs alone (atomic by itself); more go in one batch.
  const all = async (statements: SqlStatement[]) => {
    if (statements.length === 1) await run(statements[0]!.sql, statements[0]!.params)
    else if (statements.length) await batch(statements)
  }
  const read = async (key: string): Promise<string | undefined> => {
    const rows = (await run(sql.get, [key])).rows ?? []
    return rows.length ? (rows[0]!.value as string) : undefined
  }
  const keysOf = (entries: [string, unknown][]) => entries.map((e) => e[0])

  /** One try: writes when `key` still holds `current` (text; `undefined` = absent). Resolves whether it did. */
  const casWrite = async (key: string, current: string | undefined, value: string | undefined, also: [string, string][]): Promise<boolean> => {
    const absent = current === undefined
    const cond: SqlValue[] = absent ? [key] : [key, current]
    const statements: SqlStatement[] = sql.casBegin ? [{ sql: sql.casBegin, params: [] }] : []
    for (const json of also.length ? pairChunks(also) : []) statements.push({ sql: sql.alsoIf(absent), params: [json, ...cond] })
    if (value !== undefined) statements.push(absent ? { sql: sql.insertIfAbsent, params: [key, value] } : { sql: sql.updateIf, params: [value, key, current] })
    else statements.push(absent ? { sql: sql.count, params: [key] } : { sql: sql.deleteIf, params: [key, current] })
    const results = await batch(statements)
    const last = results[results.length - 1]
    // The count statement (nothing expected, nothing to write) succeeds when the key is still absent.
    return value === undefined && absent ? Number(last?.rows?.[0]?.n) === 0 : (last?.changes ?? 0) > 0
  }

  return {
    name,
    capabilities: { atomicBatch: true, compareAndSet: true, consistency: 'strong', ...(maxKey ? { maxKeyBytes: maxKey } : {}), ...(maxValue ? { maxValueBytes: maxValue } : {}) },
    get: (key) => attempt(name, 'get', key, async () => decode(name, key, await read(checkKey(key)))),
    set: (key, value) => attempt(name, 'set', key, () => run(sql.set, [key, text(key, value)]).then(() => undefined)),
    delete: (key) => attempt(name, 'delete', key, () => run(sql.delete, [checkKey(key)]).then(() => undefined)),
    list: (prefix, options) =>
      attempt(name, 'list', prefix, async () => {
        const limit = pageLimit(options?.limit)
        const after = options?.cursor
        checkKey(prefix)
        if (after !== undefined) checkKey(after)
        const end = prefixEnd(prefix)
        const params: SqlValue[] = [prefix]
        if (end !== undefined) params.push(end)
        if (after !== undefined) params.push(after)
        // One more than asked: the extra key says whether another page follows, without an empty last page.
        params.push(limit + 1)
        const rows = (await run(sql.list(end !== undefined, after !== undefined), params)).rows ?? []
        const keys = rows.map((r) => r.key as string)
        return keys.length > limit ? { keys: keys.slice(0, limit), cursor: keys[limit - 1] } : { keys }
      }),
    getMany: (keys) =>
      attempt(name, 'getMany', keys, async () => {
        keys.forEach(checkKey)
        const found = new Map<string, unknown>()
        for (const json of keys.length ? keyChunks([...new Set(keys)]) : []) {
          for (const row of (await run(sql.getMany, [json])).rows ?? []) found.set(row.key as string, row.value)
        }
        return keys.map((k) => decode(name, k, found.get(k)))
      }),
    setMany: (entries) =>
      attempt(name, 'setMany', keysOf(entries), () => all(entries.length ? pairChunks(texts(entries)).map((json) => ({ sql: sql.setMany, params: [json] })) : [])),
    deleteMany: (keys) =>
      attempt(name, 'deleteMany', keys, () => {
        keys.forEach(checkKey)
        return all(keys.length ? keyChunks([...new Set(keys)].sort()).map((json) => ({ sql: sql.deleteMany, params: [json] })) : [])
      }),
    compareAndSet: (key, expected, value, also = []) =>
      attempt(name, 'compareAndSet', key, async () => {
        checkKey(key)
        const next = value === undefined ? undefined : text(key, value)
        // The key's own entry wins over an `also` entry of the same key: it is written last.
        const rest = texts(also).filter(([k]) => k !== key)
        for (let i = 0; ; i++) {
          const current = await read(key)
          if (!jsonEqual(decode(name, key, current), expected)) return false
          try {
            if (await casWrite(key, current, next, rest)) return true
          } catch (e) {
            if (!RETRY.has(String((e as { code?: unknown } | null)?.code)) || i >= CAS_TRIES) throw e
            continue
          }
          // The key changed between the read and the batch: read again (it may hold an equal value).
          if (i >= CAS_TRIES) return false
        }
      }),
  }
}

/**
 * The smallest string above every string that starts with `prefix`, in code point order (UTF-8
 * byte order): the last code point below U+10FFFF incremented (U+D7FF to U+E000, past the
 * surrogates), what follows it dropped. `'ctx/1/'` → `'ctx/10'`. `undefined` when there is none.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix)
  while (points.length) {
    const cp = points.pop()!.codePointAt(0)!
    if (cp < 0x10ffff) return points.join('') + String.fromCodePoint(cp === 0xd7ff ? 0xe000 : cp + 1)
  }
  return undefined
}
