import type { EventJSON } from '../agent/events.js'
import type { JsonObject } from '../state/json.js'
import type { EventInput, SessionState } from './types.js'

/** What the view needs of the client (`AgentClient` is one). */
export interface ViewClient {
  send(sessionId: string, event: EventInput, options?: { signal?: AbortSignal; onSaved?: (turn: number) => void }): AsyncIterable<EventJSON>
  history(sessionId: string): Promise<SessionState | undefined>
}

/** What a session view is doing: reading the history, streaming a reply, idle, or stopped by an error. */
export type SessionStatus = 'idle' | 'loading' | 'streaming' | 'error'

/** One message of the conversation, as a UI shows it. Frozen: a change makes a new object. */
export interface ChatMessage {
  /** Stable while the view lives (a key for a list); history messages read `t<turn>-user` / `t<turn>-assistant`. */
  readonly id: string
  /** Who said it: `'user'` for what was sent, `'assistant'` for the agent's reply. */
  readonly role: 'user' | 'assistant'
  /**
   * What was said: the user's text; the agent's replies joined by a space (every event with a
   * `data.text`, as the agent's stored `response.text`), with `text_delta` events' `data.delta`
   * appended as they stream, until an event with the whole `text` replaces them.
   */
  readonly text: string
  /** The turn (0 is the greeting of a new session); `undefined` until the agent's first event says it. */
  readonly turn: number | undefined
  /** The user's event, for a user message. */
  readonly request?: {
    /** The event's type: `'text'` for a message, or the event's own type. */
    readonly type: string
    /** The event's payload (`{ text }` for a message). */
    readonly data: JsonObject
  }
  /** The agent's output events of this turn, `text_delta` and background events left out. */
  readonly events: readonly EventJSON[]
  /** The reply was cut off: `stop()`, a new message sent over it, or the agent recorded it so. */
  readonly interrupted?: boolean
  /** An `error` event the agent answered with (the handler failed): its message and code. */
  readonly error?: {
    /** The error event's `data.message`: a `ContextError`'s own, else `"internal error"` (another error's message may hold a secret). */
    readonly message: string
    /** The error event's `data.code` (`internal`, `aborted`, `timeout`, a `ContextError`'s code); absent when it had none. */
    readonly code?: string
  }
}

/** What a UI renders. The same object until something changes (React's `useSyncExternalStore` needs that). */
export interface SessionSnapshot {
  /** The session this view shows (the view's `sessionId`: it never changes). */
  readonly sessionId: string
  /** The conversation in order: the history (`load`), what was sent, and the replies, the one streaming included. */
  readonly messages: readonly ChatMessage[]
  /** The reply being streamed, token by token (the same object as its entry in `messages`); `undefined` when none. */
  readonly streaming: ChatMessage | undefined
  /** Events of background tasks (tagged `background: { task }`), from the history and live streams, in order. */
  readonly background: readonly EventJSON[]
  /** What the view is doing: `'loading'` the history, `'streaming'` a reply, `'idle'`, or stopped on an `'error'`. */
  readonly status: SessionStatus
  /** Why `status` is `'error'`: an `AgentHttpError`, `ValidationError`… (an `AbortedError` of `stop()` is not one). */
  readonly error: Error | undefined
}

/**
 * A live view of one session for a UI: the shape React's `useSyncExternalStore(view.subscribe,
 * view.getSnapshot)` and Svelte's stores take (`subscribe` calls the listener at once, then on each
 * change; `$view` in Svelte). Methods are bound: pass them around as they are.
 */
export interface SessionView {
  /** The session the view talks to: the id given to `client.session(id)`. */
  readonly sessionId: string
  /** Calls `listener` with the snapshot now and after each change; returns the function that stops it. */
  subscribe(listener: (snapshot: SessionSnapshot) => void): () => void
  /** The current snapshot: the same object until the next change, as `useSyncExternalStore` requires. */
  getSnapshot(): SessionSnapshot
  /**
   * Sends a text or an event; resolves when the reply's stream has ended (never rejects: a failure
   * is in `snapshot.error`). Sent while a reply streams, it stops that one first (the agent records
   * it interrupted), as a user talking over a voice agent does. Once the agent has saved the
   * reply's turn, `status` is `'idle'` although the connection may stay open for the events of
   * tasks the turn started (they go on arriving in `background`); a message sent then closes that
   * connection without marking the reply interrupted (their later events come on the new stream).
   */
  send(event: EventInput): Promise<void>
  /**
   * Aborts the reply being streamed: the connection closes, the agent interrupts the turn, the
   * partial reply stays, marked interrupted. After the turn was saved it only closes the connection
   * kept open for background events (the reply is complete: not marked).
   */
  stop(): void
  /**
   * Reads the session's history (`status` `'loading'` meanwhile); a session the agent does not have
   * yet is an empty conversation. Not applied when a message was sent meanwhile or a reply streams
   * (what they show is newer): call it when the UI opens the session, or once idle to catch up
   * (once idle includes a saved reply whose connection is still open for background events).
   */
  load(): Promise<void>
}

const freeze = Object.freeze

/** Builds a reply's text event by event, in linear time: closed parts joined, plus the open `text_delta` run. */
interface Reply {
  message: ChatMessage
  said: string
  run: string
  open: boolean
}

function reply(id: string, turn: number | undefined): Reply {
  return { message: freeze({ id, role: 'assistant', text: '', turn, events: freeze([]) }), said: '', run: '', open: false }
}

/** `r` with `event` added; a new frozen message. */
function add(r: Reply, event: EventJSON, extra?: Partial<ChatMessage>): void {
  const { data } = event
  let events = r.message.events
  let error = r.message.error
  if (event.type === 'text_delta' && typeof data.delta === 'string') {
    r.run += data.delta
    r.open = true
  } else {
    if (typeof data.text === 'string' && data.text) {
      // The whole text after a run of deltas replaces them: it is what they were the pieces of.
      r.said += (r.said ? ' ' : '') + data.text
      r.run = ''
      r.open = false
    }
    if (event.type === 'error' && typeof data.message === 'string') error = freeze({ message: data.message, ...(typeof data.code === 'string' && { code: data.code }) })
    events = freeze([...events, event])
  }
  const text = r.said + (r.said && r.run ? ' ' : '') + r.run
  r.message = freeze({ ...r.message, text, events, ...(error && { error }), ...extra })
}

/** The conversation and background events of a stored session. */
function fromHistory(state: SessionState | undefined): { messages: ChatMessage[]; background: EventJSON[] } {
  const messages: ChatMessage[] = []
  const background: EventJSON[] = []
  const turns = [...(state?.turns ?? [])].sort((a, b) => a.id - b.id)
  for (const turn of turns) {
    const { request, response } = turn
    if (request) {
      const data = (request.data ?? {}) as JsonObject
      const text = typeof request.text === 'string' ? request.text : typeof data.text === 'string' ? data.text : ''
      messages.push(freeze({ id: `t${turn.id}-user`, role: 'user', text, turn: turn.id, request: freeze({ type: String(request.type ?? 'text'), data }), events: freeze([]) }))
    }
    if (!response) continue
    const r = reply(`t${turn.id}-assistant`, turn.id)
    for (const event of response.events ?? []) event.background ? background.push(event) : add(r, event)
    if (Array.isArray(response.background)) background.push(...response.background)
    // A record without its events (older formats) still has its text.
    if (!r.message.text && typeof response.text === 'string') r.message = freeze({ ...r.message, text: response.text })
    if (response.interrupted === true) r.message = freeze({ ...r.message, interrupted: true })
    if (r.message.text || r.message.events.length) messages.push(r.message)
  }
  return { messages, background }
}

/** The user's message for what `send` was given (a text, or an event with `data.text`). */
function userMessage(input: EventInput, id: string): ChatMessage {
  const event = typeof input === 'string' ? { type: 'text', data: { text: input } } : input
  const data = (event?.data ?? {}) as JsonObject
  return freeze({ id, role: 'user', text: typeof data.text === 'string' ? data.text : '', turn: undefined, request: freeze({ type: String(event?.type), data }), events: freeze([]) })
}

/** A `SessionView` over `client` (see `AgentClient.session`). */
export function createSessionView(client: ViewClient, sessionId: string): SessionView {
  const listeners = new Set<(snapshot: SessionSnapshot) => void>()
  let messages: readonly ChatMessage[] = freeze([])
  let background: readonly EventJSON[] = freeze([])
  let status: SessionStatus = 'idle'
  let error: Error | undefined
  let snapshot: SessionSnapshot
  /** The reply streaming now, and the sent message whose turn no event has said yet. */
  let streaming: Reply | undefined
  let pending: ChatMessage | undefined
  /** The sent message once an event gave it its turn, and the replies this attempt of the turn streamed (see `retry`). */
  let sent: ChatMessage | undefined
  let attempt = new Set<string>()
  let current: AbortController | undefined
  /** The agent saved `current`'s turn: its connection stays open only for background events. */
  let saved = false
  let ids = 0
  let sends = 0

  const build = () => (snapshot = freeze({ sessionId, messages, streaming: streaming?.message, background, status, error }))
  build()

  function changed(): void {
    build()
    for (const listener of [...listeners]) {
      try {
        listener(snapshot)
      } catch (e) {
        // One broken listener must not stop the others nor the stream; the error is still reported.
        ;((globalThis as { reportError?: (e: unknown) => void }).reportError ?? console.error)(e)
      }
    }
  }

  /** `messages` with `from` (an object in it) replaced by `to`, or `to` added at `at` (default: the end). */
  const put = (from: ChatMessage | undefined, to: ChatMessage, at?: number) => {
    const list = [...messages]
    const i = from ? list.indexOf(from) : -1
    if (i >= 0) list[i] = to
    else list.splice(at ?? list.length, 0, to)
    messages = freeze(list)
  }

  /** One live event of the reply. */
  function receive(event: EventJSON): void {
    if (event.background) {
      background = freeze([...background, event])
      return
    }
    // The agent runs the turn again (its save lost a race with another instance): what this attempt
    // streamed is void, and the next event says which turn the sent message is stored as.
    if (event.type === 'retry') {
      messages = freeze(messages.filter((m) => !attempt.has(m.id)))
      attempt = new Set()
      streaming = undefined
      pending ??= sent
      return
    }
    const turn = event.turn
    if (streaming && turn !== undefined && streaming.message.turn !== undefined && turn !== streaming.message.turn) streaming = undefined
    // The first event of a turn after the greeting (turn 0) says which turn the sent message opened.
    if (pending && turn !== 0) {
      const user = (sent = freeze({ ...pending, turn }))
      put(pending, user)
      pending = undefined
    }
    if (!streaming) {
      streaming = reply(`a${++ids}`, turn)
      attempt.add(streaming.message.id)
      // The greeting of a new session comes before the message that created it.
      const at = pending ? messages.indexOf(pending) : undefined
      add(streaming, event)
      put(undefined, streaming.message, at)
      return
    }
    const before = streaming.message
    add(streaming, event)
    put(before, streaming.message)
  }

  /** Ends the streaming reply (`interrupted` when cut off); the sent message keeps no turn if none came. */
  function settle(interrupted: boolean): void {
    if (streaming && interrupted) {
      const before = streaming.message
      put(before, freeze({ ...before, interrupted: true }))
    }
    streaming = undefined
    pending = undefined
    current = undefined
  }

  async function send(input: EventInput): Promise<void> {
    if (current) stop()
    const controller = (current = new AbortController())
    saved = false
    sends++
    pending = userMessage(input, `u${++ids}`)
    sent = undefined
    attempt = new Set()
    put(undefined, pending)
    status = 'streaming'
    error = undefined
    changed()
    try {
      // The reply is complete once its turn is saved: idle, though background events may follow.
      const onSaved = () => {
        if (current !== controller || saved) return
        saved = true
        settle(false)
        current = controller
        if (status === 'streaming') status = 'idle'
        changed()
      }
      for await (const event of client.send(sessionId, input, { signal: controller.signal, onSaved })) {
        if (current !== controller) break
        receive(event)
        changed()
      }
    } catch (e) {
      // A connection lost after the save loses only live background events (kept with the turn:
      // `load()` reads them): the reply is not in error.
      if (current === controller && !saved) {
        status = 'error'
        error = e as Error
      }
    }
    if (current !== controller) return
    settle(false)
    if (status === 'streaming') status = 'idle'
    changed()
  }

  function stop(): void {
    if (!current) return
    current.abort()
    settle(!saved)
    status = 'idle'
    changed()
  }

  async function load(): Promise<void> {
    const at = sends
    if (!current || saved) status = 'loading'
    error = undefined
    changed()
    try {
      const state = await client.history(sessionId)
      // A message sent while the history was on its way, or a reply streaming: what they show is
      // newer than the history, which is not applied over them.
      if (at !== sends || (current && !saved)) return
      const loaded = fromHistory(state)
      messages = freeze(loaded.messages)
      background = freeze(loaded.background)
      status = 'idle'
    } catch (e) {
      if (at !== sends) return
      status = 'error'
      error = e as Error
    }
    changed()
  }

  return {
    sessionId,
    subscribe(listener) {
      listeners.add(listener)
      listener(snapshot)
      return () => void listeners.delete(listener)
    },
    getSnapshot: () => snapshot,
    send,
    stop,
    load,
  }
}
