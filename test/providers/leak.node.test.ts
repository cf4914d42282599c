import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ContextError } from '../../src/errors.js'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { scrubber } from '../../src/providers/kernel/scrub.js'
import { json, loopback, sse, type Loopback, type Step } from './servers/loopback.js'
import { ask, errorText, expectNoPiece, pieces, raw, wires } from './wires.js'

/**
 * Regression for "a key that straddles the cut leaks its prefix": a server's error text was cut to
 * 300 (or 80) characters before the key was scrubbed, so a key echoed across the cut left its first
 * characters in the message, the stack, `JSON.stringify(error)` and, through the agent handler, the
 * HTTP client. Now the whole text is scrubbed first, and the error is built from scrubbed text. The
 * servers here echo a key at every offset around each cut; no 8 characters of it may remain anywhere.
 */

// Keys as providers issue them (sk-…, sk-ant-…, AIza…) and as gateways do (base64 with + / =).
const keyArb = fc.oneof(
  fc.stringMatching(/^sk-[A-Za-z0-9_-]{20,60}$/),
  fc.stringMatching(/^sk-ant-api03-[A-Za-z0-9_-]{20,90}$/),
  fc.stringMatching(/^AIza[A-Za-z0-9_-]{35}$/),
  fc.stringMatching(/^[A-Za-z0-9+/]{16,40}={0,2}$/),
)

// The cuts: 300 (a body that is not JSON), 1,000 (a JSON message), 80 (a code; a stream line that is not JSON), 200 (a request id).
const around = (cut: number) => fc.integer({ min: Math.max(0, cut - 120), max: cut + 10 })

describe.each(wires)('$name: no 8 characters of a key in any error', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await loopback(() => [])
  })
  afterAll(() => server.close())

  async function attack(key: string, step: Step, streamed = false, headers?: Record<string, string>) {
    server.queue(step)
    const err = await w
      .make(server.url, { apiKey: key, maxRetries: 0, ...(headers && { headers }) })
      .chat(ask(streamed ? { onToken: () => {} } : {}))
      .catch((e) => e)
    expect(err).toBeInstanceOf(ContextError)
    return err
  }

  it('property: a key echoed in a body that is not JSON, at any offset around the 300-character cut', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, around(300), fc.constantFrom(400, 401, 500), async (key, at, status) => {
        const err = await attack(key, raw(status, `${'x'.repeat(at)}${key} and more text after it`, { 'content-type': 'text/plain' }))
        expect(err).toMatchObject({ status, retryable: status === 500 })
        expectNoPiece(err, key)
      }),
      { numRuns: 60 },
    )
  })

  it('property: a key in a JSON error message around the 1,000-character cut, in its code around 80, in a request id around 200', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, around(1000), around(80), around(200), async (key, m, c, r) => {
        const body = { error: { message: `${'m'.repeat(m)}${key}!`, type: `${'t'.repeat(c)}${key}`, code: `${'c'.repeat(c)}${key}` } }
        const err = await attack(key, json(body, 401, { 'x-request-id': `${'r'.repeat(r)}${key}`, 'request-id': `${'r'.repeat(r)}${key}` }))
        expect(err).toBeInstanceOf(ProviderError)
        expect(err.status).toBe(401)
        expectNoPiece(err, key)
      }),
      { numRuns: 60 },
    )
  })

  it('property: a key in a stream line that is not JSON around the 80-character cut, after text (the partial is scrubbed too)', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, around(80), async (key, at) => {
        const err = await attack(key, sse([...w.partial([`echo ${key} `]), `data: {${'j'.repeat(at)}${key}\n\n`]), true)
        expect(err).toBeInstanceOf(ProviderError)
        expect(err.message).toContain('invalid JSON')
        expect(err.partial.text).toContain('echo ***')
        expectNoPiece(err, key)
      }),
      { numRuns: 60 },
    )
  })

  it('a key in a stream error event, URL-encoded, JSON-escaped, or cut in half by the server', async () => {
    const key = 'k3y+with/slash=and"quote-0123456789abcdef'
    for (const echo of [key, encodeURIComponent(key), JSON.stringify(key).slice(1, -1), key.slice(0, 12) + '…', '…' + key.slice(-9)]) {
      const err = await attack(key, sse([...w.partial(['text ']), w.streamError(`bad key: ${echo}`)]), true)
      expect(err).toMatchObject({ retryable: true })
      expectNoPiece(err, key)
      expectNoPiece(err, encodeURIComponent(key))
    }
  })

  it('an abort mid-stream keeps a scrubbed partial (the server echoed the key into the text)', async () => {
    const key = 'sk-abort-check-Qw3Er5Ty7Ui9Op1A'
    server.queue(sse(w.partial([`one ${key} `, 'two']), 'hold'))
    const controller = new AbortController()
    let n = 0
    const err = await w
      .make(server.url, { apiKey: key })
      .chat(ask({ signal: controller.signal, onToken: () => ++n === 2 && controller.abort() }))
      .catch((e) => e)
    expect(err).toMatchObject({ name: 'AbortedError', code: 'aborted' })
    expect(err.partial.text).toBe('one *** two')
    expectNoPiece(err, key)
  })

  it('a ProviderError thrown by onToken itself passes through as it is, not rebuilt or retried', async () => {
    const mine = new ProviderError('mine: from my callback', { provider: 'mine', retryable: true })
    server.queue(sse(w.partial(['x']), 'hold'))
    const err = await w
      .make(server.url)
      .chat(
        ask({
          onToken: () => {
            throw mine
          },
        }),
      )
      .catch((e) => e)
    expect(err).toBe(mine)
    expect(err.partial).toBeUndefined()
  })

  it('the values of the caller\'s own headers (a gateway token) are scrubbed like the key', async () => {
    const token = 'gw-secret-token-4f8a9b2c7d1e'
    const err = await attack('sk-the-api-key-000000000000', raw(403, `forbidden: header cf-aig-authorization=Bearer ${token} rejected`), false, {
      'cf-aig-authorization': `Bearer ${token}`,
    })
    expect(err.status).toBe(403)
    expectNoPiece(err, token)
    // Short header values are no credentials: an error saying "true" keeps it.
    const short = await attack('sk-the-api-key-000000000000', raw(400, 'flag must be true'), false, { 'x-flag': 'true' })
    expect(short.message).toContain('flag must be true')
  })

  it('the stack is clean: built from scrubbed text, not scrubbed afterwards', async () => {
    const key = 'sk-stack-check-Lm4Np7Qr2St5Uv8W'
    const err = await attack(key, raw(400, `${'s'.repeat(290)}${key}`))
    expect(err.stack).toMatch(/^ProviderError: /)
    expect(err.stack.split('\n')[0]).toBe(`ProviderError: ${err.message}`)
    expectNoPiece(err, key)
  })

  it('a network error whose cause mentions the key (a custom fetch) keeps a scrubbed cause', async () => {
    const key = 'sk-cause-check-Aa1Bb2Cc3Dd4Ee5'
    const err = await w
      .make(server.url, {
        apiKey: key,
        maxRetries: 0,
        fetch: async (_u: string, init: RequestInit) => {
          throw new TypeError(`proxy refused ${JSON.stringify(init.headers)}`, { cause: new Error(`inner ${key}`) })
        },
      })
      .chat(ask())
      .catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err.retryable).toBe(true)
    expect(err.cause).toBeInstanceOf(Error)
    expectNoPiece(err, key)
  })
})

describe('scrubber', () => {
  it('property: after scrubbing, no 8-character piece of any secret is left, whatever surrounds it', () => {
    fc.assert(
      fc.property(keyArb, fc.array(fc.tuple(fc.string({ maxLength: 30 }), fc.nat(), fc.nat()), { maxLength: 5 }), (key, parts) => {
        // Text made of random strings and random slices of the key, glued together.
        const text = parts.map(([s, a, b]) => s + key.slice(Math.min(a, b) % key.length, Math.max(a, b) % (key.length + 1))).join('') + key
        const out = scrubber([key])(text)
        for (const p of pieces(key)) expect(out.includes(p)).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })

  it('leaves text without secrets alone, and short secrets are replaced where whole', () => {
    expect(scrubber(['sk-abcdefghij'])('bad key sk-abcdefg… (see docs)')).toBe('bad key ***… (see docs)')
    expect(scrubber(['sk-abcdefghij'])('nothing to see')).toBe('nothing to see')
    expect(scrubber(['ollama'])('key ollama refused')).toBe('key *** refused')
    expect(scrubber([undefined, '', 42])('as is')).toBe('as is')
  })

  it('errorText sees the cause chain (the helper the assertions rely on)', () => {
    expect(errorText(new Error('a', { cause: new Error('deep-cause') }))).toContain('deep-cause')
  })
})
