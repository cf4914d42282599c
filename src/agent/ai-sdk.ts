import type { JsonObject } from '../state/json.js'
import { discard, isJsonType, readLimited } from './body.js'
import { corsHeaders, preflight } from './cors.js'
import { AgentEvent } from './events.js'
import { handleFetch, type ExecutionContextLike, type HttpDeps, type TurnSaved } from './http.js'

/**
 * The AI SDK's UI message stream protocol (`ai` v5 and v6, what `useChat` with its default
 * `DefaultChatTransport` speaks), beside the agent's own routes (`createAgent({ protocol: 'ai-sdk' })`):
 *
 *     POST …/chat                   `{ id, messages, trigger, messageId }` in, a UI message stream out
 *     GET  …/chat/:id/stream        204: no stream is kept to resume (`useChat({ resume: true })`)
 *
 * The chat's `id` is the session id; the text parts of the last message (it must be the user's) are
 * the `text` event sent to the agent. (`{ id, message }`, one message, is read too: what a
 * `prepareSendMessagesRequest` sending only the last message posts, since a long chat's whole
 * history would reach the 1 MiB body limit.) The request then takes the agent's own path: the
 * same `authorize`, CORS, limits and errors (a refusal is the agent's JSON error, which
 * `DefaultChatTransport` throws as an `Error` with that text).
 *
 * Events become chunks: each turn's text one text part (`text-start`, `text-delta`, `text-end`):
 * every event with a `data.text` (sentences joined by a space, as the agent's `response.text`),
 * and `text_delta` events' `data.delta` as they come (an event with the whole text after them
 * adds nothing: the deltas were its pieces). An `error` event is an `error` chunk (`useChat`'s
 * `error`); a background task's event a `data-background` part (`data` is the event's JSON); any
 * other event a `data-<type>` part (`data-stop`, `data-order`). The stream opens with `start`
 * and ends with `finish` and `[DONE]` once the turn has been saved and the tasks it started that
 * yield events have finished (the agent's mark of the save makes no chunk here).
 */

/** The AI SDK's routes: `…/chat` and `…/chat/:id/stream` (any prefix before `/chat`). */
export const CHAT_PATH = /^(.*)\/chat(?:\/([^/]+)\/stream)?\/?$/

// As the agent's own route: a few hundred bytes for a message; see above for long chats.
const MAX_BODY = 1024 * 1024
const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' }
// The AI SDK's own response headers (UI_MESSAGE_STREAM_HEADERS in `ai`): `x-vercel-ai-ui-message-stream`
// names the protocol; `x-accel-buffering: no` keeps nginx from holding the stream back.
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-vercel-ai-ui-message-stream': 'v1',
  'x-accel-buffering': 'no',
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/** The text event the chat request asks for, or the reason it cannot be one (a 400's message). */
function eventOf(body: unknown): { id: string; event: { type: string; data: JsonObject } } | string {
  if (!isObject(body)) return 'the body must be a JSON object { id, messages }'
  const { id, messages } = body
  if (typeof id !== 'string' || !id) return 'id: must be the chat id (a non-empty string)'
  const last = isObject(body.message) ? body.message : Array.isArray(messages) ? messages[messages.length - 1] : undefined
  const where = isObject(body.message) ? 'message' : `messages[${Array.isArray(messages) ? messages.length - 1 : 0}]`
  if (!isObject(last)) return 'messages: must be a non-empty array of UI messages'
  if (last.role !== 'user') return `${where}.role: the last message must be the user's`
  if (!Array.isArray(last.parts)) return `${where}.parts: must be an array`
  const text = last.parts.map((p: unknown) => (isObject(p) && p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('')
  if (!text) return `${where}.parts: no text part`
  return { id, event: { type: 'text', data: { text } } }
}

function error(request: Request, deps: HttpDeps, status: number, code: string, message: string, extra?: Record<string, string>): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { ...JSON_TYPE, ...extra, ...corsHeaders(deps.cors, request) } })
}

/** The `Access-Control-Allow-*` headers of a preflight for GET (as `preflight` in cors.ts answers them). */
const preflightHeaders = (cors: NonNullable<HttpDeps['cors']>, request: Request): Record<string, string> =>
  Object.fromEntries(preflight(cors, request, 'GET').headers)

/** The agent's `fetch` for the AI SDK's routes (see above). */
export async function handleChat(request: Request, deps: HttpDeps, executionContext?: ExecutionContextLike): Promise<Response> {
  const url = new URL(request.url)
  const [, prefix, resume] = CHAT_PATH.exec(url.pathname)!
  const { method, headers } = request
  if (resume !== undefined) {
    // Nothing but GET (and a preflight for it) here: no other method may reach a session through it.
    if (method === 'GET') return new Response(null, { status: 204, headers: corsHeaders(deps.cors, request) })
    // A refused body is read and dropped (up to 256 KiB, as the agent does), so the connection can carry the next request.
    if (request.body) await discard(request.body, 256 * 1024)
    if (method === 'OPTIONS' && deps.cors) return new Response(null, { status: 204, headers: { ...preflightHeaders(deps.cors, request), ...corsHeaders(deps.cors, request) } })
    return error(request, deps, 405, 'method_not_allowed', `${method.slice(0, 20)} is not allowed here; use GET`, { allow: 'GET' })
  }
  const target = (id: string) => new URL(`${prefix}/sessions/${encodeURIComponent(id)}/events${url.search}`, url)
  // What the agent answers before it looks at a session (a preflight, 405 with Allow, 415, a
  // Content-Length over 1 MiB) it answers here too, on its own route: same checks, same CORS. The
  // session id '-' is never reached: each of these is answered before a session is looked at.
  if (method !== 'POST' || !isJsonType(headers.get('content-type')) || Number(headers.get('content-length')) > MAX_BODY) {
    const body = method === 'GET' || method === 'HEAD' ? null : request.body
    return handleFetch(new Request(target('-'), { method, headers, body, signal: request.signal, duplex: 'half' } as RequestInit), deps, executionContext)
  }
  const bytes = await readLimited(request.body, MAX_BODY)
  if (!bytes) return error(request, deps, 413, 'too_large', `the chat request is over ${MAX_BODY} bytes`)
  let parsed: ReturnType<typeof eventOf>
  try {
    parsed = eventOf(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)))
  } catch {
    parsed = 'the body is not UTF-8 JSON'
  }
  if (typeof parsed === 'string') return error(request, deps, 400, 'invalid_argument', parsed)

  // The event goes the agent's own way (authorize, init, the turn); its events are taken here
  // rather than framed as the agent's SSE and parsed back.
  let events: AsyncIterable<AgentEvent | TurnSaved> | undefined
  const agent: HttpDeps['agent'] = {
    ...deps.agent,
    start(sessionId, event, options) {
      // The caller's own request and signal, not the forwarded ones. Node's Request (undici) makes
      // its signal follow the one it was given through a WeakRef to its own AbortController: once
      // the Request is garbage collected, its signal never aborts. The run holds the request it is
      // given (for `init`) until the turn ends, which keeps the caller's Request, and so the abort
      // of a client that went away, alive. (Seen: useChat's stop() reached the turn 2 runs in 3.)
      const started = deps.agent.start(sessionId, event, { ...options, signal: request.signal, request })
      events = started.events
      return { events: (async function* () {})(), opened: started.opened }
    },
  }
  const inner = new Headers(headers)
  inner.delete('content-length')
  const forwarded = new Request(target(parsed.id), { method: 'POST', headers: inner, body: JSON.stringify(parsed.event), signal: request.signal })
  const response = await handleFetch(forwarded, { ...deps, agent }, executionContext)
  if (!events || response.status !== 200) return response
  void response.body?.cancel().catch(() => {})
  const out = new Headers(response.headers)
  for (const [name, value] of Object.entries(STREAM_HEADERS)) out.set(name, value)
  return new Response(uiMessageStream(events), { headers: out })
}

/** Where a reply's text part stands: its id, whether deltas are arriving, the turn it is of. */
interface TextState {
  id?: string
  deltas: boolean
  turn?: number
  parts: number
}

/** The UI message chunks of one agent event (see above). */
export function chunksOf(event: AgentEvent, s: TextState): object[] {
  const out: object[] = []
  const json = event.toJSON()
  if (event.background) return [{ type: 'data-background', data: json }]
  const end = () => {
    if (s.id) out.push({ type: 'text-end', id: s.id })
    s.id = undefined
    s.deltas = false
  }
  if (s.id && event.turn !== s.turn) end()
  s.turn = event.turn
  const { data } = event
  const open = (delta: string) => {
    if (!s.id) out.push({ type: 'text-start', id: (s.id = `text-${++s.parts}`) })
    else if (!s.deltas) delta = ' ' + delta
    out.push({ type: 'text-delta', id: s.id, delta })
  }
  if (event.type === 'text_delta' && typeof data.delta === 'string') {
    if (data.delta) open(data.delta)
    s.deltas = true
  } else if (typeof data.text === 'string' && data.text) {
    if (!s.deltas) open(data.text)
    s.deltas = false
  } else if (event.type === 'error') {
    out.push({ type: 'error', errorText: typeof data.message === 'string' ? data.message : 'error' })
  } else out.push({ type: `data-${event.type}`, data: json })
  return out
}

/** The agent's events as the AI SDK's UI message stream (SSE of JSON chunks), pulled one event at a time. */
function uiMessageStream(events: AsyncIterable<AgentEvent | TurnSaved>): ReadableStream<Uint8Array> {
  const it = events[Symbol.asyncIterator]()
  const encoder = new TextEncoder()
  const s: TextState = { deltas: false, parts: 0 }
  const chunks: object[] = [{ type: 'start' }]
  const send = (controller: ReadableStreamDefaultController<Uint8Array>, end = '') =>
    controller.enqueue(encoder.encode(chunks.splice(0).map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + end))
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Until there is something to send: an event may make no chunk (an empty delta).
      while (!chunks.length) {
        let step: IteratorResult<AgentEvent | TurnSaved>
        try {
          step = await it.next()
        } catch {
          // The agent's stream fails only when a new session could not be opened (init threw), which
          // \`fetch\` has answered with a 500 already; nothing of the error is said here.
          step = { done: true, value: undefined }
          chunks.push({ type: 'error', errorText: 'internal error' })
        }
        if (step.done) {
          if (s.id) chunks.push({ type: 'text-end', id: s.id })
          chunks.push({ type: 'finish' })
          send(controller, 'data: [DONE]\n\n')
          return controller.close()
        }
        // The save's mark makes no chunk: useChat's status follows the stream's end, not `finish`
        // (ai 6.0's processUIMessageStream only records a `finish` chunk's reason and metadata), so
        // `finish` stays last rather than being followed by the tasks' `data-background` parts.
        if (!(step.value instanceof AgentEvent)) continue
        chunks.push(...chunksOf(step.value, s))
      }
      send(controller)
    },
    cancel: () => void it.return?.(),
  })
}
