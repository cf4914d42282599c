import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ValidationError } from '../../src/errors.js'
import { getLastIndex, toNodeLabel, toTurnMessage, TurnMap, Turns, type NodeLabel, type TurnMessage } from '../../src/state/turns.js'
import { thrown } from '../core/helpers.js'

const start: NodeLabel = { flow: 'greeting', node: 'start' }

/** A history of three turns after a start label: requests and responses at 1..3, labels at 0..3. */
function history(): { turns: Turns; labels: TurnMap<NodeLabel>; requests: TurnMap<TurnMessage>; responses: TurnMap<TurnMessage> } {
  const turns = new Turns()
  turns.set('label', start)
  for (let i = 1; i <= 3; i++) {
    turns.currentTurnId = i
    turns.set('request', { text: `q${i}` })
    turns.set('label', { flow: 'main', node: `n${i}` })
    if (i !== 2) turns.set('response', { text: `a${i}` })
  }
  return {
    turns,
    labels: new TurnMap(() => turns, 'label'),
    requests: new TurnMap(() => turns, 'request'),
    responses: new TurnMap(() => turns, 'response'),
  }
}

describe('TurnMap', () => {
  it('gets a value by turn id, and undefined for a turn without one', () => {
    const { labels, requests, responses } = history()
    expect(labels.get(0)).toEqual(start)
    expect(requests.get(0)).toBeUndefined()
    expect(requests.get(1)).toEqual({ text: 'q1' })
    expect(responses.get(2)).toBeUndefined() // turn 2 has a request but no response
    expect(responses.get(3)).toEqual({ text: 'a3' })
    expect(requests.get(99)).toBeUndefined()
  })

  it('has / size count only the turns holding a value of its field', () => {
    const { labels, requests, responses } = history()
    expect([labels.size, requests.size, responses.size]).toEqual([4, 3, 2])
    expect(responses.has(1)).toBe(true)
    expect(responses.has(2)).toBe(false)
    expect(labels.has(0)).toBe(true)
    expect(requests.has(0)).toBe(false)
  })

  it('iterates keys, values and entries in ascending turn order', () => {
    const { labels, responses } = history()
    expect([...labels.keys()]).toEqual([0, 1, 2, 3])
    expect([...responses.keys()]).toEqual([1, 3])
    expect([...responses.values()]).toEqual([{ text: 'a1' }, { text: 'a3' }])
    expect([...responses.entries()]).toEqual([
      [1, { text: 'a1' }],
      [3, { text: 'a3' }],
    ])
    expect([...responses]).toEqual([...responses.entries()])
    expect(new Map(labels).get(2)).toEqual({ flow: 'main', node: 'n2' })
  })

  it('lastKey is the highest turn with a value, undefined when empty', () => {
    const { labels, responses } = history()
    expect(labels.lastKey()).toBe(3)
    expect(responses.lastKey()).toBe(3)
    const turns = new Turns()
    expect(new TurnMap(() => turns, 'label').lastKey()).toBeUndefined()
    expect(new TurnMap(() => turns, 'label').size).toBe(0)
  })

  it('follows the Turns it reads from when the getter returns another one (a context restored in place)', () => {
    let turns = new Turns()
    const labels = new TurnMap<NodeLabel>(() => turns, 'label')
    expect(labels.size).toBe(0)
    turns = history().turns
    expect(labels.size).toBe(4)
  })
})

describe('getLastIndex', () => {
  it('reads a TurnMap, a Map and a plain object with unsorted keys', () => {
    expect(getLastIndex(history().labels)).toBe(3)
    expect(getLastIndex(new Map([[3, 'c'], [10, 'x'], [1, 'a']]))).toBe(10)
    expect(getLastIndex({ 2: 'b', 0: 'z', 7: 'q' })).toBe(7)
    expect(getLastIndex({ 0: 'only' })).toBe(0)
  })

  it('compares keys as numbers, not strings ("10" > "9")', () => {
    expect(getLastIndex({ 9: 'a', 10: 'b' })).toBe(10)
    expect(getLastIndex(new Map([[9, 'a'], [10, 'b']]))).toBe(10)
  })

  it.each([
    ['an empty TurnMap', new TurnMap(() => new Turns(), 'request')],
    ['an empty Map', new Map()],
    ['an empty object', {}],
  ])('throws a ContextError (empty) on %s, where the dialog document raises ValueError', (_, dict) => {
    const e = thrown(() => getLastIndex(dict as Map<number, unknown>))
    expect(e.code).toBe('empty')
    expect(e.message).toMatch(/empty/)
  })

  it('regression: a non-numeric key is skipped, not returned as NaN', () => {
    expect(getLastIndex({ 3: 'x', a: 'y' } as Record<number, unknown>)).toBe(3)
    expect(thrown(() => getLastIndex({ a: 'y' } as Record<number, unknown>)).code).toBe('empty')
  })
})

describe('Turns', () => {
  it('keeps ascending order whatever the order records are loaded in', () => {
    const turns = new Turns()
    turns.load([{ id: 5, request: { text: 'e' } }, { id: 1, request: { text: 'a' } }, { id: 3, request: { text: 'c' } }])
    turns.load([{ id: 0, label: start }, { id: 4, request: { text: 'd' } }, { id: 2, request: { text: 'b' } }])
    expect(turns.records().map((r) => r.id)).toEqual([0, 1, 2, 3, 4, 5])
    expect([...new TurnMap<TurnMessage>(() => turns, 'request').values()].map((m) => m.text)).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('replaces a loaded record with the same id instead of listing it twice', () => {
    const turns = new Turns()
    turns.load([{ id: 1, request: { text: 'old' } }])
    turns.load([{ id: 1, request: { text: 'new' } }])
    expect(turns.records()).toEqual([{ id: 1, request: { text: 'new' } }])
  })

  it('sets a field of the current turn, inserting its record in order when older turns come later', () => {
    const turns = new Turns()
    turns.load([{ id: 7, request: { text: 'late' } }])
    turns.currentTurnId = 2
    turns.set('request', { text: 'two' })
    expect(turns.records().map((r) => r.id)).toEqual([2, 7])
    expect(turns.lastWith('request')?.id).toBe(7)
  })

  it('tracks dirty turns: set marks, load does not, markClean clears some or all', () => {
    const turns = new Turns()
    turns.load([{ id: 0, label: start }])
    expect(turns.dirty()).toEqual([])
    turns.currentTurnId = 2
    turns.set('request', { text: 'b' })
    turns.currentTurnId = 1
    turns.set('request', { text: 'a' })
    turns.set('response', { text: 'A' })
    expect(turns.dirty()).toEqual([1, 2]) // sorted, each turn once
    turns.markClean([1])
    expect(turns.dirty()).toEqual([2])
    turns.set('label', { flow: 'f', node: 'n' })
    expect(turns.dirty()).toEqual([1, 2])
    turns.markClean()
    expect(turns.dirty()).toEqual([])
  })

  it('freezes history values, set or loaded: the past cannot be edited in place', () => {
    const turns = new Turns()
    const label = { flow: 'f', node: 'n' }
    turns.set('label', label)
    turns.load([{ id: 1, request: { text: 'hi', meta: { tags: ['x'] } } }])
    expect(Object.isFrozen(turns.record(0)!.label)).toBe(true)
    const request = turns.record(1)!.request as { meta: { tags: string[] } }
    expect(Object.isFrozen(request)).toBe(true)
    expect(Object.isFrozen(request.meta.tags)).toBe(true)
    expect(() => request.meta.tags.push('y')).toThrow(TypeError)
  })

  it('through a Context, labels / requests / responses values are frozen too', () => {
    const ctx = Context.init(start)
    ctx.addRequest({ text: 'hi', extra: { n: 1 } })
    const request = ctx.requests.get(1) as { text: string; extra: { n: number } }
    expect(() => {
      request.text = 'changed'
    }).toThrow(TypeError)
    expect(() => {
      request.extra.n = 2
    }).toThrow(TypeError)
    expect(() => {
      ;(ctx.labels.get(0) as { node: string }).node = 'other'
    }).toThrow(TypeError)
    expect(ctx.lastRequest.text).toBe('hi')
    expect(ctx.toJSON().turns[1]!.request).toEqual({ text: 'hi', extra: { n: 1 } })
  })
})

describe('Turns: order of loaded ids (two arrays, both ends O(1))', () => {
  const rec = (id: number, tag: string) => ({ id, request: { text: `${tag}${id}` } })

  it('older pages below the loaded ids, newer turns above, and a gap filled between, stay in ascending order', () => {
    const turns = new Turns()
    turns.load([500, 501, 505].map((id) => rec(id, 'a')))
    turns.load([400, 499, 450].map((id) => rec(id, 'b'))) // a page below, unsorted
    turns.load([rec(300, 'c')])
    turns.currentTurnId = 506
    turns.set('request', { text: 'now' })
    turns.load([rec(502, 'd'), rec(350, 'd'), rec(600, 'd')]) // between, between, above
    expect(turns.records().map((r) => r.id)).toEqual([300, 350, 400, 450, 499, 500, 501, 502, 505, 506, 600])
    expect(turns.first()).toBe(300)
    expect(turns.lastWith('request')?.id).toBe(600)
  })

  it('a duplicate id replaces the record in place: within one batch the last wins, and the id appears once', () => {
    const turns = new Turns()
    turns.load([rec(5, 'a'), rec(3, 'a'), rec(5, 'b')])
    turns.load([rec(3, 'c'), rec(1, 'c'), rec(1, 'd')])
    expect(turns.records()).toEqual([rec(1, 'd'), rec(3, 'c'), rec(5, 'b')])
  })

  it('property: any sequence of loads and sets gives the ids ascending and once, each with its last record', () => {
    const batch = fc.array(fc.nat(300), { maxLength: 40 })
    const step = fc.oneof(
      batch.map((ids) => ({ load: ids })),
      // A page of 100 consecutive ids below some point, as a store's loader returns it (descending start).
      fc.nat(300).map((end) => ({ load: Array.from({ length: 100 }, (_, i) => end - i).filter((id) => id >= 0 && id % 7 !== 3) })),
      fc.nat(300).map((id) => ({ set: id })),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 20 }), (steps) => {
        const turns = new Turns()
        const model = new Map<number, string>()
        steps.forEach((s, n) => {
          if ('set' in s) {
            // set() writes the current turn; ids only grow in a context, but Turns takes any.
            turns.currentTurnId = s.set
            turns.set('request', { text: `s${n}` })
            model.set(s.set, `s${n}`)
          } else {
            turns.load(s.load.map((id) => rec(id, `l${n}:`)))
            for (const id of s.load) model.set(id, `l${n}:${id}`)
          }
        })
        const ids = [...model.keys()].sort((a, b) => a - b)
        expect(turns.records().map((r) => r.id)).toEqual(ids)
        expect(turns.records().map((r) => r.request?.text)).toEqual(ids.map((id) => model.get(id)))
        expect(turns.first()).toBe(ids[0])
        expect(turns.lastWith('request')?.id).toBe(ids.at(-1))
      }),
      { numRuns: 300 },
    )
  })
})

describe('toTurnMessage / toNodeLabel', () => {
  it('takes a string as shorthand for { text }, and keeps any other JSON field', () => {
    expect(toTurnMessage('hello', 'request')).toEqual({ text: 'hello' })
    expect(toTurnMessage({ text: 'hi', attachments: [{ url: 'https://x' }], misc: null }, 'request')).toEqual({
      text: 'hi',
      attachments: [{ url: 'https://x' }],
      misc: null,
    })
    expect(toTurnMessage({}, 'request')).toEqual({})
  })

  it('copies the message: editing the argument afterwards changes nothing', () => {
    const arg = { text: 'a', list: [1] }
    const m = toTurnMessage(arg, 'request')
    arg.list.push(2)
    expect(m).toEqual({ text: 'a', list: [1] })
  })

  it('regression: fields named "constructor" or "prototype" are kept (valibot\'s record dropped them)', () => {
    expect(toTurnMessage({ text: 'x', constructor: 1, prototype: { a: 1 } } as TurnMessage, 'request')).toEqual({
      text: 'x',
      constructor: 1,
      prototype: { a: 1 },
    })
  })

  it.each([
    ['a non-string text', { text: 5 }, 'request'],
    ['a function field', { text: 'x', f: () => 1 }, 'request.f'],
    ['a Date field', { at: new Date(0) }, 'request.at'],
    ['an array', ['x'], 'request'],
    ['null', null, 'request'],
    ['a __proto__ key', JSON.parse('{"__proto__": {"x": 1}}'), 'request.__proto__'],
  ])('refuses %s with a ValidationError at its path', (_, message, path) => {
    const e = thrown(() => toTurnMessage(message as TurnMessage, 'request'))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.code).toBe('invalid_argument')
    expect(e.path).toBe(path)
  })

  it('validates labels: { flow, node }, both non-empty strings, nothing else', () => {
    expect(toNodeLabel({ flow: 'f', node: 'n' }, 'label')).toEqual({ flow: 'f', node: 'n' })
    expect(thrown(() => toNodeLabel({ flow: 'f' } as NodeLabel, 'label')).path).toBe('label.node')
    expect(thrown(() => toNodeLabel({ flow: '', node: 'n' }, 'label')).path).toBe('label.flow')
    expect(thrown(() => toNodeLabel({ flow: 'f', node: 'n', x: 1 } as NodeLabel, 'label')).path).toBe('label.x')
    expect(thrown(() => toNodeLabel('f:n' as unknown as NodeLabel, 'label')).path).toBe('label')
  })
})
