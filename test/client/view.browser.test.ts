import { afterEach, describe, expect, it } from 'vitest'
import { createAgent } from '../../src/agent/agent.js'
import { createAgentClient, type AgentClient, type SessionSnapshot, type SessionView } from '../../src/client/index.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { handler, type Seen } from './handler.js'

// The session view rendered with plain DOM in Chromium, as docs/client.md's plain-DOM example does:
// Chromium's own fetch Request/Response, streams, TextDecoder and AbortController carry the agent's
// SSE (the agent runs in the page, the client's `fetch` calls its `fetch`, as a service worker would).

const seen: Seen = { aborted: [] }
const agent = createAgent({ store: createContextStore(memoryStorage(), { channel: false }), handler: handler(seen) })
const client: AgentClient = createAgentClient({ url: 'https://agent.local/api', fetch: (url, init) => agent.fetch(new Request(url, init)) })

const roots: HTMLElement[] = []
afterEach(() => roots.splice(0).forEach((root) => root.remove()))

/** docs/client.md's plain-DOM rendering, over `view`: one <li> per message, reused while its message is the same object. */
function mount(view: SessionView) {
  const root = document.createElement('main')
  root.innerHTML = '<ol id="messages"></ol><form><input><button>Send</button></form><button id="stop" hidden>Stop</button>'
  document.body.append(root)
  roots.push(root)
  const list = root.querySelector<HTMLOListElement>('#messages')!
  const form = root.querySelector<HTMLFormElement>('form')!
  const input = form.querySelector<HTMLInputElement>('input')!
  const stop = root.querySelector<HTMLButtonElement>('#stop')!
  const items = new Map<string, { message: unknown; li: HTMLLIElement }>()
  let renders = 0
  function render({ messages, streaming, status, error }: SessionSnapshot): void {
    renders++
    const children = messages.map((m) => {
      let item = items.get(m.id)
      if (item?.message !== m) {
        const li = item?.li ?? document.createElement('li')
        li.className = `${m.role}${m.interrupted ? ' interrupted' : ''}${m.error ? ' error' : ''}`
        li.textContent = m.error ? m.error.message : m.text
        items.set(m.id, (item = { message: m, li }))
      }
      return item.li
    })
    list.replaceChildren(...children)
    list.lastElementChild?.scrollIntoView({ block: 'end' })
    stop.hidden = !streaming
    form.dataset.status = status
    form.title = error?.message ?? ''
  }
  view.subscribe(render)
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    if (input.value.trim()) void view.send(input.value)
    input.value = ''
  })
  stop.addEventListener('click', view.stop)
  const type = (text: string) => ((input.value = text), form.requestSubmit())
  const shown = () => [...list.children].map((li) => `${li.className}: ${li.textContent}`)
  return { list, form, stop, type, shown, renders: () => renders }
}

describe('the session view in Chromium, rendered with plain DOM', () => {
  it('a typed message shows at once; the greeting comes before it; the reply streams into one <li> token by token', async () => {
    const view = client.session('dom-1')
    const ui = mount(view)
    await view.load()
    const grown: string[] = []
    new MutationObserver(() => grown.push(ui.list.lastElementChild?.textContent ?? '')).observe(ui.list, { subtree: true, childList: true, characterData: true })
    ui.type('stream 5')
    expect(ui.shown()).toEqual(['user: stream 5'])
    expect(ui.form.dataset.status).toBe('streaming')
    await expect.poll(() => ui.form.dataset.status).toBe('idle')
    expect(ui.shown()).toEqual(['assistant: Hello!', 'user: stream 5', 'assistant: w1 w2 w3 w4 w5'])
    expect(ui.stop.hidden).toBe(true)
    expect(grown.filter((t) => t.startsWith('w1'))).toEqual(expect.arrayContaining(['w1', 'w1 w2', 'w1 w2 w3']))
  })

  it('unchanged messages keep their <li> (the snapshot keeps their objects); a second turn adds two', async () => {
    const view = client.session('dom-2')
    const ui = mount(view)
    await view.load()
    ui.type('one')
    await expect.poll(() => ui.shown().length).toBe(3)
    await expect.poll(() => ui.form.dataset.status).toBe('idle')
    const [greeting, user] = [...ui.list.children]
    ui.type('stream 3')
    await expect.poll(() => ui.form.dataset.status).toBe('idle')
    expect(ui.shown().slice(-2)).toEqual(['user: stream 3', 'assistant: w1 w2 w3'])
    expect(ui.list.children[0]).toBe(greeting)
    expect(ui.list.children[1]).toBe(user)
  })

  it('Stop: the partial reply stays, marked interrupted; the agent saw the abort; a reload shows the same', async () => {
    const view = client.session('dom-3')
    const ui = mount(view)
    await view.load()
    ui.type('slow')
    await expect.poll(() => ui.list.lastElementChild?.textContent ?? '').toMatch(/^s1 s2 s3/)
    expect(ui.stop.hidden).toBe(false)
    ui.stop.click()
    expect(ui.stop.hidden).toBe(true)
    expect(ui.shown().at(-1)).toMatch(/^assistant interrupted: s1 s2 s3/)
    await expect.poll(() => seen.aborted).toContain('slow')
    await expect.poll(async () => (await client.history('dom-3'))?.turns?.at(-1)?.response?.interrupted).toBe(true)
    // A reload: a new view of the session, its history read.
    const again = client.session('dom-3')
    const ui2 = mount(again)
    await again.load()
    expect(ui2.shown()).toEqual(['assistant: Hello!', 'user: slow', expect.stringMatching(/^assistant interrupted: s1 s2 s3/)])
    // Rendered at subscribe, at 'loading', at 'idle': nothing more.
    expect(ui2.renders()).toBe(3)
  })

  it('an error: the handler’s error shows on its message; a refused request leaves the conversation and says why', async () => {
    const view = client.session('dom-4')
    const ui = mount(view)
    await view.load()
    ui.type('fail')
    await expect.poll(() => ui.form.dataset.status).toBe('idle')
    expect(ui.shown().at(-1)).toBe('assistant error: internal error')
    const broken = createAgentClient({ url: 'https://agent.local', fetch: async () => new Response('{"error":{"code":"forbidden","message":"no"}}', { status: 403 }) })
    const ui2 = mount(broken.session('dom-5'))
    ui2.type('hello')
    await expect.poll(() => ui2.form.dataset.status).toBe('error')
    expect(ui2.form.title).toBe('agent: HTTP 403 forbidden: no')
    expect(ui2.shown()).toEqual(['user: hello'])
  })
})
