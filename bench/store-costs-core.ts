/**
 * What a long conversation costs in storage, shared by the Node run (store-costs.bench.ts, memory
 * adapter) and the Chromium run (store-costs-browser.ts, IndexedDB). No Node API here.
 *
 * `loadTurns({ all: true })` and `store.delete(id)` of a context of 10,000 and of 100,000 turns:
 * linear work makes the second 10× the first; the bound is 12×. Each round saves the context afresh
 * (untimed), loads it (recentTurns 20, untimed), times `loadTurns({ all: true })`, then times
 * `delete` (with `node --expose-gc`, garbage is collected before each timed part). The sizes
 * alternate round by round, so drift and GC hit both alike. Figures are medians (the bound is
 * checked on them) and the best round, which other processes on a busy machine disturb least.
 *
 * `ctx.getTurn(id)` of old turns (not in memory: one record read each) at 10,000 and at 100,000 turns,
 * timed after `loadTurns` (not before it, which would warm the backend's cache for it; after it, a
 * backend that compacts a bulk write in the background, IndexedDB's LevelDB, has had the time of
 * `loadTurns` to do so), on a second loaded context: 1,000 ids spread over the history (after 50 untimed),
 * the mean per call per round, each call checked to read one record (a counting adapter). Constant
 * work makes the ratio about 1; the bound is 2.
 *
 * `store.list()` walked to its end: 1,000 contexts of 10 turns, 1,000 contexts of 100 turns (10×
 * the records, the same contexts: a list that reads only headers takes the same time) and 10,000
 * contexts of 10 turns (10× the contexts: about 10× the time).
 */
import { Context } from '../src/context.js'
import type { StorageAdapter } from '../src/storage/adapter.js'
import { createContextStore, type ContextStore } from '../src/storage/store.js'
import { addTurns, counting } from '../test/storage/store-helpers.js'

/** Options of `costsBench`. */
export interface CostsBenchOptions {
  /** A fresh adapter over an empty backend. */
  make(): Promise<StorageAdapter>
  /** Timed rounds per size. */
  rounds: number
  /** Timed `list` walks per shape. */
  lists: number
  /** Progress lines. */
  log?(line: string): void
  /**
   * Milliseconds to wait after each untimed save before timing: IndexedDB (LevelDB in Chromium)
   * compacts a bulk write in the background, which would land in the timed part on a 2-core machine.
   */
  settle?: number
}

/** What `costsBench` measured; `markdown` is the report. */
export interface CostsBenchResult {
  markdown: string
  /** Median `loadTurns({ all: true })` at 100,000 turns ÷ at 10,000 (bound: <= 12). */
  loadRatio: number
  /** Median `delete` at 100,000 turns ÷ at 10,000 (bound: <= 12). */
  deleteRatio: number
  /** Median `getTurn` of an old turn at 100,000 turns ÷ at 10,000 (bound: <= 2: one record read at either size). */
  getTurnRatio: number
  /** Median `list` of 1,000 contexts of 100 turns ÷ of 10 turns (records do not count: about 1). */
  listRecordsRatio: number
  /** Median `list` of 10,000 contexts ÷ of 1,000 contexts (about 10). */
  listContextsRatio: number
}

const SIZES = [10_000, 100_000]
const now = () => performance.now()
// Collects the garbage of the previous round outside the timed parts, where the runtime lets us
// (node --expose-gc; Chromium started with --js-flags=--expose-gc).
const gc = () => (globalThis as { gc?: () => void }).gc?.()
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

function build(id: string, turns: number): Context {
  const ctx = Context.init({ flow: 'main', node: 'start' }, { id, agentId: 'bench' })
  addTurns(ctx, turns)
  return ctx
}

/** Runs the benchmark on adapters from `make`. */
export async function costsBench(o: CostsBenchOptions): Promise<CostsBenchResult> {
  const log = o.log ?? (() => {})
  // Built once: the JSON of each size, restored into a fresh Context per round (a save needs one whose store never saw it).
  const templates = SIZES.map((n) => build(`c${n}`, n).toJSON())
  const t = { load: SIZES.map(() => [] as number[]), del: SIZES.map(() => [] as number[]), get: SIZES.map(() => [] as number[]) }
  const round = async (k: number, timed: boolean) => {
    const adapter = await o.make()
    const store = createContextStore(adapter, { channel: false })
    await store.save(Context.fromJSON(templates[k]!))
    if (o.settle) await new Promise((resolve) => setTimeout(resolve, o.settle))
    const ctx = (await store.load(`c${SIZES[k]}`))!
    gc()
    let t0 = now()
    const loaded = await ctx.loadTurns({ all: true })
    const load = now() - t0
    gc()
    if (loaded !== SIZES[k]! - 20) throw new Error(`loadTurns loaded ${loaded} turns, expected ${SIZES[k]! - 20}`)
    // Old turns spread over the history below the 20 in memory, through a store on a counting
    // adapter (checked: one record read per call); 50 calls to warm up, then 1,000 timed.
    const counted = counting(adapter)
    const reader = (await createContextStore(counted, { channel: false }).load(`c${SIZES[k]}`))!
    const ids = Array.from({ length: 1_050 }, (_, i) => 1 + Math.floor(((SIZES[k]! - 40) * i) / 1_050))
    const read = async (list: number[]) => {
      for (const id of list) if ((await reader.getTurn(id))?.request?.text !== `q${id}`) throw new Error(`getTurn(${id}) did not find turn ${id}`)
    }
    await read(ids.slice(1_000))
    gc()
    counted.reset()
    t0 = now()
    await read(ids.slice(0, 1_000))
    const get = (now() - t0) / 1_000
    if (counted.counts.reads !== 1_000 || counted.counts.lists) throw new Error(`1,000 getTurn calls read ${counted.counts.reads} records and listed ${counted.counts.lists} times`)
    if (reader.requests.get(ids[0]!)) throw new Error('getTurn kept a turn in memory')
    gc()
    t0 = now()
    await store.delete(ctx.id)
    const del = now() - t0
    if ((await adapter.list('', { limit: 1 })).keys.length) throw new Error('delete left records behind')
    if (timed) {
      t.load[k]!.push(load)
      t.del[k]!.push(del)
      t.get[k]!.push(get)
    }
  }
  log(`loadTurns / delete: ${o.rounds} rounds per size, after 1 warm-up`)
  await round(0, false)
  await round(1, false)
  for (let i = 0; i < o.rounds; i++) {
    // Alternate which size goes first.
    for (const k of i % 2 ? [1, 0] : [0, 1]) await round(k, true)
    log(`  ${i + 1} rounds`)
  }

  // list: three backends, each walked `lists` times in rotation.
  const shapes = [
    { contexts: 1000, turns: 10 },
    { contexts: 1000, turns: 100 },
    { contexts: 10_000, turns: 10 },
  ]
  const stores: ContextStore[] = []
  for (const s of shapes) {
    const store = createContextStore(await o.make(), { channel: false })
    const template = build('x', s.turns).toJSON()
    for (let i = 0; i < s.contexts; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, s.contexts - i) }, (_, j) => store.save(Context.fromJSON({ ...template, id: `ctx-${i + j}` }))))
    }
    stores.push(store)
    log(`  saved ${s.contexts} contexts of ${s.turns} turns`)
  }
  const walk = async (store: ContextStore) => {
    let n = 0
    for (let cursor: string | undefined, page; !page || cursor; cursor = page.cursor) {
      page = await store.list({ cursor })
      n += page.ids.length
    }
    return n
  }
  const l = shapes.map(() => [] as number[])
  for (let i = 0; i < o.lists + 2; i++) {
    for (let j = 0; j < shapes.length; j++) {
      const k = (i + j) % shapes.length
      const t0 = now()
      const n = await walk(stores[k]!)
      if (i >= 2) l[k]!.push(now() - t0)
      if (n !== shapes[k]!.contexts) throw new Error(`list found ${n} contexts, expected ${shapes[k]!.contexts}`)
    }
  }

  const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(1)} ms`)
  const ratio = (xs: number[][]) => median(xs[1]!) / median(xs[0]!)
  const loadRatio = ratio(t.load)
  const deleteRatio = ratio(t.del)
  const getTurnRatio = ratio(t.get)
  const listRecordsRatio = median(l[1]!) / median(l[0]!)
  const listContextsRatio = median(l[2]!) / median(l[0]!)
  const verdict = (r: number) => `**${r.toFixed(1)}×** (≤ 12: ${r <= 12 ? 'ok' : 'OVER'})`
  const best = (xs: number[][]) => Math.min(...xs[1]!) / Math.min(...xs[0]!)
  const rows = [
    `| history | loadTurns({ all: true }): median | best | delete: median | best |`,
    `| --- | ---: | ---: | ---: | ---: |`,
    ...SIZES.map((n, k) => `| ${n.toLocaleString('en')} turns | ${ms(median(t.load[k]!))} | ${ms(Math.min(...t.load[k]!))} | ${ms(median(t.del[k]!))} | ${ms(Math.min(...t.del[k]!))} |`),
    `| **100,000 ÷ 10,000** | ${verdict(loadRatio)} | ${best(t.load).toFixed(1)}× | ${verdict(deleteRatio)} | ${best(t.del).toFixed(1)}× |`,
    '',
    `| history | ctx.getTurn(old id), one record read: median per call | best |`,
    `| --- | ---: | ---: |`,
    ...SIZES.map((n, k) => `| ${n.toLocaleString('en')} turns | ${ms(median(t.get[k]!))} | ${ms(Math.min(...t.get[k]!))} |`),
    `| **100,000 ÷ 10,000** | **${getTurnRatio.toFixed(2)}×** (≤ 2: ${getTurnRatio <= 2 ? 'ok' : 'OVER'}) | ${best(t.get).toFixed(2)}× |`,
    '',
    `| store.list() to the end | records in the backend | median |`,
    `| --- | ---: | ---: |`,
    ...shapes.map((s, k) => `| ${s.contexts.toLocaleString('en')} contexts of ${s.turns} turns | ~${(s.contexts * (s.turns + 1)).toLocaleString('en')} | ${ms(median(l[k]!))} |`),
    `| 10× the records per context | | ${listRecordsRatio.toFixed(2)}× |`,
    `| 10× the contexts | | ${listContextsRatio.toFixed(2)}× |`,
  ]
  return { markdown: rows.join('\n'), loadRatio, deleteRatio, getTurnRatio, listRecordsRatio, listContextsRatio }
}
