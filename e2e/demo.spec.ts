import { expect, test, type Page } from '@playwright/test'

// The in-browser agent demo (demo/browser) with the built package in real Chromium: a conversation
// through createAgent, a background task, barge-in, the session back from IndexedDB after a reload,
// the optional real-model path against a fake OpenAI-compatible endpoint, and no console errors.

/** Collects page errors and console errors; each test ends expecting none. */
function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
  return errors
}

async function open(page: Page): Promise<void> {
  await page.goto('/demo/browser/')
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
}

const idle = (page: Page) => expect(page.locator('body')).not.toHaveClass(/speaking/)
const agentTurns = (page: Page) => page.locator('.turn.agent:not(.background)')

/** Sends `text` once the agent is quiet (typing while it speaks would interrupt it) and waits for the reply. */
async function say(page: Page, text: string): Promise<void> {
  await idle(page)
  const before = await agentTurns(page).count()
  await page.getByLabel('Message').fill(text)
  await page.getByRole('button', { name: 'Send', exact: true }).click()
  await expect(agentTurns(page)).toHaveCount(before + 1)
  await idle(page)
}

const lastReply = (page: Page) => agentTurns(page).last()
const storedContext = async (page: Page) => JSON.parse((await page.locator('#state').textContent()) ?? '{}')

test('a conversation with a background task, back from IndexedDB after a reload', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page)
  await expect(agentTurns(page).first()).toHaveText(/small agent living in this tab/)

  await say(page, 'my name is Ada')
  await expect(lastReply(page)).toHaveText('Nice to meet you, Ada!')
  await say(page, 'place order')
  await expect(lastReply(page)).toHaveText('Processing your order in the background.')
  await say(page, 'check status')
  await expect(lastReply(page)).toHaveText('Your order status is: pending')
  // The task finishes about a second later; its event arrives after that turn's stream closed.
  await expect(page.locator('.turn.background[data-task="order_processing"]')).toHaveText('Your order is ready!')
  await say(page, 'check status')
  await expect(lastReply(page)).toHaveText('Your order status is: completed')

  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  await expect(page.locator('.turn.user')).toHaveText(['my name is Ada', 'place order', 'check status', 'check status'])
  await expect(agentTurns(page)).toHaveText([
    /small agent/,
    'Nice to meet you, Ada!',
    'Processing your order in the background.',
    'Your order status is: pending',
    'Your order status is: completed',
  ])
  const ctx = await storedContext(page)
  expect(ctx.data).toEqual({ user_name: 'Ada', order_status: 'completed' })
  expect(ctx.turns.map((t: { id: number }) => t.id)).toEqual([0, 1, 2, 3, 4])
  expect(ctx.turns[0].label).toEqual({ flow: 'agent', node: 'start' })

  await page.getByRole('button', { name: 'New session' }).click()
  await expect(agentTurns(page)).toHaveCount(1)
  await expect(page.locator('.turn.user')).toHaveCount(0)
  await expect.poll(async () => (await storedContext(page)).currentTurnId).toBe(0)
  expect(errors).toEqual([])
})

test('typing while the agent speaks interrupts it, and the interruption is kept', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page)
  await idle(page)
  await page.getByLabel('Message').fill('tell me a story')
  await page.getByRole('button', { name: 'Send', exact: true }).click()
  const story = lastReply(page)
  await expect(story.locator('p').first()).toHaveText(/^Once upon a time/)
  await page.getByLabel('Message').pressSequentially('h') // the user starts talking over it
  await expect(story).toHaveClass(/interrupted/)
  await idle(page)
  const told = await story.locator('p').count()
  expect(told).toBeLessThan(6)
  await page.getByLabel('Message').pressSequentially('ello')
  await page.getByRole('button', { name: 'Send', exact: true }).click()
  await expect(lastReply(page)).toHaveText(/^You said “hello”/)

  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  await expect(agentTurns(page).nth(1)).toHaveClass(/interrupted/)
  await expect(agentTurns(page).nth(1).locator('p')).toHaveCount(told)
  const ctx = await storedContext(page)
  expect(ctx.turns[1].response.interrupted).toBe(true)
  expect(ctx.turns[2].response.interrupted).toBeUndefined()
  expect(errors).toEqual([])
})

test('uses a real model when one is connected, keeping its key in memory only', async ({ page }) => {
  const errors = watchErrors(page)
  await open(page)
  // A fake OpenAI-compatible endpoint on the page's own origin: no network, no CORS.
  const requests: { authorization?: string; body: { model: string; stream: boolean; messages: { role: string; content: string }[] } }[] = []
  await page.route('**/fake-llm/v1/chat/completions', async (route) => {
    requests.push({ authorization: route.request().headers().authorization, body: route.request().postDataJSON() })
    const chunks = [
      { model: 'demo-model', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello from' } }] },
      { choices: [{ index: 0, delta: { content: ' the model. Nice' } }] },
      { choices: [{ index: 0, delta: { content: ' to meet you.' }, finish_reason: 'stop' }] },
      { choices: [], usage: { prompt_tokens: 12, completion_tokens: 9 } },
    ]
    const body = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n'
    await route.fulfill({ status: 200, headers: { 'content-type': 'text/event-stream' }, body })
  })
  await page.getByText('Use a real model').click()
  await page.getByLabel('Base URL').fill(new URL('/fake-llm/v1', page.url()).href)
  await page.getByLabel('API key').fill('sk-demo-secret-key')
  await page.getByLabel('Model').fill('demo-model')
  await page.getByRole('button', { name: 'Connect', exact: true }).click()
  await expect(page.locator('#model-status')).toHaveText('demo-model')
  await expect(page.getByLabel('API key')).toHaveValue('')

  await say(page, 'hello model')
  await expect(lastReply(page).locator('p')).toHaveText(['Hello from the model.', 'Nice to meet you.'])
  expect(requests).toHaveLength(1)
  expect(requests[0]!.authorization).toBe('Bearer sk-demo-secret-key')
  expect(requests[0]!.body.model).toBe('demo-model')
  expect(requests[0]!.body.stream).toBe(true)
  expect(requests[0]!.body.messages.map((m) => m.role)).toEqual(['system', 'user'])
  expect(requests[0]!.body.messages[1]!.content).toBe('hello model')

  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  await expect(page.locator('#model-status')).toHaveText('off')
  const ctx = await storedContext(page)
  expect(ctx.messages.at(-1)).toMatchObject({ role: 'assistant', content: 'Hello from the model. Nice to meet you.' })
  // Nothing the page stored holds the key: every IndexedDB record and localStorage.
  const stored = await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('agentctx-demo')
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    })
    const all = await new Promise<unknown[]>((resolve) => {
      const req = db.transaction('kv').objectStore('kv').getAll()
      req.onsuccess = () => resolve(req.result)
    })
    db.close()
    return JSON.stringify(all) + JSON.stringify({ ...localStorage })
  })
  expect(stored).toContain('Hello from the model.')
  expect(stored).not.toContain('sk-demo-secret-key')
  expect(errors).toEqual([])
})
