/**
 * Turns on demand (issue 11): `ctx.getTurn(turnId)` and `ctx.loadTurns({ from, to })` on the memory
 * adapter, in Node and in Chromium, with an adapter that records every backend call, so "one read"
 * means one `get` call of one key. The same behaviour on every other backend: turns-cases.ts (run by
 * the store suite on IndexedDB, localStorage, Workers KV, Durable Objects, unstorage, Redis, SQL).
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Context } from '../../src/context.js'
import { ValidationError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'
import { MAX_TURN_ID } from '../../src/state/turns.js'
import { encodeKey, type StorageAdapter } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { addTurns, runtime } from './store-helpers.js'

/** Every call `inner` gets, as `[method, key or keys]`. */
function recording(inner: StorageAdapter): StorageAdapter & { calls: [string, string | string[]][] } {
  const calls: [string, string | string[]][] = []
  return {
    ...inner,
    calls,
    get: (k) => (calls.push(['get', k]), inner.get(k)),
    set: (k, v) => (calls.push(['set', k]), inner.set(k, v)),
    delete: (k) => (calls.push(['delete', k]), inner.delete(k)),
    list: (p, o) => (calls.push(['list', p]), inner.list(p, o)),
    getMany: (ks) => (calls.push(['getMany', ks]), inner.getMany!(ks)),
    setMany: (es) => (calls.push(['setMany', es.map(([k]) => k)]), inner.setMany!(es)),
    compareAndSet: (k, e, v, also) => (calls.push(['compareAndSet', k]), inner.compareAndSet!(k, e, v, also)),
  }
}

/** A context of `turns` turns (request, response, a label every third turn) from `Context.init`. */
function history(id: string, turns: number): Context {
  const ctx = Context.init({ flow: 'main', node: 'start' }, { id }, runtime)
  addTurns(ctx, turns)
  return ctx
}

const turnOf = (ctx: Context, id: number) => {
  const t = { id, label: ctx.labels.get(id), request: ctx.requests.get(id), response: ctx.responses.get(id) }
  return t.label || t.request || t.response ? JSON.parse(JSON.stringify(t)) : undefined
}

describe('ctx.getTurn', () => {
  it('without a store: from memory, negative ids from the end, undefined for a turn that does not exist', async () => {
    const ctx = history('m', 5)
    expect(await ctx.getTurn(0)).toEqual({ id: 0, label: { flow: 'main', node: 'start' } })
    expect(await ctx.getTurn(3)).toEqual({ id: 3, request: { text: 'q3', lang: 'en' }, response: { text: 'a3' }, label: { flow: 'main', node: 'n3' } })
    expect(await ctx.getTurn(-1)).toEqual(await ctx.getTurn(5))
    expect(await ctx.getTurn(-6)).toEqual(await ctx.getTurn(0))
    expect([await ctx.getTurn(6), await ctx.getTurn(-7), await ctx.getTurn(MAX_TURN_ID), await ctx.getTurn(-MAX_TURN_ID - 1)]).toEqual([undefined, undefined, undefined, undefined])
    expect(await new Context().getTurn(0)).toBeUndefined()
    expect(await new Context().getTurn(-1)).toBeUndefined()
  })

  it('refuses a turn id that is not an integer within ±MAX_TURN_ID with a ValidationError naming turnId', async () => {
    const ctx = history('v', 2)
    for (const bad of [0.5, -1.5, Number.NaN, Infinity, 2 ** 53, MAX_TURN_ID + 1, -MAX_TURN_ID - 2, '1', null, undefined, 1n]) {
      await expect(ctx.getTurn(bad as never)).rejects.toSatisfy((e) => e instanceof ValidationError && e.code === 'invalid_argument' && e.path === 'turnId')
    }
  })

  it('a turn read is frozen and a copy: editing it is refused, and the context is unchanged', async () => {
    const ctx = history('f', 3)
    const turn = (await ctx.getTurn(2))!
    expect(() => ((turn as { id: number }).id = 9)).toThrow(TypeError)
    expect(() => ((turn.request as { text: string }).text = 'changed')).toThrow(TypeError)
    ctx.addResponse('later') // the current turn changes after it was read
    expect((await ctx.getTurn(3))!.response).toEqual({ text: 'later' })
    expect(turn.request).toEqual({ text: 'q2', lang: 'en' })
  })

  it('on a loaded context, an old turn is ONE read of that turn\'s record (a getMany of one key here): no listing, no page, no header', async () => {
    const memory = memoryStorage()
    const ctx = history('c', 300)
    await createContextStore(memory, { channel: false, runtime }).save(ctx)
    const r = recording(memory)
    const loaded = (await createContextStore(r, { channel: false, runtime, recentTurns: 10 }).load('c'))!
    const epoch = (await memory.get(encodeKey(['agentctx', 'h', 'c'])) as { epoch: string }).epoch
    for (const id of [0, 1, 150, 289, -300]) {
      r.calls.length = 0
      const turn = await loaded.getTurn(id)
      const at = id < 0 ? 301 + id : id
      expect(turn).toEqual(turnOf(ctx, at))
      expect(r.calls).toEqual([['getMany', [encodeKey(['agentctx', 'd', 'c', epoch, 't', String(at).padStart(10, '0')])]]])
    }
    // Turns in memory (290..300) and turns past either end: no call at all.
    r.calls.length = 0
    for (const id of [290, 300, -1, -11, 301, -302]) await loaded.getTurn(id)
    expect(r.calls).toEqual([])
    // Not kept in memory (decision: getTurn is a read; loadTurns keeps): a second read reads again.
    expect(loaded.requests.get(150)).toBeUndefined()
    r.calls.length = 0
    await loaded.getTurn(150)
    expect(r.calls.length).toBe(1)
  })

  it('a turn id with no record (a gap) is undefined after its one read', async () => {
    const memory = memoryStorage()
    const turns = [{ id: 1, request: { text: 'a' } }, { id: 5, request: { text: 'b' } }, { id: 9, request: { text: 'c' } }]
    await createContextStore(memory, { channel: false }).save(Context.fromJSON({ ...new Context({ contextId: 'g' }).toJSON(), turns, currentTurnId: 9 }))
    const r = recording(memory)
    const loaded = (await createContextStore(r, { channel: false, recentTurns: 0 }).load('g'))!
    r.calls.length = 0
    expect(await loaded.getTurn(3)).toBeUndefined()
    expect(await loaded.getTurn(5)).toEqual({ id: 5, request: { text: 'b' } })
    expect(r.calls.map(([m, k]) => [m, k.length])).toEqual([['getMany', 1], ['getMany', 1]])
  })

  it('a corrupted or misplaced turn record is an invalid_state error naming its key; the context is unchanged', async () => {
    const memory = memoryStorage()
    await createContextStore(memory, { channel: false }).save(history('x', 50))
    const loaded = (await createContextStore(memory, { channel: false, recentTurns: 5 }).load('x'))!
    const epoch = ((await memory.get(encodeKey(['agentctx', 'h', 'x']))) as { epoch: string }).epoch
    const k = (t: number) => encodeKey(['agentctx', 'd', 'x', epoch, 't', String(t).padStart(10, '0')])
    const bad: [number, Json][] = [
      [3, { id: 4, request: { text: 'the record of another turn' } }],
      [4, 'not an object'],
      [5, { id: 5, request: { text: 7 } }],
      [6, { id: 6, request: { text: 'q' }, extra: true }],
      [7, { id: 7, label: { flow: '', node: 'n' } }],
    ]
    for (const [t, v] of bad) await memory.set(k(t), v)
    const before = JSON.stringify(loaded.toJSON())
    for (const [t] of bad) {
      await expect(loaded.getTurn(t)).rejects.toSatisfy((e: { code?: string; message?: string }) => e.code === 'invalid_state' && e.message!.includes(JSON.stringify(k(t))))
    }
    await expect(loaded.loadTurns({ from: 0, to: 10 })).rejects.toMatchObject({ code: 'invalid_state' })
    expect(JSON.stringify(loaded.toJSON())).toBe(before)
    expect(await loaded.getTurn(8)).toEqual(turnOf(history('x', 50), 8))
  })

  it('regression guard: a record above the loaded header\'s sealed turn (a save that never reached its header) is never read', async () => {
    const memory = memoryStorage()
    const s = createContextStore(memory, { channel: false })
    const ctx = Context.init({ flow: 'main', node: 'start' }, { id: 'crash' })
    await s.save(ctx) // sealed -1: turn 0 is the current turn, in the header
    const epoch = ((await memory.get(encodeKey(['agentctx', 'h', 'crash']))) as { epoch: string }).epoch
    // What a save that died after its records and before its header leaves: turn 0 sealed, in a record.
    await memory.set(encodeKey(['agentctx', 'd', 'crash', epoch, 't', '0000000000']), { id: 0, label: { flow: 'ghost', node: 'x' } })
    const r = recording(memory)
    const loaded = (await createContextStore(r, { channel: false, recentTurns: 0 }).load('crash'))!
    r.calls.length = 0
    expect(await loaded.getTurn(0)).toEqual({ id: 0, label: { flow: 'main', node: 'start' } })
    expect(r.calls).toEqual([])
  })

  it('at 100,000 turns an old turn still costs one record read', { timeout: 120_000 }, async () => {
    const memory = memoryStorage()
    await createContextStore(memory, { channel: false }).save(history('big', 100_000))
    const r = recording(memory)
    const loaded = (await createContextStore(r, { channel: false }).load('big'))!
    for (const id of [1, 50_000, 99_979]) {
      r.calls.length = 0
      expect((await loaded.getTurn(id))!.request).toEqual({ text: `q${id}`, lang: 'en' })
      expect(r.calls.length).toBe(1)
    }
  })
})

describe('ctx.loadTurns({ from, to })', () => {
  it('without a store: nothing to load, bounds still checked', async () => {
    const ctx = history('n', 3)
    expect(await ctx.loadTurns({ from: 0, to: 4 })).toBe(0)
    expect(await ctx.loadTurns({ from: -2 })).toBe(0)
    await expect(ctx.loadTurns({ from: 0, to: 5 })).rejects.toMatchObject({ name: 'ValidationError', path: 'to' })
  })

  it('reads the range in batches of 1,000 ids, only below the turns in memory', async () => {
    const memory = memoryStorage()
    await createContextStore(memory, { channel: false }).save(history('r', 2_500))
    const r = recording(memory)
    const loaded = (await createContextStore(r, { channel: false }).load('r'))!
    r.calls.length = 0
    expect(await loaded.loadTurns({ from: 100, to: 2_490 })).toBe(2_380)
    expect(r.calls.map(([m, k]) => [m, k.length])).toEqual([
      ['getMany', 1_000],
      ['getMany', 1_000],
      ['getMany', 380],
    ])
    expect([...loaded.requests.keys()]).toEqual(Array.from({ length: 2_401 }, (_, i) => i + 100))
  })

  it('a header claiming turn 9,999,999,998 over no records: a range from 0 reads 1,000 ids, lists once, and stops', async () => {
    const memory = memoryStorage()
    const top = 9_999_999_998
    await createContextStore(memory, { channel: false }).save(Context.fromJSON({ ...new Context({ contextId: 'h' }).toJSON(), turns: [{ id: top, request: { text: 'q' } }], currentTurnId: top }))
    const r = recording(memory)
    const loaded = (await createContextStore(r, { channel: false, recentTurns: 5 }).load('h'))!
    r.calls.length = 0
    expect(await loaded.loadTurns({ from: 0 })).toBe(0)
    expect(r.calls.map(([m]) => m)).toEqual(['getMany', 'list'])
  })
})

describe('property: any reads and range loads agree with the whole history', () => {
  type Op = { op: 'get'; id: number } | { op: 'range'; from: number; to: number } | { op: 'older' }
  it('getTurn equals the turn of a context holding every turn; the maps iterate ascending; a save writes nothing', async () => {
    const memory = memoryStorage()
    const whole = history('p', 180)
    // Gaps: every seventh turn dropped, so pages and ranges meet missing ids too.
    const sparse = Context.fromJSON({ ...whole.toJSON(), turns: (whole.toJSON().turns as { id: number }[]).filter((t) => t.id % 7 !== 4) }, runtime)
    await createContextStore(memory, { channel: false, runtime }).save(sparse)
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('get' as const), id: fc.integer({ min: -190, max: 190 }) }),
      fc.record({ op: fc.constant('range' as const), from: fc.integer({ min: 0, max: 181 }), to: fc.integer({ min: 0, max: 181 }) }),
      fc.record({ op: fc.constant('older' as const) }),
    )
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.array(op, { maxLength: 12 }), async (recent, ops) => {
        const r = recording(memory)
        const ctx = (await createContextStore(r, { channel: false, runtime, recentTurns: recent }).load('p'))!
        for (const o of ops) {
          r.calls.length = 0
          if (o.op === 'get') {
            const at = o.id < 0 ? 181 + o.id : o.id
            expect(await ctx.getTurn(o.id)).toEqual(at >= 0 && at <= 180 ? turnOf(sparse, at) : undefined)
            expect(r.calls.length).toBeLessThanOrEqual(1)
          } else if (o.op === 'range') {
            const [from, to] = o.from <= o.to ? [o.from, o.to] : [o.to, o.from]
            await ctx.loadTurns({ from, to })
            for (let id = from; id < to; id++) expect(turnOf(ctx, id)).toEqual(turnOf(sparse, id))
          } else await ctx.loadTurns()
          const ids = [...ctx.requests.keys()]
          expect(ids).toEqual([...ids].sort((a, b) => a - b))
          for (const [id, request] of ctx.requests) expect(request).toEqual(sparse.requests.get(id))
        }
        await ctx.loadTurns({ all: true })
        expect(ctx.toJSON()).toEqual(sparse.toJSON())
        r.calls.length = 0
        await createContextStore(r, { channel: false, runtime }).save(ctx)
        expect(r.calls.filter(([m]) => m !== 'get')).toEqual([])
      }),
      { numRuns: 60 },
    )
  })
})
