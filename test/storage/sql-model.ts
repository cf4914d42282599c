/**
 * A model-based property for `sqlStorage`: random sequences of every operation (set, delete,
 * setMany, deleteMany, getMany, compareAndSet with `also`, list pages by prefix, cursor and limit)
 * applied to the SQL adapter and to the memory adapter, with keys drawn from characters SQL and LIKE
 * treat specially (quotes, `%`, `_`, `\`, `/`, control characters, non-ASCII below U+D800, where both
 * orders agree) and any JSON value. Every result must match the model's, and so must the whole store
 * at the end. Free of any test-framework import.
 */
import fc from 'fast-check'
import type { Json } from '../../src/state/json.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'

const CHARS = ['a', 'b', '/', '%', '_', "'", '"', '\\', ';', '-', ' ', 'é', '\u0001', '\n', '日', 'ÿ', '\u007f']
const key = fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 5 })
const value = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>

type Op =
  | { op: 'set'; key: string; value: Json }
  | { op: 'delete'; key: string }
  | { op: 'setMany'; entries: [string, Json][] }
  | { op: 'deleteMany'; keys: string[] }
  | { op: 'getMany'; keys: string[] }
  | { op: 'cas'; key: string; expected: 'current' | 'absent' | 'other'; value: Json | undefined; also: [string, Json][] }
  | { op: 'list'; prefix: string; limit: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key, value }),
  fc.record({ op: fc.constant('delete' as const), key }),
  fc.record({ op: fc.constant('setMany' as const), entries: fc.array(fc.tuple(key, value), { maxLength: 6 }) }),
  fc.record({ op: fc.constant('deleteMany' as const), keys: fc.array(key, { maxLength: 6 }) }),
  fc.record({ op: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 6 }) }),
  fc.record({
    op: fc.constant('cas' as const),
    key,
    expected: fc.constantFrom('current' as const, 'absent' as const, 'other' as const),
    value: fc.option(value, { nil: undefined }),
    also: fc.array(fc.tuple(key, value), { maxLength: 4 }),
  }),
  fc.record({ op: fc.constant('list' as const), prefix: fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 2 }), limit: fc.integer({ min: 1, max: 4 }) }),
)

/** JSON with sorted keys: values compared independently of key order (as `jsonEqual`). */
const canon = (v: unknown): string =>
  v === undefined
    ? 'undefined'
    : JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x))

async function listAll(a: StorageAdapter, prefix: string, limit: number): Promise<string[]> {
  const keys: string[] = []
  for (let cursor: string | undefined, page, n = 0; (!page || cursor) && n < 500; cursor = page.cursor, n++) {
    page = await a.list(prefix, { cursor, limit })
    keys.push(...page.keys)
  }
  return keys
}

async function apply(a: StorageAdapter, o: Op): Promise<unknown> {
  switch (o.op) {
    case 'set':
      return a.set(o.key, o.value)
    case 'delete':
      return a.delete(o.key)
    case 'setMany':
      return a.setMany!(o.entries)
    case 'deleteMany':
      return a.deleteMany!(o.keys)
    case 'getMany':
      return a.getMany!(o.keys)
    case 'cas': {
      const current = await a.get(o.key)
      const expected = o.expected === 'current' ? current : o.expected === 'absent' ? undefined : { other: true }
      return a.compareAndSet!(o.key, expected, o.value, o.also)
    }
    case 'list':
      return listAll(a, o.prefix, o.limit)
  }
}

/**
 * Runs `runs` random sequences of up to 25 operations; `make` gives a fresh SQL adapter (an empty
 * table) for each. Throws (with fast-check's shrunk counterexample) on the first difference.
 */
export async function sqlMatchesModel(make: () => StorageAdapter, runs: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
      const sql = make()
      const model = memoryStorage()
      for (const [i, o] of ops.entries()) {
        const [got, want] = [await apply(sql, o), await apply(model, o)]
        if (canon(got) !== canon(want)) throw new Error(`op ${i} ${JSON.stringify(o)}: sql gave ${canon(got)}, the model ${canon(want)}`)
      }
      const [keys, modelKeys] = [await listAll(sql, '', 1000), await listAll(model, '', 1000)]
      if (canon(keys) !== canon(modelKeys)) throw new Error(`keys at the end: sql ${canon(keys)}, the model ${canon(modelKeys)}`)
      const [values, modelValues] = [await sql.getMany!(keys), await model.getMany!(keys)]
      if (canon(values) !== canon(modelValues)) throw new Error('values at the end differ')
    }),
    { numRuns: runs },
  )
}
