/**
 * `sqlStorage` against a real engine: harnesses for the conformance and store suites (a fresh table
 * per adapter, writes recorded by triggers in the engine itself), and the cases of SQL's own
 * (injection, keys SQL text cannot hold, order, stored text that is not JSON, atomic batches that
 * fail inside the engine, tables made by racing adapters). Free of any test-framework import: the
 * same cases run from vitest (better-sqlite3, pg, postgres) and inside workerd (D1).
 */
import { ContextError, StorageError, ValidationError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { sqlStorage, type SqlDatabase, type SqlDialect, type SqlStorageOptions } from '../../src/storage/sql.js'
import { SECRET, type Case, type Harness } from './conformance.js'
import type { StoreHarness } from './store-cases.js'
import type { BackendWrite } from './store-helpers.js'

/** A database and its dialect: what every harness below is made from. */
export interface SqlEngine {
  db: SqlDatabase
  dialect: SqlDialect
  /** More connections to the same database, each its own `SqlDatabase` (for racing writers); `db` when there is one. */
  connect?(): SqlDatabase
}

let tables = 0
/** A table name no other adapter of this run uses. */
export const freshTable = () => `t${++tables}_${Math.random().toString(36).slice(2, 8)}`

/** The placeholder of parameter `i` (from 1) in `dialect`. */
const p = (dialect: SqlDialect, i: number) => (dialect === 'postgres' ? `$${i}` : '?')

/** `sqlStorage` on a fresh table of `engine`. */
export function fresh(engine: SqlEngine, options?: Partial<SqlStorageOptions>, db = engine.db): StorageAdapter {
  return sqlStorage(db, { dialect: engine.dialect, table: freshTable(), ...options })
}

const failing = (): SqlDatabase => {
  const fail = async (): Promise<never> => {
    throw new Error(`connection reset while sending ${SECRET}`)
  }
  return { query: fail, batch: fail }
}

/** The conformance harness: a fresh table per adapter, and a database failing every call. */
export function sqlHarness(engine: SqlEngine, options?: Partial<SqlStorageOptions>): Harness {
  return { make: async () => fresh(engine, options), broken: async () => sqlStorage(failing(), { dialect: engine.dialect }) }
}

/**
 * `engine.db` on a fresh table whose every row written, updated or deleted is logged by triggers
 * into a second table, in the order the engine applies them; after each call the new log rows are
 * appended to `log` (as the adapter's keys and values). What the backend received, seen by itself.
 */
export async function recordedAdapter(engine: SqlEngine): Promise<{ adapter: StorageAdapter; log: BackendWrite[] }> {
  const { db, dialect } = engine
  const table = freshTable()
  const logTable = `${table}_log`
  await sqlStorage(db, { dialect, table }).list('')
  if (dialect === 'postgres') {
    await db.query(`CREATE TABLE ${logTable} (id bigserial PRIMARY KEY, key text NOT NULL, value text)`, [])
    await db.query(
      `CREATE FUNCTION ${logTable}_fn() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN
        IF TG_OP = 'DELETE' THEN INSERT INTO ${logTable} (key, value) VALUES (OLD.key, NULL);
        ELSE INSERT INTO ${logTable} (key, value) VALUES (NEW.key, NEW.value); END IF;
        RETURN NULL; END $fn$`,
      [],
    )
    await db.query(`CREATE TRIGGER ${table}_log AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${logTable}_fn()`, [])
  } else {
    await db.query(`CREATE TABLE ${logTable} (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, value TEXT)`, [])
    for (const [op, row, value] of [
      ['INSERT', 'new', 'new.value'],
      ['UPDATE', 'new', 'new.value'],
      ['DELETE', 'old', 'NULL'],
    ] as const) {
      await db.query(`CREATE TRIGGER ${table}_${op} AFTER ${op} ON ${table} BEGIN INSERT INTO ${logTable} (key, value) VALUES (${row}.key, ${value}); END`, [])
    }
  }
  const log: BackendWrite[] = []
  let last = 0
  let pulling = Promise.resolve()
  const pull = () =>
    (pulling = pulling.then(async () => {
      const rows = (await db.query(`SELECT id, key, value FROM ${logTable} WHERE id > ${p(dialect, 1)} ORDER BY id`, [last])).rows ?? []
      for (const row of rows) {
        last = Number(row.id)
        log.push([row.key as string, row.value == null ? undefined : (JSON.parse(row.value as string) as Json)])
      }
    }))
  const recording: SqlDatabase = {
    query: async (sql, params) => {
      const r = await db.query(sql, params)
      await pull()
      return r
    },
    batch: async (statements) => {
      const r = await db.batch(statements)
      await pull()
      return r
    },
  }
  return { adapter: sqlStorage(recording, { dialect, table }), log }
}

/** The store harness: fresh tables, and writes recorded by the engine's triggers. */
export function sqlStoreHarness(engine: SqlEngine): StoreHarness {
  return { make: async () => fresh(engine), recorded: () => recordedAdapter(engine) }
}

// ---- SQL's own cases ----------------------------------------------------------------------------

function ok(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(what)
}
function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) throw new Error(`${what}: expected ${e.slice(0, 300)}, got ${String(a).slice(0, 300)}`)
}
async function rejects(run: () => unknown, what: string): Promise<ContextError> {
  try {
    await run()
  } catch (e) {
    ok(e instanceof ContextError, `${what}: rejected with ${String(e)}, not a ContextError`)
    return e
  }
  throw new Error(`${what}: resolved, expected a rejection`)
}
async function listAll(a: StorageAdapter, prefix: string, limit?: number): Promise<string[]> {
  const keys: string[] = []
  for (let cursor: string | undefined, page, n = 0; (!page || cursor) && n < 1000; cursor = page.cursor, n++) {
    page = await a.list(prefix, { cursor, limit })
    keys.push(...page.keys)
  }
  return keys
}
/** Code point order (UTF-8 byte order), which SQL's binary collations follow. */
const byCodePoint = (a: string, b: string) => {
  const x = Array.from(a, (c) => c.codePointAt(0)!)
  const y = Array.from(b, (c) => c.codePointAt(0)!)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}

/** Keys an injection or a LIKE pattern would break on; every one must be data, nothing more. */
export const HOSTILE_KEYS = [
  "it's",
  "'",
  "''",
  '"',
  '""',
  '`',
  '\\',
  "\\'",
  '%',
  '_',
  'a%',
  'a_',
  '%a',
  '[a]',
  '*',
  '?',
  '$1',
  ':name',
  '@p',
  '--',
  '/*',
  ';',
  "x'; DROP TABLE agentctx; --",
  "Robert'); DROP TABLE students;--",
  "' OR '1'='1",
  '" OR ""="',
  "1; SELECT pg_sleep(10)",
  '\n',
  '\t',
  '\u0001',
  '\u007f',
  ' ',
  '',
  'é',
  '🙂',
  '\uffff',
  '\ue000',
  '\ud7ff',
]

export const sqlCases: Case<SqlEngine>[] = [
  {
    name: 'hostile keys are data: quotes, comments, LIKE wildcards, placeholders; the table survives',
    async run(e) {
      const a = fresh(e)
      const keys = HOSTILE_KEYS.map((k) => `h/${k}`)
      await a.setMany!(keys.map((k): [string, Json] => [k, { k, quote: "'); DROP TABLE x; --" }]))
      for (const k of keys) same(await a.get(k), { k, quote: "'); DROP TABLE x; --" }, `get ${JSON.stringify(k)}`)
      same(await listAll(a, 'h/'), [...keys].sort(byCodePoint), 'every key listed once, in code point order')
      // LIKE would match '%' and '_' as wildcards: a key range cannot.
      for (const wild of ['h/%', 'h/_', 'h/a%', 'h/a_', "h/'", 'h/\\']) {
        same(await listAll(a, wild), keys.filter((k) => k.startsWith(wild)).sort(byCodePoint), `list(${JSON.stringify(wild)})`)
      }
      for (const k of keys) {
        ok(await a.compareAndSet!(k, { k, quote: "'); DROP TABLE x; --" }, k), `compareAndSet of ${JSON.stringify(k)}`)
      }
      same(await a.getMany!(keys), keys, 'after compareAndSet of each')
      await a.deleteMany!(keys.slice(0, 5))
      same((await listAll(a, 'h/')).length, keys.length - 5, 'deleteMany of five')
    },
  },
  {
    name: 'keys SQL text cannot hold (U+0000, lone surrogates) are a ValidationError before any write',
    async run(e) {
      const a = fresh(e)
      for (const bad of ['nul/\u0000', 'nul/a\u0000b', 'lone/\ud800', 'lone/\udc00x', 'lone/x\ud83d']) {
        for (const [op, call] of [
          ['set', () => a.set(bad, 1)],
          ['get', () => a.get(bad)],
          ['delete', () => a.delete(bad)],
          ['setMany', () => a.setMany!([['ok/1', 1], [bad, 2]])],
          ['getMany', () => a.getMany!(['ok/1', bad])],
          ['compareAndSet', () => a.compareAndSet!(bad, undefined, 1)],
          ['compareAndSet also', () => a.compareAndSet!('ok/2', undefined, 1, [[bad, 1]])],
          ['list', () => a.list(bad)],
        ] as const) {
          const err = await rejects(call, `${op} of ${JSON.stringify(bad)}`)
          ok(err instanceof ValidationError && err.code === 'invalid_argument' && err.path === bad, `${op}: ${err.code} ${err.message}`)
        }
      }
      same(await listAll(a, ''), [], 'nothing written')
      // A surrogate pair is a character like any other.
      await a.set('pair/🙂', 1)
      same(await a.get('pair/🙂'), 1, 'a surrogate pair')
    },
  },
  {
    name: 'order is code point order (UTF-8 bytes), ranges are exact at astral and U+E000-U+FFFF keys',
    async run(e) {
      const a = fresh(e)
      const keys = ['o/a', 'o/z', 'o/\u00e9', 'o/\ud7ff', 'o/\ue000', 'o/\uffff', 'o/\ud800\udc00', 'o/🙂', 'o/🙂a', 'o/\udbff\udfff', 'o/\udbff\udfff\udbff\udfff', 'o/~']
      await a.setMany!(keys.map((k, i): [string, Json] => [k, i]))
      same(await listAll(a, 'o/'), [...keys].sort(byCodePoint), 'code point order')
      same(await listAll(a, 'o/', 1), [...keys].sort(byCodePoint), 'one key a page')
      same(await listAll(a, 'o/🙂'), ['o/🙂', 'o/🙂a'], 'prefix ending in an astral character')
      same(await listAll(a, 'o/\udbff\udfff'), ['o/\udbff\udfff', 'o/\udbff\udfff\udbff\udfff'], 'prefix ending in U+10FFFF')
      same(await listAll(a, 'o/\ud7ff'), ['o/\ud7ff'], 'prefix ending in U+D7FF (the next is U+E000)')
      same(await listAll(a, 'o/\uffff'), ['o/\uffff'], 'prefix ending in U+FFFF')
    },
  },
  {
    name: 'a stored value that is not JSON is a ValidationError (invalid_state) naming the key, never the text',
    async run(e) {
      const table = freshTable()
      const a = sqlStorage(e.db, { dialect: e.dialect, table })
      await a.set('good', 1)
      await e.db.query(`INSERT INTO ${table} (key, value) VALUES (${p(e.dialect, 1)}, ${p(e.dialect, 2)})`, ['bad', `{not json ${SECRET}`])
      for (const [op, call] of [
        ['get', () => a.get('bad')],
        ['getMany', () => a.getMany!(['good', 'bad'])],
        ['compareAndSet', () => a.compareAndSet!('bad', 1, 2)],
      ] as const) {
        const err = await rejects(call, op)
        ok(err instanceof ValidationError && err.code === 'invalid_state' && err.path === 'bad', `${op}: ${err.code} ${err.message}`)
        ok(err.message.includes(e.dialect) && !err.message.includes(SECRET), `${op}: names the adapter, not the text: ${err.message}`)
      }
      same(await a.get('good'), 1, 'the other key reads')
    },
  },
  {
    name: 'compareAndSet compares JSON, not text: a value stored with other spacing and key order still matches',
    async run(e) {
      const table = freshTable()
      const a = sqlStorage(e.db, { dialect: e.dialect, table })
      await a.list('')
      await e.db.query(`INSERT INTO ${table} (key, value) VALUES (${p(e.dialect, 1)}, ${p(e.dialect, 2)})`, ['h', '{ "b" : 1, "a" : [1, 2.0] }'])
      ok(!(await a.compareAndSet!('h', { a: [1, 3], b: 1 }, 'x')), 'a different value fails')
      ok(await a.compareAndSet!('h', { a: [1, 2], b: 1 }, 'next', [['h/1', 1]]), 'an equal value, written differently, succeeds')
      same(await a.getMany!(['h', 'h/1']), ['next', 1], 'written')
    },
  },
  {
    name: 'a batch the engine fails halfway (a trigger refusing one key in its second statement) writes nothing',
    async run(e) {
      const table = freshTable()
      const a = sqlStorage(e.db, { dialect: e.dialect, table })
      await a.set('keep', 'old')
      if (e.dialect === 'postgres') {
        await e.db.query(
          `CREATE FUNCTION ${table}_boom() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN IF NEW.key = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; END $fn$`,
          [],
        )
        await e.db.query(`CREATE TRIGGER ${table}_boom BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_boom()`, [])
      } else {
        await e.db.query(`CREATE TRIGGER ${table}_boom BEFORE INSERT ON ${table} WHEN new.key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END`, [])
      }
      // 300 values of 1 KB: over 256 KiB of JSON, so two statements in one batch; 'boom' is in the second.
      const big = 'x'.repeat(1000)
      const entries: [string, Json][] = Array.from({ length: 300 }, (_, i): [string, Json] => [`m/${String(i).padStart(3, '0')}`, big])
      entries.push(['keep', 'new'], ['boom', 1])
      const err = await rejects(() => a.setMany!(entries), 'setMany')
      ok(err instanceof StorageError && err.path === 'm/000', `a StorageError naming the first key: ${err.message}`)
      same(await listAll(a, 'm/'), [], 'no entry of the first statement')
      same(await a.get('keep'), 'old', 'the old value')
      const cas = await rejects(() => a.compareAndSet!('keep', 'old', 'new', [...entries.slice(0, 300), ['boom', 1]]), 'compareAndSet')
      ok(cas instanceof StorageError && cas.path === 'keep', `a StorageError naming the key: ${cas.message}`)
      same(await listAll(a, 'm/'), [], 'no `also` entry')
      same(await a.get('keep'), 'old', 'the old value, after compareAndSet')
      await a.setMany!(entries.slice(0, 301))
      same((await listAll(a, 'm/')).length, 300, 'without the refused key, the batch goes through')
    },
  },
  {
    name: 'the table is created on first use, once, by adapters racing to use it; a bad table name is refused',
    async run(e) {
      const table = freshTable()
      const adapters = Array.from({ length: 6 }, () => sqlStorage(e.connect?.() ?? e.db, { dialect: e.dialect, table }))
      await Promise.all(adapters.map((a, i) => a.set(`r/${i}`, i)))
      same(await listAll(adapters[0]!, 'r/'), ['r/0', 'r/1', 'r/2', 'r/3', 'r/4', 'r/5'], 'every first write')
      const schema = e.dialect === 'postgres' ? 'public' : 'main'
      const qualified = sqlStorage(e.db, { dialect: e.dialect, table: `${schema}.${table}` })
      same(await qualified.get('r/3'), 3, `${schema}.${table} is the same table`)
      for (const bad of ['', 'a b', 'a"b', "a'b", 'x; DROP TABLE y', 'a.b.c', '1a', 'a-b', 'ключ', 'a'.repeat(64), 'a.', '.a']) {
        const err = await rejects(() => sqlStorage(e.db, { dialect: e.dialect, table: bad }), `table ${JSON.stringify(bad)}`)
        ok(err instanceof ValidationError && err.path === 'table', `table ${JSON.stringify(bad)}: ${err.message}`)
      }
      const err = await rejects(() => sqlStorage(e.db, { dialect: 'mysql' as SqlDialect }), 'dialect mysql')
      ok(err instanceof ValidationError && err.path === 'dialect', err.message)
    },
  },
  {
    name: 'compareAndSet: an `also` entry of the key itself is overridden by the key, duplicates keep the last',
    async run(e) {
      const a = fresh(e)
      ok(await a.compareAndSet!('k', undefined, 'head', [['k', 'also'], ['d', 1], ['d', 2]]), 'written')
      same(await a.getMany!(['k', 'd']), ['head', 2], 'the key wins, the last duplicate wins')
      await a.setMany!([['s', 1], ['s', 2]])
      same(await a.get('s'), 2, 'setMany: the last duplicate wins')
      ok(await a.compareAndSet!('k', 'head', undefined, [['d', 3]]), 'delete with also')
      same(await a.getMany!(['k', 'd']), [undefined, 3], 'deleted, also written')
      ok(await a.compareAndSet!('gone', undefined, undefined, [['d', 4]]), 'absent stays absent, with also')
      ok(!(await a.compareAndSet!('d', undefined, undefined, [['e', 5]])), 'a present key is not absent')
      same(await a.getMany!(['d', 'e']), [4, undefined], 'nothing written by the failed one')
    },
  },
]
