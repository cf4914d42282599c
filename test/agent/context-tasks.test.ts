import { describe, expect, it, vi } from 'vitest'
import { Context } from '../../src/context.js'
import { ValidationError } from '../../src/errors.js'
import { sleep, trackUnhandledRejections, untilAborted } from '../tasks/helpers.js'

/**
 * Background tasks on the Context (`ctx.createTask` … `ctx.waitForAllTasks`), as the voice-agent
 * document uses them. The TaskManager itself is tested in test/tasks; the agent's use of them in
 * agent.test.ts and test/runtime.
 */

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

describe('ctx.createTask', () => {
  it("runs the document's background order example: check status says pending, then completed", async () => {
    const ctx = new Context()
    const processed = deferred() // the document sleeps 5 s; the test decides when processing is over
    // async def process_order(context): await asyncio.sleep(5); context.set_data("order_status", "completed")
    const processOrder = async (signal: AbortSignal, context: Context) => {
      await Promise.race([processed.promise, untilAborted(signal)])
      context.setData('order_status', 'completed')
    }
    const handle = (userMessage: string): string | undefined => {
      const text = userMessage.toLowerCase()
      if (text.includes('place order')) {
        ctx.createTask(processOrder, { name: 'order_processing', timeout: 60 })
        return 'Processing your order in the background.'
      }
      if (text.includes('check status')) return `Your order status is: ${ctx.getData('order_status', 'pending')}`
    }
    expect(handle('Place order, please')).toBe('Processing your order in the background.')
    expect(ctx.hasUnfinishedTasks()).toBe(true)
    expect(handle('check status')).toBe('Your order status is: pending')
    processed.resolve()
    await ctx.waitForAllTasks()
    expect(handle('check status')).toBe('Your order status is: completed')
    expect(ctx.hasUnfinishedTasks()).toBe(false)
  })

  it('gives the handler its signal and the context, and returns the task (name, options, done)', async () => {
    const ctx = new Context()
    let got: [AbortSignal, Context] | undefined
    const task = ctx.createTask(async (signal, context) => void (got = [signal, context]), { name: 'lookup', interruptible: true, timeout: 5 })
    expect(task).toMatchObject({ name: 'lookup', interruptible: true, timeout: 5 })
    expect(await task.done).toBe('completed')
    expect(got![0]).toBe(task.signal)
    expect(got![1]).toBe(ctx)
  })

  it('names tasks task-1, task-2, … when no name is given; timeout defaults to 30 s, not interruptible', () => {
    const ctx = new Context()
    const a = ctx.createTask(() => sleep(1))
    const b = ctx.createTask(() => sleep(1))
    expect([a.name, b.name]).toEqual(['task-1', 'task-2'])
    expect([a.timeout, a.interruptible]).toEqual([30, false])
    ctx.cancelAllTasks()
  })

  it('replaces a running task of the same name: the old one is aborted, both leave the registry', async () => {
    const ctx = new Context()
    const first = ctx.createTask((signal) => untilAborted(signal), { name: 'order_processing' })
    const second = ctx.createTask(async () => {}, { name: 'order_processing' })
    expect(first.signal.aborted).toBe(true)
    expect(first.signal.reason.message).toBe('task "order_processing" was replaced by a new task of the same name')
    expect(await first.done).toBe('cancelled')
    expect(await second.done).toBe('completed')
    expect(ctx.hasUnfinishedTasks()).toBe(false)
    expect(ctx.cancelTask('order_processing')).toBe(false)
  })

  it('cancels interruptible tasks only with cancelInterruptibleTasks; cancelAllTasks takes the rest', async () => {
    const ctx = new Context()
    const music = ctx.createTask((s) => untilAborted(s), { name: 'music', interruptible: true })
    const jingle = ctx.createTask((s) => untilAborted(s), { name: 'jingle', interruptible: true })
    const payment = ctx.createTask((s) => untilAborted(s), { name: 'payment' })
    expect(ctx.cancelInterruptibleTasks()).toBe(2)
    expect(await Promise.all([music.done, jingle.done])).toEqual(['cancelled', 'cancelled'])
    expect(payment.signal.aborted).toBe(false)
    expect(ctx.hasUnfinishedTasks()).toBe(true)
    expect(ctx.cancelInterruptibleTasks()).toBe(0)
    expect(ctx.cancelAllTasks()).toBe(1)
    expect(await payment.done).toBe('cancelled')
    expect(ctx.hasUnfinishedTasks()).toBe(false)
  })

  it('cancels one task by name and says whether one was running', async () => {
    const ctx = new Context()
    const task = ctx.createTask((s) => untilAborted(s), { name: 'lookup' })
    expect(ctx.cancelTask('lookup')).toBe(true)
    expect(task.signal.reason).toMatchObject({ name: 'AbortedError', reason: 'cancelled', message: 'task "lookup" was cancelled' })
    expect(await task.done).toBe('cancelled')
    expect(ctx.cancelTask('lookup')).toBe(false)
    expect(ctx.cancelTask('never')).toBe(false)
  })

  it('aborts a task at its timeout with a reason that says so, and stops waiting for one that ignores it', async () => {
    const ctx = new Context()
    const listening = ctx.createTask((s) => untilAborted(s), { name: 'listening', timeout: 0.02 })
    const deaf = ctx.createTask(() => new Promise(() => {}), { name: 'deaf', timeout: 0.02 })
    await ctx.waitForAllTasks() // returns although "deaf" never settles
    expect(await listening.done).toBe('timeout')
    expect(await deaf.done).toBe('timeout')
    expect(listening.signal.reason).toMatchObject({ name: 'AbortedError', reason: 'timeout', code: 'timeout', message: 'task "listening" timed out after 0.02 s' })
    expect(ctx.hasUnfinishedTasks()).toBe(false)
  })

  it('waitForAllTasks resolves at once with nothing pending, and the cancel methods are no-ops', async () => {
    const ctx = new Context()
    expect(ctx.hasUnfinishedTasks()).toBe(false)
    await expect(ctx.waitForAllTasks()).resolves.toBeUndefined()
    expect([ctx.cancelTask('x'), ctx.cancelInterruptibleTasks(), ctx.cancelAllTasks()]).toEqual([false, 0, 0])
  })

  it('waitForAllTasks also waits for tasks created meanwhile', async () => {
    const ctx = new Context()
    const order: string[] = []
    ctx.createTask(async () => {
      await sleep(2)
      order.push('first')
      ctx.createTask(async () => {
        await sleep(2)
        order.push('second')
      })
    })
    await ctx.waitForAllTasks()
    expect(order).toEqual(['first', 'second'])
  })

  it('without an agent, a failing task is reported on console.error, never an unhandled rejection', async () => {
    const rejections = trackUnhandledRejections()
    const log = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const ctx = new Context()
      const task = ctx.createTask(async () => {
        throw new Error('boom')
      }, { name: 'broken' })
      expect(await task.done).toBe('failed')
      await sleep(5)
      expect(log).toHaveBeenCalledWith('agentctx: task "broken" failed', expect.objectContaining({ message: 'boom' }))
      expect(rejections.seen).toEqual([])
    } finally {
      log.mockRestore()
      rejections.stop()
    }
  })

  it("drops a generator task's events when no agent listens, and still runs it to the end", async () => {
    const ctx = new Context()
    let steps = 0
    const task = ctx.createTask(async function* () {
      yield { type: 'text_to_speech', data: { text: 'a' } }
      steps++
      yield { type: 'text_to_speech', data: { text: 'b' } }
      steps++
    })
    expect(await task.done).toBe('completed')
    expect(steps).toBe(2)
  })

  it('refuses bad arguments with a ValidationError naming the option', () => {
    const ctx = new Context()
    const cases: [() => unknown, string][] = [
      [() => ctx.createTask('processOrder' as never), 'handler'],
      [() => ctx.createTask(async () => {}, { name: '' }), 'options.name'],
      [() => ctx.createTask(async () => {}, { timeout: 0 }), 'options.timeout'],
      [() => ctx.createTask(async () => {}, { timeout: -1 }), 'options.timeout'],
      [() => ctx.createTask(async () => {}, { interruptible: 'yes' as never }), 'options.interruptible'],
    ]
    for (const [call, path] of cases) expect(call).toThrow(expect.objectContaining({ name: ValidationError.name, path }))
    expect(ctx.hasUnfinishedTasks()).toBe(false)
  })

  it('keeps tasks out of the JSON form: a context with running tasks serializes and round-trips', async () => {
    const ctx = new Context({ data: { a: 1 } })
    ctx.createTask((s) => untilAborted(s), { name: 'x' })
    const copy = Context.fromJSON(JSON.stringify(ctx))
    expect(JSON.stringify(copy.toJSON())).not.toContain('"x"')
    expect(copy.hasUnfinishedTasks()).toBe(false)
    ctx.cancelAllTasks()
    await ctx.waitForAllTasks()
  })
})
