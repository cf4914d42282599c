import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { build, type BuildOptions, type Plugin } from 'esbuild'
import { expect, it } from 'vitest'
import type { EventJSON } from '../../src/agent/events.js'
import { readSSE, sseEvents } from './sse.js'

/**
 * Helpers of the deployable demos' tests (demo-cloudflare.node.test.ts, demo-vercel.node.test.ts):
 * bundle a demo as its platform would, read its config file, and hold the same conversation with it.
 */

export const root = resolve(import.meta.dirname, '../..')

/**
 * Resolves `agentctx` and `agentctx/<subpath>` through package.json's `exports` to the TypeScript
 * source behind each built file (`./dist/agent/index.js` → `src/agent/index.ts`), so the tests run
 * without a prior build yet a demo that imports a subpath the package does not export fails as it
 * would under wrangler or Vercel. (esbuild's `alias` would map any `agentctx/…` to a folder of src/,
 * exported or not.)
 */
export const agentctxFromSource: Plugin = {
  name: 'agentctx-from-source',
  setup(b) {
    const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { import?: string }> }
    b.onResolve({ filter: /^agentctx(\/|$)/ }, ({ path }) => {
      const entry = pkg.exports[`.${path.slice('agentctx'.length)}`]
      const built = typeof entry === 'string' ? entry : entry?.import
      if (!built?.startsWith('./dist/')) return { errors: [{ text: `"${path}" is not an export of package.json` }] }
      const source = resolve(root, built.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'))
      if (!existsSync(source)) return { errors: [{ text: `"${path}" is built from ${source}, which does not exist` }] }
      return { path: source }
    })
  },
}

/** Bundles `options` (an entry or stdin) with esbuild for a web-standard runtime; returns the code. */
export async function bundle(options: BuildOptions & { conditions: string[]; format: 'esm' | 'iife' }): Promise<string> {
  const result = await build({ bundle: true, platform: 'browser', target: 'es2022', write: false, logLevel: 'silent', plugins: [agentctxFromSource], ...options })
  return result.outputFiles![0]!.text
}

type TomlValue = string | number | boolean | TomlValue[] | TomlTable
interface TomlTable {
  [key: string]: TomlValue
}

/**
 * Reads the TOML of a wrangler.toml: `key = value` (strings in double quotes, numbers, booleans,
 * one-line arrays of those), `[table]`, `[[array.of.tables]]` and `#` comments. Anything else throws,
 * so a config this reader does not understand fails the test instead of being half read.
 */
export function readToml(text: string): TomlTable {
  const top: TomlTable = {}
  let table = top
  const walk = (path: string[]) => {
    let t = top
    for (const key of path) {
      const next: TomlValue = (t[key] ??= {})
      t = (Array.isArray(next) ? next.at(-1) : next) as TomlTable
    }
    return t
  }
  for (const [i, raw] of text.split('\n').entries()) {
    // A comment: a whole line, or a `#` after the line's last quote (so not one inside a string).
    const line = /^\s*#/.test(raw) ? '' : raw.replace(/#[^"]*$/, '').trim()
    let m: RegExpExecArray | null
    if (!line) continue
    if ((m = /^\[\[([\w.-]+)\]\]$/.exec(line))) {
      const path = m[1]!.split('.')
      const parent = walk(path.slice(0, -1))
      const list = (parent[path.at(-1)!] ??= []) as TomlTable[]
      list.push((table = {}))
    } else if ((m = /^\[([\w.-]+)\]$/.exec(line))) {
      table = walk(m[1]!.split('.'))
    } else if ((m = /^([\w-]+)\s*=\s*(.+)$/.exec(line))) {
      try {
        table[m[1]!] = JSON.parse(m[2]!) as TomlValue
      } catch {
        throw new Error(`toml line ${i + 1}: cannot read the value of ${m[1]}: ${m[2]}`)
      }
    } else throw new Error(`toml line ${i + 1}: not understood: ${raw}`)
  }
  return top
}

/** How a demo is reached: `fetch` a path (starting with `/sessions/`) of the deployed demo. */
export type DemoFetch = (path: string, init?: RequestInit) => Promise<Response>

const texts = (events: EventJSON[]) => events.map((e) => e.data.text)
let sessions = 0
const session = () => `demo-${Date.now().toString(36)}-${sessions++}`

/**
 * The demo agent's conversation (demo/shared/handler.js), over HTTP and SSE as a client holds it:
 * greeting, a name remembered, the background order, barge-in on a story, and delete. `greeting`
 * is what this deployment says first; `options.bargeIn`, when set, is why this deployment cannot
 * interrupt a reply (what it does instead is then tested, the reason in the test's name).
 */
export function demoConversation(greeting: string, demoFetch: () => DemoFetch, options?: { bargeIn?: string }): void {
  const post = (id: string, text: string) =>
    demoFetch()(`/sessions/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text } }) })
  const say = async (id: string, text: string) => texts(await readSSE(await post(id, text)))
  const stored = async (id: string) => {
    const response = await demoFetch()(`/sessions/${id}`)
    expect(response.status).toBe(200)
    return (await response.json()) as {
      currentTurnId: number
      data: Record<string, unknown>
      turns: { id: number; request?: { text?: string }; response?: { text?: string; interrupted?: boolean; events: EventJSON[] } }[]
    }
  }

  it('greets a new session, remembers a name, and runs the order in the background', async () => {
    const id = session()
    const first = await readSSE(await post(id, 'hello'))
    expect(first.map((e) => [e.type, e.turn, e.data.text])).toEqual([
      ['text_to_speech', 0, greeting],
      ['text_to_speech', 1, 'You said “hello”. I only know a few tricks.'],
    ])
    expect(await say(id, 'my name is Ada')).toEqual(['Nice to meet you, Ada!'])
    // The order takes a second after its turn's reply; the request's stream stays open for it, so
    // "Your order is ready!" reaches the client (issue 12: it never did in the Cloudflare demo),
    // tagged with its task and the turn that started it, while "check status" is answered meanwhile.
    const order = sseEvents(await post(id, 'place order'))
    const orderEvents: EventJSON[] = [(await order.next()).value!.json]
    expect(await say(id, 'check status')).toEqual(['Your order status is: pending'])
    for await (const e of order) orderEvents.push(e.json)
    expect(orderEvents.map((e) => [e.data.text, e.background?.task, e.turn])).toEqual([
      ['Processing your order in the background.', undefined, 3],
      ['Your order is ready!', 'order_processing', 3],
    ])
    await expect.poll(async () => (await stored(id)).data.order_status, { timeout: 5000, interval: 50 }).toBe('completed')
    expect(await say(id, 'check status')).toEqual(['Your order status is: completed'])
    const ctx = await stored(id)
    expect(ctx.data).toEqual({ user_name: 'Ada', order_status: 'completed' })
    // Kept with turn 3, so a reload shows it (the history's turn 3 response.background).
    expect((ctx.turns[3]!.response as { background?: EventJSON[] }).background?.map((e) => e.data.text)).toEqual(['Your order is ready!'])
    expect(ctx.turns.map((t) => [t.id, t.request?.text, t.response?.text])).toEqual([
      [0, undefined, greeting],
      [1, 'hello', 'You said “hello”. I only know a few tricks.'],
      [2, 'my name is Ada', 'Nice to meet you, Ada!'],
      [3, 'place order', 'Processing your order in the background.'],
      [4, 'check status', 'Your order status is: pending'],
      [5, 'check status', 'Your order status is: completed'],
    ])
  })

  // A deployment without one place per session (a plain Worker on D1) cannot interrupt a reply
  // streaming in another request: what it does instead is tested, with the reason in its name.
  if (options?.bargeIn) {
    it(`no barge-in here (${options.bargeIn}): the new text is answered, the story runs to its end, not marked interrupted`, async () => {
      const id = session()
      expect(await say(id, 'my name is Ada')).toEqual([greeting, 'Nice to meet you, Ada!'])
      const story = sseEvents(await post(id, 'tell me a story'))
      expect((await story.next()).value?.json.data.text).toBe('Once upon a time, a context lived at the edge of the network.')
      expect(await say(id, 'hello again')).toEqual(['You said “hello again”, Ada. I only know a few tricks.'])
      const rest: EventJSON[] = []
      for await (const e of story) rest.push(e.json)
      const ctx = await stored(id)
      expect(ctx.turns[2]).toMatchObject({ request: { text: 'tell me a story' } })
      expect(ctx.turns[2]!.response!.interrupted).toBeUndefined()
      expect(ctx.turns[2]!.response!.events).toHaveLength(1 + rest.length)
      expect(ctx.turns[3]).toMatchObject({ request: { text: 'hello again' }, response: { text: 'You said “hello again”, Ada. I only know a few tricks.' } })
    }, 30_000)
  } else it('barge-in: a new text while the story streams ends the story, recorded as interrupted, and is answered', async () => {
    const id = session()
    expect(await say(id, 'my name is Ada')).toEqual([greeting, 'Nice to meet you, Ada!'])
    const story = sseEvents(await post(id, 'tell me a story'))
    // The next sentence comes ~1.2 s after the first (20 ms a character): the user speaks before.
    expect((await story.next()).value?.json.data.text).toBe('Once upon a time, a context lived at the edge of the network.')
    expect(await say(id, 'hello again')).toEqual(['You said “hello again”, Ada. I only know a few tricks.'])
    const rest: EventJSON[] = []
    for await (const e of story) rest.push(e.json)
    expect(rest.length).toBeLessThan(5) // the stream ended early (normally right away: rest is empty)
    const ctx = await stored(id)
    expect(ctx.turns[2]).toMatchObject({ request: { text: 'tell me a story' }, response: { interrupted: true } })
    expect(ctx.turns[2]!.response!.events).toHaveLength(1 + rest.length)
    expect(ctx.turns[3]).toMatchObject({ request: { text: 'hello again' }, response: { text: 'You said “hello again”, Ada. I only know a few tricks.' } })
    expect(ctx.turns[3]!.response!.interrupted).toBeUndefined()
  })

  it('deletes a session: 204, then 404', async () => {
    const id = session()
    await say(id, 'hello')
    expect((await demoFetch()(`/sessions/${id}`, { method: 'DELETE' })).status).toBe(204)
    const gone = await demoFetch()(`/sessions/${id}`)
    expect(gone.status).toBe(404)
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('not_found')
  })
}

/**
 * A demo deployed with `AGENT_TOKEN` set (demo/shared/auth.js): every route refuses a request
 * without the bearer token (401 with `WWW-Authenticate: Bearer`) or with a wrong one (403), before
 * the session is touched; with the token the conversation works. `greeting` is what it says first.
 */
export function demoAuthorization(token: string, greeting: string, demoFetch: () => DemoFetch): void {
  it('with AGENT_TOKEN set: 401 without the bearer token, 403 with a wrong one, on every route; the token opens them', async () => {
    const id = session()
    const event: RequestInit = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text: 'hello' } }) }
    const as = (init: RequestInit, authorization?: string): RequestInit => ({ ...init, headers: { ...(init.headers as Record<string, string>), ...(authorization && { authorization }) } })
    const routes: [string, RequestInit][] = [
      [`/sessions/${id}/events`, event],
      [`/sessions/${id}`, {}],
      [`/sessions/${id}`, { method: 'DELETE' }],
    ]
    for (const [authorization, status] of [[undefined, 401], [`Basic ${token}`, 401], ['Bearer wrong', 403], [`Bearer ${token}x`, 403]] as const) {
      for (const [path, init] of routes) {
        const response = await demoFetch()(path, as(init, authorization))
        expect([path, init.method, authorization, response.status]).toEqual([path, init.method, authorization, status])
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe(status === 401 ? 'unauthorized' : 'forbidden')
        if (status === 401) expect(response.headers.get('www-authenticate')).toBe('Bearer')
      }
    }
    const bearer = `Bearer ${token}`
    expect(texts(await readSSE(await demoFetch()(`/sessions/${id}/events`, as(event, bearer))))).toEqual([greeting, 'You said “hello”. I only know a few tricks.'])
    expect((await demoFetch()(`/sessions/${id}`, as({}, bearer))).status).toBe(200)
    expect((await demoFetch()(`/sessions/${id}`, as({ method: 'DELETE' }, bearer))).status).toBe(204)
  })
}
