import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { expect, test, type Page } from '@playwright/test'
import { build } from 'esbuild'
// The built package, as an app would use it (npm test builds before the e2e run).
import { createContextStore, memoryStorage } from '../dist/index.js'
import { createAgent, StartEvent, TextEvent, TextToSpeechEvent } from '../dist/agent/index.js'

// agentctx/client in Chromium over real HTTP: the agent behind Node's http server on 127.0.0.1,
// and a page of the same server loading dist/client bundled by esbuild as an app's bundler would
// (and the AI SDK's AbstractChat + DefaultChatTransport, what useChat runs, bundled the same way).
// What is checked is what Chromium's fetch and streams do with the agent's SSE, and what reached
// the server: the connection closed by stop().

const TOKEN = 'e2e-client-token-5f1a'
const root = join(import.meta.dirname, '..')
let server: Server
let base: string
const bundles: Record<string, string> = {}
/** Requests that reached the agent, and whether the client closed each before its answer ended. */
const log: { path: string; status: number; closedEarly: boolean }[] = []
const aborted: string[] = []

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })

async function bundle(contents: string): Promise<string> {
  const out = await build({ stdin: { contents, resolveDir: root }, bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent' })
  return out.outputFiles[0]!.text
}

test.beforeAll(async () => {
  bundles['/client.js'] = await bundle(`export * from './dist/client/index.js'`)
  bundles['/ai.js'] = await bundle(`export { AbstractChat, DefaultChatTransport } from 'ai'`)
  const agent = createAgent({
    store: createContextStore(memoryStorage()),
    protocol: 'ai-sdk',
    authorize: (request) => request.headers.get('authorization') === `Bearer ${TOKEN}`,
    async *handler(event, _ctx, { signal }) {
      if (event instanceof StartEvent) return yield new TextToSpeechEvent({ text: 'Hello!' })
      if (!(event instanceof TextEvent)) return
      const text = event.data.text
      signal.addEventListener('abort', () => aborted.push(text), { once: true })
      if (text === 'slow') {
        for (let i = 1; ; i++) {
          yield { type: 'text_delta', data: { delta: `s${i} ` } }
          await sleep(30, signal)
        }
      }
      const words = text.split(' ')
      for (const [i, w] of words.entries()) {
        await sleep(10, signal)
        yield { type: 'text_delta', data: { delta: (i ? ' ' : '') + w } }
      }
      yield new TextToSpeechEvent({ text })
    },
  })
  server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><meta charset="utf-8"><title>client</title><ol id="messages"></ol>')
    if (bundles[path]) return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundles[path])
    // The agent: the request as a web Request, its answer streamed back chunk by chunk.
    const controller = new AbortController()
    const entry = { path: `${req.method} ${path}`, status: 0, closedEarly: false }
    log.push(entry)
    res.on('close', () => {
      if (!res.writableFinished) (entry.closedEarly = true), controller.abort()
    })
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers = new Headers(Object.entries(req.headers).filter((e): e is [string, string] => typeof e[1] === 'string'))
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks)
    const response = await agent.fetch(new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body, signal: controller.signal }))
    entry.status = response.status
    res.writeHead(response.status, Object.fromEntries(response.headers))
    const reader = response.body?.getReader()
    try {
      for (let step; reader && !(step = await reader.read()).done; ) res.write(step.value)
    } catch {
      // the client went away
    }
    res.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

test.afterAll(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))))

const open = async (page: Page) => {
  await page.goto(base)
  await page.addScriptTag({ url: '/client.js', type: 'module' })
}

test('send streams the agent’s events into the page as they come; history and delete; a 403 typed', async ({ page }) => {
  await open(page)
  const result = await page.evaluate(async (token) => {
    const { createAgentClient } = await import('/client.js' as string)
    const client = createAgentClient({ url: location.origin, headers: { authorization: `Bearer ${token}` } })
    const arrivals: string[] = []
    for await (const e of client.send('e2e-1', 'one two three')) arrivals.push(e.type === 'text_delta' ? e.data.delta : `[${e.data.text}]`)
    const history = await client.history('e2e-1')
    const deleted = await client.delete('e2e-1')
    let refused
    try {
      for await (const _ of createAgentClient({ url: location.origin }).send('e2e-1', 'x'));
    } catch (e: any) {
      refused = { name: e.name, status: e.status, message: e.message }
    }
    return { arrivals, turns: history.turns.length, deleted, gone: (await client.history('e2e-1')) === undefined, refused }
  }, TOKEN)
  expect(result.arrivals).toEqual(['[Hello!]', 'one', ' two', ' three', '[one two three]'])
  expect(result).toMatchObject({ turns: 2, deleted: true, gone: true, refused: { name: 'AgentHttpError', status: 403 } })
})

test('the session view in the page: rendered token by token; stop() closes the connection, the agent interrupts the turn; a reload shows it', async ({ page }) => {
  await open(page)
  await page.evaluate(async (token) => {
    const { createAgentClient } = await import('/client.js' as string)
    const client = createAgentClient({ url: location.origin, headers: { authorization: `Bearer ${token}` } })
    const view = client.session('e2e-view')
    const list = document.querySelector('#messages')!
    view.subscribe((s: any) => list.replaceChildren(...s.messages.map((m: any) => Object.assign(document.createElement('li'), { className: `${m.role}${m.interrupted ? ' interrupted' : ''}`, textContent: m.text }))))
    ;(window as any).view = view
    await view.load()
    void view.send('slow')
  }, TOKEN)
  await expect(page.locator('li.assistant').last()).toHaveText(/^s1 s2 s3/)
  const before = log.filter((e) => e.closedEarly).length
  await page.evaluate(() => (window as any).view.stop())
  await expect(page.locator('li').last()).toHaveClass('assistant interrupted')
  await expect.poll(() => log.filter((e) => e.closedEarly).length).toBe(before + 1)
  await expect.poll(() => aborted).toContain('slow')
  await page.reload()
  await page.addScriptTag({ url: '/client.js', type: 'module' })
  const texts = await page.evaluate(async (token) => {
    const { createAgentClient } = await import('/client.js' as string)
    const view = createAgentClient({ url: location.origin, headers: { authorization: `Bearer ${token}` } }).session('e2e-view')
    await view.load()
    return view.getSnapshot().messages.map((m: any) => `${m.role}${m.interrupted ? ' (interrupted)' : ''}: ${m.text}`)
  }, TOKEN)
  expect(texts[0]).toBe('assistant: Hello!')
  expect(texts[1]).toBe('user: slow')
  expect(texts[2]).toMatch(/^assistant \(interrupted\): s1 s2 s3/)
})

test("the AI SDK's AbstractChat + DefaultChatTransport (what useChat runs) in the page, against createAgent({ protocol: 'ai-sdk' })", async ({ page }) => {
  await page.goto(base)
  const result = await page.evaluate(async (token) => {
    // Every version of the reply the chat's state was given, as useChat's React state would be.
    const grown: string[] = []
    const { AbstractChat, DefaultChatTransport } = await import('/ai.js' as string)
    class State {
      status = 'ready'
      error = undefined
      messages: any[] = []
      pushMessage = (m: any) => void (this.messages = [...this.messages, m])
      popMessage = () => void (this.messages = this.messages.slice(0, -1))
      replaceMessage = (i: number, m: any) => {
        this.messages = this.messages.map((x, j) => (j === i ? m : x))
        grown.push(m.parts.map((p: any) => p.text ?? '').join('|'))
      }
      snapshot = (x: any) => structuredClone(x)
    }
    const chat = new AbstractChat({
      id: 'e2e-chat',
      state: new State(),
      transport: new DefaultChatTransport({ api: '/api/chat', headers: { authorization: `Bearer ${token}` } }),
    })
    await chat.sendMessage({ text: 'alpha beta gamma delta' })
    return { status: chat.status, roles: chat.messages.map((m: any) => m.role), parts: chat.messages[1].parts.map((p: any) => `${p.type}:${p.text}`), grown }
  }, TOKEN)
  expect(result.status).toBe('ready')
  expect(result.roles).toEqual(['user', 'assistant'])
  expect(result.parts).toEqual(['text:Hello!', 'text:alpha beta gamma delta'])
  expect(result.grown).toContain('Hello!|alpha beta')
})
