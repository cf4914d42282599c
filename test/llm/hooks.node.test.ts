import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Context, Executor, Router } from '../../src/index.js'
import type { ModelSpec } from '../../src/llm/models.js'
import { loopback, sse, type Loopback, type Step } from '../providers/servers/loopback.js'
import { pieces, raw, wires, type Wire } from '../providers/wires.js'

/**
 * Attack: "hooks for logs and metrics that never see a key". The key reaches the provider three
 * ways (the call's `apiKey`, the context's `<PROVIDER>_API_KEY` variable, the provider's own
 * option); a hostile or buggy server echoes the key it received in everything a hook can be
 * handed: an error body, a stream's error event, the request-id header of an error and of a
 * success. Over real HTTP on 127.0.0.1, for the three wire formats, no 8 characters of any of the
 * keys may appear in anything any hook receives, serialized deeply (errors: message, stack, cause
 * chain, own properties, partial).
 */

// Keys as providers issue them (sk-…, sk-ant-…, AIza…) and as gateways do (base64 with + / =).
const keyArb = fc.oneof(
  fc.stringMatching(/^sk-[A-Za-z0-9_-]{20,60}$/),
  fc.stringMatching(/^sk-ant-api03-[A-Za-z0-9_-]{20,90}$/),
  fc.stringMatching(/^AIza[A-Za-z0-9_-]{35}$/),
  fc.stringMatching(/^[A-Za-z0-9+/]{16,40}={0,2}$/),
)

/** Everything reachable from `value`, as text: own properties (non-enumerable ones too: an error's message, stack, cause), 6 levels deep. */
function deepText(value: unknown, depth = 0, seen = new Set<unknown>()): string {
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? '' : String(value)
  if (seen.has(value) || depth > 6) return ''
  seen.add(value)
  let out = ''
  try {
    out += JSON.stringify(value)
  } catch {
    // A cycle: the walk below covers it.
  }
  for (const k of Object.getOwnPropertyNames(value)) out += `\n${k}=${deepText((value as Record<string, unknown>)[k], depth + 1, seen)}`
  return out + `\n${String(value)}`
}

const spec = (id: string, provider: string): ModelSpec => ({ id, provider, contextWindow: 100_000, maxOutput: 1000, quality: 0.5, speed: 0.5, inputPricePer1K: 0.001, outputPricePer1K: 0.002 })

// The key as sent: `Bearer <key>` for OpenAI; a server echoes the whole header value.
const sentKey = (w: Wire, seen: { headers: Record<string, string | string[] | undefined> }) => String(seen.headers[w.keyHeader] ?? '')

describe.each(wires)('$name: no hook ever sees a piece of the key', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await loopback(() => [])
  })
  afterAll(() => server.close())

  // The first attempt fails with the key echoed; the fallback answers, echoing it in its request id.
  const failures: Record<string, (pad: number) => Step> = {
    'an error body and its request id': (pad) => (seen, res) =>
      raw(500, JSON.stringify(w.error(`${'m'.repeat(pad)} bad key ${sentKey(w, seen)}`)), {
        'x-request-id': `${'r'.repeat(pad % 190)}${sentKey(w, seen)}`,
        'request-id': `${'r'.repeat(pad % 190)}${sentKey(w, seen)}`,
      })(seen, res),
    "a stream's error event": (pad) => (seen, res) => sse([w.streamError(`${'e'.repeat(pad)} ${sentKey(w, seen)}`)])(seen, res),
  }
  const success: Step = (seen, res) => sse(w.stream(['Hello ', 'world']), 'end', { 'x-request-id': `id-${sentKey(w, seen)}`, 'request-id': `id-${sentKey(w, seen)}` })(seen, res)

  it('property: whichever way the key is given, whatever the server echoes, hooks get none of it', async () => {
    await fc.assert(
      fc.asyncProperty(
        keyArb,
        keyArb,
        keyArb,
        fc.constantFrom('call', 'variables', 'provider'),
        fc.constantFrom(...Object.keys(failures)),
        fc.nat(1100),
        async (callKey, variableKey, providerKey, source, failure, pad) => {
          const received: unknown[] = []
          const record = (e: unknown) => void received.push(e)
          const provider = w.make(server.url, { apiKey: providerKey, maxRetries: 0 })
          const executor = new Executor({
            providers: [provider],
            router: new Router([spec('test-model', w.name), spec('test-model-2', w.name)]),
            onRequest: record,
            onFinish: record,
            onError: record,
          })
          const variables = source === 'call' || source === 'variables' ? { [`${w.name.toUpperCase()}_API_KEY`]: variableKey } : undefined
          const ctx = new Context({ routing: { model: 'test-model', fallbacks: ['test-model-2'] } }, { executor, variables })
          server.queue(failures[failure]!(pad), success)
          const r = await ctx.execute({ task: 'Say hello.', onToken: () => {}, ...(source === 'call' && { apiKey: callKey }) })
          expect(r.result).toBe('Hello world')
          // The server really had the key to echo: the one of this source.
          const used = { call: callKey, variables: variableKey, provider: providerKey }[source]
          expect(sentKey(w, server.seen.at(-1)!)).toContain(used)
          expect(received.length).toBe(4)
          const text = received.map((e) => deepText(e)).join('\n')
          // The echo did reach the hooks, scrubbed: the attack was real.
          expect(text).toContain('***')
          for (const key of [callKey, variableKey, providerKey]) {
            for (const p of pieces(key)) expect(text.includes(p), `piece ${p} of a key reached a hook`).toBe(false)
          }
        },
      ),
      { numRuns: 40 },
    )
  })

  it('the events are the calls as made: request, error (status 500), request, finish with the usage the server reported', async () => {
    const received: [string, any][] = []
    const executor = new Executor({
      providers: [w.make(server.url, { maxRetries: 0 })],
      router: new Router([spec('test-model', w.name), spec('test-model-2', w.name)]),
      onRequest: (e) => void received.push(['request', e]),
      onFinish: (e) => void received.push(['finish', e]),
      onError: (e) => void received.push(['error', e]),
    })
    const ctx = new Context({ routing: { model: 'test-model', fallbacks: ['test-model-2'] } }, { executor })
    server.queue(raw(500, JSON.stringify(w.error('down'))), sse(w.stream(['Hi']), 'end', { 'x-request-id': 'req_1', 'request-id': 'req_1' }))
    const r = await ctx.execute({ task: 'Say hello.', onToken: () => {} })
    expect(received.map(([k, e]) => [k, e.model, e.attempt, e.provider])).toEqual([
      ['request', 'test-model', 0, w.name],
      ['error', 'test-model', 0, w.name],
      ['request', 'test-model-2', 1, w.name],
      ['finish', 'test-model-2', 1, w.name],
    ])
    expect(received[1]![1].error).toMatchObject({ status: 500 })
    const finish = received[3]![1]
    expect(finish).toMatchObject({ usage: r.usage, cost: r.cost, finishReason: 'stop' })
    if (w.name !== 'gemini') expect(finish.requestId).toBe('req_1')
    expect(ctx.usage).toMatchObject({ inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens, calls: 1 })
  })
})
