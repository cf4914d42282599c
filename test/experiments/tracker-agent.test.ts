import { describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler } from '../../src/agent/agent.js'
import { AgentEvent, ErrorEvent, StartEvent, TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import { Context } from '../../src/context.js'
import { StorageError } from '../../src/errors.js'
import { createExperiments } from '../../src/experiments/index.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'

const stop = { maxIterations: 5, default: 'casual' }

/** Greets with the option of the `greeting` test; a "thanks" converts. */
const handler: AgentHandler = async function* (event, ctx) {
  if (event instanceof StartEvent) {
    const style = ctx.addTest('greeting', { formal: 1, casual: 1 }, 'how to greet', stop)
    ctx.addOutcome('thanked', 'boolean')
    yield new TextToSpeechEvent({ text: style === 'formal' ? 'Good day.' : 'Hey!' })
  }
  if (event instanceof TextEvent && event.data.text === 'thanks') ctx.setOutcome('thanked', true)
}

/** Sends one event and reads the stream to its end, collecting what `waitUntil` was given. */
async function send(agent: ReturnType<typeof createAgent>, id: string, event: AgentEvent) {
  const waits: Promise<unknown>[] = []
  const out: AgentEvent[] = []
  for await (const e of agent.send(id, event, { waitUntil: (p) => waits.push(p) })) out.push(e)
  await Promise.all(waits)
  return out
}

describe('createAgent({ experiments })', () => {
  it('30 sessions with maxIterations 5: sessions 6 to 30 greet with the default (attach before the handler, record and evaluate after each turn)', async () => {
    const adapter = memoryStorage()
    const experiments = createExperiments(adapter)
    const agent = createAgent({ store: createContextStore(memoryStorage()), handler, experiments })
    const greetings: string[] = []
    for (let i = 0; i < 30; i++) {
      const out = await send(agent, `session-${i}`, new TextEvent({ text: i % 2 ? 'thanks' : 'hello' }))
      greetings.push(String(out.find((e) => e instanceof TextToSpeechEvent)!.data.text))
      expect(out.some((e) => e instanceof ErrorEvent)).toBe(false)
    }
    expect(greetings.slice(5)).toEqual(new Array(25).fill('Hey!'))
    expect(await experiments.evaluate('greeting')).toMatchObject({ concluded: true, value: 'casual', iterations: 5 })
    // The outcome set in turn 1 was recorded (after that turn's save), replacing turn 0's contribution.
    const report = await experiments.report('greeting')
    expect(report.options.reduce((s, o) => s + o.n, 0)).toBe(5)
    expect(report.options.reduce((s, o) => s + (o.outcomes.thanked?.mean ?? 0) * (o.outcomes.thanked?.n ?? 0), 0)).toBe(2)
  })

  it('a storage failure in the tracker never fails the turn: the stream is clean, onBackgroundEvent gets the error', async () => {
    const broken = { ...memoryStorage(), name: 'broken' }
    const fail = async (): Promise<never> => {
      throw new StorageError('broken: down')
    }
    Object.assign(broken, { get: fail, list: fail, getMany: fail, compareAndSet: fail, set: fail, setMany: fail })
    const background: AgentEvent[] = []
    const agent = createAgent({
      store: createContextStore(memoryStorage()),
      handler,
      experiments: createExperiments(broken),
      onBackgroundEvent: (_, e) => background.push(e),
    })
    const out = await send(agent, 's', new TextEvent({ text: 'hello' }))
    expect(out.map((e) => e.type)).toEqual(['text_to_speech'])
    // attach before the turn, record after it.
    expect(background.map((e) => [e.type, e.background?.task, e.data.code])).toEqual([
      ['error', 'experiments', 'storage'],
      ['error', 'experiments', 'storage'],
    ])
    // The turn was saved all the same.
    expect(await agent.fetch(new Request('http://x/sessions/s')).then((r) => r.status)).toBe(200)
  })

  it('refuses an experiments option that is not a tracker', () => {
    expect(() => createAgent({ store: createContextStore(memoryStorage()), handler, experiments: {} as never })).toThrow(/experiments/)
  })

  it('regression: two recordings of one session in flight apply in call order (the older never lands last)', async () => {
    const store = memoryStorage()
    // A compare-and-set that fails the first time it is called makes the first recording retry after the second was called.
    let failFirst = true
    const flaky = { ...store, compareAndSet: async (...a: Parameters<NonNullable<typeof store.compareAndSet>>) => (failFirst && a[0].includes('/shard/') ? ((failFirst = false), false) : store.compareAndSet!(...a)) }
    const x = createExperiments(flaky)
    const ctx = new Context({ sessionId: 'one' })
    ctx.addTest('t', { a: 1 })
    ctx.addOutcome('score', 'integer')
    ctx.setOutcome('score', 1)
    const first = x.record(ctx)
    ctx.setOutcome('score', 2)
    const second = x.record(ctx)
    await Promise.all([first, second])
    expect((await x.report('t')).options[0]!.outcomes.score).toMatchObject({ n: 1, mean: 2 })
  })
})
