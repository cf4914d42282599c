/**
 * The SQL text `sqlStorage` sends, per dialect. Every value reaches the database as a bound
 * parameter (strings and integers only); the only text spliced into SQL is the table name, checked
 * against `IDENTIFIER` first. Lists of keys or entries travel as one JSON-array parameter, expanded
 * by the database (`json_each` in SQLite, `json_array_elements` in PostgreSQL): one statement for
 * any count, within D1's limit of 100 bound parameters per statement.
 */

/** SQL dialects `sqlStorage` speaks. */
export type SqlDialect = 'sqlite' | 'postgres'

/** A table name: one identifier, or `schema.table`; letters, digits and `_`, 63 characters each (PostgreSQL's NAMEDATALEN - 1). */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/

/** The statements of one table in one dialect; `?` placeholders in order (PostgreSQL's are numbered by `numbered`). */
export interface SqlText {
  create: string
  /** Reads nothing, fails unless the table exists with both columns. */
  probe: string
  get: string
  /** Params: a JSON array of keys. */
  getMany: string
  set: string
  /** Params: a JSON array of `[key, valueText]` pairs. */
  setMany: string
  delete: string
  /** Params: a JSON array of keys. */
  deleteMany: string
  /** Params: start, (end), (after), limit. */
  list(end: boolean, after: boolean): string
  /** Statement run first in a compare-and-set batch (PostgreSQL: its isolation level), or none. */
  casBegin?: string
  /** Params: a JSON array of pairs, the key, (the value text it must hold). Writes the pairs only when the key is absent / holds that text. */
  alsoIf(absent: boolean): string
  /** Params: key, value text. Changes one row when the key was absent. */
  insertIfAbsent: string
  /** Params: value text, key, the text it must hold. */
  updateIf: string
  /** Params: key, the text it must hold. */
  deleteIf: string
  /** Params: key. One row, `n`: 0 when the key is absent. */
  count: string
}

/** `?` placeholders as `$1`, `$2`, … (PostgreSQL). Our SQL has no `?` anywhere else. */
function numbered(sql: string): string {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}

/** The statements of `table` (already checked against `IDENTIFIER`) in `dialect`. */
export function sqlText(dialect: SqlDialect, table: string): SqlText {
  const t = table
    .split('.')
    .map((part) => `"${part}"`)
    .join('.')
  const pg = dialect === 'postgres'
  const fix = pg ? numbered : (s: string) => s
  // Byte order for keys: SQLite's BINARY and PostgreSQL's "C" compare UTF-8 bytes, which is code
  // point order (JavaScript's `<` for the BMP below U+D800); a locale collation would not.
  const create = pg
    ? `CREATE TABLE IF NOT EXISTS ${t} (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL)`
    : `CREATE TABLE IF NOT EXISTS ${t} (key TEXT NOT NULL COLLATE BINARY PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`
  const keys = pg ? 'SELECT json_array_elements_text(CAST(? AS text)::json)' : 'SELECT value FROM json_each(?)'
  // The JSON parameter is cast from text: postgres.js would encode a parameter typed json again.
  // `WHERE true` (or a condition) before ON CONFLICT: SQLite's parser needs it after INSERT … SELECT.
  const pairs = pg ? 'SELECT e->>0, e->>1 FROM json_array_elements(CAST(? AS text)::json) AS e' : "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)"
  const upsert = 'ON CONFLICT (key) DO UPDATE SET value = excluded.value'
  return {
    create,
    probe: `SELECT key, value FROM ${t} WHERE 1 = 0`,
    get: fix(`SELECT value FROM ${t} WHERE key = ?`),
    getMany: fix(`SELECT key, value FROM ${t} WHERE key IN (${keys})`),
    set: fix(`INSERT INTO ${t} (key, value) VALUES (?, ?) ${upsert}`),
    setMany: fix(`INSERT INTO ${t} (key, value) ${pairs} WHERE true ${upsert}`),
    delete: fix(`DELETE FROM ${t} WHERE key = ?`),
    deleteMany: fix(`DELETE FROM ${t} WHERE key IN (${keys})`),
    list: (end, after) => fix(`SELECT key FROM ${t} WHERE key >= ?${end ? ' AND key < ?' : ''}${after ? ' AND key > ?' : ''} ORDER BY key LIMIT ?`),
    // PostgreSQL's default READ COMMITTED takes a new snapshot per statement: a writer committing
    // between the `also` statement and the key's could leave `also` written and the key not. In
    // REPEATABLE READ every statement sees one snapshot, and a row changed since fails the
    // transaction with SQLSTATE 40001 (retried). SQLite runs a batch under one write lock.
    casBegin: pg ? 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ' : undefined,
    alsoIf: (absent) =>
      fix(`INSERT INTO ${t} (key, value) ${pairs} WHERE ${absent ? 'NOT EXISTS' : 'EXISTS'} (SELECT 1 FROM ${t} WHERE key = ?${absent ? '' : ' AND value = ?'}) ${upsert}`),
    insertIfAbsent: fix(`INSERT INTO ${t} (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`),
    updateIf: fix(`UPDATE ${t} SET value = ? WHERE key = ? AND value = ?`),
    deleteIf: fix(`DELETE FROM ${t} WHERE key = ? AND value = ?`),
    count: fix(`SELECT count(*) AS n FROM ${t} WHERE key = ?`),
  }
}
