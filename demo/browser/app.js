// An agent that lives in this tab. It uses only the built package (/dist/), as an app would:
// createAgent runs the demo's handler (../shared/handler.js, the same one the Worker and the Edge
// Function run) for each event and keeps the session in IndexedDB.
import { createContextStore, Executor, setDefaultExecutor } from 'agentctx'
import { createAgent, StartEvent, TextEvent } from 'agentctx/agent'
import { indexedDBStorage } from 'agentctx/storage/indexeddb'
import { createHandler, say } from '../shared/handler.js'

const SESSION = 'demo'
const STORY = [
  'Once upon a time, a context lived in a browser tab.',
  'Every evening it wrote its turns to IndexedDB, one record at a time.',
  'One day the tab was reloaded, and the context was not afraid.',
  'It came back from storage with every turn it had, and its data intact.',
  'A background task finished the order it had started before.',
  'And the user, who had been typing all along, was never kept waiting.',
]

// ── the agent ───────────────────────────────────────────────────────────────────────────────────

/** A real model, once connected: its name. The key lives only inside the executor, in memory. */
let model

/** Streams the model's answer sentence by sentence, over the context's completion messages. */
async function* askModel(ctx, text, signal) {
  if (!ctx.getCompletionMessages().length) {
    ctx.addCompletionMessage({ role: 'system', content: 'You are a friendly assistant in a small demo. Answer in one to three short sentences.' })
  }
  ctx.addCompletionMessage({ role: 'user', content: text })
  let buffer = ''
  let finished = false
  let failure
  let wake
  ctx
    .generateChatCompletion({ overrideRouting: { model, provider: 'openai' }, signal, onToken: (delta) => ((buffer += delta), wake?.()) })
    .catch((error) => (failure = error))
    .finally(() => ((finished = true), wake?.()))
  while (true) {
    const end = buffer.search(/[.!?…]\s/)
    if (end >= 0) {
      yield say(buffer.slice(0, end + 1).trim())
      buffer = buffer.slice(end + 2)
    } else if (finished) {
      if (failure) throw failure
      if (buffer.trim()) yield say(buffer.trim())
      return
    } else await new Promise((resolve) => (wake = resolve))
  }
}

const handler = createHandler({
  greeting: 'Hi! I am a small agent living in this tab. What can I do for you?',
  story: STORY,
  hint: 'connect a real model below for more',
  // The tab's own part: a text no rule matched goes to the model, when one is connected.
  fallback: (ctx, text, signal) => (model ? askModel(ctx, text, signal) : undefined),
})

const store = createContextStore(indexedDBStorage({ dbName: 'agentctx-demo' }))
const agent = createAgent({
  store,
  handler,
  // A task's event after its turn's stream closed. The save after the task follows it shortly.
  onBackgroundEvent: (_id, event) => (show(event), setTimeout(refreshState, 100)),
})

// ── the page ────────────────────────────────────────────────────────────────────────────────────

const $ = (selector) => document.querySelector(selector)
const chat = $('#chat')
const input = $('#message')
/** The turn streaming now: typing aborts it, as speaking over a voice agent would. */
let current

function bubble(role, turn) {
  const div = document.createElement('div')
  div.className = `turn ${role}`
  if (turn !== undefined) div.dataset.turn = String(turn)
  chat.append(div)
  chat.scrollTop = chat.scrollHeight
  return div
}

function line(parent, text) {
  const p = document.createElement('p')
  p.textContent = text
  parent.append(p)
  chat.scrollTop = chat.scrollHeight
}

/** Renders one output event (live, or from a stored turn's response) into the turn's bubble. */
function show(event, target) {
  if (event.background) {
    const div = bubble('agent background')
    div.dataset.task = event.background.task
    line(div, event.data.text ?? event.data.message)
    return target
  }
  const div = target ?? bubble('agent', event.turn)
  if (event.type === 'error') div.classList.add('error')
  line(div, event.data.text ?? event.data.message ?? event.type)
  return div
}

function markInterrupted(div) {
  div.classList.add('interrupted')
}

async function refreshState() {
  const ctx = await store.load(SESSION)
  $('#state').textContent = ctx ? JSON.stringify(ctx, null, 2) : '(no session yet)'
}

/** Sends one event and renders what streams back; resolves when the turn has been saved. */
async function send(event) {
  current?.controller.abort(new DOMException('the user spoke', 'AbortError'))
  if (event instanceof TextEvent) line(bubble('user'), event.data.text)
  const me = (current = { controller: new AbortController() })
  document.body.classList.add('speaking')
  let div
  for await (const out of agent.send(SESSION, event, { signal: me.controller.signal })) div = show(out, div)
  if (me.controller.signal.aborted) markInterrupted(div ?? bubble('agent'))
  if (current === me) {
    current = undefined
    document.body.classList.remove('speaking')
  }
  await refreshState()
}

/** The stored conversation, turn by turn; false when there is none yet. */
async function renderHistory() {
  const ctx = await store.load(SESSION)
  chat.replaceChildren()
  if (!ctx) return false
  for (const turn of ctx.toJSON().turns) {
    if (turn.request) line(bubble('user'), turn.request.text ?? turn.request.type)
    if (!turn.response) continue
    let div
    for (const event of turn.response.events ?? []) div = show(event, div)
    if (turn.response.interrupted) markInterrupted(div ?? bubble('agent', turn.id))
  }
  return true
}

$('#composer').addEventListener('submit', (e) => {
  e.preventDefault()
  const text = input.value.trim()
  if (!text) return
  input.value = ''
  void send(new TextEvent({ text }))
})
input.addEventListener('input', () => current?.controller.abort(new DOMException('the user started typing', 'AbortError')))
for (const button of document.querySelectorAll('[data-say]')) button.addEventListener('click', () => void send(new TextEvent({ text: button.dataset.say })))

$('#reset').addEventListener('click', async () => {
  current?.controller.abort()
  await agent.delete(SESSION)
  chat.replaceChildren()
  await send(new StartEvent())
})

$('#model-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const form = e.target.elements
  // Loaded on demand: a page that never connects a model never downloads the provider.
  const { openai } = await import('agentctx/providers/openai')
  setDefaultExecutor(new Executor({ providers: [openai({ baseURL: form.baseURL.value, apiKey: form.apiKey.value || undefined })] }))
  model = form.model.value
  form.apiKey.value = '' // the executor holds it now; nothing else does
  $('#model-status').textContent = model
  $('#model').classList.add('on')
})
$('#disconnect').addEventListener('click', () => {
  setDefaultExecutor(undefined)
  model = undefined
  $('#model-status').textContent = 'off'
  $('#model').classList.remove('on')
})

// Another tab of this page saved the session: show its turns.
store.subscribe(({ id }) => id === SESSION && !current && void renderHistory().then(refreshState))
if (!(await renderHistory())) await send(new StartEvent())
await refreshState()
document.body.dataset.ready = 'true'
