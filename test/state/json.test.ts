import { describe, expect, it } from 'vitest'
import { toJson, formatPath } from '../../src/state/json.js'
import { ContextError } from '../../src/errors.js'

describe('toJson', () => {
  it('copies plain JSON deeply', () => {
    const src = { a: [1, 'x', null, true, { b: 2 }] }
    const out = toJson(src)
    expect(out).toEqual(src)
    expect(out).not.toBe(src)
  })
  it('copies a value shared by two branches instead of calling it circular', () => {
    const shared = { n: 1 }
    expect(toJson({ x: shared, y: shared })).toEqual({ x: { n: 1 }, y: { n: 1 } })
  })
  it.each([
    [{ a: undefined }, 'a'],
    [{ a: [1, () => 1] }, 'a[1]'],
    [{ a: NaN }, 'a'],
    [{ a: new Date(0) }, 'a'],
    [{ 'odd key': 1n }, '["odd key"]'],
  ])('refuses %o at its path', (value, path) => {
    expect(() => toJson(value)).toThrow(ContextError)
    try {
      toJson(value)
    } catch (e) {
      expect((e as ContextError).path).toBe(path)
    }
  })
  it('refuses a cycle', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    expect(() => toJson(a)).toThrow(/circular/)
  })
  it('refuses __proto__ keys without polluting anything', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}}')
    expect(() => toJson(hostile)).toThrow(/__proto__/)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
  it('refuses nesting 100,000 deep with a ContextError, not a stack overflow', () => {
    let deep: unknown = 0
    for (let i = 0; i < 100_000; i++) deep = [deep]
    expect(() => toJson(deep)).toThrow(/nested deeper than 64/)
  })
  it('formats paths', () => {
    expect(formatPath(['a', 0, 'b c', 'd'])).toBe('a[0]["b c"].d')
  })
})
