import { describe, expect, it } from 'vitest'
import { TaskManager, type TaskInfo } from '../../src/tasks/tasks.js'
import { Context } from '../../src/context.js'
import { ValidationError } from '../../src/errors.js'
import { sleep, trackUnhandledRejections } from './helpers.js'

/**
 * Issue 12: a task given as work already started, as the voice-agent document passes it
 * (`ctx.createTask(processOrder(ctx), { name })`): a promise or an async iterator. Only a function
 * gets the abort signal; cancelling the others stops waiting and drops their later events, and an
 * iterator's `return()` runs a generator's `finally`.
 */
function manager() {
  const events: [unknown, string][] = []
  const errors: [unknown, string][] = []
  const tasks = new TaskManager({ emit: (e, t: TaskInfo) => events.push([e, t.name]), onError: (e, t) => errors.push([e, t.name]) })
  return { tasks, events, errors }
}

/** An async generator that yields `n` values `gap` ms apart and records how far it got. */
function ticker(n: number, gap: number, log: string[]) {
  return (async function* () {
    try {
      for (let i = 1; i <= n; i++) {
        if (i > 1) await sleep(gap)
        log.push(`yield ${i}`)
        yield i
      }
    } finally {
      log.push('finally')
    }
  })()
}

describe('a task given as an async iterator or a promise', () => {
  it('emits an async generator object\'s values in order, then completes', async () => {
    const { tasks, events } = manager()
    const log: string[] = []
    const task = tasks.create(ticker(3, 1, log), { name: 'tick' })
    expect(await task.done).toBe('completed')
    expect(events).toEqual([[1, 'tick'], [2, 'tick'], [3, 'tick']])
    expect(log).toEqual(['yield 1', 'yield 2', 'yield 3', 'finally'])
  })

  it("waits for an async function's promise and completes, emitting nothing", async () => {
    const { tasks, events } = manager()
    let finished = false
    const work = (async () => {
      await sleep(5)
      finished = true
    })()
    expect(await tasks.create(work).done).toBe('completed')
    expect(finished).toBe(true)
    expect(events).toEqual([])
    expect(tasks.hasUnfinished()).toBe(false)
  })

  it('takes a bare AsyncIterator (an object with next) and an AsyncIterable that is not its own iterator', async () => {
    const { tasks, events } = manager()
    let i = 0
    const bare = { next: async () => (++i <= 2 ? { done: false, value: `bare ${i}` } : { done: true, value: undefined }) }
    expect(await tasks.create(bare as AsyncIterator<unknown>, { name: 'bare' }).done).toBe('completed')
    const iterable = { [Symbol.asyncIterator]: () => ticker(2, 0, []) }
    expect(await tasks.create(iterable, { name: 'iterable' }).done).toBe('completed')
    expect(events).toEqual([['bare 1', 'bare'], ['bare 2', 'bare'], [1, 'iterable'], [2, 'iterable']])
  })

  it("cancel mid-iteration: settles at once, later yields are dropped, the generator's finally runs", async () => {
    const { tasks, events } = manager()
    const log: string[] = []
    const task = tasks.create(ticker(5, 150, log), { name: 'tick' })
    await expect.poll(() => events.length, { interval: 2 }).toBe(1)
    const t0 = performance.now()
    expect(tasks.cancel('tick')).toBe(true)
    expect(await task.done).toBe('cancelled')
    // Not waited for: the generator is inside its 150 ms sleep.
    expect(performance.now() - t0).toBeLessThan(100)
    // return() was queued behind that sleep: the generator reaches its next yield, whose value is
    // dropped, and its finally runs there.
    await expect.poll(() => log.at(-1)).toBe('finally')
    expect(log).toEqual(['yield 1', 'yield 2', 'finally'])
    await sleep(200)
    expect(events).toEqual([[1, 'tick']])
  })

  it('cancelling a generator stuck in an await settles the task anyway (its finally cannot run yet)', async () => {
    const { tasks } = manager()
    const task = tasks.create((async function* () {
      await new Promise(() => {})
      yield 'never'
    })(), { name: 'stuck', timeout: Infinity })
    expect(tasks.cancelAll()).toBe(1)
    expect(await task.done).toBe('cancelled')
    expect(tasks.hasUnfinished()).toBe(false)
  })

  it('times out (seconds): status timeout, later yields dropped, finally runs', async () => {
    const { tasks, events } = manager()
    const log: string[] = []
    const task = tasks.create(ticker(5, 60, log), { name: 'slow', timeout: 0.03 })
    expect(await task.done).toBe('timeout')
    await expect.poll(() => log.at(-1)).toBe('finally')
    expect(events).toEqual([[1, 'slow']])
  })

  it('a rejected promise is a failed task, reported to onError once, never an unhandled rejection', async () => {
    const rejections = trackUnhandledRejections()
    const { tasks, errors } = manager()
    const boom = new Error('payment backend down')
    const work = (async () => {
      await sleep(1)
      throw boom
    })()
    expect(await tasks.create(work, { name: 'pay' }).done).toBe('failed')
    await sleep(10)
    rejections.stop()
    expect(errors).toEqual([[boom, 'pay']])
    expect(rejections.seen).toEqual([])
  })

  it('a promise cancelled before it rejects: cancelled, its rejection swallowed, onError not called', async () => {
    const rejections = trackUnhandledRejections()
    const { tasks, errors } = manager()
    const work = (async () => {
      await sleep(10)
      throw new Error('too late')
    })()
    const task = tasks.create(work, { name: 'late' })
    tasks.cancel('late')
    expect(await task.done).toBe('cancelled')
    await sleep(30)
    rejections.stop()
    expect(errors).toEqual([])
    expect(rejections.seen).toEqual([])
  })

  it('an iterator that throws: failed, onError gets the error, the values before it were emitted', async () => {
    const { tasks, events, errors } = manager()
    const boom = new Error('feed broke')
    const task = tasks.create((async function* () {
      yield 'first'
      throw boom
    })(), { name: 'feed' })
    expect(await task.done).toBe('failed')
    expect(events).toEqual([['first', 'feed']])
    expect(errors).toEqual([[boom, 'feed']])
  })

  it("an emit that throws stops the iterator (its finally runs) and fails the task", async () => {
    const errors: unknown[] = []
    const tasks = new TaskManager({ emit: () => { throw new Error('sink full') }, onError: (e) => errors.push(e) })
    const log: string[] = []
    expect(await tasks.create(ticker(3, 1, log)).done).toBe('failed')
    await expect.poll(() => log).toEqual(['yield 1', 'finally'])
    expect(errors).toMatchObject([{ message: 'sink full' }])
  })

  it('a task of the same name replaces an iterator task; a parent already aborted never starts one', async () => {
    const { tasks, events } = manager()
    const log: string[] = []
    const first = tasks.create(ticker(5, 150, log), { name: 'tick' })
    await expect.poll(() => events.length, { interval: 2 }).toBe(1)
    tasks.create(ticker(1, 0, []), { name: 'tick' })
    expect(await first.done).toBe('cancelled')
    const parent = new AbortController()
    parent.abort()
    const log2: string[] = []
    const gen = ticker(2, 0, log2)
    const never = new TaskManager({ parentSignal: parent.signal }).create(gen)
    expect(await never.done).toBe('cancelled')
    await expect.poll(() => log2).toEqual([]) // return() before the first next(): the body never ran
    expect(await gen.next()).toEqual({ done: true, value: undefined })
  })

  it('refuses what is neither a function, a promise nor an async iterator, naming handler and what it got', () => {
    const { tasks } = manager()
    const cases: [unknown, RegExp][] = [
      ['processOrder', /got a string/],
      [null, /got null/],
      [undefined, /got a undefined|got an? undefined/],
      [42, /got a number/],
      [{ run() {} }, /neither a promise nor an async iterator/],
      [(function* () {})(), /sync iterable/],
      [[1, 2], /sync iterable/],
    ]
    for (const [value, message] of cases) {
      let error: unknown
      try {
        tasks.create(value as never)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ValidationError)
      expect(error).toMatchObject({ path: 'handler', code: 'invalid_argument' })
      expect((error as Error).message).toMatch(message)
    }
    expect(tasks.hasUnfinished()).toBe(false)
  })
})

describe("ctx.createTask with the document's example: processOrder(ctx) already started", () => {
  // spec/000 "Background Tasks": context.create_task(process_order(context), name="order_processing", timeout=60).
  async function processOrder(ctx: Context) {
    await sleep(10)
    ctx.setData('order_status', 'completed')
  }
  async function* processOrderWithEvents(ctx: Context) {
    await sleep(10)
    ctx.setData('order_status', 'completed')
    yield { type: 'text_to_speech', data: { text: 'Your order is ready!' } }
  }

  it("an async function's promise: the status is pending, then completed", async () => {
    const ctx = new Context()
    const task = ctx.createTask(processOrder(ctx), { name: 'order_processing', timeout: 60 })
    expect(ctx.getData('order_status', 'pending')).toBe('pending')
    expect(ctx.hasUnfinishedTasks()).toBe(true)
    await ctx.waitForAllTasks()
    expect(await task.done).toBe('completed')
    expect(ctx.getData('order_status')).toBe('completed')
  })

  it('an async generator: the same, and it can be cancelled by name', async () => {
    const ctx = new Context()
    ctx.createTask(processOrderWithEvents(ctx), { name: 'order_processing', timeout: 60 })
    expect(ctx.cancelTask('order_processing')).toBe(true)
    await ctx.waitForAllTasks()
    await sleep(20)
    // The generator's body ran to its yield (the set) and was stopped there: a promise or
    // generator's work is not stopped by a cancel, only its later events are dropped.
    expect(ctx.getData('order_status')).toBe('completed')
  })
})
