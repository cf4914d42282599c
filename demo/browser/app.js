// The page: a chat over the agent of agent.js, the context inspector, the experiment's live report
// and the real-model form. Model text is rendered by markdown.js (DOM nodes, never innerHTML).
import { TextEvent, StartEvent } from 'agentctx/agent'
import { BUDGET, currentModel, MIN_SAMPLES, events, experiments, kept, makeAgent, SESSION, simulateVisitors, store, TEST, useModel, visitorId } from './agent.js'
import { connect, PROVIDERS } from './connect.js'
import { markdown } from './markdown.js'

const $ = (selector) => document.querySelector(selector)
const chat = $('#chat')
const input = $('#message')

// The simulated model lives in a service worker (sim-model.js): the page waits until it is in control.
async function startSimulatedModel() {
  if (!('serviceWorker' in navigator)) throw new Error('This browser has no service workers: connect a real model below.')
  await navigator.serviceWorker.register('./sim-model.js')
  if (navigator.serviceWorker.controller) return
  await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }))
}

// ── rendering ──────────────────────────────────────────────────────────────────────────────────

/** Keeps the newest message in view, unless the reader scrolled up to read an older one. */
let stick = true
chat.addEventListener('scroll', () => (stick = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 48))
const follow = () => stick && (chat.scrollTop = chat.scrollHeight)

function bubble(classes, turn) {
  const div = document.createElement('div')
  div.className = `turn ${classes}`
  if (turn !== undefined) div.dataset.turn = String(turn)
  chat.append(div)
  follow()
  return div
}

function userBubble(text, turn) {
  const div = bubble('user', turn)
  div.textContent = text
  return div
}

/** An agent reply being built from its events: text blocks rendered as markdown, tool calls, errors. */
function reply(turn) {
  const div = bubble('agent', turn)
  let block // the markdown block text deltas go to, with its source text
  const calls = new Map()
  return {
    div,
    add(event) {
      const { type, data } = event
      if (type === 'delta' || type === 'greeting') {
        if (!block) {
          block = { el: document.createElement('div'), text: '' }
          block.el.className = 'md'
          div.append(block.el)
        }
        block.text += data.delta
        block.el.replaceChildren(markdown(block.text))
        if (data.variant) div.dataset.variant = data.variant
      } else if (type === 'tool_call') {
        block = undefined
        const el = document.createElement('div')
        el.className = 'tool'
        el.dataset.tool = data.name
        const name = document.createElement('code')
        name.textContent = `${data.name}(${JSON.stringify(data.args)})`
        el.append(text('span', 'tool', 'tag'), name)
        div.append(el)
        calls.set(data.id, el)
      } else if (type === 'tool_result') {
        const el = calls.get(data.id)
        const out = document.createElement('span')
        out.className = 'result'
        out.textContent = `→ ${summarize(data.result)}`
        el?.append(out)
      } else if (type === 'error') {
        block = undefined
        div.classList.add('error')
        const p = document.createElement('p')
        p.className = 'error-text'
        p.textContent = `⚠ ${data.message ?? 'error'}`
        div.append(p)
      } else if (type === 'retry') {
        // Another tab saved first: the turn runs again on its version; drop what this attempt streamed.
        div.replaceChildren()
        block = undefined
      }
      follow()
    },
  }
}

const summarize = (result) => {
  if (result && typeof result === 'object' && 'status' in result) return `${result.status}${result.eta ? `, ${result.eta}` : ''}`
  return JSON.stringify(result).slice(0, 60)
}

/**
 * A background task's event (or the note that it stopped), shown with the turn that started it:
 * after that turn's last bubble, live as after a reload, whatever was said since.
 */
function backgroundBubble({ task, text, status, turn }) {
  const div = bubble(`agent background${status ? ' stopped' : ''}`, turn)
  div.dataset.task = task
  div.textContent = text
  const mine = turn === undefined ? [] : chat.querySelectorAll(`:scope > [data-turn="${turn}"]`)
  const last = mine.length > 1 ? mine[mine.length - 2] : undefined // the last one before this bubble
  if (last) last.after(div)
  follow()
}

/** A background event from the agent: `{ background: { task }, turn, data }`. */
const showBackground = (event) => backgroundBubble({ task: event.background?.task ?? 'task', text: event.data.text ?? event.data.message, turn: event.turn })

function markInterrupted(div) {
  div.classList.add('interrupted')
  follow() // the "interrupted" badge is part of the newest message
}

/** The stored conversation, turn by turn, each with its background events and task notes. */
async function renderHistory() {
  const ctx = await store.load(SESSION)
  chat.replaceChildren()
  if (!ctx) return undefined
  const notes = ctx.getData('stopped', [])
  for (const turn of ctx.toJSON().turns) {
    if (turn.request) userBubble(turn.request.text ?? turn.request.type, turn.id)
    if (turn.response) {
      const r = reply(turn.id)
      for (const event of turn.response.events ?? []) r.add(event)
      if (turn.response.interrupted) markInterrupted(r.div)
      // Kept by the agent with the turn that started their task (response.background).
      for (const event of turn.response.background ?? []) showBackground({ ...event, turn: turn.id })
    }
    for (const note of notes) if (note.turn === turn.id) backgroundBubble(note)
  }
  stick = true
  follow()
  return ctx
}

// ── the agent ──────────────────────────────────────────────────────────────────────────────────

// Background events that arrive when no stream of the session is open.
const agent = makeAgent((event) => {
  if (event.background?.task === 'experiments') return void console.warn('experiments:', event.data.message)
  showBackground(event)
})
// A task stopped by a new message: the note the demo keeps in the context's data, shown now too.
events.addEventListener('background', ({ detail }) => backgroundBubble(detail))

/** The turn streaming now: Stop aborts it. */
let current
/** Another tab saved while this one streamed: render its turns once this turn is done. */
let stale = false

function speaking(on) {
  document.body.classList.toggle('speaking', on)
  $('#stop').hidden = !on
}

/**
 * Sends one event and renders what streams back. Resolves once the turn is saved: the stream of a
 * turn that started a task stays open for the task's events, rendered as they come.
 */
async function send(event) {
  stick = true // what the user just sent, and the answer, are what they want to see
  const userEl = event instanceof TextEvent ? userBubble(event.data.text) : undefined
  const me = (current = { controller: new AbortController() })
  speaking(true)
  let r
  let saved
  const turnSaved = new Promise((resolve) => (saved = resolve))
  let first = true
  // waitUntil gets the turn (its save included) first, then the tasks it starts and the experiment's
  // record: the first says the reply is done, each one refreshes the report.
  const waitUntil = (promise) => {
    if (first) promise.then(saved, saved)
    first = false
    promise.then(refreshReport, refreshReport)
  }
  const streamed = (async () => {
    try {
      for await (const out of agent.send(SESSION, event, { signal: me.controller.signal, waitUntil })) {
        if (out.background) {
          if (out.background.task !== 'experiments') showBackground(out)
          continue
        }
        if (out.type === 'usage') continue
        if (userEl && out.turn !== undefined) userEl.dataset.turn = String(out.turn)
        r ??= reply(out.turn)
        r.add(out)
      }
    } catch (error) {
      ;(r ??= reply()).add({ type: 'error', data: { message: String(error?.message ?? error) } })
    }
  })()
  await Promise.race([turnSaved, streamed])
  await new Promise((resolve) => setTimeout(resolve)) // the events already streamed are rendered
  if (me.controller.signal.aborted) markInterrupted((r ??= reply()).div)
  if (current === me) {
    current = undefined
    speaking(false)
  }
  if (stale && !current) {
    stale = false
    await renderHistory()
  }
  await refreshPanels()
}

$('#composer').addEventListener('submit', (e) => {
  e.preventDefault()
  const text = input.value.trim()
  if (!text) return
  input.value = ''
  void send(new TextEvent({ text }))
})
for (const button of document.querySelectorAll('[data-say]')) button.addEventListener('click', () => void send(new TextEvent({ text: button.dataset.say })))
$('#stop').addEventListener('click', () => current?.controller.abort(new DOMException('stopped by the user', 'AbortError')))

$('#reset').addEventListener('click', async () => {
  current?.controller.abort()
  await agent.delete(SESSION)
  chat.replaceChildren()
  await send(new StartEvent())
})

// Another tab of this page saved or deleted the session (BroadcastChannel): show its version.
store.subscribe(({ id }) => {
  if (id !== SESSION) return
  if (current) stale = true
  else void renderHistory().then(refreshPanels)
})

// ── the inspector ──────────────────────────────────────────────────────────────────────────────

const text = (tag, content, className) => {
  const el = document.createElement(tag)
  el.textContent = content
  if (className) el.className = className
  return el
}
const inputText = (data) => (typeof data === 'string' ? data : JSON.stringify(data))
const replyText = (response) =>
  response?.text ??
  (response?.events ?? [])
    .map((e) => e.data?.delta ?? (e.type === 'tool_call' ? `[${e.data.name}] ` : e.type === 'error' ? `⚠ ${e.data.message}` : ''))
    .join('')
    .replace(/[*`#|]+/g, '')

async function refreshInspector() {
  const ctx = await store.load(SESSION)
  if (!ctx) return
  const json = ctx.toJSON()
  const usage = ctx.usage
  const facts = [
    ['session', ctx.sessionId],
    ['greeting', (() => { try { return ctx.getTest(TEST) } catch { return '—' } })()],
    ['turns', String(ctx.currentTurnId + 1)],
    ['model calls', `${usage.calls} (${usage.inputTokens} in, ${usage.outputTokens} out)`],
    ['model', currentModel().label],
  ]
  $('#session').replaceChildren(...facts.flatMap(([k, v]) => [text('dt', k), text('dd', v)]))

  // prune's own result: what it keeps, in its order, a text cut to fill the rest of the budget.
  const inputs = ctx.inputs
  const keptInputs = kept(inputs)
  const keptOf = (input) =>
    keptInputs.find((k) => k.data === input.data || inputText(k.data) === inputText(input.data)) ??
    keptInputs.find((k) => typeof k.data === 'string' && typeof input.data === 'string' && k.data.endsWith('…') && input.data.startsWith(k.data.slice(0, -1)))
  $('#budget').textContent = String(BUDGET)
  const bar = $('#budget-bar')
  let used = 0
  const segments = []
  const list = []
  inputs
    .map((input, index) => ({ input, index }))
    .sort((a, b) => b.input.relevance - a.input.relevance || a.index - b.index)
    .forEach(({ input }) => {
      const k = keptOf(input)
      const cut = k && k.tokens < input.tokens
      if (k) {
        used += k.tokens
        const seg = text('span', '', 'seg')
        seg.style.flexBasis = `${(100 * k.tokens) / BUDGET}%`
        seg.title = `${k.tokens} tokens: ${inputText(k.data)}`
        segments.push(seg)
      }
      const li = document.createElement('li')
      li.className = k ? (cut ? 'kept cut' : 'kept') : 'dropped'
      li.title = k ? (cut ? `cut to ${k.tokens} tokens to fill the budget` : 'kept') : 'dropped: does not fit the budget'
      li.append(text('span', input.relevance.toFixed(1), 'rel'), text('span', cut ? `${k.tokens}/${input.tokens}` : `${input.tokens} t`, 'tok'), text('span', inputText(input.data), 'data'))
      list.push(li)
    })
  bar.replaceChildren(...segments)
  bar.setAttribute('aria-label', `${used} of ${BUDGET} tokens used by the inputs kept`)
  $('#budget-used').textContent = `${used} / ${BUDGET}`
  $('#inputs').replaceChildren(...list)

  const turns = json.turns.map((t) => {
    const li = document.createElement('li')
    li.dataset.turn = String(t.id)
    li.append(text('span', `#${t.id}`, 'id'), text('span', t.label?.node ?? '', 'label'))
    if (t.request?.text) li.append(text('span', t.request.text, 'req'))
    li.append(text('span', replyText(t.response).slice(0, 90) || '…', 'res'))
    if (t.response?.interrupted) li.append(text('span', 'interrupted', 'flag'))
    return li
  })
  $('#turns').replaceChildren(...turns)
}

async function refreshReport() {
  const option = await store.load(SESSION).then((ctx) => (ctx ? ctx.getTest(TEST) : undefined)).catch(() => undefined)
  $('#assignment').replaceChildren(
    'This browser (visitor ',
    text('code', visitorId().slice(0, 8)),
    ') gets ',
    text('strong', option ?? '…', 'variant'),
    ` in every session: the option is hashed from the visitor id, not drawn.`,
  )
  let report
  try {
    report = await experiments.report(TEST)
  } catch (error) {
    $('#report').replaceChildren()
    $('#report-note').textContent = error?.code === 'not_found' ? 'No session recorded yet.' : String(error?.message ?? error)
    return
  }
  const head = document.createElement('tr')
  head.append(...['option', 'n', 'engaged', 'lift', 'best'].map((h) => text('th', h)))
  const pct = (x) => (x == null ? '—' : `${(x * 100).toFixed(0)}%`)
  const rows = report.options.map((o) => {
    const tr = document.createElement('tr')
    const e = o.outcomes.engaged
    if (o.value === option) tr.className = 'mine'
    tr.append(text('td', o.value), text('td', String(o.n)), text('td', pct(e?.mean)), text('td', e?.lift ? `${e.lift.estimate >= 0 ? '+' : ''}${pct(e.lift.estimate)}` : '—'), text('td', pct(e?.chanceToBeBest)))
    return tr
  })
  $('#report').replaceChildren(head, ...rows)
  const evaluation = await experiments.evaluate(TEST).catch(() => undefined)
  if (evaluation?.concluded) $('#assignment').append(` The test has concluded: new sessions get ${evaluation.value}.`)
  $('#report-note').textContent =
    `${report.iterations} sessions, confidence ${report.confidence.toFixed(0)}%` +
    (evaluation?.concluded
      ? ` — concluded: ${evaluation.value} (${evaluation.reason}).`
      : report.options.some((o) => o.n < MIN_SAMPLES)
        ? ` — each option needs ${MIN_SAMPLES} sessions before the test may stop.`
        : ' — running until 95% confidence.')
}

async function refreshPanels() {
  await Promise.all([refreshInspector(), refreshReport()])
}

$('#simulate').addEventListener('click', async (e) => {
  e.target.disabled = true
  try {
    await simulateVisitors(40)
  } finally {
    e.target.disabled = false
  }
  await refreshReport()
})

// The inspector is a side column on a desktop and a sheet on a phone.
$('#panel-toggle').addEventListener('click', () => {
  const open = document.body.classList.toggle('panel-open')
  $('#panel-toggle').setAttribute('aria-expanded', String(open))
})

// ── a real model ───────────────────────────────────────────────────────────────────────────────

const form = $('#model-form')
form.elements.provider.addEventListener('change', () => {
  const d = PROVIDERS[form.elements.provider.value]
  form.elements.baseURL.value = d.baseURL
  form.elements.model.value = d.model
  form.elements.apiKey.placeholder = d.key
})
form.addEventListener('submit', async (e) => {
  e.preventDefault()
  const f = form.elements
  const result = $('#connect-result')
  const status = $('#model-status')
  result.className = 'checking'
  result.textContent = `Checking ${f.baseURL.value}…`
  f.connect.disabled = true
  try {
    const model = await connect({ provider: f.provider.value, baseURL: f.baseURL.value, apiKey: f.apiKey.value, model: f.model.value })
    useModel(model)
    f.apiKey.value = '' // the executor holds it now; nothing else does
    result.className = 'ok'
    result.textContent = `Connected: ${model.label} answered.`
    status.textContent = model.label
    status.classList.add('real')
  } catch (error) {
    result.className = 'failed'
    result.textContent = error.message
  } finally {
    f.connect.disabled = false
    void refreshInspector()
  }
})
$('#disconnect').addEventListener('click', () => {
  useModel(undefined)
  $('#model-status').textContent = 'simulated model'
  $('#model-status').classList.remove('real')
  $('#connect-result').textContent = ''
  void refreshInspector()
})

// ── start ──────────────────────────────────────────────────────────────────────────────────────

await startSimulatedModel()
if (!(await renderHistory())) await send(new StartEvent())
await refreshPanels()
document.body.dataset.ready = 'true'
