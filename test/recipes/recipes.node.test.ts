import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root } from '../runtime/demos.js'
import { readSSE } from '../runtime/sse.js'

// docs/recipes.md's code, run as written there: each block fenced ```js recipe=<name> is written to
// a file in a folder inside the repository (so `agentctx` resolves to this package's build through
// its own exports, as in test/package/readme.node.test.ts; `hono` from its node_modules). The
// Next.js route handler's exports are called with real Requests, as Next.js calls them (the `next`
// package, about 100 MB, is not installed for this); the Hono and Node servers run under `node` on
// 127.0.0.1, each on the port it picked, and are talked to over real HTTP.
const page = readFileSync(join(root, 'docs/recipes.md'), 'utf8')
const recipes = Object.fromEntries([...page.matchAll(/```js recipe=(\w+)\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!]))
let dir: string
const children: ChildProcess[] = []

beforeAll(() => {
  dir = mkdtempSync(join(root, '.recipes-'))
})

afterAll(() => {
  for (const child of children) child.kill()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Writes a recipe to `<dir>/<name>/<file>`; its path. */
function write(name: string, file: string): string {
  mkdirSync(join(dir, name), { recursive: true })
  const path = join(dir, name, file)
  writeFileSync(path, recipes[name]!)
  return path
}

/** Starts a server recipe with `node` (PORT=0: a free port) and waits for the address it prints. */
async function start(path: string): Promise<string> {
  const child = spawn(process.execPath, [path], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path} printed no address in 10 s: ${output}`)), 10_000)
    const read = (chunk: Buffer) => {
      output += chunk.toString()
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]
      if (url) clearTimeout(timer), resolve(url)
    }
    child.stdout!.on('data', read)
    child.stderr!.on('data', read)
    child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`${path} exited with ${code}: ${output}`))))
  })
}

/** The exchange every recipe must hold: an event in, SSE out; the session read back; deleted. */
async function converse(call: (path: string, init?: RequestInit) => Promise<Response>, prefix: string): Promise<void> {
  const id = `recipe-${Date.now().toString(36)}`
  const post = await call(`${prefix}/sessions/${id}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'text', data: { text: 'hello' } }),
  })
  expect(post.status).toBe(200)
  expect(post.headers.get('content-type')).toMatch(/^text\/event-stream/)
  expect((await readSSE(post)).map((e) => [e.type, e.data.text])).toEqual([['text_to_speech', 'You said: hello']])
  const got = await call(`${prefix}/sessions/${id}`)
  expect(got.status).toBe(200)
  expect(((await got.json()) as { currentTurnId: number }).currentTurnId).toBe(1)
  expect((await call(`${prefix}/sessions/${id}`, { method: 'DELETE' })).status).toBe(204)
  expect((await call(`${prefix}/sessions/${id}`)).status).toBe(404)
  // A malformed event is the agent's typed JSON error, not a crash of the server.
  const bad = await call(`${prefix}/sessions/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":' })
  expect(bad.status).toBe(400)
  expect(await bad.json()).toMatchObject({ error: expect.anything() })
}

describe('docs/recipes.md', () => {
  it('has the three recipes', () => {
    expect(Object.keys(recipes).sort()).toEqual(['hono', 'nextjs', 'node'])
  })

  it('Next.js route handler: the exported POST, GET and DELETE answer real Requests', async () => {
    const route = (await import(pathToFileURL(write('nextjs', 'route.js')).href)) as Record<string, unknown>
    expect(route.dynamic).toBe('force-dynamic')
    const handlers = route as Record<'POST' | 'GET' | 'DELETE', (request: Request) => Promise<Response>>
    await converse((path, init) => {
      const request = new Request(`http://localhost:3000${path}`, init)
      return handlers[request.method as 'POST' | 'GET' | 'DELETE'](request)
    }, '/api/agent')
  })

  it('Hono on @hono/node-server, over HTTP on 127.0.0.1', async () => {
    const url = await start(write('hono', 'server.js'))
    expect(await (await fetch(url)).text()).toBe('POST /agent/sessions/:id/events')
    await converse((path, init) => fetch(`${url}${path}`, init), '/agent')
  }, 20_000)

  it('a plain Node server, over HTTP on 127.0.0.1', async () => {
    const url = await start(write('node', 'server.js'))
    await converse((path, init) => fetch(`${url}${path}`, init), '')
    // A client that leaves mid-request does not take the server down.
    const leaving = new AbortController()
    const pending = fetch(`${url}/sessions/gone/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text: 'bye' } }), signal: leaving.signal })
    leaving.abort()
    await expect(pending).rejects.toThrow()
    expect((await fetch(`${url}/sessions/gone`)).status).toBeLessThan(500)
  }, 20_000)
})
