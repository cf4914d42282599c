import { AbstractChat, DefaultChatTransport, parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema, validateUIMessages, type ChatInit, type ChatState, type ChatStatus, type UIMessage, type UIMessageChunk } from 'ai'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAgentClient, toUIMessages } from '../../src/client/index.js'
import { serveAgent, TOKEN, type Served } from './agent.js'

// `createAgent({ protocol: 'ai-sdk' })` read by the AI SDK's own code (`ai` 6): `AbstractChat` with
// `DefaultChatTransport` is what `useChat` runs (the React hook only adds a React state), here with
// a plain state, against the agent behind Node's http server on 127.0.0.1.

/** The state `useChat` keeps in React, kept in plain fields (as the AI SDK's own vanilla tests do). */
class PlainState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready'
  error: Error | undefined = undefined
  messages: UIMessage[] = []
  pushMessage = (m: UIMessage) => void (this.messages = [...this.messages, m])
  popMessage = () => void (this.messages = this.messages.slice(0, -1))
  replaceMessage = (i: number, m: UIMessage) => void (this.messages = this.messages.map((x, j) => (j === i ? m : x)))
  snapshot = <T>(thing: T): T => structuredClone(thing)
}
class Chat extends AbstractChat<UIMessage> {
  constructor({ messages, ...init }: Omit<ChatInit<UIMessage>, 'messages'> & { messages?: UIMessage[] }) {
    const state = new PlainState()
    state.messages = messages ?? []
    super({ ...init, state })
  }
}

// A full garbage collection on demand (as --expose-gc gives it), for the regression below.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

let served: Served
let api: string
const headers = { authorization: `Bearer ${TOKEN}` }
const chat = (id: string, extra: Partial<ConstructorParameters<typeof DefaultChatTransport>[0]> = {}) =>
  new Chat({ id, transport: new DefaultChatTransport({ api, headers, ...extra }) })
const said = (m: UIMessage | undefined) => m?.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text)

beforeAll(async () => {
  served = await serveAgent({ protocol: 'ai-sdk', cors: { origin: 'https://app.example' } })
  api = `${served.url}/api/chat`
})
afterAll(() => served.close())

/** The raw chunks of one POST, each checked by the AI SDK's own `uiMessageChunkSchema`; and the response. */
async function chunks(body: object, init: RequestInit = {}): Promise<{ response: Response; chunks: UIMessageChunk[]; raw: string }> {
  const response = await fetch(api, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body), ...init })
  const [a, b] = response.body!.tee()
  const out: UIMessageChunk[] = []
  const reader = parseJsonEventStream({ stream: a, schema: uiMessageChunkSchema }).getReader()
  for (let step; !(step = await reader.read()).done; ) {
    if (!step.value.success) throw step.value.error
    out.push(step.value.value)
  }
  return { response, chunks: out, raw: await new Response(b).text() }
}
const user = (text: string, id = 'm1'): UIMessage => ({ id, role: 'user', parts: [{ type: 'text', text }] })

describe("useChat's Chat with DefaultChatTransport against createAgent({ protocol: 'ai-sdk' })", () => {
  it('sends a message and reads the reply: the greeting and the answer as text parts; the chat id is the session', async () => {
    const c = chat('chat-1')
    await c.sendMessage({ text: 'hi there' })
    expect(c.status).toBe('ready')
    expect(c.error).toBeUndefined()
    expect(c.messages.map((m) => m.role)).toEqual(['user', 'assistant'])
    expect(said(c.messages[1])).toEqual(['Hello!', 'You said: hi there'])
    await c.sendMessage({ text: 'again' })
    expect(said(c.messages[3])).toEqual(['You said: again'])
    const history = await createAgentClient({ url: served.url, headers }).history('chat-1')
    expect(history!.turns!.map((t) => t.request?.text ?? null)).toEqual([null, 'hi there', 'again'])
  })

  it('streams token by token: readUIMessageStream over the transport sees the text grow', async () => {
    const transport = new DefaultChatTransport<UIMessage>({ api, headers })
    const stream = await transport.sendMessages({ chatId: 'chat-stream', messages: [user('stream 6')], trigger: 'submit-message', messageId: undefined, abortSignal: undefined })
    const texts: string[] = []
    for await (const message of readUIMessageStream({ stream })) texts.push(said(message)!.join('|'))
    expect(texts).toContain('Hello!|w1 w2 w3')
    expect(texts.at(-1)).toBe('Hello!|w1 w2 w3 w4 w5 w6')
  })

  it('the chunks are valid by uiMessageChunkSchema, in the protocol’s order, with its header and [DONE]', async () => {
    const { response, chunks: out, raw } = await chunks({ id: 'chat-raw', messages: [user('stream 2')], trigger: 'submit-message' })
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1')
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(out).toEqual([
      { type: 'start' },
      { type: 'text-start', id: 'text-1' },
      { type: 'text-delta', id: 'text-1', delta: 'Hello!' },
      { type: 'text-end', id: 'text-1' },
      { type: 'text-start', id: 'text-2' },
      { type: 'text-delta', id: 'text-2', delta: 'w1' },
      { type: 'text-delta', id: 'text-2', delta: ' w2' },
      { type: 'text-end', id: 'text-2' },
      { type: 'finish' },
    ])
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true)
  })

  it('a background task’s event is a data-background part, a custom event a data-<type> part', async () => {
    const c = chat('chat-data')
    await c.sendMessage({ text: 'task' })
    const parts = c.messages[1]!.parts
    expect(parts.find((p) => p.type === 'data-background')).toMatchObject({ data: { type: 'text_to_speech', background: { task: 'order' }, data: { text: 'Your order is ready!' } } })
    expect(said(c.messages[1])).toEqual(['Hello!', 'Working on it.'])
    await c.sendMessage({ text: 'custom' })
    expect(c.messages[3]!.parts).toEqual([expect.objectContaining({ type: 'data-order', data: expect.objectContaining({ type: 'order', data: { id: 'A1', total: 15.99 } }) })])
  })

  it('after a reload: toUIMessages(history) gives the messages back, valid by the AI SDK’s validateUIMessages, and the chat goes on from them', async () => {
    const client = createAgentClient({ url: served.url, headers })
    const messages = toUIMessages(await client.history('chat-data'))
    expect(await validateUIMessages({ messages })).toEqual(messages)
    expect(messages.map((m) => `${m.role}: ${m.parts.map((p) => (p.type === 'text' ? p.text : p.type)).join(' + ')}`)).toEqual([
      'assistant: Hello!',
      'user: task',
      'assistant: Working on it. + data-background',
      'user: custom',
      'assistant: data-order',
    ])
    const c = new Chat({ id: 'chat-data', messages: messages as UIMessage[], transport: new DefaultChatTransport({ api, headers }) })
    await c.sendMessage({ text: 'more' })
    expect(c.messages.length).toBe(7)
    expect(said(c.messages[6])).toEqual(['You said: more'])
  })

  it('a handler failure is an error chunk: the chat’s status is error, its message the agent’s safe one', async () => {
    const c = chat('chat-error')
    await c.sendMessage({ text: 'fail' })
    expect(c.status).toBe('error')
    expect(c.error?.message).toBe('internal error')
  })

  // Regression: the turn followed the forwarded Request's signal, which undici ties to the caller's
  // through a WeakRef: once that Request was garbage collected, stop() no longer reached the turn.
  it('stop() aborts the request: the agent interrupts the turn and records it so (also after a garbage collection)', async () => {
    const c = chat('chat-stop')
    const sending = c.sendMessage({ text: 'slow' })
    await expect.poll(() => said(c.messages[1])?.join('') ?? '').toMatch(/s2/)
    // What made the bug show at once: the forwarded Request collected while the reply streams.
    for (let i = 0; i < 3; i++) gc(), await new Promise((r) => setTimeout(r, 10))
    await c.stop()
    await sending
    await expect.poll(() => served.seen.aborted).toContain('slow')
    await expect.poll(async () => (await createAgentClient({ url: served.url, headers }).history('chat-stop'))?.turns?.at(-1)?.response?.interrupted).toBe(true)
  })

  it('prepareSendMessagesRequest sending only the last message ({ id, message }) works too', async () => {
    const c = chat('chat-last', { prepareSendMessagesRequest: ({ id, messages }) => ({ body: { id, message: messages.at(-1) } }) })
    await c.sendMessage({ text: 'one' })
    await c.sendMessage({ text: 'two' })
    expect(said(c.messages[3])).toEqual(['You said: two'])
  })

  it("refusals are the agent's own: 401 and 403 (authorize) reach the chat as its error", async () => {
    const anonymous = chat('chat-anon', { headers: {} })
    await anonymous.sendMessage({ text: 'hi' })
    expect(anonymous.status).toBe('error')
    expect(anonymous.error?.message).toBe('Unauthorized')
    const forbidden = chat('forbidden-chat')
    await forbidden.sendMessage({ text: 'hi' })
    expect(JSON.parse(forbidden.error!.message)).toEqual({ error: { code: 'forbidden', message: 'not allowed to access this session' } })
    expect(await served.store.load('forbidden-chat')).toBeUndefined()
  })

  it.each([
    ['no id', { messages: [user('x')] }, 'id: must be the chat id (a non-empty string)'],
    ['no messages', { id: 'c' }, 'messages: must be a non-empty array of UI messages'],
    ['the last message the assistant’s', { id: 'c', messages: [{ id: 'a', role: 'assistant', parts: [] }] }, "messages[0].role: the last message must be the user's"],
    ['no text part', { id: 'c', messages: [{ id: 'a', role: 'user', parts: [{ type: 'file', url: 'x', mediaType: 'image/png' }] }] }, 'messages[0].parts: no text part'],
    ['a session id over 128 characters', { id: 'x'.repeat(129), messages: [user('x')] }, 'the session id is over 128 characters'],
  ])('400 for %s, naming the field', async (_, body, message) => {
    const response = await fetch(api, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: { code: 'invalid_argument', message } })
  })

  it('the agent’s checks before a session: 415, 413 (declared and read), 405 with Allow, a CORS preflight; resume answers 204', async () => {
    const post = (init: RequestInit) => fetch(api, { method: 'POST', ...init, headers: { ...headers, ...(init.headers as object) } })
    expect((await post({ headers: { 'content-type': 'text/plain' }, body: '{}' })).status).toBe(415)
    const big = await post({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'c', messages: [user('x'.repeat(1024 * 1024))] }) })
    expect(big.status).toBe(413)
    expect(await big.json()).toMatchObject({ error: { code: 'too_large' } })
    const get = await fetch(api, { headers })
    expect(get.status).toBe(405)
    expect(get.headers.get('allow')).toBe('POST')
    const preflight = await fetch(api, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(preflight.headers.get('access-control-allow-methods')).toBe('POST')
    // Regression: a POST to the resume route was passed on as an agentctx event for a session "-".
    const viaResume = await fetch(`${api}/x/stream`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text: 'x' } }) })
    expect(viaResume.status).toBe(405)
    expect(viaResume.headers.get('allow')).toBe('GET')
    expect(await served.store.load('-')).toBeUndefined()
    const resumePreflight = await fetch(`${api}/x/stream`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } })
    expect(resumePreflight.status).toBe(204)
    expect(resumePreflight.headers.get('access-control-allow-methods')).toBe('GET')
    const resumed = await fetch(`${api}/chat-1/stream`, { headers: { origin: 'https://app.example' } })
    expect(resumed.status).toBe(204)
    expect(resumed.headers.get('access-control-allow-origin')).toBe('https://app.example')
    // A streamed answer carries CORS too.
    const { response } = await chunks({ id: 'chat-cors', messages: [user('hi')] }, { headers: { ...headers, 'content-type': 'application/json', origin: 'https://app.example' } })
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example')
  })

  it('without the option, …/chat is not a route (404), and the agent’s own routes work beside it', async () => {
    const plain = await serveAgent()
    try {
      const response = await fetch(`${plain.url}/api/chat`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'c', messages: [user('x')] }) })
      expect(response.status).toBe(404)
    } finally {
      await plain.close()
    }
    const events = []
    for await (const e of createAgentClient({ url: served.url, headers }).send('chat-1', 'own route')) events.push(e)
    expect(events.at(-1)!.data.text).toBe('You said: own route')
  })
})
