/**
 * What a long conversation costs in storage (issue 8, "Costs that must not grow with the
 * conversation"), checked by counting work rather than timing it: elements an array shift moves,
 * keys a listing examines, backend calls a delete makes. The timed figures are in bench/store-costs*.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Context } from '../../src/context.js'
import type { Json } from '../../src/state/json.js'
import type { ListPage } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { addTurns, counting } from './store-helpers.js'

afterEach(() => vi.restoreAllMocks())
// Building and saving 100,000 turns takes 2-5 s on a busy 2-core machine (more in Chromium): counts, not times, are checked.
const slow = { timeout: 60_000 }

/** A saved context of `turns` turns and `messages` completion messages. */
function big(id: string, turns: number, messages = 0): Context {
  const ctx = Context.init({ flow: 'main', node: 'start' }, { id })
  addTurns(ctx, turns)
  for (let i = 0; i < messages; i++) ctx.addCompletionMessage({ role: 'user', content: `m${i}` })
  return ctx
}

/** Elements moved by `splice` and `unshift` on any array while `run` runs (what a shift of a sorted id list costs). */
async function shifted(run: () => Promise<unknown>): Promise<number> {
  const { splice, unshift } = Array.prototype
  let moved = 0
  vi.spyOn(Array.prototype, 'splice').mockImplementation(function (this: unknown[], ...args: unknown[]) {
    const start = Number(args[0])
    moved += Math.max(0, this.length - (start < 0 ? this.length + start : start))
    return splice.apply(this, args as [number, number])
  })
  vi.spyOn(Array.prototype, 'unshift').mockImplementation(function (this: unknown[], ...items: unknown[]) {
    moved += this.length
    return unshift.apply(this, items)
  })
  try {
    await run()
  } finally {
    vi.restoreAllMocks()
  }
  return moved
}

/**
 * Calls of `String.prototype.startsWith` while `run` runs: every listing here, the old scan and the
 * sorted index alike, tests each key it examines against the prefix once.
 */
async function examined(run: () => Promise<unknown>): Promise<number> {
  const startsWith = String.prototype.startsWith
  let n = 0
  vi.spyOn(String.prototype, 'startsWith').mockImplementation(function (this: string, search: string, position?: number) {
    n++
    return startsWith.call(this, search, position)
  })
  try {
    await run()
  } finally {
    vi.restoreAllMocks()
  }
  return n
}

describe('loadTurns({ all: true }) is linear', () => {
  it('moves no loaded turn id per older turn (ids.splice per older turn was quadratic: 2-4 s at 100,000 turns)', slow, async () => {
    const n = 20_000
    const store = createContextStore(memoryStorage(), { channel: false })
    await store.save(big('long', n))
    const ctx = (await store.load('long'))!
    let loaded = 0
    const moved = await shifted(async () => (loaded = await ctx.loadTurns({ all: true })))
    expect(loaded).toBe(n + 1 - 21) // turns 0..n, of which the 21 most recent came with the load
    // Before: each of the 19,980 older turns was spliced in at index 0 of the loaded ids, n²/2 ≈ 2·10^8 moves.
    expect(moved).toBeLessThan(n)
    expect([...ctx.requests.keys()]).toEqual(Array.from({ length: n }, (_, i) => i + 1))
    expect(ctx.labels.get(0)).toEqual({ flow: 'main', node: 'start' })
    expect(ctx.lastRequest).toEqual({ text: `q${n}`, lang: 'en' })
  })

  it('keeps turn order across gaps in the ids, page by page and all at once', async () => {
    const ids = [0, 1, 2, 99, 100, 101, 250, 251, 399, 400, 401, 1000, 1003]
    const turns = ids.map((id) => ({ id, request: { text: `q${id}` } }))
    const json = { ...big('gaps', 0).toJSON(), id: 'gaps', turns, currentTurnId: 1003 }
    const store = createContextStore(memoryStorage(), { channel: false, recentTurns: 2 })
    await store.save(Context.fromJSON(json))
    const ctx = (await store.load('gaps'))!
    // The two ids below the current turn (1001, 1002) hold no turn: only the current one is loaded.
    expect([...ctx.requests.keys()]).toEqual([1003])
    // One call, the next (up to) 100 turns: the 100 ids below the oldest loaded turn, or, when they
    // hold none (401..999), the next 100 turns found by listing the turn keys once; never "0 loaded"
    // forever (the walk restarted at the oldest loaded turn each call).
    const counts: number[] = []
    for (let i = 0; i < 7; i++) {
      counts.push(await ctx.loadTurns())
      const keys = [...ctx.requests.keys()]
      expect(keys).toEqual([...keys].sort((a, b) => a - b))
    }
    // 1000 (ids 903..1002) | 900..999 empty, so listed: the 11 turns below 1000 | none
    expect(counts).toEqual([1, 11, 0, 0, 0, 0, 0])
    expect([...ctx.requests.keys()]).toEqual(ids)
    const all = (await store.load('gaps'))!
    expect(await all.loadTurns({ all: true })).toBe(ids.length - 1) // 1003 is the current turn, in the header
    expect([...all.requests.keys()]).toEqual(ids)
    expect(all.toJSON().turns).toEqual(turns)
  })
})

describe('loadTurns over sparse or hostile turn ids', () => {
  it('a header claiming turn 9,999,999,998 over no records: loadTurns({ all: true }) lists once and stops (walking 100 ids a call was 10^8 reads)', async () => {
    const a = counting(memoryStorage())
    const store = createContextStore(a, { channel: false, recentTurns: 5 })
    const top = 9_999_999_998
    await store.save(Context.fromJSON({ ...big('hostile', 0).toJSON(), id: 'hostile', turns: [{ id: top, request: { text: 'q' } }], currentTurnId: top }))
    const ctx = (await store.load('hostile'))!
    a.reset()
    expect(await ctx.loadTurns({ all: true })).toBe(0)
    expect(await ctx.loadTurns()).toBe(0)
    expect(a.counts.reads).toBeLessThanOrEqual(200)
    expect(a.counts.lists).toBeLessThanOrEqual(2)
  })

  it('turns 1,000 ids apart: each call loads the next 100 that exist, all of them in 100-turn pages', slow, async () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => i * 1_000)
    const turns = ids.map((id) => ({ id, request: { text: `q${id}` } }))
    const top = ids.at(-1)!
    const a = counting(memoryStorage())
    const store = createContextStore(a, { channel: false, recentTurns: 0 })
    await store.save(Context.fromJSON({ ...big('sparse', 0).toJSON(), id: 'sparse', turns, currentTurnId: top }))
    const ctx = (await store.load('sparse'))!
    a.reset()
    expect(await ctx.loadTurns()).toBe(100)
    expect(ctx.requests.get(top - 100 * 1_000)).toEqual({ text: `q${top - 100 * 1_000}` })
    expect(await ctx.loadTurns({ all: true })).toBe(899)
    expect([...ctx.requests.keys()]).toEqual(ids)
    // One listing for the whole walk (the listed ids are kept), and about two reads of 100 per page.
    expect(a.counts.lists).toBe(1)
    expect(a.counts.reads).toBeLessThan(2_000)
  })
})

describe('store.delete is linear in the records of the context', () => {
  it('deletes a 100,000-turn context by its layout with one listing (every 1,000-key page re-scanned the whole backend)', slow, async () => {
    const n = 100_000
    const inner = memoryStorage()
    const a = counting(inner)
    const store = createContextStore(a, { channel: false })
    await store.save(big('long', n, 100))
    await store.save(big('long0', 3)) // shares the prefix "long" and must survive
    const before = n + 100 // records in the backend: about 100,000 turns, 4 chunks, 2 headers
    a.reset()
    const checks = await examined(() => store.delete('long'))
    // Header, turns 0..n-1 (n is in the header's tail), 3 chunks of 32 messages: each deleted once.
    expect(a.counts.writes).toBe(1 + n + 3)
    expect(a.counts.lists).toBe(1) // the sweep for leftovers, not one listing per 1,000 keys
    expect(a.counts.reads).toBe(1) // the header
    // Keys the memory adapter examined: those of the deleted context once, not pages × backend (10^7).
    expect(checks).toBeLessThan(3 * before)
    expect((await inner.list('')).keys.every((k) => !k.startsWith('agentctx/h/long/') && !k.startsWith('agentctx/d/long/'))).toBe(true)
    expect((await store.load('long0'))?.currentTurnId).toBe(3)
    expect(await store.load('long')).toBeUndefined()
  })

  it('leaves no garbage: an older message generation and the turns of a save that died before its header', async () => {
    const inner = memoryStorage()
    const store = createContextStore(inner, { channel: false })
    await store.save(big('c', 5, 40))
    const header = (await inner.get('agentctx/h/c/')) as { epoch: string; sealed: number }
    const d = `agentctx/d/c/${header.epoch}/`
    // What the layout does not name: a generation kept for a slower writer, a turn past `sealed`.
    const leftovers: [string, Json][] = [
      [`${d}m/7/0000000000/`, []],
      [`${d}m/7/0000000001/`, []],
      [`${d}t/${String(header.sealed + 3).padStart(10, '0')}/`, { id: header.sealed + 3 }],
      [`${d}x/`, 1],
    ]
    await inner.setMany!(leftovers)
    // An older epoch of the same id (a context deleted before, whose sweep failed): not this delete's business.
    await inner.set('agentctx/d/c/oldepoch/t/0000000000/', { id: 0 })
    await inner.set('agentctx/d/c0/e/t/0000000000/', { id: 0 })
    await store.delete('c')
    expect((await inner.list('agentctx/')).keys).toEqual(['agentctx/d/c/oldepoch/t/0000000000/', 'agentctx/d/c0/e/t/0000000000/'])
  })

  it('does not walk the layout of a header claiming 2^40 turns, nor of sparse turn ids past 2^20 (the layout costs O(sealed), the sweep what exists)', async () => {
    const inner = memoryStorage()
    const a = counting(inner)
    const store = createContextStore(a, { channel: false })
    const turns = [1, 2, 2_000_000].map((id) => ({ id, request: { text: `q${id}` } }))
    await store.save(Context.fromJSON({ ...big('sparse', 0).toJSON(), id: 'sparse', turns, currentTurnId: 2_000_001 }))
    a.reset()
    await store.delete('sparse')
    expect(a.counts.writes).toBe(4) // the header and the three turns, found by the sweep
    expect((await inner.list('')).keys).toEqual([])

    await store.save(big('hostile', 2))
    const header = (await inner.get('agentctx/h/hostile/')) as Record<string, Json>
    await inner.set('agentctx/h/hostile/', { ...header, sealed: 2 ** 40 })
    a.reset()
    await store.delete('hostile')
    expect(a.counts.writes).toBeLessThan(10)
    expect((await inner.list('')).keys).toEqual([])
  })
})

describe('listing costs what it returns', () => {
  it('a memory list page examines about `limit` keys, whatever else the backend holds (every page filtered and sorted every key)', slow, async () => {
    const a = memoryStorage()
    const other = Array.from({ length: 100_000 }, (_, i): [string, Json] => [`big/${i}`, i])
    await a.setMany!(other)
    await a.setMany!(Array.from({ length: 50 }, (_, i): [string, Json] => [`small/${String(i).padStart(2, '0')}`, i]))
    await a.list('') // the one sort after the bulk write
    let page: ListPage = { keys: [] }
    const checks = await examined(async () => (page = await a.list('small/', { limit: 10 })))
    expect(page.keys).toHaveLength(10)
    expect(checks).toBeLessThanOrEqual(12) // the page, the look-ahead key, the cursor key itself
    const next = await examined(async () => (page = await a.list('small/', { limit: 10, cursor: page.cursor })))
    expect(page.keys[0]).toBe('small/10')
    expect(next).toBeLessThanOrEqual(12)
    expect(await examined(() => a.list('zzz/'))).toBe(0)
  })

  it('keys deleted in bulk are compacted away: a listing after deleting most keys examines what is left', async () => {
    const a = memoryStorage()
    await a.setMany!(Array.from({ length: 10_000 }, (_, i): [string, Json] => [`k/${String(i).padStart(5, '0')}`, i]))
    await a.list('')
    await a.deleteMany!(Array.from({ length: 9_990 }, (_, i) => `k/${String(i).padStart(5, '0')}`))
    let keys: string[] = []
    const checks = await examined(async () => (keys = (await a.list('k/')).keys))
    expect(keys).toEqual(Array.from({ length: 10 }, (_, i) => `k/0${9_990 + i}`))
    expect(checks).toBeLessThan(100)
  })

  it('store.list reads headers only: linear in contexts, not in records (it scanned every record of every context)', slow, async () => {
    const inner = memoryStorage()
    const a = counting(inner)
    const store = createContextStore(a, { channel: false })
    const template = big('t', 50).toJSON()
    for (let i = 0; i < 2_500; i++) await store.save(Context.fromJSON({ ...template, id: `ctx-${String(i).padStart(4, '0')}` }))
    expect((await inner.list('', { limit: 1000 })).cursor).toBeDefined() // 2,500 × 51 records in the backend
    a.reset()
    const ids: string[] = []
    const checks = await examined(async () => {
      for (let cursor: string | undefined, page; !page || cursor; cursor = page.cursor) {
        page = await store.list({ cursor })
        ids.push(...page.ids)
      }
    })
    expect(ids).toEqual(Array.from({ length: 2_500 }, (_, i) => `ctx-${String(i).padStart(4, '0')}`))
    expect(a.counts.lists).toBe(3)
    expect(a.counts.reads).toBe(0)
    expect(checks).toBeLessThan(2_500 + 10) // one per header (and the first key past the prefix), none per turn record
  })
})
