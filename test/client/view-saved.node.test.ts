import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AgentHandler } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import { createAgentClient, type AgentClient, type SessionSnapshot } from '../../src/client/index.js'
import { sleep, untilAborted } from '../tasks/helpers.js'
import { serveAgent, TOKEN, type Served } from './agent.js'

// Regression (issue 12): the agent keeps a request's stream open after the turn is saved while the
// tasks it started yield events. The view's `send()` began with `stop()`, so a message sent in that
// window marked the previous, complete and saved reply `interrupted`, and `status` stayed
// 'streaming' until the task finished. The agent now writes an SSE comment at the save
// (`: turn N saved`), which the client turns into `onSaved`. Real agent, real HTTP on 127.0.0.1.

const say = (text: string) => new TextToSpeechEvent({ text })

/** A promise and its resolve: the test decides when the regression test's task yields. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { open, opened }
}
let orderGate = gate()

/**
 * A new session hears "Hello!". `order`: a reply, and a task yielding its event ~200 ms later
 * (`gated order`: once the test opens `orderGate`). `pause`: a reply once `orderGate` is open,
 * 300 ms later (the task's event comes meanwhile). `slow`: a first sentence, then 5 s. Else an echo.
 */
const handler: AgentHandler = async function* (event, ctx, { signal }) {
  if (event instanceof StartEvent) return yield say('Hello!')
  if (!(event instanceof TextEvent)) return
  const text = event.data.text
  if (text === 'order' || text === 'gated order') {
    ctx.createTask(
      async function* () {
        await (text === 'order' ? sleep(200) : orderGate.opened)
        yield say('Your order is ready')
      },
      { name: 'order', timeout: 30 },
    )
    yield say('Processing your order.')
  } else if (text === 'pause') {
    // Still running when the order task yields: its stream carries that event.
    await orderGate.opened
    await sleep(300)
    yield say('Paused')
  } else if (text === 'slow') {
    yield say('Let me think')
    await Promise.race([sleep(5000), untilAborted(signal)])
    yield say('Done thinking')
  } else yield say(`You said ${text}`)
}

let served: Served
let client: AgentClient
beforeAll(async () => {
  served = await serveAgent({ handler })
  client = createAgentClient({ url: served.url, headers: { authorization: `Bearer ${TOKEN}` } })
})
afterAll(() => served.close())

const texts = (s: SessionSnapshot) => s.messages.map((m) => `${m.role}:${m.text}${m.interrupted ? ' (interrupted)' : ''}`)

describe('a reply saved while its stream stays open for a background task', () => {
  it('regression: a message sent before the task yields does not mark the saved reply interrupted; status is idle after the save; the task’s event still arrives', async () => {
    orderGate = gate()
    const view = client.session('saved-then-send')
    const statuses: string[] = []
    view.subscribe((s) => statuses.push(s.status))
    const first = view.send('gated order')
    // The save's mark arrives right after the reply: idle, with the connection still open.
    await expect.poll(() => view.getSnapshot().status, { timeout: 2000, interval: 5 }).toBe('idle')
    const idle = view.getSnapshot()
    expect(texts(idle)).toEqual(['assistant:Hello!', 'user:gated order', 'assistant:Processing your order.'])
    expect(idle.streaming).toBeUndefined()
    expect(idle.background).toEqual([])
    let firstDone = false
    void first.then(() => (firstDone = true))
    await sleep(20)
    expect(firstDone).toBe(false) // the stream is still open for the task (it has not yielded)

    // Sent before the task yields: closes the first connection, does not interrupt the reply.
    const second = view.send('pause')
    await first
    // Then the task yields (~200 ms after the first reply in the demo's terms), while `pause` runs.
    setTimeout(orderGate.open, 200)
    await second
    const after = view.getSnapshot()
    expect(texts(after)).toEqual(['assistant:Hello!', 'user:gated order', 'assistant:Processing your order.', 'user:pause', 'assistant:Paused'])
    expect(after.messages.some((m) => m.interrupted)).toBe(false)
    expect(after.status).toBe('idle')
    expect(after.error).toBeUndefined()
    // Each reply went idle at its save, once (consecutive repeats folded: one snapshot per event).
    expect(statuses.filter((x, i) => x !== statuses[i - 1])).toEqual(['idle', 'streaming', 'idle', 'streaming', 'idle'])

    // The task's event (at ~200 ms, the first connection closed) came on the stream open then,
    // the second request's, tagged with the turn that started the task; it is not part of that reply.
    expect(after.background.map((e) => [e.data.text, e.background?.task, e.turn])).toEqual([['Your order is ready', 'order', 1]])
    expect(after.messages.at(-1)!.events.map((e) => e.data.text)).toEqual(['Paused'])
    // What is stored agrees: turn 1 complete, not interrupted, with its background event.
    const state = await client.history('saved-then-send')
    const turn1 = state!.turns!.find((t) => t.id === 1)!
    expect(turn1.response).toMatchObject({ text: 'Processing your order.', background: [{ data: { text: 'Your order is ready' } }] })
    expect(turn1.response!.interrupted).toBeUndefined()
    await view.load()
    expect(texts(view.getSnapshot()).some((t) => t.endsWith('(interrupted)'))).toBe(false)
  })

  it('without sending again, the background event arrives on the open stream after the save, into snapshot.background, and status stays idle', async () => {
    const view = client.session('saved-then-wait')
    const seen: SessionSnapshot[] = []
    view.subscribe((s) => seen.push(s))
    await view.send('order')
    const last = view.getSnapshot()
    expect(last.status).toBe('idle')
    expect(last.background.map((e) => e.data.text)).toEqual(['Your order is ready'])
    // Idle came before the background event: the first snapshot holding it was already idle.
    const withEvent = seen.find((s) => s.background.length)!
    expect(withEvent.status).toBe('idle')
    expect(texts(last)).toEqual(['assistant:Hello!', 'user:order', 'assistant:Processing your order.'])
  })

  it('stop() after the save closes the connection without marking the reply interrupted', async () => {
    const view = client.session('saved-then-stop')
    const sending = view.send('order')
    await expect.poll(() => view.getSnapshot().status, { timeout: 2000, interval: 5 }).toBe('idle')
    view.stop()
    await sending
    const s = view.getSnapshot()
    expect(texts(s)).toEqual(['assistant:Hello!', 'user:order', 'assistant:Processing your order.'])
    expect(s.status).toBe('idle')
    expect(s.error).toBeUndefined()
  })

  it('stop() before the save still marks the reply interrupted (and the agent records it so)', async () => {
    const view = client.session('stop-before-save')
    const sending = view.send('slow')
    await expect.poll(() => view.getSnapshot().messages.at(-1)?.text, { timeout: 2000, interval: 5 }).toBe('Let me think')
    expect(view.getSnapshot().status).toBe('streaming')
    view.stop()
    await sending
    expect(texts(view.getSnapshot())).toEqual(['assistant:Hello!', 'user:slow', 'assistant:Let me think (interrupted)'])
    await expect.poll(async () => (await client.history('stop-before-save'))?.turns?.find((t) => t.id === 1)?.response?.interrupted, { timeout: 3000 }).toBe(true)
  })

  it('a message sent before the save still interrupts the reply (barge-in unchanged)', async () => {
    const view = client.session('send-before-save')
    const first = view.send('slow')
    await expect.poll(() => view.getSnapshot().messages.at(-1)?.text, { timeout: 2000, interval: 5 }).toBe('Let me think')
    await view.send('hello')
    await first
    expect(texts(view.getSnapshot())).toEqual(['assistant:Hello!', 'user:slow', 'assistant:Let me think (interrupted)', 'user:hello', 'assistant:You said hello'])
  })

  it('client.send: onSaved is called once, with the turn, after the reply’s events and before the task’s (only when a task keeps the stream open); it yields events only', async () => {
    const order: string[] = []
    for await (const e of client.send('on-saved', 'order', { onSaved: (turn) => order.push(`saved ${turn}`) })) order.push(String(e.data.text))
    expect(order).toEqual(['Hello!', 'Processing your order.', 'saved 1', 'Your order is ready'])
    const plain: string[] = []
    for await (const e of client.send('on-saved', 'hi', { onSaved: (turn) => plain.push(`saved ${turn}`) })) plain.push(String(e.data.text))
    // No task kept the stream open: it ends at the save, with no mark (the frames as before).
    expect(plain).toEqual(['You said hi'])
  })

  it('the wire: the save is an SSE comment line between the reply’s events and the task’s, no event', async () => {
    const response = await fetch(`${served.url}/sessions/wire/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'text', data: { text: 'order' } }),
    })
    const body = await response.text()
    const lines = body.split('\n').filter((l) => l.startsWith('event:') || l.startsWith(':'))
    expect(lines).toEqual(['event: text_to_speech', 'event: text_to_speech', ': turn 1 saved', 'event: text_to_speech'])
    // agent.send (no HTTP) yields no mark.
    const direct: string[] = []
    for await (const e of served.agent.send('direct', { type: 'text', data: { text: 'order' } })) direct.push(String(e.data.text))
    expect(direct).toEqual(['Hello!', 'Processing your order.', 'Your order is ready'])
  })
})
