import fc from 'fast-check'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AbortedError } from '../../src/abort.js'
import { createAgentClient, type AgentClient } from '../../src/client/index.js'
import { AgentHttpError } from '../../src/client/errors.js'
import { ValidationError } from '../../src/errors.js'
import { serveAgent, TOKEN, type Served } from './agent.js'

// agentctx/client against a real agent (createAgent's fetch behind Node's http server on
// 127.0.0.1): what it sends, what it reads back, and every refusal typed as the agent meant it.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

let served: Served
let client: AgentClient
const headers = { authorization: `Bearer ${TOKEN}` }
beforeAll(async () => {
  served = await serveAgent()
  client = createAgentClient({ url: served.url, headers })
})
afterAll(() => served.close())

const all = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
/** What `fn` threw (or rejected with). */
const thrown = async (fn: () => unknown): Promise<any> => {
  try {
    await fn()
  } catch (e) {
    return e
  }
  throw new Error('did not throw')
}

describe('send, history, delete over real HTTP', () => {
  it('a new session: the greeting (turn 0), then the reply (turn 1), as the agent JSON of each event', async () => {
    const events = await all(client.send('s-basic', 'hi there'))
    expect(events.map((e) => [e.type, e.turn, e.data.text])).toEqual([
      ['text_to_speech', 0, 'Hello!'],
      ['text_to_speech', 1, 'You said: hi there'],
    ])
    expect(typeof events[0]!.timestamp).toBe('string')
    // An event object, not a text: the same as sending the text.
    const more = await all(client.send('s-basic', { type: 'text', data: { text: 'again' } }))
    expect(more.map((e) => [e.turn, e.data.text])).toEqual([[2, 'You said: again']])
  })

  it('history: the stored turns with what was said; undefined for a session the agent does not have', async () => {
    const state = (await client.history('s-basic'))!
    expect(state.id).toBe('s-basic')
    expect(state.turns!.map((t) => [t.id, t.request?.text, t.response?.text])).toEqual([
      [0, undefined, 'Hello!'],
      [1, 'hi there', 'You said: hi there'],
      [2, 'again', 'You said: again'],
    ])
    expect(await client.history('never-made')).toBeUndefined()
  })

  it('delete: true, then the session is gone (history undefined, delete false)', async () => {
    await all(client.send('s-delete', 'x'))
    expect(await client.delete('s-delete')).toBe(true)
    expect(await client.history('s-delete')).toBeUndefined()
    expect(await client.delete('s-delete')).toBe(false)
    expect(await served.store.load('s-delete')).toBeUndefined()
  })

  it('streams: each text_delta arrives before the stream ends, in order', async () => {
    const seen: string[] = []
    for await (const e of client.send('s-stream', 'stream 20')) seen.push(e.type === 'text_delta' ? String(e.data.delta) : `[${e.data.text}]`)
    expect(seen.slice(1, 21).join('')).toBe(Array.from({ length: 20 }, (_, i) => `w${i + 1}`).join(' '))
    expect(seen.at(-1)).toBe(`[${Array.from({ length: 20 }, (_, i) => `w${i + 1}`).join(' ')}]`)
  })

  it('a custom event and an error event reach the caller as events (a handler failure is an error event, its message not exposed)', async () => {
    expect((await all(client.send('s-custom', 'custom'))).at(-1)).toMatchObject({ type: 'order', data: { id: 'A1', total: 15.99 } })
    const failed = (await all(client.send('s-custom', 'fail'))).at(-1)!
    expect(failed).toMatchObject({ type: 'error', data: { message: 'internal error', code: 'internal' } })
    expect(JSON.stringify(failed)).not.toContain('hunter2')
  })

  it('a background task’s event comes tagged with its task while the turn still streams', async () => {
    const events = await all(client.send('s-task', 'task'))
    expect(events.find((e) => e.background)).toMatchObject({ type: 'text_to_speech', background: { task: 'order' }, data: { text: 'Your order is ready!' } })
    expect(events.at(-1)!.data.text).toBe('Working on it.')
  })

  it('the URL may have a path prefix and a query string (kept after the route), and a trailing slash', async () => {
    const seen: string[] = []
    const c = createAgentClient({
      url: `${served.url}/?v=1`,
      headers,
      fetch: (url, init) => (seen.push(String(url)), fetch(url, init)),
    })
    await all(c.send('a b/c', 'hi'))
    expect(seen).toEqual([`${served.url}/sessions/a%20b%2Fc/events?v=1`])
    expect((await c.history('a b/c'))!.id).toBe('a b/c')
  })

  it('property: any session id of 1-128 characters goes there and back (percent-encoded in the path)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 128, unit: 'grapheme' }).filter((s) => s.length <= 128), async (id) => {
        const events = await all(client.send(id, 'hi'))
        expect(events.at(-1)!.data.text).toBe('You said: hi')
        expect((await client.history(id))!.id).toBe(id)
        expect(await client.delete(id)).toBe(true)
      }),
      { numRuns: 40 },
    )
  })

  it('headers may come from a function, called before each request (a token that refreshes)', async () => {
    let calls = 0
    const c = createAgentClient({ url: served.url, headers: async () => (calls++, headers) })
    await all(c.send('s-fn', 'hi'))
    await c.history('s-fn')
    expect(calls).toBe(2)
  })
})

describe('errors typed as the agent meant them', () => {
  it('a bad event: the agent’s 400 becomes a ValidationError naming the field', async () => {
    const e = await thrown(() => all(client.send('s-err', { type: 'text_to_speech', data: { text: 'x', speed: 9 } })))
    expect(e).toBeInstanceOf(ValidationError)
    expect(e.code).toBe('invalid_argument')
    expect(e.path).toBe('event.data.speed')
    expect(e.message).toMatch(/^event\.data\.speed: /)
  })

  it('checked before any request: a session id over 128 characters, a bad type, an event over 1 MiB', async () => {
    let requests = 0
    const c = createAgentClient({ url: served.url, fetch: (...a) => (requests++, fetch(...a)) })
    expect(await thrown(() => all(c.send('x'.repeat(129), 'hi')))).toMatchObject({ name: 'ValidationError', path: 'sessionId' })
    expect(await thrown(() => all(c.send('ok', { type: 'bad type' })))).toMatchObject({ name: 'ValidationError', path: 'event.type' })
    expect(await thrown(() => all(c.send('ok', 'x'.repeat(1024 * 1024))))).toMatchObject({ name: 'ValidationError', code: 'too_large' })
    expect(await thrown(() => c.history(''))).toBeInstanceOf(ValidationError)
    expect(requests).toBe(0)
  })

  it('401 (a Response from authorize, not JSON) and 403: AgentHttpError naming the status; the token is in no message', async () => {
    const anonymous = createAgentClient({ url: served.url })
    const e401 = await thrown(() => all(anonymous.send('s-auth', 'hi')))
    expect(e401).toBeInstanceOf(AgentHttpError)
    expect(e401).toMatchObject({ code: 'http', status: 401, serverCode: undefined })
    expect(e401.message).toBe('agent: HTTP 401: no error JSON')
    const e403 = await thrown(() => client.history('forbidden-1'))
    expect(e403).toMatchObject({ name: 'AgentHttpError', status: 403, serverCode: 'forbidden', message: 'agent: HTTP 403 forbidden: not allowed to access this session' })
    expect(await thrown(() => client.delete('forbidden-1'))).toMatchObject({ status: 403 })
  })

  it('500: authorize crashed (the agent says only "internal error"; its onError gets the rest)', async () => {
    const e = await thrown(() => all(client.send('boom', 'hi')))
    expect(e).toMatchObject({ name: 'AgentHttpError', status: 500, serverCode: 'internal', message: 'agent: HTTP 500 internal: internal error' })
    expect(JSON.stringify({ ...e, m: e.message, s: e.stack })).not.toContain(TOKEN)
  })

  it('no server: AgentHttpError without a status; the token and the query are in neither the message nor the cause', async () => {
    const c = createAgentClient({ url: `http://127.0.0.1:9/?key=${TOKEN}`, headers })
    const e = await thrown(() => all(c.send('s', 'hi')))
    expect(e).toMatchObject({ name: 'AgentHttpError', code: 'http', status: undefined, message: 'agent: POST request failed (no answer)' })
    expect(`${e.message} ${e.stack} ${e.cause?.message} ${e.cause?.stack}`).not.toContain(TOKEN)
  })

  it('an aborted signal: AbortedError, and the agent interrupts the turn (it saw the connection close)', async () => {
    const controller = new AbortController()
    const got: string[] = []
    const e = await thrown(async () => {
      for await (const event of client.send('s-abort', 'slow', { signal: controller.signal })) {
        got.push(String(event.data.delta ?? event.data.text))
        // A full garbage collection first: the turn must still follow the request's signal (the agent
        // keeps the Request it was given; undici's Request signal follows its init signal only while
        // the Request lives: see src/agent/ai-sdk.ts).
        if (got.length === 4) gc(), controller.abort()
      }
    })
    expect(e).toBeInstanceOf(AbortedError)
    expect(e.message).toBe('agent: aborted')
    expect(got.slice(1)).toEqual(['s1 ', 's2 ', 's3 '])
    await expect.poll(() => served.seen.aborted).toContain('slow')
    await expect.poll(async () => (await client.history('s-abort'))?.turns?.at(-1)?.response?.interrupted).toBe(true)
    // Already aborted: no request at all.
    expect(await thrown(() => all(client.send('s-abort', 'slow', { signal: controller.signal })))).toBeInstanceOf(AbortedError)
  })

  it('a loop that stops early closes the connection: the agent’s handler sees its signal abort', async () => {
    for await (const event of client.send('s-break', 'slow')) if (event.data.delta === 's2 ') break
    await expect.poll(() => served.seen.aborted.filter((t) => t === 'slow').length).toBe(2)
  })
})
