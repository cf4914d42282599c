import type { ContextRuntime } from '../context.js'
import { ContextError } from '../errors.js'
import type { ContextStore } from '../storage/store.js'
import type { Agent } from './agent.js'
import { eventFromJSON } from './events.js'

/** The part of a platform's execution context we use: Workers' and Vercel's `waitUntil`. */
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' }
// Bodies above 1 MiB are refused before parsing: an event is a few hundred bytes.
const MAX_BODY = 1024 * 1024

function error(status: number, code: string, message: string, extra?: HeadersInit): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { ...JSON_TYPE, ...extra } })
}

/**
 * The agent's `fetch`. Routes (any path prefix is allowed before `/sessions`):
 *
 *     POST   /sessions/:id/events   a JSON event in, `text/event-stream` of output events out
 *     GET    /sessions/:id          the context's JSON, with its most recent turns (404 when unknown)
 *     DELETE /sessions/:id          204 (its turns and tasks are aborted), or 404 when unknown
 *
 * A POST to a new id creates the session (its `StartEvent` output comes first). Each SSE message is
 * `event: <type>` and `data: <the event's JSON>` (one line); the stream ends when the turn has been
 * saved. A client that stops reading only stops the stream: the turn still runs and is saved; the
 * request's `signal` aborting interrupts it. Errors are JSON `{ error: { code, message } }`: 400 for
 * malformed input, 404 for an unknown path or session, 405 with `Allow` for a wrong method, 413 for
 * a body over 1 MiB. The executionContext's `waitUntil` gets the turn and every background task.
 */
export async function handleFetch(
  request: Request,
  deps: { agent: Agent; store: ContextStore; runtime: ContextRuntime },
  executionContext?: ExecutionContextLike,
): Promise<Response> {
  const url = new URL(request.url)
  const match = /\/sessions\/([^/]+)(\/events)?\/?$/.exec(url.pathname)
  if (!match) return error(404, 'not_found', `no route for ${url.pathname}`)
  let id: string
  try {
    id = decodeURIComponent(match[1]!)
  } catch {
    return error(400, 'invalid_argument', 'the session id is not valid percent-encoding')
  }
  if (match[2]) {
    if (request.method !== 'POST') return error(405, 'method_not_allowed', `${request.method} is not allowed here; use POST`, { allow: 'POST' })
    const tooLarge = () => error(413, 'too_large', `the event is over ${MAX_BODY} bytes`)
    if (Number(request.headers.get('content-length')) > MAX_BODY) return tooLarge()
    const text = await request.text()
    // UTF-16 units: at most 3 bytes each in UTF-8, and a body of MAX_BODY bytes has at most MAX_BODY units.
    if (text.length > MAX_BODY) return tooLarge()
    let event
    try {
      event = eventFromJSON(text)
    } catch (e) {
      return error(400, e instanceof ContextError ? e.code : 'invalid_argument', e instanceof Error ? e.message : 'invalid event')
    }
    const waitUntil = executionContext ? (p: Promise<unknown>) => executionContext.waitUntil(p) : undefined
    const events = deps.agent.send(id, event, { signal: request.signal, waitUntil })
    const encoder = new TextEncoder()
    const it = events[Symbol.asyncIterator]()
    // Pulled one event at a time; cancelling (the client went away) stops the stream, not the turn.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const step = await it.next()
        if (step.done) controller.close()
        else controller.enqueue(encoder.encode(`event: ${step.value.type}\ndata: ${JSON.stringify(step.value)}\n\n`))
      },
      cancel: () => void it.return?.(),
    })
    return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' } })
  }
  if (request.method === 'GET' || request.method === 'HEAD') {
    const ctx = await deps.store.load(id, deps.runtime)
    if (!ctx) return error(404, 'not_found', `no session ${JSON.stringify(id)}`)
    return new Response(request.method === 'HEAD' ? null : JSON.stringify(ctx), { headers: JSON_TYPE })
  }
  if (request.method === 'DELETE') {
    if (!(await deps.agent.delete(id))) return error(404, 'not_found', `no session ${JSON.stringify(id)}`)
    return new Response(null, { status: 204 })
  }
  return error(405, 'method_not_allowed', `${request.method} is not allowed here`, { allow: 'GET, HEAD, DELETE' })
}
