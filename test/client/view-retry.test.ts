import { describe, expect, it } from 'vitest'
import { createAgent, type AgentHandler } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import { createAgentClient } from '../../src/client/index.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { sleep } from '../tasks/helpers.js'

// A turn the agent runs again after losing a save race (a `retry` event on the stream, issue 11):
// the session view drops what the failed attempt streamed, so the conversation shows the turn once,
// as stored. The agent is called in-process through the client's `fetch` option: the view's logic
// is what is checked here (the wire is in view.node.test.ts and test/agent/http.test.ts).
describe('the session view and a retried turn', () => {
  it('shows the retried turn once, with the turn id it is stored as; the failed attempt\'s greeting and reply are gone', async () => {
    const adapter = memoryStorage()
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    const handler: AgentHandler = async function* (event, ctx, turn) {
      if (event instanceof StartEvent) return yield new TextToSpeechEvent({ text: `Hello (attempt ${turn.attempt})` })
      if (!(event instanceof TextEvent)) return
      if (event.data.text === 'mine' && turn.attempt === 1) await held
      yield new TextToSpeechEvent({ text: `${event.data.text} at turn ${ctx.currentTurnId} (attempt ${turn.attempt})` })
    }
    const one = createAgent({ store: createContextStore(adapter, { channel: false }), handler })
    const two = createAgent({ store: createContextStore(adapter, { channel: false }), handler })
    const client = createAgentClient({ url: 'http://agent.test', fetch: (input, init) => one.fetch(new Request(input, init)) })
    const view = client.session('s')
    // A new session on agent one: greeting (turn 0) and the held reply (turn 1), while agent two
    // creates the same session first: one's save loses, and the turn runs again as turn 2.
    const sending = view.send('mine')
    await sleep(10)
    for await (const _ of two.send('s', new TextEvent({ text: 'theirs' }))) void _
    release()
    await sending
    const shown = view.getSnapshot().messages.map((m) => `${m.role}:${m.text}:${m.turn}`)
    expect(shown).toEqual(['user:mine:2', 'assistant:mine at turn 2 (attempt 2):2'])
    // What the view shows of this send is what is stored for it.
    const stored = await client.history('s')
    expect(stored!.turns!.map((t) => [t.id, t.response?.text])).toEqual([
      [0, 'Hello (attempt 1)'],
      [1, 'theirs at turn 1 (attempt 1)'],
      [2, 'mine at turn 2 (attempt 2)'],
    ])
  })
})
