import { AbortedError, abortReason } from '../abort.js'
import type { EventJSON } from '../agent/events.js'
import { invalid, ValidationError } from '../errors.js'
import { scrubber, type Scrub } from '../providers/kernel/scrub.js'
import { AgentHttpError, errorOf, readText } from './errors.js'
import { checkEvent, parseJson, readAgentEvents } from './events.js'
import type { EventInput, SessionState } from './types.js'
import { createSessionView, type SessionView } from './view.js'

export type { EventInput, SessionState, TurnJSON } from './types.js'

/** Options of `createAgentClient`. */
export interface AgentClientOptions {
  /**
   * The agent's endpoint: where `agent.fetch` is served, without `/sessions` (`https://agent.example.workers.dev`,
   * `/api/agent` in a page). A query string is kept on every request.
   */
  url: string | URL
  /** The `fetch` to call. Default `globalThis.fetch`, looked up at each request. */
  fetch?: typeof fetch
  /**
   * Sent with every request (an `Authorization` bearer token), or a function returning them, called
   * before each request (a token that refreshes). Their values never appear in an error's message.
   */
  headers?: HeadersLike | (() => HeadersLike | Promise<HeadersLike>)
}

/** Request headers: an object, `[name, value]` pairs, or a `Headers` (`HeadersInit`, which Node's types do not declare). */
export type HeadersLike = Record<string, string> | ReadonlyArray<readonly [string, string]> | Headers

/** Options of a request. */
export interface RequestOptions {
  /** Aborting it aborts the request at once (the stream's connection is closed): the agent interrupts the turn. */
  signal?: AbortSignal
}

/** Options of `send`. */
export interface SendRequestOptions extends RequestOptions {
  /**
   * Called when the agent says the turn was saved (an SSE comment after the turn's events), which
   * it does when the stream stays open for the events of tasks the turn started (tagged
   * `background`): the reply is complete and stored, and aborting the request then closes the
   * connection without interrupting anything. A turn without such tasks is saved when its stream
   * ends (no call). Not called when the save failed (an `error` event says so).
   */
  onSaved?: (turn: number) => void
}

/** The browser (or any runtime's) side of an agent's HTTP endpoint (`createAgent(...).fetch`). */
export interface AgentClient {
  /**
   * Sends one event to the session (a new id creates it: the greeting's events come first) and
   * yields the agent's output events as they arrive, as JSON (`EventJSON`; `eventFromJSON` from
   * `agentctx/agent` makes class instances of them). The request is made when the iteration starts;
   * stopping the loop early, or `signal`, closes the connection. Throws an `AgentHttpError`,
   * `ValidationError` or `AbortedError` (see docs/client.md). `onSaved` says when the turn is
   * saved, before the events of the tasks it started.
   */
  send(sessionId: string, event: EventInput, options?: SendRequestOptions): AsyncIterable<EventJSON>
  /** The session's state with its most recent turns; `undefined` when the agent has no such session. */
  history(sessionId: string, options?: RequestOptions): Promise<SessionState | undefined>
  /** Deletes the session (its running turn and tasks are aborted); `false` when there was none. */
  delete(sessionId: string, options?: RequestOptions): Promise<boolean>
  /** A live view of the session for a UI: `subscribe` / `getSnapshot` (see `SessionView`). */
  session(sessionId: string): SessionView
}

// As the agent checks them: at most 128 characters (its stores' key limits), and a 1 MiB event.
const MAX_ID = 128
const MAX_BODY = 1024 * 1024
// A history is a context with its most recent turns: far below this. A larger answer is refused
// rather than held in a tab's memory.
const MAX_HISTORY = 32 * 1024 * 1024
const TYPE = /^[\w.:-]{1,64}$/

function checkId(sessionId: unknown): asserts sessionId is string {
  if (typeof sessionId !== 'string' || !sessionId || sessionId.length > MAX_ID) throw invalid('sessionId', `must be a string of 1 to ${MAX_ID} characters`)
}

/** The event's JSON text, checked as the agent will check it (so a bad event costs no request). */
function bodyOf(event: EventInput): string {
  const json = typeof event === 'string' ? { type: 'text', data: { text: event } } : event
  if (typeof json !== 'object' || json === null || typeof json.type !== 'string' || !TYPE.test(json.type)) {
    throw invalid('event.type', 'must be a string of 1-64 of A-Z a-z 0-9 _ . : -')
  }
  let text: string
  try {
    text = JSON.stringify(json)
  } catch {
    throw invalid('event', 'must be JSON (no cycle, no bigint)')
  }
  if (text.length > MAX_BODY / 3 && new TextEncoder().encode(text).length > MAX_BODY) {
    throw new ValidationError('too_large', `event: over ${MAX_BODY} bytes`, { path: 'event' })
  }
  return text
}

/**
 * A client for an agent's HTTP endpoint (`createAgent(...).fetch`, served anywhere): `send` an event
 * and read the reply as it streams (SSE over a POST, which `EventSource` cannot do), read a
 * session's `history`, `delete` it, or keep a live `session(id)` view for a UI. Web standards only
 * (fetch, streams): the same in a page, a Worker or Node. It does not import the core (`Context`).
 *
 * @example
 * const client = createAgentClient({ url: 'https://agent.example.workers.dev', headers: { authorization: `Bearer ${token}` } })
 * for await (const event of client.send('session-1', 'hello')) console.log(event.type, event.data)
 */
/* @__NO_SIDE_EFFECTS__ */
export function createAgentClient(options: AgentClientOptions): AgentClient {
  if (!options || (typeof options.url !== 'string' && !(options.url instanceof URL)) || !String(options.url)) throw invalid('url', 'must be the agent endpoint URL')
  if (options.fetch !== undefined && typeof options.fetch !== 'function') throw invalid('fetch', 'must be a function')
  // The query string stays last: `https://x/api?key=1` + `/sessions/a` → `https://x/api/sessions/a?key=1`.
  const [base, query = ''] = String(options.url).split(/(?=\?)/, 2) as [string, string?]
  const root = base.replace(/\/+$/, '')
  const urlOf = (id: string, events?: boolean) => `${root}/sessions/${encodeURIComponent(id)}${events ? '/events' : ''}${query}`

  /** Makes one request; an answer that is not 2xx (nor an expected 404) becomes the agent's typed error. */
  async function request(method: string, url: string, init: { body?: string; accept?: string; signal?: AbortSignal }, notFound?: boolean) {
    const given = typeof options.headers === 'function' ? await options.headers() : options.headers
    const headers = new Headers(given as HeadersInit | undefined)
    // Secrets this request carries: the caller's header values and the query's values.
    const scrub: Scrub = scrubber([...headers.values(), ...new URLSearchParams(query).values()])
    if (init.accept) headers.set('accept', init.accept)
    if (init.body !== undefined) headers.set('content-type', 'application/json')
    if (init.signal?.aborted) throw aborted(init.signal.reason)
    let response: Response
    try {
      response = await (options.fetch ?? fetch)(url, { method, headers, body: init.body, signal: init.signal })
    } catch (cause) {
      if (init.signal?.aborted) throw aborted(init.signal.reason)
      // The network error's own message may name the URL, with its query: kept as the cause only.
      throw new AgentHttpError(`agent: ${method} request failed (no answer)`, { cause: safeCause(cause, scrub) })
    }
    if (notFound && response.status === 404) {
      const e = await errorOf(response, scrub)
      if ((e as AgentHttpError).serverCode === 'not_found' && /^agent: HTTP 404 not_found: no such session$/.test(e.message)) return undefined
      throw e
    }
    if (!response.ok) throw await errorOf(response, scrub)
    return response
  }

  async function* send(sessionId: string, event: EventInput, { signal, onSaved }: SendRequestOptions = {}): AsyncGenerator<EventJSON> {
    checkId(sessionId)
    const body = bodyOf(event)
    const response = (await request('POST', urlOf(sessionId, true), { body, accept: 'text/event-stream', signal }))!
    const type = response.headers.get('content-type') ?? ''
    if (!/^text\/event-stream\b/i.test(type) || !response.body) {
      response.body?.cancel().catch(() => {})
      throw new AgentHttpError(`agent: HTTP ${response.status} but not an event stream (${type.slice(0, 64) || 'no content-type'})`, { status: response.status })
    }
    try {
      yield* readAgentEvents(response.body, signal, onSaved)
    } catch (error) {
      if (signal?.aborted) throw aborted(signal.reason)
      throw error
    }
  }

  async function history(sessionId: string, { signal }: RequestOptions = {}): Promise<SessionState | undefined> {
    checkId(sessionId)
    const response = await request('GET', urlOf(sessionId), { accept: 'application/json', signal }, true)
    if (!response) return undefined
    const text = await readText(response, MAX_HISTORY)
    if (text === undefined) throw new AgentHttpError(`agent: a history over ${MAX_HISTORY} characters`, { status: response.status })
    const state = parseJson(text, 'the history')
    const turns = (state as SessionState | null)?.turns
    if (typeof state !== 'object' || state === null || Array.isArray(state) || (turns !== undefined && !Array.isArray(turns))) {
      throw new AgentHttpError('agent: the history is not a session state { id, turns }', { status: response.status })
    }
    turns?.forEach((turn, i) => {
      if (typeof turn !== 'object' || turn === null || !Number.isInteger(turn.id)) throw new AgentHttpError(`agent: the history's turns[${i}].id must be an integer`)
      turn.response?.events?.forEach((e, j) => checkEvent(e, undefined, `the history's turns[${i}].response.events[${j}]`))
    })
    return state as SessionState
  }

  async function remove(sessionId: string, { signal }: RequestOptions = {}): Promise<boolean> {
    checkId(sessionId)
    const response = await request('DELETE', urlOf(sessionId), { signal }, true)
    response?.body?.cancel().catch(() => {})
    return response !== undefined
  }

  const client: AgentClient = { send, history, delete: remove, session: (sessionId) => (checkId(sessionId), createSessionView(client, sessionId)) }
  return client
}

/** The `AbortedError` of a request aborted by `signalReason`. */
const aborted = (signalReason: unknown) => new AbortedError(`agent: ${abortReason(signalReason) === 'timeout' ? 'timeout' : 'aborted'}`, { signalReason })

/** A network error as the cause, unless its text holds a secret: then a plain `Error` with the scrubbed message. */
function safeCause(cause: unknown, scrub: Scrub): unknown {
  try {
    const text = `${(cause as Error)?.message} ${(cause as Error)?.stack} ${((cause as Error)?.cause as Error)?.message}`
    return scrub(text) === text ? cause : new Error(scrub(String((cause as Error)?.message)))
  } catch {
    return undefined
  }
}
