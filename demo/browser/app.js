// The in-browser agent demo. It uses only the built package (`/dist/`), as an app would.
import { Context, ContextError } from 'agentctx'

const KEY = 'agentctx-demo:context'
const chat = document.querySelector('#chat')
const state = document.querySelector('#state')
const form = document.querySelector('#composer')
const input = document.querySelector('#message')

/** Load the saved context, or start a new one at the greeting node. */
function load() {
  const saved = localStorage.getItem(KEY)
  if (saved) {
    try {
      return Context.fromJSON(saved)
    } catch (error) {
      // A corrupted or outdated save is reported and replaced, never a blank page.
      console.warn('discarding saved context:', error instanceof ContextError ? `${error.code}: ${error.message}` : error)
    }
  }
  const ctx = Context.init({ flow: 'chat', node: 'greeting' }, { agentId: 'demo-agent' })
  ctx.addOutcome('message_count', 'integer', 'Messages sent')
  ctx.addTest('greeting_style', { 'Hello! How can I help you today?': 0.5, 'Hi there! What can I do for you?': 0.5 })
  return ctx
}

/** A rule-based reply, so the demo needs no API key. */
function reply(ctx, text) {
  const count = ctx.triggerOutcome('message_count')
  const name = /my name is (\w+)/i.exec(text)?.[1]
  if (name) ctx.setData('user_name', name)
  const user = ctx.getData('user_name', 'friend')
  if (count === 1) return `${ctx.getTest('greeting_style')} (nice to meet you, ${user})`
  return `Message number ${count}, ${user}. You said: “${text}”.`
}

function render(ctx) {
  chat.replaceChildren()
  for (const [turn, request] of ctx.requests) {
    chat.append(bubble('user', request.text ?? '', turn))
    const response = ctx.responses.get(turn)
    if (response) chat.append(bubble('agent', response.text ?? '', turn))
  }
  state.textContent = JSON.stringify(ctx, null, 2)
}

function bubble(role, text, turn) {
  const div = document.createElement('div')
  div.className = `turn ${role}`
  div.dataset.turn = String(turn)
  div.textContent = text
  return div
}

let ctx = load()
render(ctx)

form.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = input.value.trim()
  if (!text) return
  ctx.addRequest(text)
  ctx.addResponse(reply(ctx, text))
  ctx.addLabel({ flow: 'chat', node: 'reply' })
  localStorage.setItem(KEY, JSON.stringify(ctx))
  input.value = ''
  render(ctx)
})

document.querySelector('#reset').addEventListener('click', () => {
  localStorage.removeItem(KEY)
  ctx = load()
  render(ctx)
})
