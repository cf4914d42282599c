import { describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler, type AgentOptions } from '../../src/agent/agent.js'
import { StartEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore, type ContextStore } from '../../src/storage/store.js'

/**
 * Who may touch a session through `agent.fetch` (`authorize`), and which pages of other origins may
 * read its answers (`cors`). Real `Request`s and `Response`s; over real HTTP in http-access.node.test.ts.
 */

const SECRET = 'sk-access-secret-0123456789'
const handler: AgentHandler = async function* (event) {
  if (event instanceof StartEvent) return
  yield new TextToSpeechEvent({ text: `got ${event.type}` })
}

/** An agent on a store that records every session id it was asked to load, save or delete. */
function setup(options: Partial<AgentOptions> = {}) {
  const inner = createContextStore(memoryStorage(), { channel: false })
  const touched: string[] = []
  const store: ContextStore = {
    ...inner,
    load: (id, runtime) => (touched.push(`load ${id}`), inner.load(id, runtime)),
    refresh: (ctx, runtime) => (touched.push(`refresh ${ctx.id}`), inner.refresh(ctx, runtime)),
    save: (ctx) => (touched.push(`save ${ctx.id}`), inner.save(ctx)),
    delete: (id) => (touched.push(`delete ${id}`), inner.delete(id)),
  }
  const agent = createAgent({ store, handler, variables: { OPENAI_API_KEY: SECRET }, ...options })
  return { agent, store: inner, touched }
}

const url = (path: string) => `http://agent.test${path}`
const json = { 'content-type': 'application/json' }
const body = JSON.stringify({ type: 'text', data: { text: 'hi' } })
const post = (id: string, headers: Record<string, string> = {}) => new Request(url(`/sessions/${id}/events`), { method: 'POST', headers: { ...json, ...headers }, body })
const errorOf = async (response: Response) => ((await response.json()) as { error: { code: string; message: string } }).error

/** Every request `authorize` is asked about, with a method each. */
const requests = (id: string, headers: Record<string, string> = {}) => [
  post(id, headers),
  new Request(url(`/sessions/${id}`), { headers }),
  new Request(url(`/sessions/${id}`), { method: 'HEAD', headers }),
  new Request(url(`/sessions/${id}`), { method: 'DELETE', headers }),
]

describe('authorize', () => {
  it('runs before any read or write of the session, for every method; false answers 403 and touches nothing', async () => {
    const asked: string[] = []
    const { agent, store, touched } = setup({
      authorize: (request, { sessionId }) => {
        asked.push(`${request.method} ${sessionId}`)
        return false
      },
    })
    // A session that exists: a refused GET must not read it, a refused DELETE must not delete it.
    const ctx = await store.open('s')
    ctx.addRequest('secret plans')
    await store.save(ctx)
    for (const request of requests('s')) {
      const response = await agent.fetch(request)
      expect(response.status).toBe(403)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      if (request.method !== 'HEAD') expect(await errorOf(response)).toEqual({ code: 'forbidden', message: 'not allowed to access this session' })
    }
    expect(asked).toEqual(['POST s', 'GET s', 'HEAD s', 'DELETE s'])
    expect(touched).toEqual([])
    expect((await store.load('s'))!.currentTurnId).toBe(1)
  })

  it('true lets every method through, sync or async, with the decoded session id', async () => {
    const asked: string[] = []
    const { agent } = setup({
      authorize: async (request, { sessionId }) => {
        await Promise.resolve()
        asked.push(sessionId)
        return request.headers.get('authorization') === 'Bearer good'
      },
    })
    const auth = { authorization: 'Bearer good' }
    const sse = await agent.fetch(post('user%2F1', auth))
    expect(sse.status).toBe(200)
    await sse.text() // the turn is saved when the stream ends
    expect((await agent.fetch(new Request(url('/sessions/user%2F1'), { headers: auth }))).status).toBe(200)
    expect((await agent.fetch(new Request(url('/sessions/user%2F1'), { method: 'DELETE', headers: auth }))).status).toBe(204)
    expect((await agent.fetch(post('user%2F1', { authorization: 'Bearer bad' }))).status).toBe(403)
    expect(asked).toEqual(['user/1', 'user/1', 'user/1', 'user/1'])
  })

  it('fails closed: anything but true (undefined, "yes", 1) is a 403', async () => {
    for (const verdict of [undefined, 'yes', 1, null, {}]) {
      const { agent, touched } = setup({ authorize: () => verdict as never })
      expect((await agent.fetch(post('s'))).status).toBe(403)
      expect(touched).toEqual([])
    }
  })

  it('a Response it returns is sent instead (a 401 with WWW-Authenticate), sync or async', async () => {
    const challenge = () => new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'log in' } }), { status: 401, headers: { 'www-authenticate': 'Bearer' } })
    for (const authorize of [challenge, async () => challenge()]) {
      const { agent, touched } = setup({ authorize })
      for (const request of requests('s')) {
        const response = await agent.fetch(request)
        expect([response.status, response.headers.get('www-authenticate')]).toEqual([401, 'Bearer'])
      }
      expect(touched).toEqual([])
    }
  })

  it('throwing (with a secret in the message) is a generic 500: nothing of the error in the answer, the error to onError', async () => {
    const reported: unknown[] = []
    const { agent, touched } = setup({
      authorize: () => {
        throw new Error(`token store down: ${SECRET}`)
      },
      onError: (error) => reported.push(error),
    })
    for (const request of requests('s')) {
      const response = await agent.fetch(request)
      expect(response.status).toBe(500)
      const text = await response.text()
      if (request.method !== 'HEAD') expect(JSON.parse(text)).toEqual({ error: { code: 'internal', message: 'internal error' } })
      expect(text).not.toContain('sk-access')
      expect([...response.headers].join()).not.toContain('sk-access')
    }
    expect(reported).toHaveLength(4)
    expect(touched).toEqual([])
  })

  it('an async rejection and a throwing onError are a 500 too, never a rejected fetch', async () => {
    const { agent } = setup({
      authorize: () => Promise.reject(new Error(SECRET)),
      onError: () => {
        throw new Error('logger down')
      },
    })
    const response = await agent.fetch(post('s'))
    expect(response.status).toBe(500)
    expect(await response.text()).not.toContain(SECRET)
  })

  it('cheap refusals come first and do not call it: 404, 405, 415, a Content-Length over 1 MiB', async () => {
    let calls = 0
    const { agent } = setup({ authorize: () => (calls++, true) })
    expect((await agent.fetch(new Request(url('/nowhere')))).status).toBe(404)
    expect((await agent.fetch(new Request(url('/sessions/s/events')))).status).toBe(405)
    expect((await agent.fetch(new Request(url('/sessions/s'), { method: 'PUT' }))).status).toBe(405)
    expect((await agent.fetch(new Request(url('/sessions/s/events'), { method: 'POST', body, headers: { 'content-type': 'text/plain' } }))).status).toBe(415)
    expect(calls).toBe(0)
  })

  it('is refused at createAgent when not a function', () => {
    const store = createContextStore(memoryStorage(), { channel: false })
    expect(() => createAgent({ store, handler, authorize: true as never })).toThrow(expect.objectContaining({ code: 'invalid_argument', path: 'authorize' }))
  })
})

describe('cors', () => {
  // A page cannot set `Origin` (a forbidden header: the browser sets it), so the cases that send one
  // run where a server receives it; a real page of another origin calling the agent is in e2e/cors.spec.ts.
  const inBrowser = typeof window !== 'undefined'
  const APP = 'https://app.example'
  const preflight = (path: string, origin: string, headers: Record<string, string> = {}) =>
    new Request(url(path), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', ...headers } })

  it("without it: no CORS header on any answer, and OPTIONS is a 405 as any other method", async () => {
    const { agent } = setup()
    for (const request of [post('s', { origin: APP }), new Request(url('/sessions/s'), { headers: { origin: APP } }), preflight('/sessions/s/events', APP)]) {
      const response = await agent.fetch(request)
      expect([...response.headers.keys()].filter((k) => k.startsWith('access-control') || k === 'vary')).toEqual([])
    }
    const options = await agent.fetch(preflight('/sessions/s/events', APP))
    expect([options.status, options.headers.get('allow')]).toEqual([405, 'POST'])
  })

  it.skipIf(inBrowser)("answers a listed origin's preflight with 204 and the route's methods, without calling authorize", async () => {
    let calls = 0
    const { agent } = setup({ cors: { origin: [APP, 'http://localhost:5173'] }, authorize: () => (calls++, false) })
    const events = await agent.fetch(preflight('/sessions/s/events', APP, { 'access-control-request-headers': 'authorization,content-type' }))
    expect(events.status).toBe(204)
    expect(Object.fromEntries([...events.headers].filter(([k]) => k.startsWith('access-control') || k === 'vary'))).toEqual({
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type, authorization',
      'access-control-max-age': '600',
      vary: 'Origin',
    })
    const session = await agent.fetch(preflight('/sessions/s', 'http://localhost:5173'))
    expect(session.headers.get('access-control-allow-methods')).toBe('GET, HEAD, DELETE')
    expect(session.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    expect(calls).toBe(0)
  })

  it('gives an origin not in the list no Access-Control-Allow-* header at all, on preflights and answers', async () => {
    const { agent } = setup({ cors: { origin: APP } })
    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'https://APP.example', 'http://app.example', 'https://app.example:444', 'null']) {
      const pre = await agent.fetch(preflight('/sessions/s/events', origin))
      const real = await agent.fetch(post('s', { origin }))
      for (const response of [pre, real]) {
        expect([...response.headers.keys()].filter((k) => k.startsWith('access-control'))).toEqual([])
        expect(response.headers.get('vary')).toBe('Origin')
      }
    }
  })

  it.skipIf(inBrowser)('adds Access-Control-Allow-Origin to every real answer of a listed origin: SSE, JSON, errors, 403 and authorize\'s own Response', async () => {
    const { agent } = setup({
      cors: { origin: APP },
      authorize: (request) => (request.headers.get('authorization') === 'Bearer ok' ? true : request.headers.has('authorization') ? Response.redirect('https://login.example/', 302) : false),
    })
    const origin = { origin: APP, authorization: 'Bearer ok' }
    const sse = await agent.fetch(post('s', origin))
    const said = await sse.text() // the turn is saved when the stream ends
    const answers = [
      sse,
      await agent.fetch(new Request(url('/sessions/s'), { headers: origin })),
      await agent.fetch(new Request(url('/sessions/nobody'), { headers: origin })),
      await agent.fetch(new Request(url('/sessions/s/events'), { method: 'POST', headers: { ...origin, 'content-type': 'text/plain' }, body })),
      await agent.fetch(post('s', { origin: APP })),
      // Response.redirect's headers are immutable: the answer is a copy with the header added.
      await agent.fetch(post('s', { origin: APP, authorization: 'Bearer expired' })),
    ]
    expect(answers.map((r) => r.status)).toEqual([200, 200, 404, 415, 403, 302])
    expect(answers[0]!.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(said).toContain('got text')
    expect(answers[5]!.headers.get('location')).toBe('https://login.example/')
    for (const r of answers) expect([r.headers.get('access-control-allow-origin'), r.headers.get('vary')]).toEqual([APP, 'Origin'])
  })

  it("'*' allows any origin without Vary, and takes headers and maxAge", async () => {
    const { agent } = setup({ cors: { origin: '*', headers: ['content-type', 'authorization', 'x-request-id'], maxAge: 7200 } })
    const pre = await agent.fetch(preflight('/sessions/s/events', 'https://anyone.example'))
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type, authorization, x-request-id')
    expect(pre.headers.get('access-control-max-age')).toBe('7200')
    expect(pre.headers.get('vary')).toBeNull()
    expect((await agent.fetch(post('s', { origin: 'https://anyone.example' }))).headers.get('access-control-allow-origin')).toBe('*')
  })

  it('refuses a malformed option at createAgent, naming the field', () => {
    const store = createContextStore(memoryStorage(), { channel: false })
    const make = (cors: unknown) => () => createAgent({ store, handler, cors: cors as never })
    expect(make({ origin: 'https://app.example/' })).toThrow(expect.objectContaining({ path: 'cors.origin' }))
    expect(make({ origin: ['https://ok.example', 'app.example'] })).toThrow(expect.objectContaining({ path: 'cors.origin[1]' }))
    expect(make({ origin: 'null' })).toThrow(expect.objectContaining({ path: 'cors.origin' }))
    expect(make({ origin: 'https://app.example:443' })).toThrow(expect.objectContaining({ path: 'cors.origin' }))
    expect(make({ origin: [] })).toThrow(expect.objectContaining({ path: 'cors.origin' }))
    expect(make({ origin: '*', headers: ['bad header'] })).toThrow(expect.objectContaining({ path: 'cors.headers' }))
    expect(make({ origin: '*', maxAge: -1 })).toThrow(expect.objectContaining({ path: 'cors.maxAge' }))
    expect(make('*')).toThrow(expect.objectContaining({ path: 'cors' }))
  })
})
