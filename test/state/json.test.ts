import { describe, expect, it } from 'vitest'
import { cloneJson, deepFreeze, formatPath, toJson } from '../../src/state/json.js'
import { ContextError } from '../../src/errors.js'
import { thrown } from '../core/helpers.js'

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
  it('formats paths after an already formatted prefix, adding the dot only when needed', () => {
    expect(formatPath(['role'], 'messages[2]')).toBe('messages[2].role')
    expect(formatPath([0, 'a b'], 'x')).toBe('x[0]["a b"]')
    expect(formatPath([], 'outcomes.wins')).toBe('outcomes.wins')
    expect(formatPath([])).toBe('')
  })

  it('takes a string path as a formatted prefix: "messages[1]" is not quoted as one odd key', () => {
    const e = thrown(() => toJson({ content: undefined }, 'messages[1]'))
    expect(e.path).toBe('messages[1].content')
    expect(e.message).toBe('messages[1].content: undefined is not JSON')
  })

  it('regression: turns -0 into 0, as JSON.stringify writes it, so a copy equals its JSON round trip', () => {
    const out = toJson({ a: -0, b: [-0, 0, -1.5] }) as { a: number; b: number[] }
    expect(Object.is(out.a, 0)).toBe(true)
    expect(Object.is(out.b[0], 0)).toBe(true)
    expect(out).toEqual(JSON.parse(JSON.stringify({ a: -0, b: [-0, 0, -1.5] })))
    expect(Object.is(toJson(-0), 0)).toBe(true)
  })

  it('reports going past maxDepth or maxNodes as too_large, and other problems with the given code', () => {
    let deep: unknown = 1
    for (let i = 0; i < 10; i++) deep = { d: deep }
    expect(() => toJson(deep, [], { maxDepth: 10 })).not.toThrow()
    const tooDeep = thrown(() => toJson({ d: deep }, 'state', { maxDepth: 10, code: 'invalid_state' }))
    expect(tooDeep.code).toBe('too_large')
    const tooMany = thrown(() => toJson([1, 2, 3, 4], [], { maxNodes: 4 }))
    expect(tooMany.code).toBe('too_large')
    expect(tooMany.message).toMatch(/more than 4 values/)
    const bad = thrown(() => toJson({ f: Symbol('s') }, [], { code: 'invalid_state' }))
    expect(bad.code).toBe('invalid_state')
    expect(bad.path).toBe('f')
  })

  it('accepts null-prototype objects and keys like "constructor" as plain data', () => {
    const o = Object.assign(Object.create(null), { constructor: 1, prototype: 2 })
    expect(toJson(o)).toEqual({ constructor: 1, prototype: 2 })
  })

  it.each([
    ['a Map', new Map()],
    ['a class instance', new (class Point {})()],
    ['Infinity', Infinity],
    ['a symbol', Symbol('x')],
  ])('refuses %s at the root, naming (root)', (_, value) => {
    try {
      toJson(value)
      expect.unreachable()
    } catch (e) {
      expect((e as ContextError).path).toBe('(root)')
    }
  })
})

describe('cloneJson / deepFreeze', () => {
  it('cloneJson copies deeply and shares nothing', () => {
    const src = { a: [{ b: 1 }], c: null }
    const copy = cloneJson(src)
    expect(copy).toEqual(src)
    copy.a[0]!.b = 2
    expect(src.a[0]!.b).toBe(1)
  })
  it('deepFreeze freezes every level and returns its argument', () => {
    const v = { a: { b: [1, { c: 2 }] } }
    expect(deepFreeze(v)).toBe(v)
    expect(Object.isFrozen(v.a.b[1])).toBe(true)
    expect(deepFreeze(3)).toBe(3)
  })
})
