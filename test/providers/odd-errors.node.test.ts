import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { json, loopback, sse, type Loopback } from './servers/loopback.js'
import { ask, wires } from './wires.js'

/**
 * Regression for "odd error bodies throw a bare TypeError": an error body whose `type` or `code` was
 * a number or an object made the key scrubber call `replaceAll` on it, so the caller got a
 * `TypeError` with no status and no `retryable`, and fallbacks did not run. Every field of an error
 * body is now type-checked: strings are used, numbers shown as digits, anything else skipped.
 */

const ODD: unknown[] = [42, 0, -1.5, { nested: 'x' }, [1, 2], null, true, false, '', []]

const bodies: [string, unknown][] = [
  ...ODD.flatMap((v): [string, unknown][] => [
    [`type ${JSON.stringify(v)}`, { error: { message: 'm', type: v } }],
    [`code ${JSON.stringify(v)}`, { error: { message: 'm', code: v } }],
    [`status ${JSON.stringify(v)}`, { error: { message: 'm', status: v } }],
    [`message ${JSON.stringify(v)}`, { error: { message: v, type: 'x' } }],
    [`error ${JSON.stringify(v)}`, { error: v }],
    [`body ${JSON.stringify(v)}`, v],
  ]),
  ['an array of errors with odd fields', [{ error: { code: 429, message: { a: 1 }, status: ['x'] } }]],
  ['everything odd at once', { error: { message: [1], type: {}, code: 7, status: null } }],
]

describe.each(wires)('$name: odd error bodies stay ProviderErrors', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await loopback(() => [])
  })
  afterAll(() => server.close())

  for (const [what, body] of bodies)
    for (const status of [400, 503])
      it(`HTTP ${status} with ${what}`, async () => {
        server.queue(json(body, status))
        const err = await w
          .make(server.url, { maxRetries: 0 })
          .chat(ask())
          .catch((e) => e)
        expect(err).toBeInstanceOf(ProviderError)
        expect(err).toMatchObject({ status, retryable: status === 503, provider: w.name })
        expect(err.message).toMatch(new RegExp(`^${w.name}: HTTP ${status}: `))
        expect(err.providerCode === undefined || typeof err.providerCode === 'string').toBe(true)
        expect(() => JSON.stringify(err)).not.toThrow()
      })

  it('numbers are shown as digits; strings win over numbers for the code', async () => {
    server.queue(json({ error: { message: 12345, code: 429, status: 'RESOURCE_EXHAUSTED' } }, 400))
    const err = await w.make(server.url, { maxRetries: 0 }).chat(ask()).catch((e) => e)
    expect(err).toMatchObject({ message: `${w.name}: HTTP 400: 12345`, providerCode: 'RESOURCE_EXHAUSTED' })
  })

  it('an odd error inside a 200 stream is a retryable ProviderError too', async () => {
    for (const error of [{ type: 7, message: null }, 42, ['x'], { message: { deep: true } }]) {
      server.queue(sse([...w.partial(['so far']), `data: ${JSON.stringify({ error })}\n\n`]))
      const err = await w.make(server.url, { maxRetries: 0 }).chat(ask({ onToken: () => {} })).catch((e) => e)
      expect(err).toBeInstanceOf(ProviderError)
      expect(err).toMatchObject({ retryable: true, status: undefined })
      expect(err.partial.text).toBe('so far')
    }
  })

  it('an error body of 10 MB is read to 64 KiB only, and the message cut to 300 characters', async () => {
    server.queue((_s, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      const chunk = 'e'.repeat(1 << 16)
      let sent = 0
      const more = () => {
        while (sent < 160 && res.write(chunk)) sent++
        if (sent < 160) res.once('drain', more)
        else res.end()
      }
      res.on('close', () => res.removeAllListeners('drain'))
      more()
    })
    const err = await w.make(server.url, { maxRetries: 0 }).chat(ask()).catch((e) => e)
    expect(err).toMatchObject({ status: 500, retryable: true })
    expect(err.message.length).toBeLessThan(400)
  })
})
