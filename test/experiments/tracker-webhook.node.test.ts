import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { createExperiments } from '../../src/experiments/index.js'
import { checkWebhook, deliver, WebhookError } from '../../src/experiments/webhook.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { session, slow } from './tracker-helpers.js'

/** A real HTTP server on 127.0.0.1 answering each POST with the next status of `statuses` (the last one repeats). */
async function hookServer(statuses: number[], delay = 0) {
  const seen: { method: string; headers: IncomingMessage['headers']; body: string }[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      seen.push({ method: req.method!, headers: req.headers, body })
      const status = statuses[Math.min(seen.length - 1, statuses.length - 1)]!
      setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}: token=SECRET-IN-BODY`), delay)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/SECRET-IN-PATH?key=SECRET-IN-QUERY`
  servers.push(server)
  return { url, seen }
}
const servers: Server[] = []
const stop = (s: Server) => new Promise((r) => (s.close(r), s.closeAllConnections()))
afterEach(async () => {
  await Promise.all(servers.splice(0).map(stop))
})

const headers = { authorization: 'Bearer SECRET-HEADER' }
const body = { test: 'greeting', conclusion: { value: 'b' }, notify: ['ops@example.com'], report: { options: [] } }
const fast = { attempts: 4, backoff: 5, timeout: 2000 }

describe('webhook delivery over real HTTP on loopback', () => {
  it('POSTs the JSON body once with the headers when the server answers 200', async () => {
    const { url, seen } = await hookServer([200])
    await deliver(checkWebhook({ url, headers, ...fast }), body)
    expect(seen).toHaveLength(1)
    expect(seen[0]!.method).toBe('POST')
    expect(seen[0]!.headers.authorization).toBe('Bearer SECRET-HEADER')
    expect(seen[0]!.headers['content-type']).toBe('application/json')
    expect(JSON.parse(seen[0]!.body)).toEqual(body)
  })

  it('tries again after a 500 and a 503, then stops at the 200', async () => {
    const { url, seen } = await hookServer([500, 503, 200])
    await deliver(checkWebhook({ url, headers, ...fast }), body)
    expect(seen).toHaveLength(3)
    expect(new Set(seen.map((s) => s.body)).size).toBe(1)
  })

  it('gives up after its tries with a WebhookError that names neither the URL, the headers nor the body', async () => {
    const { url, seen } = await hookServer([500])
    const error = await deliver(checkWebhook({ url, headers, ...fast }), body).catch((e: unknown) => e)
    expect(seen).toHaveLength(4)
    expect(error).toBeInstanceOf(WebhookError)
    expect((error as WebhookError).code).toBe('delivery')
    expect((error as Error).message).toBe('webhook: not delivered after 4 tries (last: HTTP 500)')
    expect(JSON.stringify({ ...(error as object), m: (error as Error).message, s: (error as Error).stack })).not.toMatch(/SECRET/)
  })

  it('does not retry a 400 or 404 (the server will say it again), retries a 429', async () => {
    const a = await hookServer([404])
    await expect(deliver(checkWebhook({ url: a.url, ...fast }), body)).rejects.toThrow('after 1 try (last: HTTP 404)')
    expect(a.seen).toHaveLength(1)
    const b = await hookServer([429, 200])
    await deliver(checkWebhook({ url: b.url, ...fast }), body)
    expect(b.seen).toHaveLength(2)
  })

  it('a refused connection and a slow server count as failed tries', async () => {
    const { url } = await hookServer([200])
    await stop(servers.pop()!)
    await expect(deliver(checkWebhook({ url, attempts: 2, backoff: 1 }), body)).rejects.toThrow('(last: network error)')
    const slow = await hookServer([200], 300)
    await expect(deliver(checkWebhook({ url: slow.url, attempts: 2, backoff: 1, timeout: 50 }), body)).rejects.toThrow('(last: timed out)')
  })

  it('bad options are ValidationErrors naming the field, never quoting the URL', () => {
    const bad: [unknown, string][] = [
      [{ url: 'ftp://x/SECRET' }, 'webhook.url'],
      [{ url: 'not a url SECRET' }, 'webhook.url'],
      [{ url: 'https://x', headers: { a: 1 } }, 'webhook.headers'],
      [{ url: 'https://x', headers: { 'bad name': 'SECRET' } }, 'webhook.headers'],
      [{ url: 'https://x', attempts: 0 }, 'webhook.attempts'],
      [{ url: 'https://x', backoff: -1 }, 'webhook.backoff'],
      [null, 'webhook'],
    ]
    for (const [hook, path] of bad) {
      let error: unknown
      try {
        checkWebhook(hook as never)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).path).toBe(path)
      expect((error as Error).message).not.toMatch(/SECRET/)
    }
  })
})

describe('a conclusion through createExperiments', () => {
  it('8 evaluators at once: one conclusion, onConclude once, the webhook POSTed once (after a 500, retried), never holding evaluate up', async () => {
    const { url, seen } = await hookServer([500, 200], 100)
    const store = slow(memoryStorage())
    const test = { name: 'greeting', options: { formal: 1, casual: 1 }, stop: { maxIterations: 10, notify: ['ops@example.com'] } }
    const seed = createExperiments(store)
    for (let i = 0; i < 10; i++) await session(seed, `s-${i}`, test, (v) => v === 'casual')
    const concluded: unknown[] = []
    const errors: unknown[] = []
    const trackers = Array.from({ length: 8 }, () =>
      createExperiments(store, { onConclude: (c) => concluded.push(c), onError: (e) => errors.push(e), webhook: { url, headers, backoff: 5 } }),
    )
    const answers = await Promise.all(trackers.map((t) => t.evaluate('greeting')))
    // evaluate resolved while the server was still holding its first answer (100 ms).
    expect(seen.length).toBeLessThanOrEqual(1)
    await Promise.all(trackers.map((t) => t.flush()))
    expect(errors).toEqual([])
    expect(concluded).toHaveLength(1)
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1)
    expect(seen).toHaveLength(2)
    expect(seen[1]!.body).toBe(seen[0]!.body)
    expect(seen[1]!.headers.authorization).toBe('Bearer SECRET-HEADER')
    const posted = JSON.parse(seen[1]!.body)
    expect(Object.keys(posted).sort()).toEqual(['conclusion', 'notify', 'report', 'test'])
    expect(posted.test).toBe('greeting')
    expect(posted.notify).toEqual(['ops@example.com'])
    expect(posted.conclusion).toEqual(concluded[0])
    expect(posted.conclusion).toMatchObject({ test: 'greeting', reason: 'maxIterations', iterations: 10 })
    expect(posted.report.test).toBe('greeting')
    expect(posted.report.options.map((o: { value: string }) => o.value)).toEqual(['formal', 'casual'])
    // The report is the one report(test) gives at that moment (nothing recorded since).
    expect(posted.report).toEqual(JSON.parse(JSON.stringify(await trackers[0]!.report('greeting'))))
  })

  it('a webhook that never gets through goes to onError once, without its URL or headers; evaluate still answers', async () => {
    const { url, seen } = await hookServer([503])
    const store = memoryStorage()
    const errors: unknown[] = []
    const x = createExperiments(store, { onError: (e) => errors.push(e), webhook: { url, headers, attempts: 3, backoff: 1 } })
    await session(x, 's', { name: 't', options: { a: 1 }, stop: { maxIterations: 1 } })
    expect(await x.evaluate('t')).toMatchObject({ concluded: true })
    await x.flush()
    expect(seen).toHaveLength(3)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(WebhookError)
    expect(String((errors[0] as Error).message) + (errors[0] as Error).stack).not.toMatch(/SECRET|127\.0\.0\.1/)
  })
})
