// The demo's agent: createAgent over IndexedDB, a handler that streams a model's answer token by
// token through the real provider path, two tools (one starts a background task), an A/B-tested
// greeting tracked across sessions by agentctx/experiments, and inputs pruned to a token budget.
// Only the built package (/dist/, through the page's import map), as an app would use it.
import { Context, createContextStore, Executor, Pruner, setDefaultExecutor } from 'agentctx'
import { createAgent, StartEvent, TextEvent } from 'agentctx/agent'
import { createExperiments } from 'agentctx/experiments'
import { openai } from 'agentctx/providers/openai'
import { indexedDBStorage } from 'agentctx/storage/indexeddb'

export const SESSION = 'demo'
/** The inputs' token budget: small on purpose, so that prune has something to drop. */
export const BUDGET = 90
/** The A/B test of the greeting: two options, equal weights; the outcome is whether the visitor wrote back. */
export const TEST = 'greeting'
export const OPTIONS = [
  ['friendly', 1],
  ['brief', 1],
]
const GREETINGS = {
  friendly: "Hi there! I'm a small agent living in this tab. Ask me **where order 1042 is**, to **buy a coffee**, or for a **story**.",
  brief: 'Hello. Try: *where is order 1042?*, *buy a coffee*, *tell me a story*.',
}
const SYSTEM = 'You are the assistant of a small coffee shop, in a demo of agentctx. Answer in at most three short sentences, in markdown.'

/** The simulated model's endpoint: a service worker of this page answers it (sim-model.js). */
export const SIM_URL = new URL('./sim/v1', import.meta.url).href
export const SIM = { label: 'simulated model', routing: { model: 'agentctx-sim', provider: 'openai' } }
/** The model the handler calls: the simulated one, or a real one once `connect` has checked it. */
let model = SIM
/** `?pace=5` in the page's URL: milliseconds between the simulated model's chunks (default 20; the e2e tests go faster). */
const pace = new URLSearchParams(location.search).get('pace')
// No retries: the simulated model's 503 ("fail") should show at once, not after two backoffs.
const simulated = () => new Executor({ providers: [openai({ baseURL: SIM_URL, maxRetries: 0, headers: pace ? { 'x-sim-pace': pace } : undefined })] })
setDefaultExecutor(simulated())

/** Switches the agent to a model (`{ label, routing, executor }`), or back to the simulated one. */
export function useModel(next) {
  if (!next) {
    model = SIM
    setDefaultExecutor(simulated())
  } else {
    model = next
    setDefaultExecutor(next.executor)
  }
}
export const currentModel = () => model

/** This browser's visitor id: what the A/B test hashes, so the greeting is the same in every session. */
export function visitorId() {
  let id = localStorage.getItem('agentctx-demo-visitor')
  if (!id) localStorage.setItem('agentctx-demo-visitor', (id = crypto.randomUUID()))
  return id
}

// ── the tools ──────────────────────────────────────────────────────────────────────────────────

const ORDERS = {
  1042: { status: 'shipped', carrier: 'Parcelo', eta: 'tomorrow', items: [{ name: 'Espresso beans 1 kg', qty: 1 }, { name: 'Ceramic cup', qty: 2 }] },
  2001: { status: 'being packed', carrier: 'Parcelo', eta: 'Friday', items: [{ name: 'Filter papers', qty: 3 }] },
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
  })

/** Steps of the background order, 1.2 s apart (`?order=ms` in the page's URL changes it): long enough to type a message meanwhile. */
const ORDER_STEPS = ['Grinding the beans…', 'Brewing…', 'Your order is ready!']
export const ORDER_STEP_MS = Number(new URLSearchParams(location.search).get('order')) || 1200

/** The tools the model may call; they close over the session's context. */
function tools(ctx) {
  return {
    lookup_order: {
      description: "Looks up an order of the shop by its number: status, carrier, expected delivery and items.",
      parameters: { type: 'object', properties: { orderId: { type: 'string', description: 'The order number, digits only' } }, required: ['orderId'] },
      execute: async ({ orderId }) => {
        const order = ORDERS[String(orderId).replace(/\D/g, '')]
        const result = order ? { orderId: String(orderId), ...order } : { error: `no order #${orderId}` }
        // What a tool found is context for later turns: an input, relevant while it is fresh.
        if (order) ctx.addInput({ order: orderId, status: order.status, eta: order.eta }, { relevance: 0.9 })
        return result
      },
    },
    place_order: {
      description: 'Places an order for an item; it is prepared in the background and the user is told when it is ready.',
      parameters: { type: 'object', properties: { item: { type: 'string' } }, required: ['item'] },
      execute: async ({ item }) => {
        const orderId = String(3000 + ctx.currentTurnId)
        ctx.setData('order', { orderId, item, status: 'preparing' })
        // Interruptible: a new message from the user cancels it (the agent's barge-in).
        const turn = ctx.currentTurnId
        // Its events are kept by the agent with this turn (response.background) and reach the
        // stream of this turn's request, which stays open until the task settles.
        // Interruptible: a new message from the user cancels it (the agent's barge-in, and the handler below).
        const task = ctx.createTask(
          async function* (signal) {
            for (const text of ORDER_STEPS) {
              await sleep(ORDER_STEP_MS, signal)
              if (text === ORDER_STEPS.at(-1)) ctx.setData('order', { orderId, item, status: 'ready' })
              yield { type: 'text_to_speech', data: { text } }
            }
          },
          { name: 'order', interruptible: true, timeout: 30 },
        )
        void task.done.then((status) => {
          if (status === 'completed') return
          // A cancelled task yields nothing more, so the note that it stopped is the demo's own,
          // kept in the context's data with the turn that started the task (saved when it settles).
          const text = `Order #${orderId} stopped: ${status === 'cancelled' ? 'interrupted by a new message' : status}.`
          ctx.setData('order', { orderId, item, status })
          ctx.setData('stopped', [...ctx.getData('stopped', []), { turn, task: 'order', text, status }])
          events.dispatchEvent(new CustomEvent('background', { detail: { turn, task: 'order', text, status } }))
        })
        return { orderId, item, status: 'preparing' }
      },
    },
  }
}

// ── the handler ────────────────────────────────────────────────────────────────────────────────

/** Told of what happens outside a turn's stream (a task interrupted). */
export const events = new EventTarget()

/** The shop's facts: inputs of every session, with their relevance; prune keeps what fits BUDGET. */
function seedInputs(ctx) {
  ctx.addInput('Opening hours: 8:00 to 18:00, Monday to Saturday.', { relevance: 0.3 })
  ctx.addInput('Returns: unopened items within 30 days, free of charge.', { relevance: 0.5 })
  ctx.addInput('Shipping: 2–3 days in the EU with Parcelo; free above 40 €.', { relevance: 0.6 })
  ctx.addInput(
    'Catalog: espresso beans (1 kg, 24 €), filter coffee (500 g, 12 €), ceramic cups (9 €), filter papers (4 €), a hand grinder (45 €), gift cards from 10 €.',
    { relevance: 0.4 },
  )
}

/** What prune keeps of the context's inputs under BUDGET (the same algorithm as `ctx.prune`, without dropping anything). */
export const kept = (inputs) => new Pruner().prune(inputs, BUDGET)

async function* handler(event, ctx, { signal }) {
  if (event instanceof StartEvent) {
    // Outcomes are added at the start, so a session that never converts counts as `false`.
    ctx.addOutcome('engaged', 'boolean', 'The visitor wrote back after the greeting')
    const variant = ctx.addTest(TEST, OPTIONS, 'Which greeting gets a reply')
    seedInputs(ctx)
    yield { type: 'greeting', data: { delta: GREETINGS[variant], variant } }
    return
  }
  if (!(event instanceof TextEvent)) return
  const text = event.data.text
  // A new message stops the order being prepared (an interruptible task). The agent does this
  // itself for a message that arrives while a reply streams (barge-in); here it also applies
  // between turns, so that the demo can show a task interrupted.
  ctx.cancelInterruptibleTasks()
  ctx.setOutcome('engaged', true)
  const name = /my name is (\p{L}+)/iu.exec(text)?.[1]
  if (name) ctx.addInput({ user_name: name }, { relevance: 1 })

  // The prompt: the system message with the inputs that fit the budget, then the conversation.
  const context = kept(ctx.inputs)
    .map((i) => (typeof i.data === 'string' ? i.data : JSON.stringify(i.data)))
    .join('\n')
  const history = ctx.getCompletionMessages().filter((m) => m.role !== 'system')
  ctx.setCompletionMessages([{ role: 'system', content: `${SYSTEM}\n\nContext:\n${context}` }, ...history, { role: 'user', content: text }])

  const stream = ctx.streamChatCompletion({ overrideRouting: model.routing, tools: tools(ctx), maxSteps: 3, signal })
  for await (const part of stream) {
    if (part.type === 'text-delta') yield { type: 'delta', data: { delta: part.text } }
    else if (part.type === 'tool-call') yield { type: 'tool_call', data: { id: part.toolCallId, name: part.toolName, args: part.args } }
    else if (part.type === 'tool-result') yield { type: 'tool_result', data: { id: part.toolCallId, name: part.toolName, result: part.result ?? null } }
    else if (part.type === 'finish') yield { type: 'usage', data: { ...part.usage, model: model.routing.model } }
    else if (part.type === 'error') throw part.error
  }
}

// ── the agent ──────────────────────────────────────────────────────────────────────────────────

export const store = createContextStore(indexedDBStorage({ dbName: 'agentctx-demo' }))
/** Sessions each option needs before the test may stop: 20 (the library's default is 100), so that simulated visitors can conclude it. */
export const MIN_SAMPLES = 20
/** Cross-session A/B tests on their own IndexedDB database. */
export const experiments = createExperiments(indexedDBStorage({ dbName: 'agentctx-demo-experiments' }), { minSamples: MIN_SAMPLES })

/** @param {(event: import('agentctx/agent').AgentEvent) => void} onBackgroundEvent */
export function makeAgent(onBackgroundEvent) {
  return createAgent({
    store,
    handler,
    experiments,
    init: () => ({ assignmentKey: visitorId(), agentId: 'coffee-shop', environment: 'browser-demo' }),
    onBackgroundEvent: (_id, event) => onBackgroundEvent(event),
  })
}

/** A number in [0, 1) from a visitor's number (mulberry32): the same visitors engage in every browser. */
function unit(n) {
  let t = (n + 0x6d2b79f5) | 0
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * Records `count` simulated visitors in the experiment (each its own session and assignment key),
 * engaged with a probability per option, so the live report has numbers to show.
 */
export async function simulateVisitors(count, engagement = { friendly: 0.62, brief: 0.45 }) {
  // Numbered, not random ids: each click adds new visitors, and a fresh browser gets the same ones.
  const first = Number(localStorage.getItem('agentctx-demo-simulated') ?? 0)
  localStorage.setItem('agentctx-demo-simulated', String(first + count))
  for (let i = first; i < first + count; i++) {
    const ctx = new Context({ sessionId: `simulated-${i}`, assignmentKey: `simulated-visitor-${i}` })
    ctx.addOutcome('engaged', 'boolean', 'The visitor wrote back after the greeting')
    const variant = ctx.addTest(TEST, OPTIONS, 'Which greeting gets a reply')
    if (unit(i) < engagement[variant]) ctx.setOutcome('engaged', true)
    await experiments.record(ctx)
  }
  return experiments.evaluate(TEST)
}
