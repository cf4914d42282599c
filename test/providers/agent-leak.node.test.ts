import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler } from '../../src/agent/agent.js'
import { StartEvent, TextEvent } from '../../src/agent/events.js'
import { Executor } from '../../src/llm/executor.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { loopback, sse, type Loopback } from './servers/loopback.js'
import { pieces, raw, wires } from './wires.js'

/**
 * End to end, the way the issue saw the leak: a key in the agent's `variables`, a provider server
 * echoing it across the 300-character cut of its error text, and the agent handler turning the
 * `ProviderError` into an `ErrorEvent` for the HTTP client. No 8 characters of the key may reach
 * the client, in the event stream or in the session's history.
 */

const MODELS = { openai: 'gpt-4o', anthropic: 'claude-haiku-4-5', gemini: 'gemini-2.5-flash' }

describe.each(wires)('$name: the key never reaches the agent\'s HTTP client', (w) => {
  let server: Loopback
  beforeAll(async () => {
    server = await loopback(() => [])
  })
  afterAll(() => server.close())

  const run = async (key: string, streamed: boolean) => {
    const handler: AgentHandler = async function* (event, ctx) {
      if (event instanceof StartEvent) return
      const r = await ctx.execute({ task: 'hi', overrideRouting: { model: MODELS[w.name] }, ...(streamed && { onToken: () => {} }) })
      yield new TextEvent({ text: String(r.result) })
    }
    const agent = createAgent({
      store: createContextStore(memoryStorage(), { channel: false }),
      handler,
      // No apiKey on the provider: the key comes from the session's variables, as in a deployment.
      executor: new Executor({ providers: [w.make(server.url, { apiKey: undefined, maxRetries: 0 })] }),
      variables: { [`${w.name.toUpperCase()}_API_KEY`]: key },
    })
    const res = await agent.fetch(
      new Request('http://agent.test/sessions/s1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text: 'go' } }) }),
    )
    const events = await res.text()
    const history = await (await agent.fetch(new Request('http://agent.test/sessions/s1'))).text()
    return { events, history, seen: server.seen.at(-1)! }
  }

  it('property: an error body echoing the key at any offset around the cut', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^sk-[A-Za-z0-9]{24,48}$/), fc.integer({ min: 250, max: 310 }), async (key, at) => {
        server.queue(raw(401, `${'x'.repeat(at)}${key} is not a valid key`, { 'content-type': 'text/plain' }))
        const { events, history, seen } = await run(key, false)
        expect(JSON.stringify(seen.headers)).toContain(key)
        expect(events).toContain('event: error')
        for (const p of pieces(key)) expect(events + history).not.toContain(p)
      }),
      { numRuns: 25 },
    )
  })

  it('a stream that breaks with the key in its error event and in the text so far', async () => {
    const key = 'sk-agentleakcheck0123456789abcdef'
    server.queue(sse([...w.partial([`echo ${key}`]), w.streamError(`Overloaded for key ${key}`)]))
    const { events, history } = await run(key, true)
    expect(events).toContain('event: error')
    for (const p of pieces(key)) expect(events + history).not.toContain(p)
  })
})
