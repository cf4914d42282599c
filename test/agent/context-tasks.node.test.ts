import { describe, expect, it } from 'vitest'
import { hangingServer } from '../tasks/hanging-server.js'
import { createAgent } from '../../src/agent/agent.js'
import { TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'
import { Context } from '../../src/context.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'

const { url: serverUrl, nextRequest } = hangingServer()

describe('ctx.createTask with a fetch to a server that never answers', () => {
  it('times out: the fetch rejects with the timeout reason, the server sees the connection closed', async () => {
    const ctx = new Context()
    const arrived = nextRequest()
    let fetchError: unknown
    const task = ctx.createTask(
      async (signal, context) => {
        try {
          await fetch(serverUrl(), { signal })
        } catch (e) {
          fetchError = e
          context.setData('lookup', 'timed out')
        }
      },
      { name: 'slow_lookup', timeout: 0.1 },
    )
    const { closed } = await arrived
    expect(await task.done).toBe('timeout')
    await closed // never resolves (the test times out) if the abort did not reach the socket
    expect(fetchError).toMatchObject({ name: 'AbortedError', reason: 'timeout', message: 'task "slow_lookup" timed out after 0.1 s' })
    expect(ctx.getData('lookup')).toBe('timed out')
    expect(ctx.hasUnfinishedTasks()).toBe(false)
  })

  it("a barge-in cancels an interruptible task's fetch through the agent: the server sees the close", async () => {
    const arrived = nextRequest()
    const agent = createAgent({
      store: createContextStore(memoryStorage(), { channel: false }),
      async *handler(event, ctx) {
        if (!(event instanceof TextEvent)) return
        if (event.data.text === 'search') {
          ctx.createTask((signal) => fetch(serverUrl(), { signal }), { name: 'search', interruptible: true })
          yield new TextToSpeechEvent({ text: 'Searching…' })
          await ctx.waitForAllTasks() // the turn runs as long as the search
        } else yield new TextToSpeechEvent({ text: 'OK' })
      },
    })
    const searching = agent.send('s', new TextEvent({ text: 'search' }))[Symbol.asyncIterator]()
    await searching.next()
    const { closed } = await arrived
    for await (const _ of agent.send('s', new TextEvent({ text: 'never mind' })));
    await closed
    expect((await searching.next()).done).toBe(true)
  })
})
