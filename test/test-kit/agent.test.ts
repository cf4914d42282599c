import { describe, expect, it } from 'vitest'
import { createAgent, TextEvent, TextToSpeechEvent, type AgentEvent, type AgentHandler } from '../../src/agent/index.js'
import { AbortedError, createContextStore, Executor, memoryStorage } from '../../src/index.js'
import { mockProvider, type MockProvider } from '../../src/test/index.js'

// An agent whose handler calls a model, tested without a network: the executor holds a mock.

/** What the handler's model calls threw. */
const caught: unknown[] = []

/** Answers each TextEvent with the model's reply. */
const handler: AgentHandler = async function* (event, ctx, { signal }) {
  if (!(event instanceof TextEvent)) return
  ctx.addCompletionMessage({ role: 'user', content: event.data.text })
  try {
    const reply = await ctx.generateChatCompletion({ signal, onToken: () => {} })
    yield new TextToSpeechEvent({ text: reply.text })
  } catch (e) {
    caught.push(e)
    throw e
  }
}

function setup(mock: MockProvider) {
  const store = createContextStore(memoryStorage(), { channel: false })
  const agent = createAgent({ store, handler, executor: new Executor({ providers: [mock] }), runtime: {} })
  return { store, agent }
}

const texts = async (events: AsyncIterable<AgentEvent>) => {
  const out: string[] = []
  for await (const e of events) if (e instanceof TextToSpeechEvent) out.push(e.data.text)
  return out
}

describe('mockProvider behind createAgent', () => {
  it('answers each turn from the script; the history the model saw and the stored one agree', async () => {
    const mock = mockProvider({ name: 'openai', replies: ['Hello! How can I help?', 'It is sunny.'] })
    const { agent, store } = setup(mock)
    const ctx = await store.open('s1', { routing: { model: 'gpt-4o-mini' } })
    await store.save(ctx)
    expect(await texts(agent.send('s1', new TextEvent({ text: 'Hi' })))).toEqual(['Hello! How can I help?'])
    expect(await texts(agent.send('s1', new TextEvent({ text: 'Weather?' })))).toEqual(['It is sunny.'])
    expect(mock.lastRequest!.messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'user', content: 'Weather?' },
    ])
    expect(mock.calls.every((c) => c.stream)).toBe(true)
    const saved = (await store.load('s1'))!
    expect(saved.getCompletionMessages().map((m) => m.content)).toEqual(['Hi', 'Hello! How can I help?', 'Weather?', 'It is sunny.'])
    mock.assertDone()
  })

  it('barge-in: a new event aborts the hanging model call of the turn it interrupts', async () => {
    const mock = mockProvider({ name: 'openai', replies: [{ chunks: ['Once ', 'upon ', 'a time'], hang: true }, 'Stopping.'] })
    const { agent, store } = setup(mock)
    await store.save(await store.open('s2', { routing: { model: 'gpt-4o-mini' } }))
    const first = texts(agent.send('s2', new TextEvent({ text: 'Tell me a story' })))
    // Let the first turn reach its model call (which then hangs) before the user speaks again.
    while (mock.calls.length < 1) await new Promise((r) => setTimeout(r, 5))
    expect(await texts(agent.send('s2', new TextEvent({ text: 'Stop' })))).toEqual(['Stopping.'])
    // The interrupted turn said nothing; its model call ended with the provider's AbortedError and what had streamed.
    expect(await first).toEqual([])
    while (caught.length < 1) await new Promise((r) => setTimeout(r, 5))
    expect(caught[0]).toBeInstanceOf(AbortedError)
    expect((caught[0] as AbortedError).partial?.text).toBe('Once upon a time')
    expect(mock.calls.map((c) => c.messages.at(-1)!.content)).toEqual(['Tell me a story', 'Stop'])
    const saved = (await store.load('s2'))!
    expect(saved.responses.get(1)).toMatchObject({ interrupted: true })
    mock.assertDone()
  })
})
