import type { ContextRuntime } from '../context.js'
import { ContextError } from '../errors.js'
import type { ContextStore } from '../storage/store.js'
import { discard, isJsonType, readLimited } from './body.js'
import { corsHeaders, preflight, type Cors } from './cors.js'
import { AgentEvent, ErrorEvent, EVENT_TYPE, eventFromJSON } from './events.js'

/** The part of a platform's execution context we use: Workers' and Vercel's `waitUntil`. */
export interface ExecutionContextLike {
  /** Keeps the invocation alive until `promise` settles, so background work (saves, tasks, experiments) finishes after the response. */
  waitUntil(promise: Promise<unknown>): void
}

/**
 * Decides whether `request` may touch the session `sessionId`: `true` lets it through; `false` (or
 * anything else: it fails closed) answers 403; a `Response` (a 401 with `WWW-Authenticate`, a
 * redirect) is sent instead. Sync or async. Runs before the session is read or written, for every
 * method (`POST` events, `GET`/`HEAD` its history, `DELETE`); not for a CORS preflight. It must not
 * read the request's body (the handler reads it after). If it throws, the answer is a generic 500
 * and the error goes to `onError`.
 */
export type Authorize = (request: Request, session: { sessionId: string }) => boolean | Response | Promise<boolean | Response>

/**
 * Among a run's events, after them: its turn (`saved`, the turn's id) has been saved, and the stream
 * stays open for the events of tasks the turn started (without such tasks the stream just ends
 * after the save, with no mark). `fetch` writes it as an SSE comment line,
 * `: turn 3 saved`, which `EventSource`, eventsource-parser and the AI SDK's reader skip (a comment
 * dispatches no event), so the wire's events are unchanged. `agentctx/client` reads it (`onSaved`).
 */
export interface TurnSaved {
  readonly saved: number
}

/** The SSE comment of a `TurnSaved` (the client's events.ts reads the same text: `SAVED_COMMENT`). */
export const savedComment = (turn: number): string => `: turn ${turn} saved\n\n`

/** What `handleFetch` needs of the agent. */
export interface HttpDeps {
  /**
   * The agent's `send`, with the promise that settles once the session is open (rejected with the
   * error of `init`), and `delete` (typed here, not imported from agent.ts, which imports this file: no cycle).
   */
  agent: {
    start(
      sessionId: string,
      event: AgentEvent,
      options: { signal?: AbortSignal; waitUntil?: (promise: Promise<unknown>) => void; request?: Request },
    ): { events: AsyncIterable<AgentEvent | TurnSaved>; opened: Promise<void> }
    delete(sessionId: string): Promise<boolean>
  }
  store: ContextStore
  runtime: ContextRuntime
  authorize?: Authorize
  cors?: Cors
  onError?: (error: unknown, request: Request) => void
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' }
// Bodies above 1 MiB are refused, while reading: an event is a few hundred bytes.
const MAX_BODY = 1024 * 1024
// What is read and dropped of a refused request's body before it is cancelled (see `discard`).
const DISCARD = 256 * 1024
// At most 128 UTF-16 units (<= 384 UTF-8 bytes, each `/` or `%` of it stored as 3): with the store's
// prefix and suffix (~50 bytes) every key of the session fits Workers KV's and Durable Objects' 512 bytes.
const MAX_ID = 128

function error(status: number, code: string, message: string, extra?: HeadersInit): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { ...JSON_TYPE, ...extra } })
}
const notAllowed = (method: string, allow: string) => error(405, 'method_not_allowed', `${method.slice(0, 20)} is not allowed here; use ${allow}`, { allow })
const internal = () => error(500, 'internal', 'internal error')

/**
 * One SSE message per event: `event: <type>` and `data: <the event's JSON>` on one line. The type is
 * the one part written outside JSON: events check it (`EVENT_TYPE`), and it is checked again here,
 * where the frame is made, so that an event changed after it was made (a subclass, a cast) cannot
 * end a line early and forge a frame; such an event, or one whose JSON is not an object, becomes an
 * `ErrorEvent` "internal error". `JSON.stringify` escapes every CR and LF inside the data.
 */
export function sseFrame(event: AgentEvent): string {
  let json: unknown
  try {
    json = JSON.stringify(event)
  } catch {
    // a toJSON that throws: refused below
  }
  if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type) || typeof json !== 'string' || json[0] !== '{') return sseFrame(ErrorEvent.fromError(null))
  return `event: ${event.type}\ndata: ${json}\n\n`
}

/**
 * The agent's `fetch`. Routes (any path prefix is allowed before `/sessions`):
 *
 *     POST   /sessions/:id/events   a JSON event in, `text/event-stream` of output events out
 *     GET    /sessions/:id          the context's JSON, with its most recent turns (404 when unknown)
 *     DELETE /sessions/:id          204 (its turns and tasks are aborted), or 404 when unknown
 *     OPTIONS either                 a CORS preflight, with the `cors` option (else 405)
 *
 * A POST to a new id creates the session (its `StartEvent` output comes first). Each SSE message is
 * `event: <type>` and `data: <the event's JSON>` (one line); the stream ends when the turn has been
 * saved and the tasks it started that yield events have settled (see `Agent.send`); while such tasks
 * keep it open, a comment line `: turn N saved` marks the save (`TurnSaved`). A client that stops reading only stops the stream: the turn still runs and is saved; the
 * request's `signal` aborting interrupts it.
 *
 * Checks, in order, each answered with JSON `{ error: { code, message } }`: 404 for an unknown path
 * or session, 400 for a session id that is not percent-encoding or over 128 characters, 405 with
 * `Allow` for a wrong method, 415 for a POST that is not `application/json` (or `+json`, charset
 * UTF-8 if given), 413 for a `Content-Length` over 1 MiB, then `authorize` (403, or its `Response`),
 * then the body read (413 past 1 MiB, 400 if not UTF-8) and the event (400 naming the field). Any
 * other failure (`authorize`, the agent's `init` or the store throwing) is a 500 "internal error", whose error goes to
 * `onError` and never into the answer. The executionContext's `waitUntil` gets the turn and every
 * background task. With `cors`, every answer gets `Access-Control-Allow-Origin` for an allowed origin.
 */
export async function handleFetch(request: Request, deps: HttpDeps, executionContext?: ExecutionContextLike): Promise<Response> {
  let response: Response
  try {
    response = await route(request, deps, executionContext)
  } catch (e) {
    try {
      deps.onError?.(e, request)
    } catch {
      // a failing logger must not turn the 500 into a rejection
    }
    response = internal()
  }
  // A body answered without being read (a refusal: 401, 403, 405, 413, 415…) is read and dropped
  // first, up to 256 KiB (then cancelled; at once when its declared length is over that), so that
  // the connection can carry the next request.
  if (request.body && !request.bodyUsed) {
    if (Number(request.headers.get('content-length')) > DISCARD) request.body.cancel().catch(() => {})
    else await discard(request.body, DISCARD)
  }
  const cors = Object.entries(corsHeaders(deps.cors, request))
  if (!cors.length) return response
  const add = (r: Response) => {
    for (const [name, value] of cors) name === 'vary' ? r.headers.append(name, value) : r.headers.set(name, value)
    return r
  }
  try {
    return add(response)
  } catch {
    // An authorize's Response may have immutable headers (one from fetch, or Response.redirect): add them to a copy.
    return add(new Response(response.body, response))
  }
}

async function route(request: Request, deps: HttpDeps, executionContext?: ExecutionContextLike): Promise<Response> {
  const url = new URL(request.url)
  const match = /\/sessions\/([^/]+)(\/events)?\/?$/.exec(url.pathname)
  if (!match) return error(404, 'not_found', 'no route here: POST /sessions/:id/events, GET or DELETE /sessions/:id')
  let id: string
  try {
    id = decodeURIComponent(match[1]!)
  } catch {
    return error(400, 'invalid_argument', 'the session id is not valid percent-encoding')
  }
  if (id.length > MAX_ID) return error(400, 'invalid_argument', `the session id is over ${MAX_ID} characters`)
  const methods = match[2] ? 'POST' : 'GET, HEAD, DELETE'
  const { method } = request
  if (method === 'OPTIONS' && deps.cors) return preflight(deps.cors, request, methods)
  if (!methods.split(', ').includes(method)) return notAllowed(method, methods)

  // Cheap refusals before authorize: they look at no session.
  if (method === 'POST') {
    if (!isJsonType(request.headers.get('content-type'))) return error(415, 'unsupported_media_type', 'the event must be sent as content-type application/json')
    if (Number(request.headers.get('content-length')) > MAX_BODY) return error(413, 'too_large', `the event is over ${MAX_BODY} bytes`)
  }
  if (deps.authorize) {
    const verdict = await deps.authorize(request, { sessionId: id })
    if (verdict instanceof Response) return verdict
    if (verdict !== true) return error(403, 'forbidden', 'not allowed to access this session')
  }
  if (method === 'POST') return post(request, id, deps, executionContext)
  if (method === 'DELETE') {
    if (!(await deps.agent.delete(id))) return error(404, 'not_found', 'no such session')
    return new Response(null, { status: 204 })
  }
  const ctx = await deps.store.load(id, deps.runtime)
  if (!ctx) return error(404, 'not_found', 'no such session')
  return new Response(method === 'HEAD' ? null : JSON.stringify(ctx), { headers: JSON_TYPE })
}

async function post(request: Request, id: string, deps: HttpDeps, executionContext?: ExecutionContextLike): Promise<Response> {
  const bytes = await readLimited(request.body, MAX_BODY)
  if (!bytes) return error(413, 'too_large', `the event is over ${MAX_BODY} bytes`)
  let event
  try {
    event = eventFromJSON(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (e) {
    if (e instanceof ContextError) return error(400, e.code, e.message)
    return error(400, 'invalid_argument', 'event: not valid UTF-8')
  }
  const waitUntil = executionContext ? (p: Promise<unknown>) => executionContext.waitUntil(p) : undefined
  const { events, opened } = deps.agent.start(id, event, { signal: request.signal, waitUntil, request })
  // A new session's `init` threw: no session, and the caller gets the 500 (the error to `onError`).
  await opened
  const encoder = new TextEncoder()
  const it = events[Symbol.asyncIterator]()
  // Pulled one event at a time; cancelling (the client went away) stops the stream, not the turn.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      // The stream rejects only with an `init` error, and that is awaited above; but a turn retried
      // after a conflict may create the session again (deleted meanwhile): an error frame, not a cut.
      const step = await it.next().catch((e: unknown) => ({ done: false as const, value: ErrorEvent.fromError(e) }))
      if (step.done) controller.close()
      else controller.enqueue(encoder.encode(step.value instanceof AgentEvent ? sseFrame(step.value) : savedComment(step.value.saved)))
    },
    cancel: () => void it.return?.(),
  })
  return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' } })
}
