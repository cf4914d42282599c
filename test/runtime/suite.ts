import { describe, expect, it } from 'vitest'
import type { EventJSON } from '../../src/agent/events.js'
import { SECRET } from './handler.js'
import { readSSE, sseEvents } from './sse.js'

/**
 * The agent runtime's cases, run the same way in every runtime against an agent built with
 * ./handler.ts and reached through its `fetch` (a real HTTP server in Node, `dispatchFetch` in
 * workerd, `agent.fetch` in Chromium). Each case uses its own session ids.
 */
export interface RuntimeHarness {
  /** A request to the agent, `path` starting with `/sessions/`. */
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** Replaces the runtime instance (agent, server, Worker…) by a new one on the same persisted storage. */
  restart(): Promise<void>
}

/** A loose view of a stored context, enough for the assertions. */
interface StoredContext {
  currentTurnId: number
  data: Record<string, unknown>
  turns: { id: number; label?: { flow: string; node: string }; request?: { text?: string; type?: string }; response?: { text?: string; interrupted?: boolean; events: EventJSON[] } }[]
}

let n = 0
const sessionId = (name: string) => `${name}-${Date.now().toString(36)}-${n++}`
const texts = (events: EventJSON[]) => events.map((e) => e.data.text ?? e.data.message)

/** How a runtime differs. */
export interface SuiteOptions {
  /**
   * How to prove two sessions ran at the same time. `meet` (default): their handlers wait for each
   * other, which only works where one request may resume another (Node, a browser). In workerd a
   * promise must not join two requests, so `hold`: the first holds a key for 300 ms and the second,
   * sent once the first is running, sees it held.
   */
  overlap?: 'meet' | 'hold'
  /**
   * `full` (default): the interrupted handler sees its signal abort, its turn is recorded as
   * interrupted, and interruptible tasks are cancelled. `none`: a stateless Worker, where one request
   * can neither abort nor resume what another started: the new event waits for the running turn.
   */
  bargeIn?: 'full' | 'none'
}

export function runtimeSuite(label: string, harness: () => RuntimeHarness, options: SuiteOptions = {}): void {
  const post = (id: string, event: unknown) =>
    harness().fetch(`/sessions/${encodeURIComponent(id)}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) })
  const say = async (id: string, text: string) => readSSE(await post(id, { type: 'text', data: { text } }))
  const stored = async (id: string): Promise<StoredContext> => {
    const response = await harness().fetch(`/sessions/${encodeURIComponent(id)}`)
    expect(response.status).toBe(200)
    return (await response.json()) as StoredContext
  }

  describe(`agent runtime: ${label}`, () => {
    it('delivers the StartEvent first on a new session (turn 0), then the event (turn 1), as an SSE stream', async () => {
      const id = sessionId('start')
      const response = await post(id, { type: 'text', data: { text: 'hello' } })
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
      const events = await readSSE(response)
      expect(events.map((e) => [e.type, e.turn, e.data.text])).toEqual([
        ['text_to_speech', 0, 'Welcome!'],
        ['text_to_speech', 1, 'You said: hello'],
      ])
      const ctx = await stored(id)
      expect(ctx.turns[0]).toMatchObject({ id: 0, label: { flow: 'agent', node: 'start' }, response: { text: 'Welcome!' } })
      expect(ctx.turns[0]!.request).toBeUndefined()
      expect(ctx.turns[1]).toMatchObject({ id: 1, label: { node: 'text' }, request: { text: 'hello', type: 'text' }, response: { text: 'You said: hello' } })
      expect(ctx.data.greeted).toBe(true)
    })

    it("keeps a conversation of several events across a new runtime instance (the document's order example)", async () => {
      const id = sessionId('order')
      expect(texts(await say(id, 'place order'))).toEqual(['Welcome!', 'Processing your order in the background.'])
      expect(texts(await say(id, 'check status'))).toEqual(['Your order status is: pending'])
      expect(texts(await say(id, 'ship it'))).toEqual(['Shipped.'])
      expect(texts(await say(id, 'check status'))).toEqual(['Your order status is: completed'])
      await harness().restart()
      expect(texts(await say(id, 'check status'))).toEqual(['Your order status is: completed'])
      expect(texts(await say(id, 'thanks'))).toEqual(['You said: thanks'])
      const ctx = await stored(id)
      expect(ctx.currentTurnId).toBe(6)
      expect(ctx.turns.map((t) => t.id)).toEqual([0, 1, 2, 3, 4, 5, 6])
      expect(ctx.turns.slice(1).map((t) => t.request?.text)).toEqual(['place order', 'check status', 'ship it', 'check status', 'check status', 'thanks'])
      expect(ctx.turns[6]!.response?.text).toBe('You said: thanks')
      expect(ctx.data).toMatchObject({ greeted: true, order_status: 'completed' })
    })

    it("saves a background task's change after the response has ended", async () => {
      const id = sessionId('quick')
      expect(texts(await say(id, 'quick task'))).toEqual(['Welcome!', 'Started.'])
      await expect.poll(async () => (await stored(id)).data.quick, { timeout: 5000, interval: 20 }).toBe('done')
    })

    if (options.bargeIn === 'none') {
      it('a TextEvent during a running handler of another request waits for it (a stateless Worker cannot interrupt)', async () => {
        const id = sessionId('barge')
        await say(id, 'hi')
        const first = sseEvents(await post(id, { type: 'text', data: { text: 'slow 150' } }))
        expect((await first.next()).value?.json.data.text).toBe('thinking')
        expect(texts(await say(id, 'stop, hello'))).toEqual(['You said: stop, hello'])
        const rest: string[] = []
        for await (const e of first) rest.push(e.json.data.text as string)
        expect(rest).toEqual(['slow done'])
        const ctx = await stored(id)
        expect(ctx.turns[2]).toMatchObject({ request: { text: 'slow 150' }, response: { text: 'thinking slow done' } })
        expect(ctx.turns[2]!.response!.interrupted).toBeUndefined()
        expect(ctx.turns[3]).toMatchObject({ request: { text: 'stop, hello' }, response: { text: 'You said: stop, hello' } })
        expect(ctx.data.ledger).toBe('written')
      })
    } else {
      it('barge-in: a TextEvent during a running handler aborts it and its interruptible tasks (recorded as interrupted), then is handled', async () => {
        const id = sessionId('barge')
        await say(id, 'hi')
        const first = sseEvents(await post(id, { type: 'text', data: { text: 'slow' } }))
        expect((await first.next()).value?.json.data.text).toBe('thinking') // the handler is now waiting
        expect(texts(await say(id, 'stop, hello'))).toEqual(['You said: stop, hello'])
        const rest: unknown[] = []
        for await (const e of first) rest.push(e.json)
        expect(rest).toEqual([]) // the interrupted stream ended after what it had yielded
        await expect
          .poll(async () => (await stored(id)).data, { timeout: 5000, interval: 20 })
          .toMatchObject({ slow_aborted: 'interrupted by a new event', music: 'cancelled: task "music" was interrupted', ledger: 'written' })
        const ctx = await stored(id)
        expect(ctx.turns[2]).toMatchObject({ request: { text: 'slow' }, response: { interrupted: true, text: 'thinking' } })
        expect(ctx.turns[3]).toMatchObject({ request: { text: 'stop, hello' }, response: { text: 'You said: stop, hello' } })
        expect(ctx.turns[3]!.response!.interrupted).toBeUndefined()
      })
    }

    it('runs the events of one session in order, and two sessions concurrently without mixing', async () => {
      const a = sessionId('a')
      const b = sessionId('b')
      const key = sessionId('meet')
      // Each response's headers arrive once its event is queued: the next is sent after, so arrival order is send order.
      const streams: Response[] = []
      const hold = options.overlap === 'hold'
      for (let i = 1; i <= 3; i++) {
        streams.push(await post(a, { type: 'note', data: i > 1 ? { n: i } : hold ? { n: i, hold: key } : { n: i, meet: key } }))
        streams.push(await post(b, { type: 'note', data: i > 1 ? { n: i } : hold ? { n: i, see: key } : { n: i, meet: key } }))
      }
      const out = await Promise.all(streams.map(readSSE))
      const noteTexts = (events: EventJSON[]) => texts(events).filter((t) => t !== 'Welcome!')
      // The first notes of a and b ran at the same time: they met, or b saw a's key held.
      expect(noteTexts(out[0]!)).toEqual([hold ? `${a} note 1` : `${a} note 1 met`])
      expect(noteTexts(out[1]!)).toEqual([hold ? `${b} note 1 saw` : `${b} note 1 met`])
      expect(out.slice(2).map(noteTexts)).toEqual([[`${a} note 2`], [`${b} note 2`], [`${a} note 3`], [`${b} note 3`]])
      expect(out.filter((_, i) => i % 2 === 0).map((e) => e.at(-1)!.turn)).toEqual([1, 2, 3])
      expect((await stored(a)).data.notes).toEqual([1, 2, 3])
      expect((await stored(b)).data.notes).toEqual([1, 2, 3])
    })

    it("streams a generator task's events on the turn, tagged background with the task's name", async () => {
      const id = sessionId('track')
      const events = await say(id, 'track order')
      expect(events.map((e) => [e.data.text, e.background?.task])).toEqual([
        ['Welcome!', undefined],
        ['Order shipped', 'tracking'],
        ['Order delivered', 'tracking'],
        ['Tracking done.', undefined],
      ])
    })

    // Issue 12: in the Cloudflare demo "Your order is ready!" never reached the client: the stream
    // closed when the turn was saved, a second before the task yielded, and the event went to
    // onBackgroundEvent (unset: dropped). The stream now stays open for the tasks it started.
    it("keeps the stream open for a task's event that comes after the turn, and keeps it with the turn", async () => {
      const id = sessionId('late')
      const events = await say(id, 'late order')
      expect(events.map((e) => [e.data.text, e.background?.task, e.turn])).toEqual([
        ['Welcome!', undefined, 0],
        ['Processing your order in the background.', undefined, 1],
        ['Your order is ready!', 'order_processing', 1],
      ])
      await expect
        .poll(async () => {
          const turn = (await stored(id)).turns.find((t) => t.id === 1)
          return ((turn?.response as { background?: EventJSON[] } | undefined)?.background ?? []).map((e) => [e.data.text, e.background?.task, e.turn])
        }, { timeout: 5000, interval: 20 })
        .toEqual([['Your order is ready!', 'order_processing', 1]])
      expect((await stored(id)).data.order_status).toBe('completed')
    })

    it("turns a task's error into an ErrorEvent on the stream, without the error's message", async () => {
      const id = sessionId('fail')
      const events = await say(id, 'fail task')
      expect(events.slice(1).map((e) => [e.type, e.data, e.background])).toEqual([
        ['error', { message: 'internal error', code: 'internal' }, { task: 'failing' }],
        ['text_to_speech', expect.objectContaining({ text: 'After the failure.' }), undefined],
      ])
      expect(JSON.stringify(events)).not.toContain(SECRET)
    })

    it('answers bad requests with JSON errors: 400, 404, 405 with Allow', async () => {
      const id = sessionId('errors')
      const expectError = async (response: Response, status: number, code: string) => {
        expect(response.status).toBe(status)
        expect(response.headers.get('content-type')).toMatch(/^application\/json/)
        const body = (await response.json()) as { error: { code: string; message: string } }
        expect(body.error.code).toBe(code)
        expect(body.error.message).toEqual(expect.any(String))
        return body.error
      }
      const json = { method: 'POST', headers: { 'content-type': 'application/json' } }
      expect((await expectError(await harness().fetch(`/sessions/${id}/events`, { ...json, body: '{"type": "text",' }), 400, 'invalid_argument')).message).toBe('event: not valid JSON')
      expect((await expectError(await harness().fetch(`/sessions/${id}/events`, { ...json, body: '{"data": {}}' }), 400, 'invalid_argument')).message).toMatch(/^event\.type/)
      expect((await expectError(await harness().fetch(`/sessions/${id}/events`, { ...json, body: '{"type":"text","data":{"text":1}}' }), 400, 'invalid_argument')).message).toMatch(/text/)
      const wrong = await harness().fetch(`/sessions/${id}/events`)
      expect(wrong.headers.get('allow')).toBe('POST')
      await expectError(wrong, 405, 'method_not_allowed')
      const put = await harness().fetch(`/sessions/${id}`, { method: 'PUT' })
      expect(put.headers.get('allow')).toBe('GET, HEAD, DELETE')
      await expectError(put, 405, 'method_not_allowed')
      await expectError(await harness().fetch(`/sessions/${id}`), 404, 'not_found')
      await expectError(await harness().fetch(`/sessions/${id}`, { method: 'DELETE' }), 404, 'not_found')
      await expectError(await harness().fetch('/nowhere'), 404, 'not_found')
      await expectError(await harness().fetch('/sessions/'), 404, 'not_found')
      // Nothing above created the session.
      await expectError(await harness().fetch(`/sessions/${id}`), 404, 'not_found')
    })

    // Regressions: a text/plain POST (what any page can send cross-site without a CORS preflight)
    // was handled; an event type with a line break was written raw into the `event:` line.
    it('answers 415 to a POST that is not JSON and 400 to an event type with CR or LF, creating nothing', async () => {
      const id = sessionId('types')
      const body = JSON.stringify({ type: 'text', data: { text: 'hi' } })
      for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1']) {
        const response = await harness().fetch(`/sessions/${id}/events`, { method: 'POST', headers: { 'content-type': type }, body })
        expect([type, response.status]).toEqual([type, 415])
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type')
      }
      for (const type of ['x\ndata: {"forged":true}', 'x\r\nevent: error', 'x\r', 'a b', 'é', 'x'.repeat(65)]) {
        const response = await harness().fetch(`/sessions/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, data: {} }) })
        expect(response.status).toBe(400)
        const { error } = (await response.json()) as { error: { code: string; message: string } }
        expect(error).toEqual({ code: 'invalid_argument', message: 'event.type: must be 1-64 of the characters A-Z a-z 0-9 _ . : -' })
      }
      expect((await harness().fetch(`/sessions/${id}`)).status).toBe(404)
      const ok = await harness().fetch(`/sessions/${id}/events`, { method: 'POST', headers: { 'content-type': 'Application/JSON; Charset="UTF-8"' }, body })
      expect(texts(await readSSE(ok))).toEqual(['Welcome!', 'You said: hi'])
    })

    it('deletes a session: 204, then 404, and the next event starts a new session', async () => {
      const id = sessionId('delete')
      await say(id, 'remember me')
      const deleted = await harness().fetch(`/sessions/${id}`, { method: 'DELETE' })
      expect(deleted.status).toBe(204)
      expect((await harness().fetch(`/sessions/${id}`)).status).toBe(404)
      expect(texts(await say(id, 'hello again'))).toEqual(['Welcome!', 'You said: hello again'])
      expect((await stored(id)).currentTurnId).toBe(1)
    })
  })
}
