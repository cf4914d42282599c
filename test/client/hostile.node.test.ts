import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AbortedError } from '../../src/abort.js'
import { AgentHttpError, createAgentClient } from '../../src/client/index.js'
import { ContextConflictError, ValidationError } from '../../src/errors.js'
import { TOKEN } from './agent.js'

// A hostile or broken server behind the client's URL (node:http on 127.0.0.1): every answer the
// agent would never give becomes a typed error naming what was wrong, with nothing of the client's
// headers in it, and the connection closed.

type Answer = (req: IncomingMessage, res: ServerResponse) => void
let answer: Answer
let server: Server
let url: string
/** Resolves when the client closed the connection of the last request before its answer ended. */
let clientClosed: Promise<void>
let requests = 0

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++
    clientClosed = new Promise<void>((resolve) => res.on('close', () => !res.writableFinished && resolve()))
    req.resume()
    answer(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))))
beforeEach(() => (requests = 0))

const client = () => createAgentClient({ url, headers: { authorization: `Bearer ${TOKEN}`, 'x-api-key': TOKEN } })
const sse = (...frames: string[]): Answer => (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' })
  res.end(frames.join(''))
}
const frame = (json: unknown, type = (json as { type?: string }).type) => `event: ${type}\ndata: ${typeof json === 'string' ? json : JSON.stringify(json)}\n\n`
const ok = { type: 'text_to_speech', data: { text: 'hi' }, timestamp: '2026-01-01T00:00:00.000Z', turn: 1 }

/** The events read before the error, and the error. */
async function read(it: AsyncIterable<unknown>): Promise<{ events: unknown[]; error: any }> {
  const events: unknown[] = []
  try {
    for await (const e of it) events.push(e)
  } catch (error) {
    return { events, error }
  }
  return { events, error: undefined }
}
const noSecret = (e: any) => expect(`${e.message} ${e.stack} ${JSON.stringify(e)}`).not.toContain(TOKEN.slice(4, 12))

describe('a hostile stream', () => {
  it('bad JSON in an event: the events before it, then an AgentHttpError naming the event', async () => {
    answer = sse(frame(ok), frame('{"type": "text", "data": {', 'text'))
    const { events, error } = await read(client().send('s', 'hi'))
    expect(events).toEqual([ok])
    expect(error).toBeInstanceOf(AgentHttpError)
    expect(error).toMatchObject({ code: 'http', message: 'agent: event 2 is not valid JSON' })
  })

  it('a "__proto__" key (plain or escaped): refused, and no prototype polluted', async () => {
    for (const key of ['"__proto__"', '"\\u005f_proto__"']) {
      answer = sse(frame(`{"type":"text","data":{"a":{${key}:{"polluted":true}}}}`, 'text'))
      const { events, error } = await read(client().send('s', 'hi'))
      expect(events).toEqual([])
      expect(error).toMatchObject({ name: 'AgentHttpError', message: 'agent: event 1 holds a "__proto__" key' })
      expect(({} as any).polluted).toBeUndefined()
    }
  })

  it.each([
    ['an array', [1], 'agent: event 1 is not a JSON object'],
    ['a type with a newline', { type: 'a\nb' }, 'agent: event 1.type must be 1-64 of A-Z a-z 0-9 _ . : -'],
    ['data not an object', { type: 'text', data: [1] }, 'agent: event 1.data must be an object'],
    ['a negative turn', { type: 'text', turn: -1 }, 'agent: event 1.turn must be an integer >= 0'],
    ['a bad background tag', { type: 'text', background: 'x' }, 'agent: event 1.background must be { task: string }'],
  ])('%s: an AgentHttpError naming the field', async (_, json, message) => {
    answer = sse(frame(json, 'text'))
    expect((await read(client().send('s', 'hi'))).error).toMatchObject({ name: 'AgentHttpError', message })
  })

  it('an event field that is not the data’s type (a forged frame): refused', async () => {
    answer = sse(frame(ok, 'error'))
    expect((await read(client().send('s', 'hi'))).error.message).toBe('agent: event 1.type is not the SSE event field (error)')
  })

  it('an event over 4 Mi characters: refused once the limit passes, the connection closed', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(frame(ok) + 'data: "')
      const chunk = 'x'.repeat(64 * 1024)
      // Endless: only the client's limit ends it.
      const more = () => res.write(chunk) && !res.destroyed && setImmediate(more)
      res.on('drain', more)
      more()
    }
    const { events, error } = await read(client().send('s', 'hi'))
    expect(events).toEqual([ok])
    expect(error).toMatchObject({ name: 'AgentHttpError', message: `agent: an event longer than ${1 << 22} characters` })
    await clientClosed
  })

  it('an endless stream is cut by the signal at once: AbortedError, and the server sees the connection close', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const timer = setInterval(() => res.write(frame({ type: 'text_delta', data: { delta: 'x' } })), 5)
      res.on('close', () => clearInterval(timer))
    }
    const controller = new AbortController()
    let n = 0
    const started = Date.now()
    const { error } = await read(
      (async function* () {
        for await (const e of client().send('s', 'hi', { signal: controller.signal })) {
          if (++n === 5) controller.abort()
          yield e
        }
      })(),
    )
    expect(error).toBeInstanceOf(AbortedError)
    await clientClosed
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('a timeout signal: AbortedError with reason timeout, connection closed', async () => {
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': waiting\n\n')
    const { error } = await read(client().send('s', 'hi', { signal: AbortSignal.timeout(100) }))
    expect(error).toMatchObject({ name: 'AbortedError', code: 'timeout', reason: 'timeout', message: 'agent: timeout' })
    await clientClosed
  })

  it('a 200 that is not an event stream: AgentHttpError', async () => {
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>')
    expect((await read(client().send('s', 'hi'))).error).toMatchObject({ name: 'AgentHttpError', status: 200, message: 'agent: HTTP 200 but not an event stream (text/html)' })
  })

  it('a connection dropped mid-stream: AgentHttpError after the events that came', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(frame(ok))
      setTimeout(() => res.socket?.destroy(), 20)
    }
    const { events, error } = await read(client().send('s', 'hi'))
    expect(events).toEqual([ok])
    expect(error).toMatchObject({ name: 'AgentHttpError', message: 'agent: the connection was lost mid-stream' })
  })

  it('property: the events come out the same however the body is cut into chunks (CRLF, CR or LF line ends; regression: a body ending in a CR lost its last event)', async () => {
    const events = [ok, { type: 'text_delta', data: { delta: 'é 😀 \n "q"' }, timestamp: 't' }, { type: 'order', data: { id: 'A1' }, timestamp: 't', background: { task: 'x' } }]
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r'), async (cuts, eol) => {
        const text = events.map((e) => frame(e)).join('').replaceAll('\n', eol)
        const bytes = new TextEncoder().encode(text)
        const points = [...new Set(cuts.map((c) => c % bytes.length))].sort((a, b) => a - b)
        answer = (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          let at = 0
          const next = () => {
            const end = points.shift() ?? bytes.length
            if (end > at) res.write(bytes.subarray(at, end))
            at = Math.max(at, end)
            at < bytes.length ? setTimeout(next, 1) : res.end()
          }
          next()
        }
        const got = await read(client().send('s', 'hi'))
        expect(got.error).toBeUndefined()
        expect(got.events).toEqual(events)
      }),
      { numRuns: 30 },
    )
  })
})

describe('hostile error answers', () => {
  const reply = (status: number, body: string, type = 'application/json'): Answer => (_req, res) => res.writeHead(status, { 'content-type': type }).end(body)

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [413, 'too_large'],
    [415, 'unsupported_media_type'],
    [502, 'bad_gateway'],
  ])('%i: AgentHttpError with the status and the server’s code', async (status, code) => {
    answer = reply(status, JSON.stringify({ error: { code, message: 'no' } }))
    expect((await read(client().send('s', 'hi'))).error).toMatchObject({ name: 'AgentHttpError', code: 'http', status, serverCode: code, message: `agent: HTTP ${status} ${code}: no` })
  })

  it('a server echoing the client’s headers (the bearer token) in its message: scrubbed to ***', async () => {
    answer = (req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'unauthorized', message: `bad token ${req.headers.authorization} / ${req.headers['x-api-key']?.slice(0, 12)}…` } }))
    const { error } = await read(client().send('s', 'hi'))
    // The space before the second token goes too: ` tok-Qm3` is a piece of `Bearer tok-…`.
    expect(error.message).toBe('agent: HTTP 401 unauthorized: bad token *** /***…')
    noSecret(error)
  })

  it('409 conflict JSON: a ContextConflictError; 400 invalid_state: a ValidationError with its path', async () => {
    answer = reply(409, JSON.stringify({ error: { code: 'conflict', message: 'saved by another writer' } }))
    expect((await read(client().send('s', 'hi'))).error).toBeInstanceOf(ContextConflictError)
    answer = reply(400, JSON.stringify({ error: { code: 'invalid_state', message: 'turns[3].id: must be an integer' } }))
    const e = await client().history('s').catch((e) => e)
    expect(e).toBeInstanceOf(ValidationError)
    expect(e).toMatchObject({ code: 'invalid_state', path: 'turns[3].id' })
  })

  it('a message with control characters and 100 KB: cut to 500 characters, one line; a body over 64 KiB is not read whole', async () => {
    answer = reply(500, JSON.stringify({ error: { code: 'internal', message: '\x1b[31mred\nline2' + 'x'.repeat(1000) } }))
    const e = (await read(client().send('s', 'hi'))).error
    expect(e.message.startsWith('agent: HTTP 500 internal:  [31mred line2xxx')).toBe(true)
    expect(e.message.length).toBeLessThan(540)
    answer = reply(500, 'y'.repeat(1 << 20), 'text/html')
    expect((await read(client().send('s', 'hi'))).error.message).toBe('agent: HTTP 500: a body over 64 KiB')
  })

  it('404 from a server that is not the agent (no "no such session"): an error, not an empty history', async () => {
    answer = reply(404, '<h1>Not Found</h1>', 'text/html')
    expect(await client().history('s').catch((e) => e)).toMatchObject({ name: 'AgentHttpError', status: 404 })
    answer = reply(404, JSON.stringify({ error: { code: 'not_found', message: 'no route here' } }))
    expect(await client().delete('s').catch((e) => e)).toMatchObject({ name: 'AgentHttpError', status: 404, serverCode: 'not_found' })
  })

  it('a history that is not a state, or holds a bad event or a "__proto__" key: AgentHttpError', async () => {
    for (const [body, message] of [
      ['[1]', 'agent: the history is not a session state { id, turns }'],
      ['{"id":"s","turns":{}}', 'agent: the history is not a session state { id, turns }'],
      ['{"id":"s","turns":[{"id":"0"}]}', "agent: the history's turns[0].id must be an integer"],
      ['{"id":"s","turns":[{"id":0,"response":{"events":[{"type":"a b"}]}}]}', "agent: the history's turns[0].response.events[0].type must be 1-64 of A-Z a-z 0-9 _ . : -"],
      ['{"id":"s","__proto__":{"x":1}}', 'agent: the history holds a "__proto__" key'],
      ['{"id":', 'agent: the history is not valid JSON'],
    ]) {
      answer = reply(200, body!)
      expect(await client().history('s').catch((e) => e)).toMatchObject({ name: 'AgentHttpError', message })
    }
  })
})
