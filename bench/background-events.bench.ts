/**
 * Background events kept with their turn (issue 12): what an event storm costs through the agent.
 * One task yields N events (10,000 and 100,000) as fast as it can; the request's stream reads them
 * all. Reported: the time until the stream ended, events per second, the adapter writes (saves are
 * coalesced: one queued save takes every event kept before it starts; past the turn's 100 kept
 * events the rest are only counted), and what was kept. Adapters: memory (compare-and-set: one
 * atomic write a save) and the same without compare-and-set (records, then the header).
 *
 * Second figure: a background event for a turn sealed long ago (turn 1 of a session of 1,000 turns)
 * costs one rewrite of that turn's record in the next save: the save's writes are counted.
 *
 * Measured here (2 cores, load average ~15 from other work, Node 20):
 *   10,000 events, compare-and-set: streamed in 227 ms (44,000/s), 30 adapter writes, kept 100 + 9,900 counted
 *   100,000 events, compare-and-set: streamed in 2,744 ms (36,000/s), 30 adapter writes, kept 100 + 99,900 counted
 *   10,000 / 100,000 events, no compare-and-set: 146 / 1,954 ms, 24 adapter writes
 *   an event for turn 1 of 1,000 (sealed): 1 adapter write with compare-and-set (one atomic save
 *   holding the record and the header), 2 without (the record, then the header); ~25 ms in all
 * The writes do not grow with the storm: past a turn's 100 kept events the rest are only counted,
 * and the count rides on the next save.
 *
 * Run:
 *   npx esbuild bench/background-events.bench.ts --bundle --platform=node --format=esm --packages=external --outfile=node_modules/.cache/background-events.bench.mjs && node node_modules/.cache/background-events.bench.mjs
 */
import { createAgent } from '../src/agent/agent.js'
import { TextEvent, TextToSpeechEvent } from '../src/agent/events.js'
import type { StorageAdapter } from '../src/storage/adapter.js'
import { memoryStorage } from '../src/storage/memory.js'
import { createContextStore } from '../src/storage/store.js'

/** Counts the write calls reaching `adapter`; `cas: false` hides its compare-and-set. */
function counted(adapter: StorageAdapter, cas: boolean) {
  let writes = 0
  const wrapped = Object.create(adapter) as Record<string, unknown>
  for (const m of ['set', 'setMany', 'compareAndSet']) {
    const f = (adapter as unknown as Record<string, ((...a: unknown[]) => unknown) | undefined>)[m]
    if (f) wrapped[m] = (...a: unknown[]) => (writes++, f.apply(adapter, a))
  }
  if (!cas) {
    wrapped.compareAndSet = undefined
    wrapped.capabilities = { ...adapter.capabilities, compareAndSet: false }
  }
  return { adapter: wrapped as unknown as StorageAdapter, writes: () => writes }
}

async function storm(n: number, cas: boolean) {
  const { adapter, writes } = counted(memoryStorage(), cas)
  const store = createContextStore(adapter, { channel: false })
  const agent = createAgent({
    store,
    async *handler(event, ctx) {
      if (!(event instanceof TextEvent)) return
      ctx.createTask(async function* () {
        for (let i = 0; i < n; i++) yield { type: 'progress', data: { i } }
      }, { name: 'storm', timeout: 600 })
      yield new TextToSpeechEvent({ text: 'started' })
    },
  })
  const t0 = performance.now()
  let streamed = 0
  for await (const e of agent.send('s', new TextEvent({ text: 'go' }))) if (e.background) streamed++
  const ms = performance.now() - t0
  await new Promise((resolve) => setTimeout(resolve, 50))
  const response = (await store.load('s'))!.responses.get(1)!
  const kept = (response.background as unknown[]).length
  console.log(
    `${n.toLocaleString('en')} events, ${cas ? 'compare-and-set' : 'no compare-and-set'}: streamed ${streamed.toLocaleString('en')} in ${ms.toFixed(0)} ms ` +
      `(${Math.round(streamed / (ms / 1000)).toLocaleString('en')}/s), ${writes()} adapter writes, kept ${kept} + ${response.backgroundDropped} counted`,
  )
}

async function sealed(cas: boolean) {
  const { adapter, writes } = counted(memoryStorage(), cas)
  const store = createContextStore(adapter, { channel: false })
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const agent = createAgent({
    store,
    async *handler(event, ctx) {
      if (!(event instanceof TextEvent)) return
      if (event.data.text === 'order') {
        ctx.createTask(async function* () {
          await released
          yield new TextToSpeechEvent({ text: 'Your order is ready!' })
        }, { name: 'order', timeout: 600 })
      }
      yield new TextToSpeechEvent({ text: 'ok' })
    },
  })
  const first = agent.send('s', new TextEvent({ text: 'order' }))[Symbol.asyncIterator]()
  await first.next()
  for (let t = 2; t <= 1000; t++) for await (const _ of agent.send('s', new TextEvent({ text: `turn ${t}` })));
  const before = writes()
  const t0 = performance.now()
  release()
  while (!(await first.next()).done);
  await new Promise((resolve) => setTimeout(resolve, 20))
  const ms = performance.now() - t0
  const turn = await (await store.load('s'))!.getTurn(1)
  console.log(
    `an event for turn 1 of 1,000 (sealed), ${cas ? 'compare-and-set' : 'no compare-and-set'}: ${writes() - before} adapter writes in all (the rewrite of turn 1 goes with the first save after the event), ${ms.toFixed(1)} ms, kept: ${JSON.stringify((turn!.response!.background as { data: unknown }[])[0]!.data)}`,
  )
}

for (const cas of [true, false]) {
  await storm(10_000, cas)
  await storm(100_000, cas)
  await sealed(cas)
}
