import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { sqlStorage, prefixEnd, type SqlDatabase } from '../../src/storage/sql.js'

/** Code point order: what SQLite's BINARY and PostgreSQL's "C" collations compare (UTF-8 bytes). */
const cmp = (a: string, b: string) => {
  const x = Array.from(a, (c) => c.codePointAt(0)!)
  const y = Array.from(b, (c) => c.codePointAt(0)!)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}
// Well-formed strings drawn from the edges: ASCII, U+D7FF/U+E000 around the surrogates, U+FFFF, astral, U+10FFFF.
const char = fc.constantFrom('a', 'b', '/', '~', '\u007f', '\u00e9', '\ud7ff', '\ue000', '\uffff', '🙂', '\u{10000}', '\u{10ffff}')
const text = fc.array(char, { maxLength: 6 }).map((cs) => cs.join(''))

describe('prefixEnd (the upper bound of a prefix listing)', () => {
  it('a string starts with the prefix exactly when it lies in [prefix, prefixEnd(prefix)) in code point order', () => {
    fc.assert(
      fc.property(text, text, (prefix, s) => {
        const end = prefixEnd(prefix)
        const inRange = cmp(s, prefix) >= 0 && (end === undefined || cmp(s, end) < 0)
        expect(inRange).toBe(s.startsWith(prefix))
      }),
      { numRuns: 2000 },
    )
  })

  it('examples: the last character incremented, U+D7FF to U+E000, U+10FFFF carried, none for "" or all U+10FFFF', () => {
    expect(prefixEnd('ctx/1/')).toBe('ctx/10')
    expect(prefixEnd('a\ud7ff')).toBe('a\ue000')
    expect(prefixEnd('a\uffff')).toBe('a\u{10000}')
    expect(prefixEnd('a\u{10ffff}')).toBe('b')
    expect(prefixEnd('')).toBeUndefined()
    expect(prefixEnd('\u{10ffff}\u{10ffff}')).toBeUndefined()
  })
})

describe('sqlStorage options', () => {
  const db: SqlDatabase = { query: () => ({ rows: [] }), batch: () => [] }
  it('refuses an unknown dialect, a table name that is not an identifier and a maxValueBytes that is not a positive integer, before any query', () => {
    for (const table of ['', 'a b', 'x"; DROP TABLE y; --', 'a.b.c', '9a', 'a'.repeat(64)]) {
      expect(() => sqlStorage(db, { dialect: 'sqlite', table })).toThrow(ValidationError)
    }
    expect(() => sqlStorage(db, { dialect: 'oracle' as 'sqlite' })).toThrow(/dialect must be 'sqlite' or 'postgres'/)
    expect(() => sqlStorage(db, undefined as never)).toThrow(ValidationError)
    for (const maxValueBytes of [0, -1, 1.5, Number.NaN, Infinity]) {
      expect(() => sqlStorage(db, { dialect: 'postgres', maxValueBytes })).toThrow(/maxValueBytes must be a positive integer/)
    }
  })

  it('declares per dialect: both atomic and compare-and-set; PostgreSQL keys up to 2,048 bytes; maxValueBytes as given', () => {
    expect(sqlStorage(db, { dialect: 'sqlite' }).capabilities).toEqual({ atomicBatch: true, compareAndSet: true, consistency: 'strong' })
    expect(sqlStorage(db, { dialect: 'postgres', maxValueBytes: 1000 }).capabilities).toEqual({
      atomicBatch: true,
      compareAndSet: true,
      consistency: 'strong',
      maxKeyBytes: 2048,
      maxValueBytes: 1000,
    })
  })
})
