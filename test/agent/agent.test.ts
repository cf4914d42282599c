import { describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler, type AgentOptions } from '../../src/agent/agent.js'
import { channel } from '../../src/agent/channel.js'
import { AgentEvent, defineEvent, StartEvent, TextEvent, TextToSpeechEvent, type EventJSON } from '../../src/agent/events.js'
import { ContextError, ValidationError } from '../../src/errors.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { sleep, trackUnhandledRejections, untilAborted } from '../tasks/helpers.js'

const collect = async (events: AsyncIterable<AgentEvent>): Promise<EventJSON[]> => {
  const out: EventJSON[] = []
  for await (const e of events) out.push(e.toJSON())
  return out
}
const texts = (events: EventJSON[]) => events.map((e) => e.data.text ?? `${e.type}:${e.data.code}`)
const say = (text: string) => new TextToSpeechEvent({ text })
const text = (t: string) => new TextEvent({ text: t })

function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

function setup(handler: AgentHandler, options: Partial<AgentOptions> = {}) {
  const adapter = memoryStorage()
  const store = createContextStore(adapter, { channel: false })
  const agent = createAgent({ store, handler, ...options })
  return { adapter, store, agent }
}

/** Yields what the handler is told to say; "wait" waits for its signal. */
const echo: AgentHandler = async function* (event, ctx, { signal }) {
  if (event instanceof StartEvent) return yield say('Welcome!')
  if (!(event instanceof TextEvent)) return
  if (event.data.text === 'wait') {
    yield say('waiting')
    await untilAborted(signal)
  }
  yield say(`You said: ${event.data.text}`)
}

describe('createAgent', () => {
  it('refuses a missing handler or store with a ContextError naming the option', () => {
    const store = createContextStore(memoryStorage(), { channel: false })
    expect(() => createAgent({ store } as never)).toThrow(expect.objectContaining({ code: 'invalid_argument', path: 'handler' }))
    expect(() => createAgent({ handler: echo, store: {} as never })).toThrow(expect.objectContaining({ code: 'invalid_argument', path: 'store' }))
  })

  it('regression: agent.ts threw plain ContextErrors where its JSDoc promises ValidationErrors', async () => {
    const store = createContextStore(memoryStorage(), { channel: false })
    const bad: [() => unknown, string][] = [
      [() => createAgent({ store } as never), 'handler'],
      [() => createAgent({ handler: echo, store: {} as never }), 'store'],
      [() => createAgent({ handler: echo, store, cacheSize: -1 }), 'cacheSize'],
      [() => createAgent({ handler: echo, store, authorize: 'yes' as never }), 'authorize'],
      [() => createAgent({ handler: echo, store }).send('', text('hi')), 'sessionId'],
    ]
    for (const [fn, path] of bad) expect(fn).toThrow(expect.objectContaining({ name: 'ValidationError', path }))
    const deleted = createAgent({ handler: echo, store }).delete('')
    await expect(deleted).rejects.toBeInstanceOf(ValidationError)
  })

  it("the caller's signal interrupts a turn: the handler's signal reason is an AbortedError (interrupted) carrying the caller's reason", async () => {
    const store = createContextStore(memoryStorage(), { channel: false })
    let reason: unknown
    const agent = createAgent({
      store,
      handler: async function* (_event, _ctx, { signal }) {
        yield say('working')
        await untilAborted(signal).catch(() => {})
        reason = signal.reason
      },
    })
    const controller = new AbortController()
    const it = agent.send('s', text('go'), { signal: controller.signal })[Symbol.asyncIterator]()
    await it.next()
    controller.abort('client left')
    while (!(await it.next()).done);
    expect(reason).toMatchObject({ name: 'AbortedError', code: 'aborted', reason: 'interrupted', signalReason: 'client left' })
  })
})

describe('agent.send', () => {
  it('delivers a StartEvent first on a new session: its output is turn 0, the event is turn 1', async () => {
    const seen: string[] = []
    const { agent, store } = setup(async function* (event, ctx) {
      seen.push(`${event.type}@${ctx.currentTurnId}`)
      yield* echo(event, ctx, { signal: new AbortController().signal, sessionId: 's', attempt: 1 }) as AsyncIterable<AgentEvent>
    })
    const events = await collect(agent.send('s', text('hi')))
    expect(events.map((e) => [e.type, e.turn, e.data.text])).toEqual([
      ['text_to_speech', 0, 'Welcome!'],
      ['text_to_speech', 1, 'You said: hi'],
    ])
    expect(await collect(agent.send('s', { type: 'text', data: { text: 'again' } }))).toMatchObject([{ turn: 2, data: { text: 'You said: again' } }])
    expect(seen).toEqual(['start@0', 'text@1', 'text@2'])
    const ctx = (await store.load('s'))!
    expect(ctx.labels.get(0)).toEqual({ flow: 'agent', node: 'start' })
    expect(ctx.responses.get(0)).toMatchObject({ text: 'Welcome!' })
    expect(ctx.requests.get(0)).toBeUndefined()
    expect(ctx.requests.get(1)).toEqual({ type: 'text', data: { text: 'hi', source: 'text' }, text: 'hi' })
    expect(ctx.labels.get(1)).toEqual({ flow: 'agent', node: 'text' })
    expect(ctx.lastRequest).toMatchObject({ text: 'again' })
  })

  it('a StartEvent sent to a new session runs the start turn once; the start label can be set', async () => {
    const { agent, store } = setup(echo, { startLabel: { flow: 'shop', node: 'greeting' } })
    expect(texts(await collect(agent.send('s', new StartEvent())))).toEqual(['Welcome!'])
    const ctx = (await store.load('s'))!
    expect(ctx.currentTurnId).toBe(0)
    expect(ctx.labels.get(0)).toEqual({ flow: 'shop', node: 'greeting' })
  })

  it('keeps the label the handler set for its turn', async () => {
    const { agent, store } = setup(async (event, ctx) => {
      if (event instanceof TextEvent) ctx.addLabel({ flow: 'agent', node: 'ordering' })
    })
    await collect(agent.send('s', text('hi')))
    expect((await store.load('s'))!.labels.get(1)).toEqual({ flow: 'agent', node: 'ordering' })
  })

  it('refuses a bad session id or event at once, with a typed error', () => {
    const { agent } = setup(echo)
    expect(() => agent.send('', text('hi'))).toThrow(expect.objectContaining({ code: 'invalid_argument', path: 'sessionId' }))
    expect(() => agent.send('s', { data: {} })).toThrow(expect.objectContaining({ path: 'event.type' }))
    expect(() => agent.send('s', { type: 'text', data: { text: 3 } })).toThrow(ContextError)
  })

  it('runs and saves the turn even when nobody reads the stream', async () => {
    const { agent, store } = setup(echo, { interrupts: () => false })
    void agent.send('s', text('fire and forget'))
    await collect(agent.send('s', text('next'))) // queued behind the first: done after it
    expect((await store.load('s'))!.responses.get(1)).toMatchObject({ text: 'You said: fire and forget' })
  })

  it('turns a handler error into an ErrorEvent that hides the message, and records the turn', async () => {
    const { agent, store } = setup(async function* (event) {
      if (event instanceof StartEvent) return
      yield say('before')
      throw new Error('db password hunter2')
    })
    const events = await collect(agent.send('s', text('hi')))
    expect(events.map((e) => [e.type, e.data.message])).toEqual([
      ['text_to_speech', undefined],
      ['error', 'internal error'],
    ])
    expect(JSON.stringify(events)).not.toContain('hunter2')
    const ctx = (await store.load('s'))!
    expect((ctx.responses.get(1)!.events as unknown as EventJSON[]).map((e) => e.type)).toEqual(['text_to_speech', 'error'])
  })

  it('passes runtime inputs (variables) to new and loaded sessions, never storing them', async () => {
    const handler: AgentHandler = async function* (event, ctx) {
      if (event instanceof TextEvent) yield say(`key ${ctx.variables.API_KEY?.slice(-1)}`)
    }
    const { agent, adapter } = setup(handler, { variables: { API_KEY: 'sk-agent-1' } })
    expect(texts(await collect(agent.send('s', text('a'))))).toEqual(['key 1'])
    const second = createAgent({ store: createContextStore(adapter, { channel: false }), handler, runtime: { variables: { API_KEY: 'sk-agent-2' } } })
    expect(texts(await collect(second.send('s', text('b'))))).toEqual(['key 2'])
    const stored = JSON.stringify(await Promise.all((await adapter.list('')).keys.map((k) => adapter.get(k))))
    expect(stored).not.toContain('sk-agent')
  })

  // Regression: a yielded `{ type, data }` was dropped without a word.
  it('accepts the JSON form of an event from the handler, and reports a yield that is not an event', async () => {
    const { agent } = setup(async function* (event) {
      if (event instanceof StartEvent) return
      yield { type: 'text_to_speech', data: { text: 'plain' } }
      yield 42 as never
      yield say('never reached')
    })
    const events = await collect(agent.send('s', text('hi')))
    expect(events.map((e) => [e.type, e.data.text ?? e.data.code])).toEqual([
      ['text_to_speech', 'plain'],
      ['error', 'invalid_argument'],
    ])
    expect(events[0]!.data.voice).toBe('nova') // a real TextToSpeechEvent, defaults filled
  })

  it('runs events of one session in order and sessions concurrently without mixing', async () => {
    const Note = defineEvent('agent-test-note')
    const gates = { a: deferred(), b: deferred() }
    const running = new Set<string>()
    let overlap = false
    const { agent, store } = setup(async function* (event, ctx, { sessionId }) {
      if (!(event instanceof Note)) return
      running.add(sessionId)
      if (running.size === 2) overlap = true
      if (event.data.n === 1) await gates[sessionId as 'a' | 'b'].promise
      ctx.setData('notes', [...(ctx.getData('notes', []) as number[]), event.data.n as number])
      running.delete(sessionId)
      yield say(`${sessionId}${event.data.n}`)
    })
    const streams = [1, 2, 3].flatMap((n) => [agent.send('a', new Note({ n })), agent.send('b', new Note({ n }))]).map(collect)
    await sleep(5)
    gates.b.resolve() // b goes first although a was sent first: sessions do not wait for each other
    const b = await Promise.all(streams.filter((_, i) => i % 2 === 1))
    gates.a.resolve()
    const a = await Promise.all(streams.filter((_, i) => i % 2 === 0))
    expect(overlap).toBe(true)
    expect(a.map(texts)).toEqual([['a1'], ['a2'], ['a3']])
    expect(b.map(texts)).toEqual([['b1'], ['b2'], ['b3']])
    expect((await store.load('a'))!.getData('notes')).toEqual([1, 2, 3])
    expect((await store.load('b'))!.getData('notes')).toEqual([1, 2, 3])
  })

  it('drops an idle session from memory: the next event reads what another writer stored', async () => {
    const { agent, store } = setup(async function* (event, ctx) {
      if (event instanceof TextEvent) yield say(`name=${ctx.getData('name', '?')}`)
    })
    await collect(agent.send('s', text('a')))
    const ctx = (await store.load('s'))!
    ctx.setData('name', 'Ada')
    await store.save(ctx)
    expect(texts(await collect(agent.send('s', text('b'))))).toEqual(['name=Ada'])
  })

  it('with conflictRetries 0, turns a save conflict into an ErrorEvent (code conflict) and starts the next event from the store', async () => {
    const gate = deferred()
    const adapter = memoryStorage()
    const handler: AgentHandler = async function* (event, ctx) {
      if (!(event instanceof TextEvent)) return
      if (event.data.text === 'slow') await gate.promise
      ctx.setData('last', event.data.text)
      yield say(event.data.text)
    }
    const one = createAgent({ store: createContextStore(adapter, { channel: false }), handler, conflictRetries: 0 })
    const two = createAgent({ store: createContextStore(adapter, { channel: false }), handler })
    await collect(one.send('s', text('first')))
    const slow = collect(one.send('s', text('slow'))) // loaded at rev 1, held
    await sleep(5)
    await collect(two.send('s', text('other writer'))) // saves rev 2
    gate.resolve()
    const events = await slow
    expect(events.map((e) => [e.type, e.data.code])).toEqual([
      ['text_to_speech', undefined],
      ['error', 'conflict'],
    ])
    expect(texts(await collect(one.send('s', text('after'))))).toEqual(['after'])
    const ctx = (await createContextStore(adapter, { channel: false }).load('s'))!
    expect([...ctx.requests].map(([, r]) => r.text)).toEqual(['first', 'other writer', 'after'])
  })
})

describe('barge-in', () => {
  it('a TextEvent during a running handler aborts its signal, records the turn as interrupted, then is handled', async () => {
    let reason: unknown
    const { agent, store } = setup(async function* (event, ctx, { signal }) {
      if (!(event instanceof TextEvent)) return
      if (event.data.text === 'long story') {
        yield say('Once upon a time')
        try {
          await untilAborted(signal)
        } catch (e) {
          reason = e
        }
        return
      }
      yield say(`You said: ${event.data.text}`)
    })
    const first = agent.send('s', text('long story'))[Symbol.asyncIterator]()
    expect((await first.next()).value.data.text).toBe('Once upon a time')
    expect(texts(await collect(agent.send('s', text('stop'))))).toEqual(['You said: stop'])
    expect((await first.next()).done).toBe(true)
    expect(reason).toMatchObject({ name: 'AbortedError', code: 'aborted', reason: 'interrupted', message: 'interrupted by a new event' })
    const ctx = (await store.load('s'))!
    expect(ctx.responses.get(1)).toMatchObject({ text: 'Once upon a time', interrupted: true })
    expect(ctx.responses.get(2)).toEqual(expect.not.objectContaining({ interrupted: true }))
  })

  it('cancels the interruptible tasks of the session, not the others', async () => {
    const ended: Record<string, string> = {}
    const { agent } = setup(async function* (event, ctx, { signal }) {
      if (!(event instanceof TextEvent) || event.data.text !== 'play') return
      for (const [name, interruptible] of [['music', true], ['payment', false]] as const) {
        ctx.createTask(async (s) => {
          await Promise.race([untilAborted(s), sleep(30)]).catch((e: Error) => (ended[name] = e.message))
          ended[name] ??= 'finished'
        }, { name, interruptible })
      }
      yield say('playing')
      await untilAborted(signal)
    })
    const first = agent.send('s', text('play'))[Symbol.asyncIterator]()
    await first.next()
    await collect(agent.send('s', text('quiet')))
    await sleep(60)
    expect(ended).toEqual({ music: 'task "music" was interrupted', payment: 'finished' })
  })

  // Regression: an async-function handler was awaited to the end, so a barge-in waited for it.
  it('does not wait for an async-function handler that ignores its signal', async () => {
    const release = deferred()
    const { agent, store } = setup(async (event) => {
      if (event instanceof TextEvent && event.data.text === 'stuck') await release.promise
    })
    const stuck = collect(agent.send('s', text('stuck')))
    await sleep(5)
    await collect(agent.send('s', text('hello'))) // would hang here before the fix
    await stuck
    expect((await store.load('s'))!.responses.get(1)).toMatchObject({ interrupted: true })
    release.resolve()
  })

  // Regression: an event queued behind the running turn was not interrupted by a later barge-in,
  // so the agent answered it after the user had already moved on.
  it('also interrupts a turn still queued: its request is recorded, its handler not called', async () => {
    const calls: string[] = []
    const { agent, store } = setup(async function* (event, _ctx, { signal }) {
      if (!(event instanceof TextEvent)) return
      calls.push(event.data.text)
      if (event.data.text === 'one') await untilAborted(signal).catch(() => {})
      yield say(event.data.text)
    })
    const one = collect(agent.send('s', text('one')))
    await sleep(5)
    const two = collect(agent.send('s', text('two'))) // interrupts one
    const three = collect(agent.send('s', text('three'))) // interrupts two, still queued
    expect(texts(await one)).toEqual([])
    expect(texts(await two)).toEqual([])
    expect(texts(await three)).toEqual(['three'])
    expect(calls).toEqual(['one', 'three'])
    const ctx = (await store.load('s'))!
    expect([1, 2, 3].map((t) => [ctx.requests.get(t)?.text, ctx.responses.get(t)?.interrupted ?? false])).toEqual([
      ['one', true],
      ['two', true],
      ['three', false],
    ])
  })

  it('only TextEvents interrupt by default; `interrupts` chooses', async () => {
    const Ping = defineEvent('agent-test-ping')
    async function talkThenPing(options: Partial<AgentOptions>) {
      const gate = deferred()
      const { agent } = setup(async function* (event, _ctx, { signal }) {
        if (event instanceof TextEvent) {
          await Promise.race([untilAborted(signal), gate.promise]).catch(() => {})
          yield say(signal.aborted ? 'cut' : 'whole')
        } else if (event instanceof Ping) yield say('pong')
      }, options)
      const talk = collect(agent.send('s', text('talk')))
      const ping = collect(agent.send('s', new Ping({}))) // the talk turn is unfinished: queued or running
      gate.resolve()
      return [texts(await talk), texts(await ping)]
    }
    expect(await talkThenPing({})).toEqual([['whole'], ['pong']])
    expect(await talkThenPing({ interrupts: (e) => e instanceof Ping })).toEqual([[], ['pong']])
  })

  it("the caller's signal interrupts its own turn", async () => {
    const { agent, store } = setup(echo)
    await collect(agent.send('s', text('hi')))
    const controller = new AbortController()
    const events = agent.send('s', text('wait'), { signal: controller.signal })[Symbol.asyncIterator]()
    expect((await events.next()).value.data.text).toBe('waiting')
    controller.abort()
    expect((await events.next()).done).toBe(true)
    expect((await store.load('s'))!.responses.get(2)).toMatchObject({ interrupted: true, text: 'waiting' })
  })
})

describe('background tasks through the agent', () => {
  it("streams a generator task's events on the running turn, tagged background with the task's name", async () => {
    const { agent } = setup(async function* (event, ctx) {
      if (!(event instanceof TextEvent)) return
      ctx.createTask(async function* () {
        yield say('step 1')
        yield { type: 'text_to_speech', data: { text: 'step 2' } }
      }, { name: 'steps' })
      await ctx.waitForAllTasks()
      yield say('done')
    })
    const events = await collect(agent.send('s', text('go')))
    // A background event's `turn` is the turn that started its task.
    expect(events.map((e) => [e.data.text, e.background?.task, e.turn])).toEqual([
      ['step 1', 'steps', 1],
      ['step 2', 'steps', 1],
      ['done', undefined, 1],
    ])
  })

  it('turns a task error into an ErrorEvent on the output, never an unhandled rejection', async () => {
    const rejections = trackUnhandledRejections()
    const { agent } = setup(async function* (event, ctx) {
      if (!(event instanceof TextEvent)) return
      ctx.createTask(async () => {
        throw new Error('token sk-live-999')
      }, { name: 'sync' })
      await ctx.waitForAllTasks()
      yield say('still here')
    })
    const events = await collect(agent.send('s', text('go')))
    await sleep(10)
    rejections.stop()
    expect(events.map((e) => [e.type, e.data.code, e.background?.task])).toEqual([
      ['error', 'internal', 'sync'],
      ['text_to_speech', undefined, undefined],
    ])
    expect(JSON.stringify(events)).not.toContain('sk-live')
    expect(rejections.seen).toEqual([])
  })

  // Issue 12: the request's stream stays open for the tasks it started that yield events, so this
  // event, once sent to onBackgroundEvent after the turn, now ends the request's own stream.
  it("streams a task's event that comes after the turn on the request's stream, and saves what the task changed", async () => {
    const later: [string, EventJSON][] = []
    const { agent, store } = setup(
      async function* (event, ctx) {
        if (!(event instanceof TextEvent)) return
        ctx.createTask(async function* (_signal, c) {
          await sleep(10)
          c.setData('order_status', 'completed')
          yield say('Your order is ready')
        }, { name: 'order_processing', timeout: 60 })
        yield say('Processing your order in the background.')
      },
      { onBackgroundEvent: (id, e) => later.push([id, e.toJSON()]) },
    )
    const events = await collect(agent.send('s', text('place order')))
    expect(texts(events)).toEqual(['Processing your order in the background.', 'Your order is ready'])
    expect(events[1]).toMatchObject({ type: 'text_to_speech', data: { text: 'Your order is ready' }, background: { task: 'order_processing' }, turn: 1 })
    expect(later).toEqual([])
    await expect.poll(async () => (await store.load('s'))!.getData('order_status')).toBe('completed')
  })

  it('sends events that arrive after the reader left to onBackgroundEvent', async () => {
    const later: [string, EventJSON][] = []
    const { agent } = setup(
      async function* (event, ctx) {
        if (!(event instanceof TextEvent)) return
        ctx.createTask(async function* () {
          await sleep(20)
          yield say('Your order is ready')
        }, { name: 'order_processing', timeout: 60 })
        yield say('Processing your order in the background.')
      },
      { onBackgroundEvent: (id, e) => later.push([id, e.toJSON()]) },
    )
    for await (const e of agent.send('s', text('place order'))) if (e.data.text === 'Processing your order in the background.') break
    await expect.poll(() => later.length).toBe(1)
    expect(later[0]![0]).toBe('s')
    expect(later[0]![1]).toMatchObject({ data: { text: 'Your order is ready' }, background: { task: 'order_processing' } })
  })

  // Regression: the save after a task ran after the task's promise settled, outside what was given
  // to waitUntil, so a Worker could be stopped before it.
  it('gives waitUntil the turn and each task with the save after it: when they settle, the change is stored', async () => {
    const given: Promise<unknown>[] = []
    const { agent, store } = setup(async function* (event, ctx) {
      if (!(event instanceof TextEvent)) return
      ctx.createTask(async () => {
        await sleep(10)
        ctx.setData('quick', 'done')
      }, { name: 'quick' })
      yield say('started')
    })
    await collect(agent.send('s', text('go'), { waitUntil: (p) => given.push(p) }))
    expect(given).toHaveLength(2) // the turn, the task
    await Promise.all(given)
    expect((await store.load('s'))!.getData('quick')).toBe('done')
  })

  // Regression: when waitUntil threw (the request was over), the save after the task was never scheduled.
  it("saves a task's change even when waitUntil throws", async () => {
    let calls = 0
    const { agent, store } = setup(async function* (event, ctx) {
      if (!(event instanceof TextEvent)) return
      ctx.createTask(async () => {
        await sleep(5)
        ctx.setData('x', 1)
      })
      yield say('ok')
    })
    const waitUntil = () => {
      if (calls++ > 0) throw new Error('the request is over')
    }
    await collect(agent.send('s', text('go'), { waitUntil }))
    await expect.poll(async () => (await store.load('s'))!.getData('x')).toBe(1)
  })
})

describe('agent.delete', () => {
  it('resolves false for an unknown session and true after deleting one', async () => {
    const { agent, store } = setup(echo)
    expect(await agent.delete('nobody')).toBe(false)
    await collect(agent.send('s', text('hi')))
    expect(await agent.delete('s')).toBe(true)
    expect(await store.load('s')).toBeUndefined()
    await expect(agent.delete('')).rejects.toMatchObject({ path: 'sessionId' })
  })

  // Regression: deleting a session that still had a task running left it cached, so the next event
  // continued the deleted context (and failed with a conflict) instead of starting a new session.
  it('cancels the running turn and tasks of an active session; the next event starts a new session', async () => {
    let taskReason: unknown
    const { agent, store } = setup(async function* (event, ctx, { signal }) {
      if (event instanceof StartEvent) return yield say('Welcome!')
      if (!(event instanceof TextEvent)) return
      if (event.data.text === 'task') {
        ctx.createTask(async (s) => {
          await untilAborted(s).catch((e) => (taskReason = e))
        }, { name: 'long' })
        yield say('started')
        await untilAborted(signal)
      }
      yield say(`You said: ${event.data.text}`)
    })
    const running = agent.send('s', text('task'))[Symbol.asyncIterator]()
    await running.next()
    await running.next()
    expect(await agent.delete('s')).toBe(true)
    while (!(await running.next()).done);
    expect(taskReason).toMatchObject({ message: 'task "long" was cancelled' })
    expect(await store.load('s')).toBeUndefined() // the interrupted turn did not save it back
    const events = await collect(agent.send('s', text('again')))
    expect(texts(events)).toEqual(['Welcome!', 'You said: again'])
    expect((await store.load('s'))!.currentTurnId).toBe(1)
  })
})

describe('channel', () => {
  it('yields what was pushed, in order, then ends when closed', async () => {
    const c = channel<number>()
    c.push(1)
    c.push(2)
    const read = (async () => {
      const out: number[] = []
      for await (const x of c.iterable) out.push(x)
      return out
    })()
    await sleep(1)
    c.push(3)
    c.close()
    c.push(4) // after close: dropped
    expect(await read).toEqual([1, 2, 3])
  })

  // Regression: a reader that stopped early left the channel buffering every later push.
  it('drops pushes after its reader stopped early', async () => {
    const c = channel<number>()
    c.push(1)
    for await (const _ of c.iterable) break
    c.push(2)
    const rest: number[] = []
    for await (const x of c.iterable) rest.push(x)
    expect(rest).toEqual([])
  })
})
