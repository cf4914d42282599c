import type { AgentOptions, HandlerOutput } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent } from '../../src/agent/events.js'

// The test agent's handler, for the client's tests in Node (served over HTTP, agent.ts) and in
// Chromium (in the page): no Node import here.

/** The bearer token the test agent wants; no error message may ever hold it. */
export const TOKEN = 'tok-Qm3xV8pL2sR7wK9dZ4nB'

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })

/** What the handler saw: the signals of the turns that were aborted (the server saw the client go). */
export interface Seen {
  aborted: string[]
}

/**
 * The test agent's rules: a new session hears "Hello!"; `stream N` streams N `text_delta` words
 * 5 ms apart then the whole text; `slow` streams a word every 20 ms until aborted; `fail` throws
 * (its message holds a secret-looking text); `task` starts a background task whose event comes
 * while the turn is still streaming; `custom` yields an `order` event; anything else is echoed.
 */
export function handler(seen: Seen): AgentOptions['handler'] {
  return async function* (event, ctx, { signal }): AsyncGenerator<HandlerOutput> {
    if (event instanceof StartEvent) return yield new TextToSpeechEvent({ text: 'Hello!' })
    if (!(event instanceof TextEvent)) return yield { type: 'note', data: { got: event.type } }
    const text = event.data.text
    signal.addEventListener('abort', () => seen.aborted.push(text), { once: true })
    const n = /^stream (\d+)$/.exec(text)?.[1]
    if (n) {
      const words = Array.from({ length: Number(n) }, (_, i) => `w${i + 1}`)
      for (const [i, w] of words.entries()) {
        await sleep(5, signal)
        yield { type: 'text_delta', data: { delta: (i ? ' ' : '') + w } }
      }
      return yield new TextToSpeechEvent({ text: words.join(' ') })
    }
    if (text === 'slow') {
      for (let i = 1; ; i++) {
        yield { type: 'text_delta', data: { delta: `s${i} ` } }
        await sleep(20, signal)
      }
    }
    if (text === 'fail') throw new Error('database password hunter2 leaked')
    if (text === 'task') {
      ctx.createTask(
        async function* () {
          await sleep(10)
          yield new TextToSpeechEvent({ text: 'Your order is ready!' })
        },
        { name: 'order' },
      )
      await sleep(150, signal)
      return yield new TextToSpeechEvent({ text: 'Working on it.' })
    }
    if (text === 'custom') return yield { type: 'order', data: { id: 'A1', total: 15.99 } }
    yield new TextToSpeechEvent({ text: `You said: ${text}` })
  }
}
