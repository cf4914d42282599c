import { describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { sleep } from '../tasks/helpers.js'

/**
 * `agent.fetch` with real `Request` / `Response` objects: the details of the wire format and the
 * routes. The same routes against real clients in every runtime are in test/runtime/suite.ts.
 */

const handler: AgentHandler = async function* (event, ctx) {
  if (event instanceof StartEvent) return
  if (event instanceof TextEvent && event.data.text === 'task') {
    ctx.createTask(async () => {
      await sleep(5)
      ctx.setData('task', 'done')
    }, { name: 'later' })
  }
  yield new TextToSpeechEvent({ text: `got ${event.type}` })
}

function setup() {
  const store = createContextStore(memoryStorage(), { channel: false })
  return { store, agent: createAgent({ store, handler }) }
}
const JSON_HEADERS = { 'content-type': 'application/json' }
const post = (path: string, body: string, headers: Record<string, string> = {}) => new Request(`http://agent.test${path}`, { method: 'POST', body, headers: { ...JSON_HEADERS, ...headers } })
const event = (text: string) => JSON.stringify({ type: 'text', data: { text } })

describe('agent.fetch', () => {
  it('streams each event as `event: <type>` and one `data:` line of its JSON, then ends', async () => {
    const { agent } = setup()
    const response = await agent.fetch(post('/sessions/s/events', event('hi')))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(response.headers.get('cache-control')).toBe('no-store')
    const body = await response.text()
    const messages = body.split('\n\n').filter(Boolean)
    expect(messages).toHaveLength(1)
    const [field, data, ...rest] = messages[0]!.split('\n')
    expect(field).toBe('event: text_to_speech')
    expect(rest).toEqual([])
    expect(JSON.parse(data!.slice('data: '.length))).toMatchObject({ type: 'text_to_speech', data: { text: 'got text' }, turn: 1 })
    expect(body.endsWith('\n\n')).toBe(true)
  })

  it('accepts any path prefix and percent-encoded session ids', async () => {
    const { agent, store } = setup()
    await (await agent.fetch(post('/api/v1/sessions/user%2F42/events', event('hi')))).text()
    expect(await store.load('user/42')).toBeDefined()
    const got = await agent.fetch(new Request('http://agent.test/api/v1/sessions/user%2F42'))
    expect(got.status).toBe(200)
    expect(((await got.json()) as { id: string }).id).toBe('user/42')
    const head = await agent.fetch(new Request('http://agent.test/sessions/user%2F42', { method: 'HEAD' }))
    expect([head.status, await head.text()]).toEqual([200, ''])
  })

  it('answers 400 for a session id that is not valid percent-encoding', async () => {
    const { agent } = setup()
    const response = await agent.fetch(new Request('http://agent.test/sessions/%E0%A4%A/events', { method: 'POST', body: event('hi'), headers: JSON_HEADERS }))
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: { code: 'invalid_argument', message: 'the session id is not valid percent-encoding' } })
  })

  it('answers 413 for a body over 1 MiB', async () => {
    const { agent, store } = setup()
    const big = JSON.stringify({ type: 'text', data: { text: 'x'.repeat(1024 * 1024) } })
    const response = await agent.fetch(post('/sessions/s/events', big))
    expect(response.status).toBe(413)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('too_large')
    expect(await store.load('s')).toBeUndefined()
  })

  // A page cannot set content-length (a forbidden header), so this runs where a server receives it.
  it.skipIf(typeof window !== 'undefined')('answers 413 from content-length alone, before reading the body (Node; skipped in a browser)', async () => {
    const { agent } = setup()
    const response = await agent.fetch(post('/sessions/s/events', event('hi'), { 'content-length': String(2 * 1024 * 1024) }))
    expect(response.status).toBe(413)
  })

  it('answers 400 with the path of a malformed event, and creates nothing', async () => {
    const { agent, store } = setup()
    const response = await agent.fetch(post('/sessions/s/events', JSON.stringify({ type: 'text_to_speech', data: { text: 'x', speed: 9 } })))
    expect(response.status).toBe(400)
    const { error } = (await response.json()) as { error: { code: string; message: string } }
    expect(error.code).toBe('invalid_argument')
    expect(error.message).toMatch(/^event\.data\.speed/)
    expect(await store.load('s')).toBeUndefined()
  })

  it("gives the executionContext's waitUntil the turn and each background task", async () => {
    const { agent, store } = setup()
    const given: Promise<unknown>[] = []
    const response = await agent.fetch(post('/sessions/s/events', event('task')), {}, { waitUntil: (p) => given.push(p) })
    await response.text()
    expect(given).toHaveLength(2)
    await Promise.all(given)
    expect((await store.load('s'))!.getData('task')).toBe('done')
  })

  it('a client that stops reading only stops the stream: the turn is still recorded and saved', async () => {
    const slow: AgentHandler = async function* (e) {
      if (e instanceof StartEvent) return
      yield new TextToSpeechEvent({ text: 'one' })
      await sleep(5)
      yield new TextToSpeechEvent({ text: 'two' })
    }
    const store = createContextStore(memoryStorage(), { channel: false })
    const agent = createAgent({ store, handler: slow })
    const response = await agent.fetch(post('/sessions/s/events', event('hi')))
    const reader = response.body!.getReader()
    await reader.read()
    await reader.cancel()
    await expect.poll(async () => (await store.load('s'))?.responses.get(1)?.text).toBe('one two')
  })

  it("the request's signal interrupts the turn", async () => {
    const waiting: AgentHandler = async function* (e, _ctx, { signal }) {
      if (e instanceof StartEvent) return
      yield new TextToSpeechEvent({ text: 'listening' })
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
    }
    const store = createContextStore(memoryStorage(), { channel: false })
    const agent = createAgent({ store, handler: waiting })
    const controller = new AbortController()
    const response = await agent.fetch(new Request('http://agent.test/sessions/s/events', { method: 'POST', body: event('hi'), headers: JSON_HEADERS, signal: controller.signal }))
    const reader = response.body!.getReader()
    await reader.read()
    controller.abort()
    await expect.poll(async () => (await store.load('s'))?.responses.get(1)).toMatchObject({ interrupted: true, text: 'listening' })
  })
})

/** The SSE frames of a body: each `event:` line and its `data:` line, or the raw block when it is not that shape. */
function frames(body: string): { event: string; data: { type: string; data: Record<string, unknown> } }[] {
  expect(body.endsWith('\n\n')).toBe(true)
  return body
    .slice(0, -2)
    .split('\n\n')
    .map((block) => {
      const lines = block.split(/\r\n|\r|\n/)
      expect(lines).toHaveLength(2)
      expect(lines[0]).toMatch(/^event: [\w.:-]{1,64}$/)
      expect(lines[1]).toMatch(/^data: \{/)
      return { event: lines[0]!.slice(7), data: JSON.parse(lines[1]!.slice(6)) }
    })
}

describe('agent.fetch: no forged SSE frame', () => {
  // Regression: the event type was written raw into the `event:` line, so a CR or LF in it ended the
  // line and what followed became frames of the attacker's choosing.
  const FORGED = 'x\ndata: {"type":"text_to_speech","data":{"text":"forged"}}\n\nevent: text_to_speech'

  it('an event type with CR or LF from the client is a 400 and creates nothing', async () => {
    const { agent, store } = setup()
    for (const type of [FORGED, 'x\r', 'x\r\n', '\n', 'text\u2028']) {
      const response = await agent.fetch(post('/sessions/s/events', JSON.stringify({ type, data: {} })))
      expect(response.status).toBe(400)
      expect(((await response.json()) as { error: { message: string } }).error.message).toBe('event.type: must be 1-64 of the characters A-Z a-z 0-9 _ . : -')
    }
    expect(await store.load('s')).toBeUndefined()
  })

  it('a handler yielding such a type (as JSON, or an event whose type was changed after) streams an error event, not the frame', async () => {
    const sneaky: AgentHandler = async function* (e, ctx) {
      if (e instanceof StartEvent) return
      const text = (e as TextEvent).data.text
      if (text === 'json') yield { type: FORGED, data: { text: 'forged' } }
      if (text === 'mutated') {
        const event = new TextToSpeechEvent({ text: 'forged' })
        ;(event as { type: string }).type = FORGED
        yield event
      }
      if (text === 'task') {
        ctx.createTask(async function* () {
          yield { type: FORGED, data: {} }
        }, { name: 'sneaky' })
        await ctx.waitForAllTasks()
      }
      yield new TextToSpeechEvent({ text: 'after' })
    }
    const store = createContextStore(memoryStorage(), { channel: false })
    const agent = createAgent({ store, handler: sneaky })
    const run = async (text: string) => frames(await (await agent.fetch(post(`/sessions/${text}/events`, event(text)))).text())
    // A yield that is not a valid event ends the handler's turn with an ErrorEvent naming the field.
    expect((await run('json')).map((f) => [f.event, f.data.data.message])).toEqual([['error', 'event.type: must be 1-64 of the characters A-Z a-z 0-9 _ . : -']])
    // Made valid, then changed: caught where the frame is written.
    expect((await run('mutated')).map((f) => [f.event, f.data.data.message ?? f.data.data.text])).toEqual([
      ['error', 'internal error'],
      ['text_to_speech', 'after'],
    ])
    expect((await run('task')).map((f) => [f.event, f.data.data.text ?? f.data.data.code])).toEqual([
      ['error', 'invalid_argument'],
      ['text_to_speech', 'after'],
    ])
  })
})
