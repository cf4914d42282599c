/**
 * The context-store benchmark, shared by the Node run (store.bench.ts, memory adapter) and the
 * Chromium run (store-browser.ts, IndexedDB). No Node API here.
 *
 * Save: one new turn (request, response, a label every third turn) saved on a context whose whole
 * history is in memory (a long-lived tab or Durable Object, the case where anything O(history) in
 * `save` would show), 10,000 turns against 10 turns. The two sizes alternate round by round
 * (interleaved, so drift and GC hit both alike); each figure is the median of the rounds. The
 * 10-turn context is a fresh one each round (saved once, untimed), so it stays at 10 turns; the
 * 10,000-turn one grows by one turn a round. Both hold 40 completion messages (one full chunk).
 * Baseline: the same context stored as one JSON blob, `adapter.set(key, ctx.toJSON())`.
 *
 * Records and bytes written (sum of the JSON lengths of the values written) and records read come
 * from a separate pass through a counting wrapper, so its `JSON.stringify` is not in the timings.
 *
 * Load: `store.load(id)` (recentTurns 20) of contexts of 10, 100, 1,000 and 10,000 turns, in rotating order.
 */
import { Context } from '../src/context.js'
import type { StorageAdapter } from '../src/storage/adapter.js'
import { createContextStore, type ContextStore } from '../src/storage/store.js'
import { addTurns, counting, message } from '../test/storage/store-helpers.js'

/** Options of `storeBench`. */
export interface StoreBenchOptions {
  /** A fresh adapter over an empty backend. */
  make(): Promise<StorageAdapter>
  /** Timed save rounds per size (and per blob baseline). */
  rounds: number
  /** Timed loads per size. */
  loads: number
  /** Progress lines. */
  log?(line: string): void
}

/** What `storeBench` measured; `markdown` is the report. */
export interface StoreBenchResult {
  markdown: string
  /** Median save of one turn on 10,000 turns ÷ on 10 turns (the bound: <= 1.5). */
  saveRatio: number
  /** Bytes written per save, 10,000 turns ÷ 10 turns. */
  bytesRatio: number
  /** Bytes written per save, 10,000 turns − 10 turns: only the longer turn numbers in the sample text and ids. */
  bytesDiff: number
  /** Records read by a load of contexts of 10, 100, 1,000 and 10,000 turns (header + min(turns, 20) + 1 message chunk). */
  loadReads: number[]
}

const BIG = 10_000
const SMALL = 10
const now = () => performance.now()
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!

function build(id: string, turns: number): Context {
  const ctx = Context.init({ flow: 'main', node: 'start' }, { id, agentId: 'bench' })
  ctx.setData('user', { name: 'Ann', plan: 'pro' })
  addTurns(ctx, turns)
  for (let i = 0; i < 40; i++) ctx.addCompletionMessage(message(i))
  return ctx
}

/** Runs the benchmark on adapters from `make`. */
export async function storeBench(o: StoreBenchOptions): Promise<StoreBenchResult> {
  const log = o.log ?? (() => {})
  const adapter = await o.make()
  const store = createContextStore(adapter, { channel: false })
  const big = build('big', BIG)
  await store.save(big)
  const template = build('small', SMALL).toJSON()
  const fresh = async (i: number) => {
    const ctx = Context.fromJSON({ ...template, id: `small-${i}` })
    await store.save(ctx)
    return ctx
  }
  const t = { store: { big: [] as number[], small: [] as number[] }, blob: { big: [] as number[], small: [] as number[] } }
  const saveOne = async (ctx: Context, into: number[]) => {
    addTurns(ctx, 1)
    const t0 = now()
    await store.save(ctx)
    into.push(now() - t0)
  }
  const blobOne = async (ctx: Context, into: number[]) => {
    const t0 = now()
    await adapter.set(`blob/${ctx.id}`, ctx.toJSON() as never)
    into.push(now() - t0)
  }
  // Warm-up (JIT), then the timed rounds.
  for (let i = 0; i < Math.min(50, o.rounds); i++) {
    await saveOne(big, [])
    await saveOne(await fresh(-1 - i), [])
    await blobOne(big, [])
  }
  log(`saves: ${o.rounds} rounds per size`)
  for (let i = 0; i < o.rounds; i++) {
    const small = await fresh(i)
    // Alternate which size goes first, so neither always follows the other.
    if (i % 2) {
      await saveOne(big, t.store.big)
      await saveOne(small, t.store.small)
    } else {
      await saveOne(small, t.store.small)
      await saveOne(big, t.store.big)
    }
    await blobOne(big, t.blob.big)
    await blobOne(small, t.blob.small)
    if (i % 500 === 499) log(`  ${i + 1} rounds`)
  }

  // Records and bytes per save, through a counting wrapper (not timed).
  const c = counting(adapter)
  const counted = createContextStore(c, { channel: false })
  const perSave = async (ctx: Context) => {
    const loaded = (await counted.load(ctx.id))!
    await loaded.loadTurns({ all: true }) // the whole history in memory, as in the timed run
    const out: { records: number; bytes: number }[] = []
    for (let i = 0; i < 20; i++) {
      addTurns(loaded, 1)
      c.reset()
      await counted.save(loaded)
      out.push({ records: c.counts.writes, bytes: c.counts.bytes })
    }
    return { records: Math.max(...out.map((x) => x.records)), bytes: out.reduce((s, x) => s + x.bytes, 0) / out.length, blob: JSON.stringify(loaded.toJSON()).length }
  }
  const smallCounted = await fresh(1e6)
  const w = { big: await perSave(big), small: await perSave(smallCounted) }

  // Loads: the 10,000-turn context against contexts of 10, 100 and 1,000 turns saved once.
  log(`loads: ${o.loads} per size`)
  const sizes = [SMALL, 100, 1000]
  for (const n of sizes) await store.save(build(`load-${n}`, n))
  const ids = [...sizes.map((n) => `load-${n}`), 'big']
  const reads: number[] = []
  for (const id of ids) {
    c.reset()
    await counted.load(id)
    reads.push(c.counts.reads)
  }
  const l = ids.map(() => [] as number[])
  for (let i = 0; i < o.loads + 10; i++) {
    // Rotate the order each round.
    for (let j = 0; j < ids.length; j++) {
      const k = (i + j) % ids.length
      const t0 = now()
      await store.load(ids[k]!)
      if (i >= 10) l[k]!.push(now() - t0)
    }
  }

  const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`)
  const saveRatio = median(t.store.big) / median(t.store.small)
  const bytesRatio = w.big.bytes / w.small.bytes
  const blobRatio = median(t.blob.big) / median(t.blob.small)
  const loadRatio = median(l[3]!) / median(l[1]!)
  const rows = [
    `| history | store: median save | p90 | records written | bytes written | one-blob save: median | blob bytes | blob ÷ store |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...(['small', 'big'] as const).map((k) => {
      const s = median(t.store[k])
      const b = median(t.blob[k])
      return `| ${k === 'big' ? '10,000' : '10'} turns | ${ms(s)} | ${ms(p90(t.store[k]))} | ${w[k].records} | ${Math.round(w[k].bytes)} | ${ms(b)} | ${w[k].blob.toLocaleString('en')} | ${(b / s).toFixed(1)}× |`
    }),
    `| **10,000 ÷ 10** | **${saveRatio.toFixed(2)}×** (≤ 1.5: ${saveRatio <= 1.5 ? 'ok' : 'OVER'}) | | | ${bytesRatio.toFixed(3)}× | ${blobRatio.toFixed(0)}× | | |`,
    '',
    `| load (recentTurns 20) | records read | median load |`,
    `| --- | ---: | ---: |`,
    ...ids.map((_, k) => `| ${k === 3 ? '10,000' : sizes[k]!.toLocaleString('en')} turns | ${reads[k]} | ${ms(median(l[k]!))} |`),
    `| **10,000 ÷ 100** | ${(reads[3]! / reads[1]!).toFixed(2)}× | ${loadRatio.toFixed(2)}× |`,
  ]
  return { markdown: rows.join('\n'), saveRatio, bytesRatio, bytesDiff: w.big.bytes - w.small.bytes, loadReads: reads }
}

/**
 * Saves per second with several sessions at once: each store (its own connection) saves a context
 * of 10 turns and 40 messages once, untimed, then adds and saves one turn after another for
 * `seconds`, all stores together. Returns every save's time in ms and the seconds it all took.
 */
export async function concurrentSaves(stores: ContextStore[], seconds: number, idPrefix: string): Promise<{ times: number[]; elapsed: number }> {
  const contexts = await Promise.all(
    stores.map(async (store, i) => {
      const ctx = Context.init({ flow: 'main', node: 'start' }, { id: `${idPrefix}${i}`, agentId: 'bench' })
      addTurns(ctx, 10)
      for (let m = 0; m < 40; m++) ctx.addCompletionMessage(message(m))
      await store.save(ctx)
      return ctx
    }),
  )
  const times: number[] = []
  const started = performance.now()
  const end = started + seconds * 1000
  await Promise.all(
    stores.map(async (store, i) => {
      const ctx = contexts[i]!
      while (performance.now() < end) {
        addTurns(ctx, 1)
        const t0 = performance.now()
        await store.save(ctx)
        times.push(performance.now() - t0)
      }
    }),
  )
  return { times, elapsed: (performance.now() - started) / 1000 }
}
