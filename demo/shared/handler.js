// The demo agent's rules, shared by the Cloudflare Worker (demo/cloudflare) and the Vercel Edge
// Function (demo/vercel): the same handler runs unchanged in each. Web standards only (timers,
// AbortSignal): no DOM, no Node. (The browser demo, demo/browser, has its own agent on a model:
// demo/browser/agent.js.)
//
//   start              the greeting (turn 0 of a new session)
//   "my name is Ada"   remembers data.user_name
//   "place order"      the voice-agent document's background example: task order_processing sets
//                      data.order_status = completed about a second later
//   "check status"     "Your order status is: pending | completed"
//   "… story …"        streams a story sentence by sentence, slowly enough to talk over (barge-in)
//   anything else      `fallback`, if it answers; else an echo
import { StartEvent, TextEvent, TextToSpeechEvent } from 'agentctx/agent'

/** @typedef {import('agentctx').Context} Context */
/** @typedef {import('agentctx/agent').AgentHandler} AgentHandler */
/** @typedef {import('agentctx/agent').HandlerOutput} HandlerOutput */

const STORY = [
  'Once upon a time, a context lived at the edge of the network.',
  'Every turn it took was written down, one record at a time.',
  'One day its runtime was restarted, and the context was not afraid.',
  'It came back from storage with every turn it had, and its data intact.',
  'A background task finished the order it had started before.',
  'And the user, who had been talking all along, was never kept waiting.',
]

// 20 ms a character is about a voice's pace: a 60-character sentence takes 1.2 s to say.
const MS_PER_CHAR = 20
// How long the order takes in the background: long enough to ask "check status" meanwhile.
const ORDER_MS = 1000

/** @param {number} ms @param {AbortSignal} [signal] @returns {Promise<void>} */
const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })

/** A reply to say aloud. @param {string} text */
export const say = (text) => new TextToSpeechEvent({ text })

/**
 * Yields sentences as a voice would say them, each after the time it takes to say the one before.
 * @param {string[]} sentences @param {AbortSignal} signal
 */
async function* speak(sentences, signal) {
  let previous = ''
  for (const sentence of sentences) {
    if (previous) await sleep(previous.length * MS_PER_CHAR, signal)
    yield say(sentence)
    previous = sentence
  }
}

/** The background order: processed while the conversation goes on. @param {AbortSignal} signal @param {Context} ctx */
async function* processOrder(signal, ctx) {
  await sleep(ORDER_MS, signal)
  ctx.setData('order_status', 'completed')
  yield say('Your order is ready!')
}

/**
 * The demo agent's handler, for `createAgent({ handler })`.
 *
 * @param {object} [options]
 * @param {string} [options.greeting] what a new session hears first
 * @param {string[]} [options.story] the sentences of "tell me a story"
 * @param {string} [options.hint] appended to the echo reply ("I only know a few tricks; <hint>.")
 * @param {(ctx: Context, text: string, signal: AbortSignal) => AsyncIterable<HandlerOutput> | undefined} [options.fallback]
 *   answers a text no rule matched (a real model, say); `undefined` falls back to the echo
 * @returns {AgentHandler}
 */
export function createHandler({ greeting = 'Hi! I am a small agent. What can I do for you?', story = STORY, hint, fallback } = {}) {
  return async function* handler(event, ctx, { signal }) {
    if (event instanceof StartEvent) {
      yield say(greeting)
      return
    }
    if (!(event instanceof TextEvent)) return
    const text = event.data.text
    const name = /my name is (\p{L}+)/iu.exec(text)?.[1]
    if (name) {
      ctx.setData('user_name', name)
      yield say(`Nice to meet you, ${name}!`)
    } else if (/place order/i.test(text)) {
      ctx.createTask(processOrder, { name: 'order_processing', timeout: 60 })
      yield say('Processing your order in the background.')
    } else if (/check status/i.test(text)) {
      yield say(`Your order status is: ${ctx.getData('order_status', 'pending')}`)
    } else if (/story/i.test(text)) {
      yield* speak(story, signal)
    } else {
      const answer = fallback?.(ctx, text, signal)
      if (answer) return yield* answer
      const user = ctx.getData('user_name')
      yield say(`You said “${text}”${user ? `, ${user}` : ''}. I only know a few tricks${hint ? `; ${hint}` : ''}.`)
    }
  }
}
