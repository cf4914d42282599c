import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect, test, type Page } from '@playwright/test'
// The built package, as an app would use it (npm test builds before the e2e run).
import { createContextStore, memoryStorage } from '../dist/index.js'
import { createAgent, StartEvent, TextEvent, TextToSpeechEvent } from '../dist/agent/index.js'
import { close, serve } from '../test/runtime/serve.js'

// The agent's HTTP endpoint called by real pages of other origins in Chromium: the agent on one
// loopback port with `cors` allowing one page origin and `authorize` checking a bearer token, a page
// of that origin on a second port, and a page of an origin not allowed on a third. What the browser
// itself enforces (preflights, reading answers) is what is checked, and what reached the server.

const TOKEN = 'e2e-token-7d0c'
const html = '<!doctype html><meta charset="utf-8"><title>page</title><p>a page</p>'
const servers: Server[] = []
const origin = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`
let agentUrl: string
let appOrigin: string
let evilOrigin: string
/** What reached the agent: method, path, origin, status. */
const log: { method: string; path: string; origin: string | null; status: number }[] = []
let store: ReturnType<typeof createContextStore>

async function page(): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  return server
}

test.beforeAll(async () => {
  appOrigin = origin(await page())
  evilOrigin = origin(await page())
  store = createContextStore(memoryStorage(), { channel: false })
  const agent = createAgent({
    store,
    async *handler(event) {
      if (event instanceof StartEvent) return
      if (event instanceof TextEvent) yield new TextToSpeechEvent({ text: `You said: ${event.data.text}` })
    },
    cors: { origin: appOrigin },
    authorize: (request) => request.headers.get('authorization') === `Bearer ${TOKEN}`,
  })
  const server = await serve(async (request) => {
    const response = await agent.fetch(request)
    log.push({ method: request.method, path: new URL(request.url).pathname, origin: request.headers.get('origin'), status: response.status })
    return response
  })
  servers.push(server)
  agentUrl = origin(server)
})

test.afterAll(async () => {
  for (const server of servers) await close(server)
})

/** Runs `fetch(agentUrl + path, init)` in `page`: the status and text, or the error's name and message. */
const call = (p: Page, path: string, init: RequestInit = {}) =>
  p.evaluate(
    async ([url, init]) => {
      try {
        const response = await fetch(url, init)
        return { status: response.status, type: response.type, text: await response.text() }
      } catch (e) {
        return { error: `${(e as Error).name}: ${(e as Error).message}` }
      }
    },
    [agentUrl + path, init] as const,
  )

const json = (text: string, token = TOKEN) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  body: JSON.stringify({ type: 'text', data: { text } }),
})

test('a page of the allowed origin talks to the agent with its token, and reads refusals too', async ({ page: p }) => {
  await p.goto(appOrigin)
  const said = await call(p, '/sessions/cors-1/events', json('hello'))
  expect(said).toMatchObject({ status: 200, type: 'cors' })
  expect((said as { text: string }).text).toContain('You said: hello')
  const history = await call(p, '/sessions/cors-1', { headers: { authorization: `Bearer ${TOKEN}` } })
  expect(history).toMatchObject({ status: 200 })
  expect(JSON.parse((history as { text: string }).text).id).toBe('cors-1')
  // Without the right token: a 403 the page can read (the answer carries Access-Control-Allow-Origin).
  const refused = await call(p, '/sessions/cors-1', { headers: { authorization: 'Bearer wrong' } })
  expect(refused).toEqual({ status: 403, type: 'cors', text: JSON.stringify({ error: { code: 'forbidden', message: 'not allowed to access this session' } }) })
  // The browser sent a preflight (OPTIONS, answered 204) before each request with Authorization.
  expect(log.filter((e) => e.path.startsWith('/sessions/cors-1')).map((e) => `${e.method} ${e.status}`)).toEqual(['OPTIONS 204', 'POST 200', 'OPTIONS 204', 'GET 200', 'GET 403'])
})

test('a page of another origin cannot read anything, and its credentialed POST never leaves the preflight', async ({ page: p }) => {
  await p.goto(evilOrigin)
  const before = log.length
  expect(await call(p, '/sessions/cors-1', { headers: { authorization: `Bearer ${TOKEN}` } })).toEqual({ error: expect.stringMatching(/^TypeError/) })
  expect(await call(p, '/sessions/cors-2/events', json('hi'))).toEqual({ error: expect.stringMatching(/^TypeError/) })
  // Only the preflights reached the agent: without an allowed origin they got no Access-Control-Allow-* header, so Chromium stopped there.
  expect(log.slice(before).map((e) => `${e.method} ${e.status} ${e.origin === evilOrigin}`)).toEqual(['OPTIONS 204 true', 'OPTIONS 204 true'])
  expect(await store.load('cors-2')).toBeUndefined()
})

// Regression: a text/plain POST (a "simple" request: no preflight) was handled as an event.
test('a cross-site text/plain POST, the one a page may send without a preflight, is refused with 415', async ({ page: p }) => {
  await p.goto(evilOrigin)
  const before = log.length
  const sent = await call(p, '/sessions/cors-3/events', { method: 'POST', mode: 'no-cors', body: JSON.stringify({ type: 'text', data: { text: 'forged' } }) })
  expect(sent).toEqual({ status: 0, type: 'opaque', text: '' })
  expect(log.slice(before).map((e) => `${e.method} ${e.status}`)).toEqual(['POST 415'])
  expect(await store.load('cors-3')).toBeUndefined()
})
