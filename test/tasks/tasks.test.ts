import { describe, expect, it, vi } from 'vitest'
import { TaskManager, type TaskInfo, type TaskOptions } from '../../src/tasks/tasks.js'
import { AbortedError } from '../../src/abort.js'
import { ValidationError } from '../../src/errors.js'
import { AgentEvent, TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import { sleep, trackUnhandledRejections, untilAborted } from './helpers.js'

const never = () => new Promise<never>(() => {})

describe('the document\'s background order example', () => {
  // spec/000 "Background Tasks": "place order" starts order_processing (timeout 60) which sets
  // order_status after a while; "check status" reads pending, then completed. 5 s became 30 ms.
  interface Ctx {
    data: Map<string, unknown>
    tasks: TaskManager<Ctx>
  }
  async function processOrder(_signal: AbortSignal, ctx: Ctx) {
    await sleep(30)
    ctx.data.set('order_status', 'completed')
  }
  async function* handler(event: AgentEvent, ctx: Ctx) {
    if (!(event instanceof TextEvent)) return
    const message = (event.data.text ?? 'N/A').toLowerCase()
    if (message.includes('place order')) {
      ctx.tasks.create(processOrder, { name: 'order_processing', timeout: 60 })
      yield new TextToSpeechEvent({ text: 'Processing your order in the background.', voice: 'nova' })
    } else if (message.includes('check status')) {
      const status = ctx.data.get('order_status') ?? 'pending'
      yield new TextToSpeechEvent({ text: `Your order status is: ${status}`, voice: 'nova' })
    }
  }
  const say = async (text: string, ctx: Ctx) => {
    const out: string[] = []
    for await (const e of handler(new TextEvent({ text }), ctx)) out.push(e.data.text)
    return out
  }

  it('reads pending while the task runs, completed after it', async () => {
    const ctx = { data: new Map() } as Ctx
    ctx.tasks = new TaskManager<Ctx>({ context: ctx })
    expect(await say('Please place order', ctx)).toEqual(['Processing your order in the background.'])
    expect(ctx.tasks.names()).toEqual(['order_processing'])
    expect(ctx.tasks.hasUnfinished()).toBe(true)
    expect(await say('check status', ctx)).toEqual(['Your order status is: pending'])
    await ctx.tasks.waitForAll()
    expect(await say('check status', ctx)).toEqual(['Your order status is: completed'])
    expect(ctx.tasks.hasUnfinished()).toBe(false)
    expect(ctx.tasks.names()).toEqual([])
  })
})

describe('TaskManager', () => {
  it('passes the signal and the context to the handler and resolves done with completed', async () => {
    const context = { id: 'ctx' }
    const tasks = new TaskManager({ context })
    let got: unknown[] = []
    const task = tasks.create(async (signal, ctx) => {
      got = [signal, ctx]
    })
    expect(await task.done).toBe('completed')
    expect(got).toEqual([task.signal, context])
    expect(task.signal.aborted).toBe(false)
  })

  it('names tasks task-1, task-2, … and skips a name already in use', async () => {
    const tasks = new TaskManager()
    const a = tasks.create(untilAborted)
    tasks.create(untilAborted, { name: 'task-2' })
    const c = tasks.create(untilAborted)
    expect([a.name, c.name]).toEqual(['task-1', 'task-3'])
    expect(tasks.names()).toEqual(['task-1', 'task-2', 'task-3'])
    tasks.cancelAll()
    await tasks.waitForAll()
  })

  it('replaces a running task of the same name: the old one is aborted saying so, the new one runs', async () => {
    const tasks = new TaskManager()
    const old = tasks.create(untilAborted, { name: 'lookup' })
    let ran = false
    const fresh = tasks.create(async () => {
      ran = true
    }, { name: 'lookup' })
    expect(old.signal.aborted).toBe(true)
    expect(old.signal.reason).toBeInstanceOf(AbortedError)
    expect(old.signal.reason).toMatchObject({ name: 'AbortedError', code: 'aborted', reason: 'cancelled' })
    expect((old.signal.reason as AbortedError).message).toMatch(/"lookup" was replaced/)
    expect(await old.done).toBe('cancelled')
    expect(await fresh.done).toBe('completed')
    expect(ran).toBe(true)
    expect(fresh.signal.aborted).toBe(false)
  })

  it('cancelInterruptible aborts only interruptible tasks', async () => {
    const tasks = new TaskManager()
    const soft = tasks.create(untilAborted, { name: 'soft', interruptible: true })
    const hard = tasks.create(untilAborted, { name: 'hard' })
    expect(hard.interruptible).toBe(false)
    expect(tasks.cancelInterruptible()).toBe(1)
    expect(soft.signal.aborted).toBe(true)
    // A barge-in: the kind says interrupted; the task's status is still cancelled.
    expect(soft.signal.reason).toMatchObject({ name: 'AbortedError', reason: 'interrupted', message: 'task "soft" was interrupted' })
    expect(hard.signal.aborted).toBe(false)
    expect(await soft.done).toBe('cancelled')
    expect(tasks.names()).toEqual(['hard'])
    expect(tasks.cancelInterruptible()).toBe(0)
    expect(tasks.cancelAll()).toBe(1)
    expect(await hard.done).toBe('cancelled')
  })

  it('cancelAll aborts every running task with the given reason', async () => {
    const tasks = new TaskManager()
    const reason = new Error('session over')
    const list = [1, 2, 3].map((i) => tasks.create(untilAborted, { name: `t${i}`, interruptible: i === 2 }))
    expect(tasks.cancelAll(reason)).toBe(3)
    for (const t of list) expect(t.signal.reason).toMatchObject({ name: 'AbortedError', reason: 'cancelled', signalReason: reason, cause: reason })
    expect(tasks.names()).toEqual([])
    await tasks.waitForAll()
    expect(await Promise.all(list.map((t) => t.done))).toEqual(['cancelled', 'cancelled', 'cancelled'])
    expect(tasks.cancelAll()).toBe(0)
  })

  it('cancel(name) aborts that task and says whether it existed', async () => {
    const tasks = new TaskManager()
    const a = tasks.create(untilAborted, { name: 'a' })
    const b = tasks.create(untilAborted, { name: 'b' })
    expect(tasks.cancel('a')).toBe(true)
    expect((a.signal.reason as AbortedError).message).toMatch(/"a" was cancelled/)
    expect(tasks.cancel('a')).toBe(false) // already cancelled: no longer running
    expect(tasks.cancel('nope')).toBe(false)
    expect(b.signal.aborted).toBe(false)
    tasks.cancel('b', 'custom reason')
    expect(b.signal.reason).toMatchObject({ reason: 'cancelled', signalReason: 'custom reason' })
    await tasks.waitForAll()
  })

  it('emits a generator task\'s yields in order with the task, and drops what it yields after an abort', async () => {
    const seen: [unknown, string][] = []
    const tasks = new TaskManager({ emit: (event, task) => seen.push([event, task.name]) })
    let cleaned = false
    let reached!: () => void
    const gate = new Promise<void>((resolve) => (reached = resolve))
    const task = tasks.create(
      async function* (signal) {
        try {
          yield new TextToSpeechEvent({ text: 'one' })
          yield new TextToSpeechEvent({ text: 'two' })
          yield 'three'
          reached()
          await sleep(5)
          // Still yields after the abort: a careless handler. Nothing of it may reach the output.
          if (signal.aborted) yield 'late'
          yield 'later'
        } finally {
          cleaned = true
        }
      },
      { name: 'speaker' },
    )
    await gate
    tasks.cancel('speaker')
    expect(await task.done).toBe('cancelled')
    expect(seen.map(([e, n]) => [e instanceof AgentEvent ? e.data.text : e, n])).toEqual([
      ['one', 'speaker'],
      ['two', 'speaker'],
      ['three', 'speaker'],
    ])
    expect(cleaned).toBe(true)
  })

  it('lets the agent tag emitted events as background with the task name', async () => {
    const out: AgentEvent[] = []
    const tasks = new TaskManager({
      emit: (event, task) => {
        if (event instanceof AgentEvent) event.background = { task: task.name }
        out.push(event as AgentEvent)
      },
    })
    await tasks.create(async function* () {
      yield new TextToSpeechEvent({ text: 'done' })
    }, { name: 'order_processing' }).done
    expect(out[0]!.toJSON().background).toEqual({ task: 'order_processing' })
  })

  it('hands a task error to onError, never to an unhandled rejection', async () => {
    const unhandled = trackUnhandledRejections()
    try {
      const errors: [unknown, TaskInfo][] = []
      const tasks = new TaskManager({ onError: (e, t) => errors.push([e, t]) })
      const boom = new Error('boom')
      const a = tasks.create(async () => {
        await sleep(1)
        throw boom
      }, { name: 'a' })
      const b = tasks.create(async function* () {
        yield 1
        throw new TypeError('gen broke')
      }, { name: 'b' })
      const c = tasks.create((() => {
        throw new RangeError('sync throw')
      }) as () => Promise<void>, { name: 'c' })
      await tasks.waitForAll()
      expect(await Promise.all([a.done, b.done, c.done])).toEqual(['failed', 'failed', 'failed'])
      expect(errors.map(([e, t]) => [(e as Error).message, t.name]).sort()).toEqual([
        ['boom', 'a'],
        ['gen broke', 'b'],
        ['sync throw', 'c'],
      ])
      // A throwing onError and a missing onError (console.error) do not leak either.
      const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
      await new TaskManager({ onError: () => { throw new Error('bad onError') } }).create(async () => { throw boom }).done
      await new TaskManager().create(async () => { throw boom }, { name: 'quiet' }).done
      expect(spy).toHaveBeenCalledWith('agentctx: task "quiet" failed', boom)
      spy.mockRestore()
      await sleep(20) // unhandled rejections are reported after a macrotask
      expect(unhandled.seen).toEqual([])
    } finally {
      unhandled.stop()
    }
  })

  it('does not report a cancellation or a timeout as an error', async () => {
    const onError = vi.fn()
    const tasks = new TaskManager({ onError })
    tasks.create(untilAborted, { name: 'x' })
    tasks.create(untilAborted, { name: 'y', timeout: 0.01 })
    tasks.cancel('x')
    await tasks.waitForAll()
    expect(onError).not.toHaveBeenCalled()
  })

  it('waitForAll resolves at once when nothing is pending', async () => {
    const tasks = new TaskManager()
    const order: string[] = []
    setTimeout(() => order.push('timer'), 0)
    await tasks.waitForAll().then(() => order.push('waited'))
    expect(order).toEqual(['waited'])
  })

  it('waitForAll also waits for tasks created while it waits', async () => {
    const tasks = new TaskManager()
    let second = false
    tasks.create(async () => {
      await sleep(5)
      tasks.create(async () => {
        await sleep(10)
        second = true
      })
    })
    await tasks.waitForAll()
    expect(second).toBe(true)
    expect(tasks.hasUnfinished()).toBe(false)
  })

  it('regression: a task timeout was a DOMException TimeoutError: an AbortedError, reason and code timeout, naming the task and seconds; stops waiting for a task that ignores it', async () => {
    const tasks = new TaskManager()
    const stubborn = tasks.create(never, { name: 'stubborn', timeout: 0.03 })
    expect(tasks.hasUnfinished()).toBe(true)
    await tasks.waitForAll() // would hang forever if the task were still counted
    expect(tasks.hasUnfinished()).toBe(false)
    expect(await stubborn.done).toBe('timeout')
    const reason = stubborn.signal.reason as AbortedError
    expect(reason).toBeInstanceOf(AbortedError)
    expect(reason).toMatchObject({ name: 'AbortedError', code: 'timeout', reason: 'timeout' })
    expect(reason.message).toBe('task "stubborn" timed out after 0.03 s')
  })

  it('keeps waiting for a cancelled task that is still cleaning up, until it settles or its deadline', async () => {
    const tasks = new TaskManager()
    let cleaned = false
    const slow = tasks.create(async (signal) => {
      await untilAborted(signal).catch(() => {})
      await sleep(10)
      cleaned = true
    }, { name: 'slow' })
    const stubborn = tasks.create(never, { name: 'stubborn', timeout: 0.03 })
    tasks.cancelAll()
    expect(tasks.names()).toEqual([])
    expect(tasks.hasUnfinished()).toBe(true)
    await tasks.waitForAll()
    expect(cleaned).toBe(true)
    expect(await slow.done).toBe('cancelled')
    expect(await stubborn.done).toBe('cancelled') // dropped at its deadline, status from the first abort
  })

  it('accepts an Infinity timeout and a timeout past setTimeout\'s 24.8-day limit without firing early', async () => {
    const tasks = new TaskManager()
    const inf = tasks.create(untilAborted, { timeout: Infinity })
    const long = tasks.create(untilAborted, { timeout: 3_000_000 }) // 34.7 days: 1 ms if passed to setTimeout raw
    await sleep(20)
    expect(inf.signal.aborted).toBe(false)
    expect(long.signal.aborted).toBe(false)
    tasks.cancelAll()
    await tasks.waitForAll()
  })

  it('aborts every task when the parent signal aborts, and never starts one created after', async () => {
    const parent = new AbortController()
    const tasks = new TaskManager({ parentSignal: parent.signal })
    const a = tasks.create(untilAborted, { name: 'a' })
    const reason = new Error('response closed')
    parent.abort(reason)
    expect(a.signal.reason).toMatchObject({ name: 'AbortedError', reason: 'cancelled', signalReason: reason })
    expect(await a.done).toBe('cancelled')
    const started = vi.fn(async () => {})
    const late = tasks.create(started, { name: 'late' })
    expect(late.signal.aborted).toBe(true)
    expect(await late.done).toBe('cancelled')
    expect(started).not.toHaveBeenCalled()
    expect(tasks.hasUnfinished()).toBe(false)
  })

  it('listens to the parent signal only while tasks are pending, so an idle manager is not kept alive', async () => {
    const parent = new AbortController()
    const add = vi.spyOn(parent.signal, 'addEventListener')
    const remove = vi.spyOn(parent.signal, 'removeEventListener')
    const tasks = new TaskManager({ parentSignal: parent.signal })
    expect(add).not.toHaveBeenCalled()
    await Promise.all([tasks.create(async () => {}).done, tasks.create(async () => {}).done])
    expect(add).toHaveBeenCalledTimes(1)
    expect(remove).toHaveBeenCalledTimes(1)
    expect(remove.mock.calls[0]![1]).toBe(add.mock.calls[0]![1])
  })

  it('reports a parent abort whose reason is a TimeoutError as a timeout', async () => {
    const parent = new AbortController()
    const tasks = new TaskManager({ parentSignal: parent.signal })
    const t = tasks.create(untilAborted)
    parent.abort(new DOMException('request deadline', 'TimeoutError'))
    expect(await t.done).toBe('timeout')
  })

  it('hands every task\'s done promise to waitUntil, and survives a throwing waitUntil', async () => {
    const handed: Promise<unknown>[] = []
    const tasks = new TaskManager({ waitUntil: (p) => handed.push(p) })
    const a = tasks.create(async () => {})
    const b = tasks.create(untilAborted)
    expect(handed).toEqual([a.done, b.done])
    await a.done
    tasks.cancelAll()
    expect(await Promise.all(handed)).toEqual(['completed', 'cancelled'])
    const throwing = new TaskManager({ waitUntil: () => { throw new Error('request over') } })
    expect(await throwing.create(async () => {}).done).toBe('completed')
  })

  it('removes finished tasks from the registry', async () => {
    const tasks = new TaskManager()
    const t = tasks.create(async () => sleep(1), { name: 'quick' })
    expect(tasks.names()).toEqual(['quick'])
    await t.done
    expect(tasks.names()).toEqual([])
    expect(tasks.cancel('quick')).toBe(false)
  })

  it.each<[string, unknown, TaskOptions | unknown, string]>([
    ['a negative timeout', async () => {}, { timeout: -1 }, 'options.timeout'],
    ['a zero timeout', async () => {}, { timeout: 0 }, 'options.timeout'],
    ['a NaN timeout', async () => {}, { timeout: NaN }, 'options.timeout'],
    ['a string timeout', async () => {}, { timeout: '30' }, 'options.timeout'],
    ['an empty name', async () => {}, { name: '' }, 'options.name'],
    ['a blank name', async () => {}, { name: '   ' }, 'options.name'],
    ['a number name', async () => {}, { name: 5 }, 'options.name'],
    ['a non-boolean interruptible', async () => {}, { interruptible: 'yes' }, 'options.interruptible'],
    ['a string instead of a function', 'processOrder', {}, 'handler'],
    ['null instead of a function', null, {}, 'handler'],
    ['a sync generator', (function* () {})(), {}, 'handler'],
    ['a plain object', { run: () => {} }, {}, 'handler'],
    ['no handler', undefined, {}, 'handler'],
    ['null options', async () => {}, null, 'options'],
  ])('refuses %s with a ValidationError naming the field', (_, handler, options, path) => {
    const tasks = new TaskManager()
    let error: unknown
    try {
      tasks.create(handler as never, options as TaskOptions)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).path).toBe(path)
    expect((error as ValidationError).code).toBe('invalid_argument')
    expect((error as Error).message.startsWith(`${path}: `)).toBe(true)
    expect(tasks.hasUnfinished()).toBe(false)
  })
})
