import { describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler, type AgentOptions } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent, type AgentEvent, type EventJSON } from '../../src/agent/events.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore, type ContextStore } from '../../src/storage/store.js'
import { faulty } from '../storage/faulty.js'
import { counting } from '../storage/store-helpers.js'

/**
 * The agent keeps idle sessions' contexts in an LRU (`cacheSize`) and checks each against the
 * stored header (`store.refresh`) before the next event: a record is read and validated once, not
 * once per event. Regression: every event reloaded the context and re-validated every completion
 * message (36-60 ms per event at 20,000 messages). The per-event figures are in bench/agent.bench.ts.
 */

const collect = async (events: AsyncIterable<AgentEvent>): Promise<EventJSON[]> => {
  const out: EventJSON[] = []
  for await (const e of events) out.push(e.toJSON())
  return out
}
const texts = (events: EventJSON[]) => events.map((e) => e.data.text ?? `${e.type}:${e.data.code}`)
const text = (t: string) => new TextEvent({ text: t })

/** Says the turn and data.note; "note X" sets data.note; "history N" adds N completion messages. */
const handler: AgentHandler = async function* (event, ctx) {
  if (event instanceof StartEvent) return yield new TextToSpeechEvent({ text: 'Welcome!' })
  if (!(event instanceof TextEvent)) return
  const [verb, arg] = event.data.text.split(' ')
  if (verb === 'note') ctx.setData('note', arg!)
  if (verb === 'history') for (let i = 0; i < Number(arg); i++) ctx.addCompletionMessage({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}` })
  yield new TextToSpeechEvent({ text: `turn ${ctx.currentTurnId} note ${String(ctx.getData('note', '-'))}` })
}

/** An agent on `adapter` whose store counts its loads and refreshes. */
function setup(adapter: StorageAdapter = memoryStorage(), options: Partial<AgentOptions> = {}) {
  const inner = createContextStore(adapter, { channel: false })
  const calls = { load: 0, refresh: 0 }
  const store: ContextStore = {
    ...inner,
    load: (id, runtime) => (calls.load++, inner.load(id, runtime)),
    refresh: (ctx, runtime) => (calls.refresh++, inner.refresh(ctx, runtime)),
  }
  return { agent: createAgent({ store, handler, ...options }), calls, adapter }
}

describe('the idle-context cache', () => {
  it('an event on an idle session reads one record (the header), whatever the length of its history', async () => {
    const adapter = counting(memoryStorage())
    const { agent, calls } = setup(adapter)
    await collect(agent.send('short', text('hi')))
    await collect(agent.send('long', text('history 3000')))
    const reads: Record<string, number> = {}
    for (const id of ['short', 'long']) {
      adapter.reset()
      expect(texts(await collect(agent.send(id, text('hi'))))).toEqual(['turn 2 note -'])
      reads[id] = adapter.counts.reads
    }
    expect(reads).toEqual({ short: 1, long: 1 })
    expect(calls).toEqual({ load: 2, refresh: 2 })
  })

  it("sees another writer's save: the stored version is loaded instead of the cached one", async () => {
    const { agent, calls, adapter } = setup()
    await collect(agent.send('s', text('note one')))
    const other = createContextStore(adapter, { channel: false })
    const ctx = (await other.load('s'))!
    ctx.setData('note', 'two')
    ctx.addRequest('from elsewhere')
    await other.save(ctx)
    expect(texts(await collect(agent.send('s', text('hi'))))).toEqual(['turn 3 note two'])
    expect(calls).toEqual({ load: 1, refresh: 1 }) // the first load; then refresh, which loaded the stored version itself
  })

  it('a session deleted by another writer starts anew', async () => {
    const { agent, adapter } = setup()
    await collect(agent.send('s', text('note one')))
    await createContextStore(adapter, { channel: false }).delete('s')
    expect(texts(await collect(agent.send('s', text('hi'))))).toEqual(['Welcome!', 'turn 1 note -'])
  })

  // The regression this guards: `refresh` keeps a context's unsaved changes when the stored header
  // is unchanged, so a context whose save failed (header not written) must not stay cached.
  it('a turn whose save failed is never reused: the next event starts from what is stored', async () => {
    const adapter = faulty(memoryStorage())
    const { agent, calls } = setup(adapter)
    await collect(agent.send('s', text('note kept')))
    adapter.failAt = adapter.writes + 1
    const failed = texts(await collect(agent.send('s', text('note lost'))))
    expect(failed).toEqual(['turn 2 note lost', 'error:storage'])
    // Turn 2 and note=lost were never stored: the next event is turn 2 again, and sees "kept".
    expect(texts(await collect(agent.send('s', text('hi'))))).toEqual(['turn 2 note kept'])
    expect(calls.load).toBe(2)
  })

  it('a conflict (another writer saved during the turn) drops the cached context too (conflictRetries 0)', async () => {
    const adapter = memoryStorage()
    const other = createContextStore(adapter, { channel: false })
    const racing: AgentHandler = async function* (event, ctx) {
      if (event instanceof TextEvent && event.data.text === 'race') {
        const theirs = (await other.load('s'))!
        theirs.setData('note', 'theirs')
        await other.save(theirs)
        ctx.setData('note', 'mine')
      }
      yield* handler(event, ctx, { signal: new AbortController().signal, sessionId: 's', attempt: 1 }) as AsyncIterable<AgentEvent>
    }
    const agent = createAgent({ store: createContextStore(adapter, { channel: false }), handler: racing, conflictRetries: 0 })
    await collect(agent.send('s', text('hi')))
    expect(texts(await collect(agent.send('s', text('race'))))).toEqual(['turn 2 note mine', 'error:conflict'])
    expect(texts(await collect(agent.send('s', text('hi'))))).toEqual(['turn 2 note theirs'])
  })

  it('keeps at most cacheSize idle sessions, dropping the least recently used', async () => {
    const { agent, calls } = setup(memoryStorage(), { cacheSize: 2 })
    for (const id of ['a', 'b', 'c']) await collect(agent.send(id, text('hi')))
    expect(calls).toEqual({ load: 3, refresh: 0 })
    await collect(agent.send('b', text('hi'))) // cached: b is now the most recent, then c
    await collect(agent.send('c', text('hi'))) // cached
    await collect(agent.send('a', text('hi'))) // dropped when c went idle: loaded again
    expect(calls).toEqual({ load: 4, refresh: 2 })
    await collect(agent.send('b', text('hi'))) // a's return pushed b (least recent) out
    expect(calls).toEqual({ load: 5, refresh: 2 })
  })

  it('cacheSize 0 keeps no idle session: every event loads', async () => {
    const { agent, calls } = setup(memoryStorage(), { cacheSize: 0 })
    for (let i = 0; i < 3; i++) await collect(agent.send('s', text('hi')))
    expect(calls).toEqual({ load: 3, refresh: 0 })
  })

  it('a session with a task still running stays in memory whatever cacheSize is', async () => {
    let release!: () => void
    const tasking: AgentHandler = async function* (event, ctx) {
      if (event instanceof TextEvent && event.data.text === 'task') {
        ctx.createTask(async (_signal, c) => {
          await new Promise<void>((resolve) => (release = resolve))
          c.setData('note', 'task')
        }, { name: 'slow' })
      }
      yield* handler(event, ctx, { signal: new AbortController().signal, sessionId: 's', attempt: 1 }) as AsyncIterable<AgentEvent>
    }
    const inner = createContextStore(memoryStorage(), { channel: false })
    let loads = 0
    const agent = createAgent({ store: { ...inner, load: (id, r) => (loads++, inner.load(id, r)) }, handler: tasking, cacheSize: 0 })
    await collect(agent.send('s', text('task')))
    expect(texts(await collect(agent.send('s', text('hi'))))).toEqual(['turn 2 note -'])
    release()
    await expect.poll(async () => (await inner.load('s'))?.getData('note')).toBe('task')
    expect(loads).toBe(1)
  })

  it('agent.delete drops the cached context', async () => {
    const { agent, calls } = setup()
    await collect(agent.send('s', text('note one')))
    expect(await agent.delete('s')).toBe(true)
    expect(texts(await collect(agent.send('s', text('hi'))))).toEqual(['Welcome!', 'turn 1 note -'])
    expect(calls.refresh).toBe(0)
  })

  it('refuses a cacheSize that is not an integer >= 0', () => {
    for (const cacheSize of [-1, 1.5, NaN, '10']) {
      expect(() => setup(memoryStorage(), { cacheSize: cacheSize as never })).toThrow(expect.objectContaining({ code: 'invalid_argument', path: 'cacheSize' }))
    }
  })
})
