import { describe, expect, it } from 'vitest'
import { renderInput } from '../../src/llm/render.js'
import { ValidationError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'

describe('renderInput', () => {
  it('returns a string as it is', () => {
    expect(renderInput('Book 1: a story')).toBe('Book 1: a story')
    expect(renderInput('')).toBe('')
    expect(renderInput('  {"not": "parsed"}  ')).toBe('  {"not": "parsed"}  ')
  })
  it('renders objects and arrays as compact JSON, never [object Object]', () => {
    expect(renderInput({ title: 'Book 1', tags: ['a', 'b'], n: 1.5, ok: true, none: null })).toBe(
      '{"title":"Book 1","tags":["a","b"],"n":1.5,"ok":true,"none":null}',
    )
    expect(renderInput([{ a: 1 }, [2]])).toBe('[{"a":1},[2]]')
    expect(renderInput({})).toBe('{}')
    expect(renderInput({ nested: { deep: { x: 'y' } } })).not.toContain('[object Object]')
  })
  it('renders other primitives as JSON', () => {
    expect(renderInput(42)).toBe('42')
    expect(renderInput(false)).toBe('false')
    expect(renderInput(null)).toBe('null')
  })
  it('keeps unicode as it is', () => {
    expect(renderInput({ q: '“你好” 🎉' })).toBe('{"q":"“你好” 🎉"}')
  })
  it.each([
    ['undefined', undefined],
    ['a function', () => 1],
    ['a bigint', { n: 1n }],
  ])('refuses %s with a ValidationError at data', (_, value) => {
    expect(() => renderInput(value as unknown as Json)).toThrow(ValidationError)
    expect(() => renderInput(value as unknown as Json)).toThrow(/^data: is not JSON$/)
  })
  it('refuses a cycle with a ValidationError, not a TypeError', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    try {
      renderInput(a as Json)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError)
      expect((e as ValidationError).path).toBe('data')
      expect((e as ValidationError).cause).toBeInstanceOf(TypeError)
    }
  })
})
