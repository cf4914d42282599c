import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parsePartialJson } from '../../src/llm/partial.js'

/** True when `p` is what a prefix of `final`'s text may show: strings cut, keys and elements missing, the last element partial. */
function isDeepPartial(p: unknown, final: unknown): boolean {
  if (typeof final === 'string') return typeof p === 'string' && final.startsWith(p)
  if (Array.isArray(final)) {
    if (!Array.isArray(p) || p.length > final.length) return false
    return p.every((x, k) => (k < p.length - 1 ? JSON.stringify(x) === JSON.stringify(final[k]) : isDeepPartial(x, final[k])))
  }
  if (typeof final === 'object' && final !== null) {
    if (typeof p !== 'object' || p === null || Array.isArray(p) || Object.getPrototypeOf(p) !== Object.prototype) return false
    return Object.keys(p).every((k) => Object.hasOwn(final, k) && isDeepPartial((p as any)[k], (final as any)[k]))
  }
  return Object.is(p, final)
}

const show = (text: string) => parsePartialJson(text)?.value

describe('parsePartialJson', () => {
  it('shows strings as they arrive, keys once whole and their value begun', () => {
    expect(show('{"name": "Pa')).toEqual({ name: 'Pa' })
    expect(show('{"name": "Paris", "ci')).toEqual({ name: 'Paris' })
    expect(show('{"name": "Paris", "city":')).toEqual({ name: 'Paris' })
    expect(show('{"name": "Paris", "city": "')).toEqual({ name: 'Paris', city: '' })
    expect(show('{"tags": ["a", "b')).toEqual({ tags: ['a', 'b'] })
    expect(show('{"a": {"b": [{"c": "d')).toEqual({ a: { b: [{ c: 'd' }] } })
    expect(show('{')).toEqual({})
    expect(show('[')).toEqual([])
    expect(show('')).toBeUndefined()
    expect(show('  \n')).toBeUndefined()
  })

  it('regression (partial-json 0.1.7 showed 12, then 1 for "1e"): a number shows only once something follows it', () => {
    expect(show('{"n": 12')).toEqual({})
    expect(show('{"n": 1e')).toEqual({})
    expect(show('{"n": 1.')).toEqual({})
    expect(show('{"n": -')).toEqual({})
    expect(show('{"n": 123,')).toEqual({ n: 123 })
    expect(show('{"n": 123 ')).toEqual({ n: 123 })
    expect(show('[1, 2')).toEqual([1])
    expect(show('[1, 2]')).toEqual([1, 2])
    expect(show('-12.5e3')).toBeUndefined()
  })

  it('true, false and null show only once whole', () => {
    expect(show('{"ok": tr')).toEqual({})
    expect(show('{"ok": true')).toEqual({ ok: true })
    expect(show('[fals')).toEqual([])
    expect(show('[null')).toEqual([null])
  })

  it('an escape cut in half is left out until whole', () => {
    expect(show('"a\\')).toBe('a')
    expect(show('"a\\u00')).toBe('a')
    expect(show('"a\\u00e9')).toBe('aé')
    expect(show('"a\\"')).toBe('a"')
    expect(show('"a\\\\')).toBe('a\\')
    expect(show('["a\\\\"]')).toEqual(['a\\'])
  })

  it('regression (partial-json 0.1.7 set the prototype): "__proto__" is an own key, never a prototype', () => {
    for (const text of ['{"__proto__": {"admin": true}}', '{"__proto__": {"admin": true', '{"x": [{"__proto__": {"admin": true}}]}']) {
      const v = show(text) as any
      const obj = v.x ? v.x[0] : v
      expect(Object.getPrototypeOf(obj)).toBe(Object.prototype)
      expect(Object.hasOwn(obj, '__proto__')).toBe(true)
      expect(obj.admin).toBeUndefined()
      expect(({} as any).admin).toBeUndefined()
    }
  })

  it('regression (partial-json 0.1.7 accepted them): text JSON does not allow is undefined, never a guess', () => {
    for (const text of ['{"a" 1}', '{"a"x1}', '[1,,2]', '[1,]', '{"a":1}}', '{"a":1} x', 'tru e', 'trux', '01', '[01', '{"a": NaN', '{"a": Infinity}', "{'a': 1}", '{a: 1}', '"line\nbreak', '"\\x"', '[-]', '1.e5', '+1']) {
      expect(parsePartialJson(text), text).toBeUndefined()
    }
  })

  it('complete is true for a whole value only', () => {
    expect(parsePartialJson('{"a": [1, "x"]}  ')).toEqual({ value: { a: [1, 'x'] }, complete: true })
    expect(parsePartialJson('{"a": [1, "x"]')).toEqual({ value: { a: [1, 'x'] }, complete: false })
    expect(parsePartialJson('"done"')).toEqual({ value: 'done', complete: true })
  })

  it('nesting past 256 levels gives up (undefined), without a stack overflow', () => {
    expect(parsePartialJson('['.repeat(100_000))).toBeUndefined()
    expect(parsePartialJson('['.repeat(200))?.value).toBeDefined()
  })

  it('property: every prefix of a JSON text shows a deep partial of its value, or nothing; the whole text shows the value, complete', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2, '\t'), (value, indent) => {
        const text = JSON.stringify(value, null, indent)
        const final = JSON.parse(text)
        for (let k = 0; k < text.length; k++) {
          const got = parsePartialJson(text.slice(0, k))
          if (got === undefined) continue
          if (!isDeepPartial(got.value, final)) throw new Error(`${JSON.stringify(text.slice(0, k))} showed ${JSON.stringify(got.value)}`)
          expect(got.complete).toBe(false)
        }
        const whole = parsePartialJson(text)
        // A lone number shows nothing until the stream ends; everything else is whole.
        if (typeof final !== 'number') expect(whole).toEqual({ value: final, complete: true })
      }),
      { numRuns: 300 },
    )
  })

  it('property: any text, JSON or not, gives undefined or a value, never an exception', () => {
    const jsonish = fc.stringMatching(/^[[\]{}",:\\u0-9a-fnrtel.+\- eE]*$/)
    fc.assert(
      fc.property(fc.oneof(fc.string(), jsonish, fc.json().map((t) => t.slice(0, t.length >> 1) + t.slice(t.length >> 1).split('').reverse().join(''))), (text) => {
        const got = parsePartialJson(text)
        expect(got === undefined || 'value' in got).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })
})
