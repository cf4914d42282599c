import { describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent, type AgentEvent, type EventJSON } from '../../src/agent/events.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { sleep } from '../tasks/helpers.js'

/**
 * A turn whose save loses a race with another writer of the session (issue 11: two agent instances
 * on one session) runs again on the stored version (`conflictRetries`, default 3). The old path
 * (conflictRetries 0: an ErrorEvent, the turn not stored) is tested in agent.test.ts and
 * cache.test.ts; the two agents racing for 40 events in test/storage/two-agents.test.ts.
 */
const collect = async (events: AsyncIterable<AgentEvent>): Promise<EventJSON[]> => {
  const out: EventJSON[] = []
  for await (const e of events) out.push(e.toJSON())
  return out
}
const text = (t: string) => new TextEvent({ text: t })
const shape = (events: EventJSON[]) => events.map((e) => (e.type === 'text_to_speech' ? e.data.text : `${e.type}:${JSON.stringify(e.data)}`))

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** Counts events in data.count and answers `<text> #<count> (attempt n)`; "slow" waits for `gate` on its first attempt. */
function counter(gate?: Promise<void>, attempts: number[] = []): AgentHandler {
  return async function* (event, ctx, turn) {
    if (!(event instanceof TextEvent)) return
    attempts.push(turn.attempt)
    const count = ctx.getData('count', 0) + 1
    if (event.data.text === 'slow' && turn.attempt === 1) await gate
    ctx.setData('count', count)
    yield new TextToSpeechEvent({ text: `${event.data.text} #${count} (attempt ${turn.attempt})` })
  }
}

describe('an agent whose turn loses a save race runs it again on the stored version', () => {
  it('a retry event, then the turn again on the fresh context: both turns stored, data consistent', async () => {
    const adapter = memoryStorage()
    const gate = deferred()
    const attempts: number[] = []
    const one = createAgent({ store: createContextStore(adapter, { channel: false }), handler: counter(gate.promise, attempts) })
    const two = createAgent({ store: createContextStore(adapter, { channel: false }), handler: counter() })
    await collect(one.send('s', text('first')))
    const slow = collect(one.send('s', text('slow'))) // loaded at rev 1, held on attempt 1
    await sleep(5)
    expect(shape(await collect(two.send('s', text('other writer'))))).toEqual(['other writer #2 (attempt 1)'])
    gate.resolve()
    expect(shape(await slow)).toEqual(['slow #2 (attempt 1)', 'retry:{"attempt":2,"code":"conflict"}', 'slow #3 (attempt 2)'])
    expect(attempts).toEqual([1, 1, 2])
    const ctx = (await createContextStore(adapter, { channel: false }).load('s'))!
    expect([...ctx.requests].map(([id, r]) => [id, r.text])).toEqual([
      [1, 'first'],
      [2, 'other writer'],
      [3, 'slow'],
    ])
    expect(ctx.responses.get(3)?.text).toBe('slow #3 (attempt 2)')
    expect(ctx.getData('count', 0)).toBe(3)
    // The agent goes on from what it saved: no stale copy, no error.
    expect(shape(await collect(one.send('s', text('after'))))).toEqual(['after #4 (attempt 1)'])
  })

  it('a conflict on every attempt: conflictRetries retries, then the ErrorEvent; nothing of the turn stored', async () => {
    const adapter = memoryStorage()
    const other = createContextStore(adapter, { channel: false })
    let runs = 0
    const racing: AgentHandler = async function* (event, ctx, turn) {
      if (!(event instanceof TextEvent)) return
      runs++
      if (event.data.text === 'race') {
        // Another writer saves the session during every attempt.
        const theirs = (await other.load('s'))!
        theirs.setData('theirs', turn.attempt)
        await other.save(theirs)
      }
      yield new TextToSpeechEvent({ text: `${event.data.text} ${turn.attempt}` })
    }
    const agent = createAgent({ store: createContextStore(adapter, { channel: false }), handler: racing, conflictRetries: 2 })
    await collect(agent.send('s', text('hi')))
    runs = 0
    const events = await collect(agent.send('s', text('race')))
    expect(shape(events)).toEqual([
      'race 1',
      'retry:{"attempt":2,"code":"conflict"}',
      'race 2',
      'retry:{"attempt":3,"code":"conflict"}',
      'race 3',
      expect.stringMatching(/^error:\{"message":"context \\"s\\" was saved or deleted elsewhere.*"code":"conflict"\}$/),
    ])
    expect(runs).toBe(3)
    const ctx = (await createContextStore(adapter, { channel: false }).load('s'))!
    expect([[...ctx.requests.values()].map((r) => r.text), ctx.getData('theirs', 0)]).toEqual([['hi'], 3])
    expect(shape(await collect(agent.send('s', text('next'))))).toEqual(['next 1'])
  })

  it('the tasks a losing attempt started are cancelled, and what they change is never saved', async () => {
    const adapter = memoryStorage()
    const gate = deferred()
    const seen: string[] = []
    const handler: AgentHandler = async function* (event, ctx, turn) {
      if (!(event instanceof TextEvent)) return
      if (event.data.text === 'slow') {
        ctx.createTask(async (signal, c) => {
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
          seen.push(`task of attempt ${turn.attempt}: ${signal.aborted ? 'aborted' : 'ran'}`)
          c.setData('task', turn.attempt)
        }, { name: `bg${turn.attempt}` })
        if (turn.attempt === 1) await gate.promise
      }
      yield new TextToSpeechEvent({ text: event.data.text })
    }
    const one = createAgent({ store: createContextStore(adapter, { channel: false }), handler })
    const two = createAgent({ store: createContextStore(adapter, { channel: false }), handler })
    await collect(one.send('s', text('first')))
    const slow = collect(one.send('s', text('slow')))
    await sleep(5)
    await collect(two.send('s', text('other')))
    gate.resolve()
    await slow
    await sleep(5)
    expect(seen).toEqual(['task of attempt 1: aborted'])
    const ctx = (await createContextStore(adapter, { channel: false }).load('s'))!
    expect(ctx.getData('task', 0)).toBe(0)
    await one.delete('s') // cancels the task of attempt 2
  })

  it('two agents creating one session at once: one start turn, both events stored', async () => {
    const adapter = memoryStorage()
    const starts: string[] = []
    const handler: AgentHandler = async function* (event, ctx) {
      if (event instanceof StartEvent) starts.push('start')
      await sleep(2)
      if (event instanceof TextEvent) yield new TextToSpeechEvent({ text: `${event.data.text} at ${ctx.currentTurnId}` })
    }
    const [a, b] = [0, 1].map(() => createAgent({ store: createContextStore(adapter, { channel: false }), handler }))
    const [ea, eb] = await Promise.all([collect(a!.send('new', text('A'))), collect(b!.send('new', text('B')))])
    expect([...ea, ...eb].filter((e) => e.type === 'retry')).toHaveLength(1)
    const ctx = (await createContextStore(adapter, { channel: false }).load('new'))!
    expect([...ctx.labels].map(([id, l]) => [id, l.node])).toEqual([
      [0, 'start'],
      [1, 'text'],
      [2, 'text'],
    ])
    expect(new Set([...ctx.requests.values()].map((r) => r.text))).toEqual(new Set(['A', 'B']))
    // Each start handler run that was stored: one (the loser's StartEvent ran on a copy that was dropped).
    expect(starts.length).toBeGreaterThanOrEqual(1)
  })

  it('refuses a conflictRetries that is not an integer >= 0', () => {
    const store = createContextStore(memoryStorage(), { channel: false })
    for (const bad of [-1, 1.5, Number.NaN, '2']) {
      expect(() => createAgent({ store, handler: counter(), conflictRetries: bad as never })).toThrow(expect.objectContaining({ name: 'ValidationError', path: 'conflictRetries' }))
    }
  })
})
