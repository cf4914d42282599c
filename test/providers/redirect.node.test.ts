import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { json, KEY, loopback, sse, type Loopback, type Step } from './servers/loopback.js'
import { ask, wires } from './wires.js'

/**
 * Regression for "an API key follows a redirect to another origin": fetch strips only
 * `Authorization` on a cross-origin redirect, so Anthropic's `x-api-key` and Gemini's
 * `x-goog-api-key` went along to whatever host a 302 or 307 named. Two loopback servers on two
 * ports are two origins; the second must never see a request at all.
 */

const redirect =
  (status: number, location: string): Step =>
  (_s, res) => {
    res.writeHead(status, { location, 'content-type': 'text/plain' })
    res.end('moved')
  }

const SECRET_HEADER = 'gateway-token-Hq3Zr8Lm2Vx6'

describe.each(wires)('$name: redirects', (w) => {
  let a: Loopback
  let b: Loopback
  beforeAll(async () => {
    a = await w.serve()
    b = await loopback(() => [])
  })
  afterAll(async () => {
    await a.close()
    await b.close()
  })
  const fresh = () => {
    for (const s of [a, b]) {
      s.seen.length = 0
      s.problems.length = 0
    }
  }

  for (const status of [301, 302, 303, 307, 308])
    for (const streamed of [false, true])
      it(`a ${status} to another origin is refused (${streamed ? 'streamed' : 'whole'}): no key header, no request at all reaches it`, async () => {
        fresh()
        a.queue(redirect(status, `${b.url}${w.path(streamed)}?from=redirect`))
        b.queue(json({}), json({}))
        const provider = w.make(a.url, { headers: { 'x-gateway-auth': SECRET_HEADER } })
        const err = await provider.chat(ask(streamed ? { onToken: () => {} } : {})).catch((e) => e)
        expect(err).toBeInstanceOf(ProviderError)
        expect(err).toMatchObject({ status, retryable: false, provider: w.name })
        expect(err.message).toBe(`${w.name}: HTTP ${status}: redirect to ${b.url} refused: the API key is only sent to ${a.url}`)
        expect(a.seen).toHaveLength(1)
        expect(a.seen[0]!.headers[w.keyHeader]).toContain(KEY)
        expect(b.seen).toHaveLength(0)
      })

  it('other cross-origin targets are refused too: same host on another scheme, a name for the same address, a relative URL to another host', async () => {
    const port = new URL(b.url).port
    for (const location of [`https://127.0.0.1:${new URL(a.url).port}/v1`, `http://localhost:${port}/`, `//localhost:${port}/x`, `http://[::1]:${port}/`]) {
      fresh()
      a.queue(redirect(307, location))
      const err = await w.make(a.url).chat(ask()).catch((e) => e)
      expect(err, location).toBeInstanceOf(ProviderError)
      expect(err.message).toMatch(/redirect to .* refused/)
      expect(b.seen).toHaveLength(0)
    }
  })

  it('a Location that is not a URL is refused as a redirect, not a TypeError', async () => {
    fresh()
    a.queue(redirect(302, 'http://[not a host'))
    const err = await w.make(a.url).chat(ask()).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ status: 302, retryable: false })
    expect(err.message).toMatch(/HTTP 302: redirect refused/)
  })

  for (const status of [307, 308])
    it(`a ${status} within the origin is followed with the same method, body and key`, async () => {
      fresh()
      a.queue(redirect(status, w.path(true)), sse(w.stream(['re', 'directed'])))
      const tokens: string[] = []
      const r = await w.make(a.url).chat(ask({ onToken: (t) => tokens.push(t) }))
      expect(r.text).toBe('redirected')
      expect(tokens).toEqual(['re', 'directed'])
      expect(a.problems).toEqual([])
      expect(a.seen).toHaveLength(2)
      expect(a.seen[1]!.method).toBe('POST')
      expect(a.seen[1]!.body).toEqual(a.seen[0]!.body)
      expect(a.seen[1]!.headers[w.keyHeader]).toContain(KEY)
    })

  it('a redirect loop within the origin stops after 5 hops with a ProviderError', async () => {
    fresh()
    for (let i = 0; i < 6; i++) a.queue(redirect(307, w.path(false)))
    const err = await w.make(a.url).chat(ask()).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ status: 307, retryable: false, message: `${w.name}: HTTP 307: more than 5 redirects` })
    expect(a.seen).toHaveLength(6)
  })
})

describe('redirects within the origin after a POST, as fetch does them', () => {
  let s: Loopback
  beforeAll(async () => {
    s = await loopback(() => [])
  })
  afterAll(() => s.close())

  for (const [status, method] of [
    [301, 'GET'],
    [302, 'GET'],
    [303, 'GET'],
  ] as const)
    it(`${status} continues as a ${method} without body`, async () => {
      s.seen.length = 0
      s.queue(redirect(status, '/elsewhere'), json({ error: { message: 'method not allowed' } }, 405))
      const err = await wires[0]!.make(s.url).chat(ask()).catch((e) => e)
      expect(err).toMatchObject({ status: 405 })
      expect(s.seen.map((r) => [r.method, r.path])).toEqual([
        ['POST', '/v1/chat/completions'],
        [method, '/elsewhere'],
      ])
      expect(s.seen[1]!.body).toBe('')
    })
})
