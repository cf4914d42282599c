import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentHttpError, createAgentClient, type AgentClient, type SessionSnapshot } from '../../src/client/index.js'
import { serveAgent, TOKEN, type Served } from './agent.js'

// The session view a UI renders, against a real agent over HTTP on 127.0.0.1: a recording listener
// sees every snapshot, and each one is checked to be the same object until something changes.

let served: Served
let client: AgentClient
beforeAll(async () => {
  served = await serveAgent()
  client = createAgentClient({ url: served.url, headers: { authorization: `Bearer ${TOKEN}` } })
})
afterAll(() => served.close())

/** A listener recording every snapshot it is given, checking each against getSnapshot(). */
function record(view: ReturnType<AgentClient['session']>) {
  const snapshots: SessionSnapshot[] = []
  const unsubscribe = view.subscribe((s) => {
    expect(s).toBe(view.getSnapshot())
    snapshots.push(s)
  })
  return { snapshots, unsubscribe }
}
const texts = (s: SessionSnapshot) => s.messages.map((m) => `${m.role}:${m.text}${m.interrupted ? ' (interrupted)' : ''}`)

describe('the session view', () => {
  it('subscribe calls the listener at once (a Svelte store) and the snapshot is the same object until something changes', async () => {
    const view = client.session('v-identity')
    const first = view.getSnapshot()
    expect(view.getSnapshot()).toBe(first)
    const { snapshots, unsubscribe } = record(view)
    expect(snapshots).toEqual([first])
    expect(snapshots[0]).toBe(first)
    expect(Object.isFrozen(first) && Object.isFrozen(first.messages)).toBe(true)
    expect(first).toMatchObject({ sessionId: 'v-identity', messages: [], streaming: undefined, background: [], status: 'idle', error: undefined })
    await view.load()
    // 'loading', then 'idle' with the (empty) history: two changes, two new snapshots; none in between.
    expect(snapshots.map((s) => s.status)).toEqual(['idle', 'loading', 'idle'])
    expect(new Set(snapshots).size).toBe(3)
    const last = view.getSnapshot()
    await new Promise((r) => setTimeout(r, 20))
    expect(view.getSnapshot()).toBe(last)
    unsubscribe()
    await view.send('hi')
    expect(snapshots).toHaveLength(3)
  })

  it('send: the user’s message at once, the greeting before it, the reply streamed token by token, then idle', async () => {
    const view = client.session('v-send')
    const { snapshots } = record(view)
    const sending = view.send('stream 5')
    expect(view.getSnapshot().status).toBe('streaming')
    expect(texts(view.getSnapshot())).toEqual(['user:stream 5'])
    await sending
    const last = view.getSnapshot()
    expect(last.status).toBe('idle')
    expect(last.streaming).toBeUndefined()
    expect(texts(last)).toEqual(['assistant:Hello!', 'user:stream 5', 'assistant:w1 w2 w3 w4 w5'])
    expect(last.messages.map((m) => m.turn)).toEqual([0, 1, 1])
    // Token by token: the streaming reply grew one delta per snapshot.
    const partials = snapshots.filter((s) => s.streaming?.turn === 1).map((s) => s.streaming!.text)
    expect(partials).toEqual(['w1', 'w1 w2', 'w1 w2 w3', 'w1 w2 w3 w4', 'w1 w2 w3 w4 w5', 'w1 w2 w3 w4 w5'])
    // The streaming reply is one of the snapshot's messages, the same object (the greeting streams before the message that made the session).
    for (const s of snapshots) if (s.streaming) expect(s.messages).toContain(s.streaming)
    expect(snapshots.find((s) => s.streaming?.turn === 0)!.messages.map((m) => m.role)).toEqual(['assistant', 'user'])
    // A message not changed keeps its identity from snapshot to snapshot (a keyed list re-renders only what changed).
    const user = last.messages[1]!
    expect(snapshots.filter((s) => s.messages.includes(user)).length).toBeGreaterThan(3)
    // The deltas are not kept as events; the whole text is.
    expect(last.messages[2]!.events.map((e) => e.type)).toEqual(['text_to_speech'])
  })

  it('a reload (a new view, load()) shows the same conversation', async () => {
    const view = client.session('v-send')
    await view.load()
    expect(texts(view.getSnapshot())).toEqual(['assistant:Hello!', 'user:stream 5', 'assistant:w1 w2 w3 w4 w5'])
    expect(view.getSnapshot().messages.map((m) => m.id)).toEqual(['t0-assistant', 't1-user', 't1-assistant'])
  })

  it('stop(): the connection closes at once, the partial reply stays marked interrupted, the agent records it so', async () => {
    const view = client.session('v-stop')
    await view.send('hi')
    const sending = view.send('slow')
    await expect.poll(() => view.getSnapshot().streaming?.text.length ?? 0).toBeGreaterThan(6)
    view.stop()
    const after = view.getSnapshot()
    expect(after).toMatchObject({ status: 'idle', streaming: undefined, error: undefined })
    expect(after.messages.at(-1)).toMatchObject({ role: 'assistant', interrupted: true })
    expect(after.messages.at(-1)!.text).toMatch(/^s1 s2 /)
    await sending
    expect(view.getSnapshot()).toBe(after)
    await expect.poll(() => served.seen.aborted).toContain('slow')
    await expect.poll(async () => (await client.history('v-stop'))?.turns?.at(-1)?.response?.interrupted).toBe(true)
    const reloaded = client.session('v-stop')
    await reloaded.load()
    expect(reloaded.getSnapshot().messages.at(-1)).toMatchObject({ role: 'assistant', interrupted: true })
  })

  it('a message sent over a streaming reply stops it first (barge-in), then streams its own', async () => {
    const view = client.session('v-barge')
    await view.send('hi')
    const first = view.send('slow')
    await expect.poll(() => view.getSnapshot().streaming?.text.length ?? 0).toBeGreaterThan(3)
    await view.send('after')
    await first
    const s = view.getSnapshot()
    expect(s.status).toBe('idle')
    expect(texts(s).slice(-4)).toEqual(['user:slow', expect.stringMatching(/^assistant:s1 .*\(interrupted\)$/), 'user:after', 'assistant:You said: after'])
  })

  it('load() while a reply streams does not replace it (nor say idle): the streaming reply is newer than the history', async () => {
    const view = client.session('v-load-streaming')
    await view.send('hi')
    // 200 words 5 ms apart: a second of streaming, so the history's round trip ends while the reply
    // still streams (with 10 words, 50 ms, a loaded machine let the reply finish first: a flaky run).
    const sending = view.send('stream 200')
    await expect.poll(() => view.getSnapshot().streaming?.text ?? '').toMatch(/w2/)
    await view.load()
    expect(view.getSnapshot().status).toBe('streaming')
    await sending
    const words = Array.from({ length: 200 }, (_, i) => `w${i + 1}`).join(' ')
    expect(texts(view.getSnapshot())).toEqual(['assistant:Hello!', 'user:hi', 'assistant:You said: hi', 'user:stream 200', `assistant:${words}`])
  })

  it('background events go to background, not into the reply', async () => {
    const view = client.session('v-task')
    await view.send('task')
    const s = view.getSnapshot()
    expect(s.background).toEqual([expect.objectContaining({ type: 'text_to_speech', background: { task: 'order' }, data: expect.objectContaining({ text: 'Your order is ready!' }) })])
    expect(texts(s).at(-1)).toBe('assistant:Working on it.')
    // Kept with the turn that started the task: a reload (a new view, load()) has it too.
    const reloaded = client.session('v-task')
    await expect
      .poll(async () => (await reloaded.load(), reloaded.getSnapshot().background.map((e) => `${e.background?.task}: ${e.data.text}`)))
      .toEqual(['order: Your order is ready!'])
    expect(texts(reloaded.getSnapshot())).toEqual(texts(s))
  })

  it('an agent error event stays on its message; a refused request is status error with a typed error, and the conversation is kept', async () => {
    const view = client.session('v-error')
    await view.send('fail')
    expect(view.getSnapshot().messages.at(-1)).toMatchObject({ role: 'assistant', error: { message: 'internal error', code: 'internal' } })
    expect(view.getSnapshot().status).toBe('idle')
    const forbidden = client.session('forbidden-view')
    await forbidden.send('hello')
    const s = forbidden.getSnapshot()
    expect(s.status).toBe('error')
    expect(s.error).toBeInstanceOf(AgentHttpError)
    expect(s.error).toMatchObject({ status: 403 })
    expect(texts(s)).toEqual(['user:hello'])
    await forbidden.load()
    expect(forbidden.getSnapshot()).toMatchObject({ status: 'error', error: { status: 403 } })
  })

  it('a throwing listener does not stop the others nor the stream', async () => {
    const view = client.session('v-listener')
    const errors: unknown[] = []
    const original = console.error
    console.error = (e: unknown) => void errors.push(e)
    try {
      view.subscribe((s) => {
        if (s.status === 'streaming') throw new Error('listener bug')
      })
      const { snapshots } = record(view)
      await view.send('hi')
      expect(snapshots.at(-1)!.status).toBe('idle')
      expect(errors.length).toBeGreaterThan(0)
    } finally {
      console.error = original
    }
  })
})
