import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect, test, type Page } from '@playwright/test'

// Independent tests (each in a fresh browser context): spread over the workers.
test.describe.configure({ mode: 'parallel' })

// The in-browser demo (demo/browser) with the built package in real Chromium. The model is the
// simulated one: a service worker of the page (sim-model.js) that speaks OpenAI's streamed Chat
// Completions format, so every reply goes through openai({ baseURL }), the Executor and the agent.
// Each test starts in a fresh browser context: a new IndexedDB, localStorage and service worker.

/** Collects page errors and console errors; each test ends expecting none. */
function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
  return errors
}

/** Opens the demo; the simulated model streams a chunk every `pace` ms (4 keeps the suite fast; the page's own default is 20). */
async function open(page: Page, pace = 4, orderStepMs?: number): Promise<void> {
  await page.goto(`/demo/browser/?pace=${pace}${orderStepMs ? `&order=${orderStepMs}` : ''}`)
  await ready(page)
}
const ready = (page: Page) => expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 15_000 })
const reload = async (page: Page) => (await page.reload(), await ready(page))

const idle = (page: Page) => expect(page.locator('body')).not.toHaveClass(/speaking/, { timeout: 10_000 })
const agentTurns = (page: Page) => page.locator('#chat > .turn.agent:not(.background)')
const lastReply = (page: Page) => agentTurns(page).last()

/** Types `text`, sends it, and waits for the whole reply. */
async function say(page: Page, text: string): Promise<void> {
  await idle(page)
  const before = await agentTurns(page).count()
  await page.getByLabel('Message').fill(text)
  await page.getByRole('button', { name: 'Send', exact: true }).click()
  await expect(agentTurns(page)).toHaveCount(before + 1)
  await idle(page)
}

/** Every bubble of the chat: its classes and text, in order (what a reload must give back). */
const transcript = (page: Page) =>
  page.locator('#chat > .turn').evaluateAll((els) => els.map((el) => `${[...el.classList].sort().join('.')}: ${(el as HTMLElement).innerText.trim()}`))

test('streams token by token, renders markdown, and Stop keeps the partial reply marked interrupted', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page, 40) // slower than the page's default pace, so Stop lands mid-story on a busy machine
  await idle(page)
  // Every text the newest reply shows while it streams, recorded in the page as it changes.
  await page.evaluate(() => {
    const seen = ((window as { seen?: Set<number> }).seen = new Set<number>())
    new MutationObserver(() => seen.add(document.querySelector('#chat > .turn.agent:last-child')?.textContent?.length ?? 0)).observe(
      document.getElementById('chat')!,
      { childList: true, subtree: true, characterData: true },
    )
  })
  await page.getByLabel('Message').fill('Tell me a story')
  await page.getByRole('button', { name: 'Send', exact: true }).click()
  const story = lastReply(page)
  await expect(story.locator('h4')).toHaveText('The context that came back') // "## …" rendered as a heading
  await expect(story.locator('strong').first()).toHaveText('context') // **context**, about 12 chunks in
  await page.getByRole('button', { name: 'Stop' }).click()
  await expect(story).toHaveClass(/interrupted/)
  await idle(page)
  // Token by token: the reply was shown at many lengths (about one per chunk of 1 to 6 characters).
  const lengths = await page.evaluate(() => (window as { seen?: Set<number> }).seen!.size)
  expect(lengths).toBeGreaterThan(10)
  await expect(page.getByRole('button', { name: 'Stop' })).toBeHidden()
  const partial = await story.locator('.md').innerText()
  expect(partial).toMatch(/^The context that came back/)
  expect(partial).not.toContain('never kept waiting') // the story's last sentence never came
  await page.waitForTimeout(300)
  expect(await story.locator('.md').innerText()).toBe(partial) // nothing arrives after Stop

  await reload(page)
  await expect(agentTurns(page).nth(1)).toHaveClass(/interrupted/)
  expect(await agentTurns(page).nth(1).locator('.md').innerText()).toBe(partial)
  await expect(page.locator('#turns li[data-turn="1"] .flag')).toHaveText('interrupted')
  expect(errors).toEqual([])
})

test('the model calls a tool: the call, its result and the answer are shown, and kept; model text is never markup', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page)
  await say(page, 'Where is order 1042?')
  const call = lastReply(page).locator('.tool[data-tool="lookup_order"]')
  await expect(call.locator('code')).toHaveText('lookup_order({"orderId":"1042"})')
  await expect(call.locator('.result')).toHaveText('→ shipped, tomorrow')
  await expect(lastReply(page).locator('table td').first()).toHaveText('Espresso beans 1 kg')
  // What the tool found is an input of the context, kept by prune at its relevance.
  await expect(page.locator('#inputs li.kept').first()).toContainText('"order":"1042"')
  await expect(page.locator('#inputs li.dropped')).not.toHaveCount(0)
  await expect(page.locator('#session')).toContainText('model calls2')
  // A model's text is rendered as text: markup in it never becomes elements.
  await say(page, 'look: <img src=x onerror="window.pwned=1"> **there** [a link](javascript:window.pwned=2)')
  await expect(lastReply(page)).toContainText('<img src=x onerror="window.pwned=1">')
  await expect(lastReply(page)).toContainText('[a link](javascript:window.pwned=2)')
  await expect(page.locator('#chat img')).toHaveCount(0)
  await expect(page.locator('#chat a')).toHaveCount(0)
  await expect(lastReply(page).locator('strong')).toHaveText(['there', 'simulated model', 'Stop']) // the markdown around it still renders

  const before = await transcript(page)
  await reload(page)
  expect(await transcript(page)).toEqual(before)
  expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined()
  expect(errors).toEqual([])
})

const orders = (page: Page) => page.locator('#chat > .turn.background[data-task="order"]')

test('a background task reports after its turn is done, and its reports come back after a reload', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page)
  await say(page, 'Buy a coffee')
  await expect(lastReply(page).locator('.tool[data-tool="place_order"] .result')).toHaveText('→ preparing')
  await expect(lastReply(page)).toContainText("I'm preparing it in the background")
  // Its events arrive after the turn's stream closed (the agent's onBackgroundEvent).
  await expect(orders(page)).toHaveText(['Grinding the beans…', 'Brewing…', 'Your order is ready!'], { timeout: 8_000 })
  await page.waitForTimeout(200) // the save after the task settled
  await expect(page.locator('#turns li')).toHaveCount(2)
  const before = await transcript(page)
  await reload(page)
  expect(await transcript(page)).toEqual(before)
  expect(errors).toEqual([])
})

test('a new message interrupts the background task, and the interruption is kept', async ({ page }) => {
  const errors = watchErrors(page)
  // An order step every 6 s: the next message is sure to come first, even on a busy machine.
  await open(page, 4, 6_000)
  await say(page, 'Buy some beans')
  await expect(lastReply(page).locator('.tool[data-tool="place_order"] .result')).toHaveText('→ preparing')
  await say(page, 'Where is order 1042?') // the chat goes on… and the order in the background stops
  await expect(orders(page)).toHaveText([/^Order #\d+ stopped: interrupted by a new message\.$/])
  await expect(orders(page)).toHaveClass([/stopped/])
  // Shown before the message that interrupted it, as it is after a reload.
  expect(await transcript(page)).toEqual([
    expect.stringMatching(/^agent.turn: /),
    'turn.user: Buy some beans',
    expect.stringMatching(/^agent.turn: .*place_order/s),
    expect.stringMatching(/^agent.background.stopped.turn: Order #\d+ stopped/),
    'turn.user: Where is order 1042?',
    expect.stringMatching(/^agent.turn: .*lookup_order/s),
  ])
  await page.waitForTimeout(300) // the save after the task settled
  await expect(page.locator('#session')).toContainText('turns3')
  const before = await transcript(page)
  await reload(page)
  expect(await transcript(page)).toEqual(before)
  expect(errors).toEqual([])
})

test('the greeting is A/B tested: the same option across reloads and sessions, and the live report counts it', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page)
  const variant = await agentTurns(page).first().getAttribute('data-variant')
  expect(['friendly', 'brief']).toContain(variant)
  await expect(page.locator('#assignment .variant')).toHaveText(variant!)
  await expect(page.locator('#session')).toContainText(`greeting${variant}`)
  const greeting = await agentTurns(page).first().innerText()
  for (let i = 0; i < 2; i++) {
    await reload(page)
    await expect(agentTurns(page).first()).toHaveText(greeting)
  }
  await page.getByRole('button', { name: 'New session' }).click()
  await expect(page.locator('.turn.user')).toHaveCount(0)
  await expect(agentTurns(page)).toHaveText([greeting])

  // The live report: this session counted under its option once the visitor wrote back.
  await say(page, 'hello')
  const mine = page.locator('#report tr.mine')
  await expect(mine.locator('td').first()).toHaveText(variant!)
  await expect(mine.locator('td').nth(2)).toHaveText('100%')
  await page.getByRole('button', { name: '+ 40 simulated visitors' }).click()
  await expect(page.locator('#report-note')).toContainText(/^4[12] sessions/)
  await expect(page.locator('#report tr')).toHaveCount(3)
  expect(errors).toEqual([])
})

test('two tabs on one session stay in step and lose no turn', async ({ context }) => {
  const a = await context.newPage()
  const errors = watchErrors(a)
  await open(a)
  const b = await context.newPage()
  await open(b)
  await say(a, 'hello from A')
  await expect(b.locator('.turn.user')).toHaveText(['hello from A'])
  await say(b, 'hello from B')
  await expect(a.locator('.turn.user')).toHaveText(['hello from A', 'hello from B'])
  // Both at once: one save loses the race and its turn runs again on the other's version.
  await Promise.all([a, b].map((p, i) => p.getByLabel('Message').fill(`at once ${i}`)))
  await Promise.all([a, b].map((p) => p.getByRole('button', { name: 'Send', exact: true }).click()))
  for (const p of [a, b]) {
    await idle(p)
    await expect(p.locator('.turn.user')).toHaveCount(4)
  }
  await reload(a)
  const users = await a.locator('.turn.user').allInnerTexts()
  expect(users.slice(0, 2)).toEqual(['hello from A', 'hello from B'])
  expect(users.slice(2).sort()).toEqual(['at once 0', 'at once 1'])
  await expect(agentTurns(a)).toHaveCount(5) // the greeting and one reply per message
  await expect(a.locator('#turns li')).toHaveCount(5)
  await expect(b.locator('.turn.user')).toHaveText(users)
  expect(errors).toEqual([])
})

test('a provider error is shown and the conversation goes on, before and after a reload', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page)
  await say(page, 'My name is Ada')
  await say(page, 'fail') // the simulated model answers 503 with OpenAI's error body
  await expect(lastReply(page)).toHaveClass(/error/)
  await expect(lastReply(page)).toContainText('The simulated model is unavailable (you asked it to fail).')
  await say(page, 'hello')
  await expect(lastReply(page)).toHaveText('Hello, Ada! Ask me about an order, or to tell a story.')
  await reload(page)
  await expect(page.locator('.turn.user')).toHaveText(['My name is Ada', 'fail', 'hello'])
  await expect(agentTurns(page).nth(2)).toHaveClass(/error/)
  await expect(lastReply(page)).toHaveText(/^Hello, Ada!/)
  expect(errors.filter((e) => !/503/.test(e))).toEqual([]) // the browser logs the failed request itself
})

test('Connect checks the endpoint, says what failed, and keeps the key in memory only', async ({ page }) => {
  const errors = watchErrors(page)
  const KEY = 'sk-e2e-secret-4f1c'
  const requests: { path: string; authorization?: string; body?: { model: string; stream?: boolean; messages: { role: string; content: string }[] } }[] = []
  // An OpenAI-compatible endpoint on another loopback port, answering CORS as a real one does.
  const server: Server = createServer(async (req, res) => {
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization, content-type' }
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end()
    let text = ''
    for await (const chunk of req) text += chunk
    requests.push({ path: req.url!, authorization: req.headers.authorization, body: text ? JSON.parse(text) : undefined })
    if (req.url === '/nocors/v1/chat/completions') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      return void res.writeHead(401, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error' } }))
    }
    const chunks = [
      { model: 'e2e-model', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello from' } }] },
      { choices: [{ index: 0, delta: { content: ' a **real** endpoint.' }, finish_reason: 'stop' }] },
      { choices: [], usage: { prompt_tokens: 12, completion_tokens: 6 } },
    ]
    const body = JSON.parse(text)
    if (!body.stream) {
      const message = { role: 'assistant', content: 'OK' }
      return void res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ model: 'e2e-model', choices: [{ index: 0, message, finish_reason: 'length' }], usage: { prompt_tokens: 9, completion_tokens: 1 } }))
    }
    res.writeHead(200, { ...cors, 'content-type': 'text/event-stream' })
    res.end(chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const closedPort = (closed.address() as AddressInfo).port
  await new Promise((resolve) => closed.close(resolve)) // nothing listens there any more

  try {
    await open(page)
    if (await page.getByRole('button', { name: 'Inspector' }).isVisible()) await page.getByRole('button', { name: 'Inspector' }).click() // a sheet on narrow screens
    const result = page.locator('#connect-result')
    const status = page.locator('#model-status')
    const connectTo = async (url: string, key: string) => {
      await page.getByLabel('Provider').selectOption('compatible')
      await page.getByLabel('Base URL').fill(url)
      await page.getByLabel('API key').fill(key)
      await page.getByLabel('Model').fill('e2e-model')
      await page.getByRole('button', { name: 'Connect', exact: true }).click()
      await expect(result).not.toHaveClass('checking')
    }
    await connectTo(`http://127.0.0.1:${closedPort}/v1`, KEY)
    await expect(result).toHaveClass('failed')
    await expect(result).toContainText(`Could not reach http://127.0.0.1:${closedPort}`)
    await expect(status).toHaveText('simulated model')
    await connectTo(`${base}/nocors/v1`, KEY)
    await expect(result).toContainText('CORS')
    await expect(status).not.toHaveClass(/real/)
    await connectTo(`${base}/v1`, 'sk-wrong')
    await expect(result).toContainText('refused the key (401)')
    await expect(result).toContainText('Incorrect API key provided.')
    await expect(status).not.toHaveClass(/real/)
    await connectTo(`${base}/v1?api_key=x`, KEY)
    await expect(result).toHaveText('Put the key in the API key field, not in the URL.')

    await connectTo(`${base}/v1`, KEY)
    await expect(result).toHaveText('Connected: e2e-model answered.')
    await expect(status).toHaveText('e2e-model')
    await expect(status).toHaveClass(/real/)
    await expect(page.getByLabel('API key')).toHaveValue('')
    const check = requests.at(-1)!
    expect(check.body!.messages).toEqual([{ role: 'user', content: 'Reply with OK.' }])

    await say(page, 'hello model')
    await expect(lastReply(page)).toHaveText('Hello from a real endpoint.')
    await expect(lastReply(page).locator('strong')).toHaveText('real')
    const chat = requests.at(-1)!
    expect(chat.authorization).toBe(`Bearer ${KEY}`)
    expect(chat.body!.stream).toBe(true)
    expect(chat.body!.messages.at(-1)).toEqual({ role: 'user', content: 'hello model' })

    await reload(page)
    await expect(page.locator('#model-status')).toHaveText('simulated model')
    // Nothing the page stored holds the key: every IndexedDB record, localStorage, the URL.
    const stored = await page.evaluate(async () => {
      let all = ''
      for (const { name } of await indexedDB.databases()) {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const req = indexedDB.open(name!)
          req.onsuccess = () => resolve(req.result)
          req.onerror = () => reject(req.error)
        })
        for (const store of db.objectStoreNames) {
          all += JSON.stringify(await new Promise((resolve) => (db.transaction(store).objectStore(store).getAll().onsuccess = (e) => resolve((e.target as IDBRequest).result))))
        }
        db.close()
      }
      return all + JSON.stringify({ ...localStorage }) + location.href
    })
    expect(stored).toContain('Hello from a ')
    expect(stored).not.toContain(KEY)
    expect(errors.filter((e) => !/Failed to load resource|CORS|ERR_CONNECTION_REFUSED|401/.test(e))).toEqual([])
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('Connect to Anthropic and Gemini: each checked with its own API, the key in a header, never in the URL', async ({ page }) => {
  const errors = watchErrors(page)
  const KEY = 'e2e-provider-key-93ab'
  const seen: { url: string; headers: Record<string, string | string[] | undefined> }[] = []
  const server: Server = createServer(async (req, res) => {
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*' }
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end()
    for await (const _ of req);
    seen.push({ url: req.url!, headers: req.headers })
    const json = (body: unknown) => res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.url === '/anthropic/v1/messages' && req.headers['x-api-key'] === KEY) {
      return json({ type: 'message', role: 'assistant', model: 'claude-e2e', content: [{ type: 'text', text: 'OK' }], stop_reason: 'max_tokens', usage: { input_tokens: 9, output_tokens: 1 } })
    }
    if (req.url === '/gemini/v1beta/models/gemini-e2e:generateContent' && req.headers['x-goog-api-key'] === KEY) {
      return json({ candidates: [{ content: { role: 'model', parts: [{ text: 'OK' }] }, finishReason: 'MAX_TOKENS' }], usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 1 } })
    }
    res.writeHead(401, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'bad key' } }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    await open(page)
    for (const [provider, url, model] of [
      ['anthropic', `${base}/anthropic`, 'claude-e2e'],
      ['gemini', `${base}/gemini/v1beta`, 'gemini-e2e'],
    ] as const) {
      await page.getByLabel('Provider').selectOption(provider)
      await page.getByLabel('Base URL').fill(url)
      await page.getByLabel('API key').fill(KEY)
      await page.getByLabel('Model').fill(model)
      await page.getByRole('button', { name: 'Connect', exact: true }).click()
      await expect(page.locator('#connect-result')).toHaveText(`Connected: ${model} answered.`)
      await expect(page.locator('#model-status')).toHaveText(model)
    }
    expect(seen.map((r) => r.url)).toEqual(['/anthropic/v1/messages', '/gemini/v1beta/models/gemini-e2e:generateContent'])
    expect(seen[0]!.headers['anthropic-dangerous-direct-browser-access']).toBe('true')
    for (const r of seen) expect(r.url).not.toContain(KEY)
    expect(errors).toEqual([])
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

test.describe('at 390 px', () => {
  test.use({ viewport: { width: 390, height: 844 } })

  test('the newest message stays in view, the placeholder fits, the header is compact', async ({ page }) => {
    const errors = watchErrors(page)
    await open(page)
    for (const text of ['Where is order 1042?', 'hello', 'Tell me a story']) await say(page, text)
    const inView = async () => {
      const box = (await lastReply(page).boundingBox())!
      const chat = (await page.locator('#chat').boundingBox())!
      return box.y + box.height <= Math.min(chat.y + chat.height, 844) + 1 && box.y + box.height > chat.y
    }
    expect(await inView()).toBe(true)
    const composer = (await page.locator('#composer').boundingBox())!
    expect(composer.y + composer.height).toBeLessThanOrEqual(844)
    const header = (await page.locator('header').boundingBox())!
    expect(header.height).toBeLessThanOrEqual(56)
    // The placeholder fits its field: measured in the field's own font.
    const fits = await page.getByLabel('Message').evaluate((input: HTMLInputElement) => {
      const style = getComputedStyle(input)
      const ctx = document.createElement('canvas').getContext('2d')!
      ctx.font = `${style.fontSize} ${style.fontFamily}`
      const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)
      return ctx.measureText(input.placeholder).width <= room
    })
    expect(fits).toBe(true)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    // The inspector is a sheet over the chat.
    await page.getByRole('button', { name: 'Inspector' }).click()
    await expect(page.locator('#inspector')).toBeInViewport()
    await page.getByRole('button', { name: 'Inspector' }).click()
    await expect(page.locator('#inspector')).toBeHidden()
    expect(errors).toEqual([])
  })
})
