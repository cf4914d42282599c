/**
 * One rule-based agent handler shared by every runtime's tests (Node, workerd, Chromium): it is
 * bundled into the Worker as is, so it uses web standards only. Each rule is a scenario of the
 * runtime suite (suite.ts):
 *
 *   start                 "Welcome!" (turn 0)
 *   "place order"         the voice-agent document's background example: task order_processing
 *                         (timeout 60) sets order_status = completed when the test says "ship it"
 *   "check status"        "Your order status is: pending | completed"
 *   "ship it"             releases the order task and waits for it
 *   "quick task"          a task that sets data.quick after a few ms, after the response has ended
 *   "slow [ms]"           yields "thinking", starts an interruptible task (music) and a
 *                         non-interruptible one (ledger), then waits ms (default 5000) or until its
 *                         signal aborts, then says "slow done"
 *   "track order"         a generator task whose event streams on this turn, tagged background
 *   "late order"          the document's form, work already started: createTask(deliverOrder(ctx)),
 *                         an async generator that says "Your order is ready!" 50 ms after the turn
 *                         ended; the request's stream stays open for it (issue 12)
 *   "fail task"           a task that throws an error holding a secret
 *   note {n, meet?, hold?, see?}
 *                         not a TextEvent, so it never interrupts: appends n to data.notes. With
 *                         `meet`, first waits (up to 2 s) for another session's note of the same
 *                         `meet`; with `hold`, holds that key for 300 ms; with `see`, says whether
 *                         the key is held (workerd: no promise may join two requests, see `meet`)
 *   anything else         "You said: <text>"
 */
import type { AgentHandler } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import type { Context } from '../../src/context.js'
import type { Json } from '../../src/state/json.js'

export const SECRET = 'sk-runtime-secret-123'

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })
const untilAborted = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
const say = (text: string) => new TextToSpeechEvent({ text })

// Module state, shared by the sessions of one runtime instance (one isolate, one page, one process).
const releases = new Map<string, () => void>()
const meetings = new Map<string, { arrived: number; all: Promise<void>; open: () => void }>()
const held = new Set<string>()

/** Resolves when two callers have arrived with `key`, or after 2 s ("alone": the other never ran concurrently). */
async function meet(key: string): Promise<'met' | 'alone'> {
  let m = meetings.get(key)
  if (!m) {
    let open!: () => void
    const all = new Promise<void>((resolve) => (open = resolve))
    meetings.set(key, (m = { arrived: 0, all, open }))
  }
  if (++m.arrived === 2) m.open()
  // The timer is not cleared: in workerd the other session's request resumes this one, and clearing
  // this request's last timer from there leaves it nothing pending ("Promise will never complete").
  return Promise.race([m.all.then(() => 'met' as const), new Promise<'alone'>((resolve) => setTimeout(resolve, 2000, 'alone'))])
}

async function processOrder(signal: AbortSignal, ctx: Context): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    releases.set(ctx.sessionId, resolve)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
  ctx.setData('order_status', 'completed')
}

/** The order of "late order": yields after its turn's response ended (issue 12: the stream waits for it). */
async function* deliverOrder(ctx: Context) {
  await sleep(50)
  ctx.setData('order_status', 'completed')
  yield say('Your order is ready!')
}

export const handler: AgentHandler = async function* (event, ctx, { signal, sessionId }) {
  if (event instanceof StartEvent) {
    ctx.setData('greeted', true)
    yield say('Welcome!')
    return
  }
  if (event.type === 'note') {
    const { n, meet: key, hold, see } = event.data as { n: number; meet?: string; hold?: string; see?: string }
    let met: string | undefined = key ? await meet(key) : undefined
    if (see) met = held.has(see) ? 'saw' : 'missed'
    if (hold) {
      held.add(hold)
      await sleep(300)
      held.delete(hold)
    }
    await sleep(5)
    ctx.setData('notes', [...(ctx.getData('notes', []) as Json[]), n])
    yield new TextToSpeechEvent({ text: `${sessionId} note ${n}${met ? ` ${met}` : ''}` })
    return
  }
  if (!(event instanceof TextEvent)) return
  const text = event.data.text.toLowerCase()
  if (text.includes('place order')) {
    ctx.createTask(processOrder, { name: 'order_processing', timeout: 60 })
    yield say('Processing your order in the background.')
  } else if (text.includes('check status')) {
    yield say(`Your order status is: ${ctx.getData('order_status', 'pending')}`)
  } else if (text === 'ship it') {
    releases.get(sessionId)?.()
    await ctx.waitForAllTasks()
    yield say('Shipped.')
  } else if (text === 'quick task') {
    ctx.createTask(async (taskSignal, c) => {
      await sleep(10, taskSignal)
      c.setData('quick', 'done')
    }, { name: 'quick' })
    yield say('Started.')
  } else if (/^slow( \d+)?$/.test(text)) {
    ctx.createTask(async (taskSignal, c) => {
      try {
        await untilAborted(taskSignal)
      } catch (reason) {
        c.setData('music', `cancelled: ${(reason as Error).message}`)
      }
    }, { name: 'music', interruptible: true })
    ctx.createTask(async (taskSignal, c) => {
      await sleep(30, taskSignal)
      c.setData('ledger', 'written')
    }, { name: 'ledger' })
    yield say('thinking')
    try {
      // As a slow model call would: a pending timer (or fetch) keeps a Worker's request alive.
      await sleep(Number(text.slice(5)) || 5000, signal)
    } catch (reason) {
      ctx.setData('slow_aborted', (reason as Error).message)
      return
    }
    yield say('slow done')
  } else if (text === 'late order') {
    ctx.createTask(deliverOrder(ctx), { name: 'order_processing', timeout: 60 })
    yield say('Processing your order in the background.')
  } else if (text === 'track order') {
    ctx.createTask(async function* () {
      yield say('Order shipped')
      yield say('Order delivered')
    }, { name: 'tracking' })
    await ctx.waitForAllTasks()
    yield say('Tracking done.')
  } else if (text === 'fail task') {
    ctx.createTask(async () => {
      throw new Error(`backend down, key ${SECRET}`)
    }, { name: 'failing' })
    await ctx.waitForAllTasks()
    yield say('After the failure.')
  } else {
    yield say(`You said: ${event.data.text}`)
  }
}
