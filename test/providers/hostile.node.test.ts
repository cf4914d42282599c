import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ContextError } from '../../src/errors.js'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { data, KEY, loopback, type Loopback, type Step } from './servers/loopback.js'
import { ask, expectNoPiece, expectPrototypesUnchanged, prototypes, wires, type Wire } from './wires.js'

/**
 * Keep attacking: random hostile streams, over real loopback HTTP, into each provider's reader.
 * Frames mix the provider's own events with odd indexes (negative, huge, fractional, strings,
 * "__proto__"), prototype keys in JSON, random JSON values, lines that are not SSE, bytes that are
 * not UTF-8 and the key echoed back. Whatever arrives: no prototype changes, only typed errors
 * (`ContextError`s), no 8 characters of the key in any error, and onToken only ever gets strings.
 */

const enc = new TextEncoder()
const oddIndex = fc.oneof(
  fc.constantFrom<unknown>('__proto__', 'constructor', 'prototype', 'length', '0', -1, 0.5, 1023, 1024, 2 ** 31, 1e21, null, true, {}, []),
  fc.integer({ min: -5, max: 2000 }),
  fc.double(),
  fc.string({ maxLength: 6 }),
)
const oddValue = fc.oneof(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), fc.constant(KEY))
const protoJson = fc.constantFrom(
  '{"__proto__":{"polluted":true},"choices":[{"delta":{"content":"x"}}]}',
  '{"constructor":{"prototype":{"polluted":true}},"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}',
  '{"\\u005f_proto__":{"polluted":true},"candidates":[{"content":{"parts":[{"text":"x"}]}}]}',
  '{"choices":{"__proto__":[{"delta":{"tool_calls":[{"index":"__proto__","id":"p","function":{"name":"n"}}]}}]}}',
  '{"type":"content_block_start","index":"__proto__","content_block":{"type":"tool_use","id":"p","name":"n"}}',
  '{"candidates":[{"content":{"parts":[{"functionCall":{"name":"__proto__","args":{"__proto__":{"polluted":1}}}}]}}]}',
)

/** One frame (bytes) of a hostile stream for `w`. */
const frame = (w: Wire) =>
  fc.oneof(
    fc.constantFrom(...w.partial(['ok ']), ...w.end()).map((f) => enc.encode(f)),
    fc.tuple(oddIndex, oddValue, oddValue, oddValue).map(([i, id, name, args]) => enc.encode(w.tool(i, id, name, args).join(''))),
    fc.jsonValue({ maxDepth: 3 }).map((v) => enc.encode(data(v))),
    protoJson.map((j) => enc.encode(`data: ${j}\n\n`)),
    fc.string({ maxLength: 40 }).map((s) => enc.encode(`${s}\n`)),
    fc.uint8Array({ minLength: 1, maxLength: 24 }),
    fc.constantFrom(`data: {"error":{"message":"bad key ${KEY}","code":"${KEY}"}}\n\n`, `data: ${KEY.slice(0, 12)}${KEY}\n\n`, w.streamError(`echo ${KEY}`)).map((s) => enc.encode(s)),
  )

const serveBytes =
  (frames: Uint8Array[], drop: boolean): Step =>
  async (_s, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.flushHeaders()
    for (const f of frames) await new Promise<void>((resolve) => res.write(f, () => resolve()))
    drop ? res.socket?.destroy() : res.end()
  }

describe.each(wires)('$name: hostile streams', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await loopback(() => [])
  })
  afterAll(() => server.close())

  it('property: any mix of frames gives a reply or a typed error; no prototype changes; no key in errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(frame(w), { maxLength: 12 }), fc.boolean(), async (frames, drop) => {
        const before = prototypes()
        server.queue(serveBytes(frames, drop))
        const tokens: unknown[] = []
        const outcome = await w
          .make(server.url, { maxRetries: 0 })
          .chat(ask({ onToken: (t) => void tokens.push(t) }))
          .catch((e) => e)
        expectPrototypesUnchanged(before)
        for (const t of tokens) expect(typeof t).toBe('string')
        if (outcome instanceof Error) {
          expect(outcome).toBeInstanceOf(ContextError)
          expect(outcome).toBeInstanceOf(ProviderError)
          expectNoPiece(outcome, KEY)
        } else {
          expect(typeof outcome.text).toBe('string')
          for (const c of outcome.toolCalls) {
            expect(typeof c.id).toBe('string')
            expect(typeof c.name).toBe('string')
          }
        }
      }),
      { numRuns: 200 },
    )
  })

  it('property: any JSON as a whole (non-streamed) answer gives a reply or a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 4 }), protoJson.map((j) => JSON.parse(j))), async (body) => {
        const before = prototypes()
        server.queue((_s, res) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(body) ?? 'null')
        })
        const outcome = await w.make(server.url, { maxRetries: 0 }).chat(ask()).catch((e) => e)
        expectPrototypesUnchanged(before)
        if (outcome instanceof Error) expect(outcome).toBeInstanceOf(ProviderError)
        else expect(typeof outcome.text).toBe('string')
      }),
      { numRuns: 200 },
    )
  })

  it('a single 17 MB line is refused with a ProviderError, not buffered without end', async () => {
    const line = 'data: ' + 'x'.repeat(17 << 20)
    server.queue(serveBytes([enc.encode(w.partial([]).join('')), enc.encode(line)], false))
    const err = await w.make(server.url, { maxRetries: 0 }).chat(ask({ onToken: () => {} })).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ retryable: false, message: `${w.name}: an event longer than 16777216 characters` })
  })

  it('a 4 MB text event is read whole', async () => {
    const big = 'y'.repeat(4 << 20)
    server.queue(serveBytes([...w.partial([big]), ...w.end()].map((f) => enc.encode(f)), false))
    const r = await w.make(server.url, { maxRetries: 0 }).chat(ask({ onToken: () => {} }))
    expect(r.text.length).toBe(4 << 20)
  })
})
