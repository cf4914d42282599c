import { Context, internals, type ContextRuntime } from '../context.js'
import { ContextError } from '../errors.js'
import type { Json, JsonObject } from '../state/json.js'
import type { NodeLabel } from '../state/turns.js'
import type { ContextStore } from '../storage/store.js'
import { AgentEvent, ErrorEvent, eventFromJSON, StartEvent, TextEvent } from './events.js'
import { channel, type Channel } from './channel.js'
import { handleFetch, type ExecutionContextLike } from './http.js'

/** What a handler gets besides the event and the context. */
export interface TurnInfo {
  /** Aborted when a new user event interrupts this turn (barge-in) or the caller's signal aborts. */
  signal: AbortSignal
  /** The session's id. */
  sessionId: string
}

/**
 * The agent's logic: an async generator of output events, as the voice-agent document's
 * `async def handler(event, context)` that `yield`s. An async function that returns nothing is fine too.
 */
export type AgentHandler = (event: AgentEvent, ctx: Context, turn: TurnInfo) => AsyncIterable<AgentEvent> | Promise<unknown>

/** Options of `createAgent`. */
export interface AgentOptions {
  handler: AgentHandler
  /** Where sessions live between events: `createContextStore(adapter)`. */
  store: ContextStore
  /** Runtime inputs of every session's context: variables (API keys), an executor. Never stored. */
  variables?: Record<string, string>
  executor?: ContextRuntime['executor']
  /** Label of turn 0 of a new session. Default `{ flow: 'agent', node: 'start' }`. */
  startLabel?: NodeLabel
  /** Events that interrupt a running turn (barge-in). Default: `TextEvent`s, the user speaking. */
  interrupts?: (event: AgentEvent) => boolean
  /** Receives background-task events that arrive when no `send` of their session is streaming. */
  onBackgroundEvent?: (sessionId: string, event: AgentEvent) => void
}

/** An agent: sessions in a store, a handler per event, and a standard `fetch` entry point. */
export interface Agent {
  /**
   * Handles one event of a session and streams the output events. A new session gets a
   * `StartEvent` first. The turn is recorded and saved when the handler finishes, fails or is
   * interrupted. Events of one session run in order; sessions run concurrently.
   */
  send(sessionId: string, event: AgentEvent | Json, options?: { signal?: AbortSignal; waitUntil?: (p: Promise<unknown>) => void }): AsyncIterable<AgentEvent>
  /**
   * `Request` → `Response`, for Workers, Vercel Edge and Node: `POST /sessions/:id/events` with a
   * JSON event streams Server-Sent Events; `GET /sessions/:id` returns the context's JSON and
   * `DELETE /sessions/:id` deletes it (404 for an unknown session).
   */
  fetch(request: Request, env?: unknown, executionContext?: ExecutionContextLike): Promise<Response>
}

interface Session {
  /** The previous event's run: the next one starts after it. */
  tail: Promise<void>
  /** The run in progress, if any. */
  running?: { controller: AbortController; output: Channel<AgentEvent> }
  /** Runs queued or in progress; the session is dropped from memory at 0 with no task pending. */
  pending: number
  ctx?: Context
}

/**
 * Creates an agent.
 *
 * @example
 * const agent = createAgent({
 *   store: createContextStore(memoryStorage()),
 *   async *handler(event, ctx) {
 *     if (event instanceof TextEvent) yield new TextToSpeechEvent({ text: `You said ${event.data.text}` })
 *   },
 * })
 * for await (const out of agent.send('session-1', new TextEvent({ text: 'hi' }))) console.log(out.type)
 */
export function createAgent(options: AgentOptions): Agent {
  const { handler, store } = options
  if (typeof handler !== 'function') throw new ContextError('invalid_argument', 'handler: must be a function (an async generator)', { path: 'handler' })
  if (!store || typeof store.open !== 'function') throw new ContextError('invalid_argument', 'store: must be a context store (createContextStore(adapter))', { path: 'store' })
  const interrupts = options.interrupts ?? ((e: AgentEvent) => e instanceof TextEvent)
  const startLabel = options.startLabel ?? { flow: 'agent', node: 'start' }
  const runtime: ContextRuntime = { variables: options.variables, executor: options.executor }
  const sessions = new Map<string, Session>()

  function session(id: string): Session {
    let s = sessions.get(id)
    if (!s) sessions.set(id, (s = { tail: Promise.resolve(), pending: 0 }))
    return s
  }

  async function open(s: Session, id: string): Promise<{ ctx: Context; isNew: boolean }> {
    if (s.ctx) return { ctx: s.ctx, isNew: false }
    const loaded = await store.load(id, runtime)
    const ctx = loaded ?? Context.init(startLabel, { contextId: id, sessionId: id }, runtime)
    s.ctx = ctx
    return { ctx, isNew: !loaded }
  }

  /** Where a background task's events go: the streaming run, else the callback. */
  function deliver(id: string, s: Session, event: AgentEvent): void {
    if (s.running) s.running.output.push(event)
    else options.onBackgroundEvent?.(id, event)
  }

  function send(sessionId: string, input: AgentEvent | Json, sendOptions: { signal?: AbortSignal; waitUntil?: (p: Promise<unknown>) => void } = {}): AsyncIterable<AgentEvent> {
    if (typeof sessionId !== 'string' || !sessionId) throw new ContextError('invalid_argument', 'sessionId: must be a non-empty string', { path: 'sessionId' })
    const event = input instanceof AgentEvent ? input : eventFromJSON(input)
    const s = session(sessionId)
    const output = channel<AgentEvent>()
    // Barge-in: the user spoke over a running turn. Abort it and the interruptible tasks now; this
    // event runs as soon as the aborted turn has been recorded and saved.
    if (s.running && interrupts(event)) {
      s.running.controller.abort(new DOMException('interrupted by a new event', 'AbortError'))
      s.ctx?.cancelInterruptibleTasks()
    }
    s.pending++
    const run = s.tail.then(() => turn(sessionId, s, event, output, sendOptions))
    s.tail = run.catch(() => {})
    sendOptions.waitUntil?.(s.tail)
    return output.iterable
  }

  async function turn(
    id: string,
    s: Session,
    event: AgentEvent,
    output: Channel<AgentEvent>,
    sendOptions: { signal?: AbortSignal; waitUntil?: (p: Promise<unknown>) => void },
  ): Promise<void> {
    const controller = new AbortController()
    const signal = sendOptions.signal ? AbortSignal.any([controller.signal, sendOptions.signal]) : controller.signal
    s.running = { controller, output }
    let ctx: Context | undefined
    try {
      const opened = await open(s, id)
      ctx = opened.ctx
      const inner = internals(ctx)
      inner.setTaskSink({
        emit: (value, task) => {
          if (value instanceof AgentEvent) {
            value.background = { task: task.name }
            deliver(id, s, value)
          }
        },
        onError: (error, task) => deliver(id, s, ErrorEvent.fromError(error, { meta: { background: { task: task.name } } })),
        waitUntil: sendOptions.waitUntil,
        onSettled: () => void saveLater(id, s),
      })
      if (opened.isNew) await runHandler(ctx, new StartEvent(), output, signal, id, false)
      if (!(event instanceof StartEvent && opened.isNew)) await runHandler(ctx, event, output, signal, id, true)
    } catch (error) {
      output.push(ErrorEvent.fromError(error))
    } finally {
      s.running = undefined
      try {
        if (ctx) await store.save(ctx)
      } catch (error) {
        // The turn ran but was not saved (another writer, a storage failure): say so on the stream,
        // and drop the cached context so the next event starts from what is stored.
        output.push(ErrorEvent.fromError(error))
        s.ctx = undefined
      }
      output.close()
      s.pending--
      if (s.pending === 0 && !s.ctx?.hasUnfinishedTasks()) sessions.delete(id)
    }
  }

  /** Runs the handler for one event and records the turn; errors become an `ErrorEvent`. */
  async function runHandler(ctx: Context, event: AgentEvent, output: Channel<AgentEvent>, signal: AbortSignal, id: string, newTurn: boolean): Promise<void> {
    const emitted: AgentEvent[] = []
    if (newTurn) ctx.addRequest(requestOf(event))
    let interrupted = false
    try {
      const result = handler(event, ctx, { signal, sessionId: id })
      if (result && typeof (result as AsyncIterable<AgentEvent>)[Symbol.asyncIterator] === 'function') {
        const it = (result as AsyncIterable<AgentEvent>)[Symbol.asyncIterator]()
        const aborted = new Promise<'aborted'>((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }))
        while (true) {
          if (signal.aborted) break
          const next = await Promise.race([it.next(), aborted])
          if (next === 'aborted') break
          if (next.done) break
          const out = next.value
          if (out instanceof AgentEvent) {
            out.turn = ctx.currentTurnId
            emitted.push(out)
            output.push(out)
          }
        }
        if (signal.aborted) {
          interrupted = true
          // Let the generator's `finally` run; do not wait on a handler stuck in an await.
          void it.return?.(undefined)?.catch(() => {})
        }
      } else {
        await result
      }
    } catch (error) {
      if (signal.aborted) interrupted = true
      else {
        const failure = ErrorEvent.fromError(error)
        emitted.push(failure)
        output.push(failure)
      }
    }
    // The turn's record: what was said back (texts joined), every output event, and whether it was cut off.
    const response: JsonObject = { events: emitted.map((e) => e.toJSON() as unknown as Json) }
    const text = emitted.map((e) => (typeof e.data.text === 'string' ? e.data.text : '')).filter(Boolean).join(' ')
    if (text) response.text = text
    if (interrupted) response.interrupted = true
    ctx.addResponse(response)
    // The handler may label the turn itself (ctx.addLabel); otherwise the label is the event's type.
    if (!ctx.labels.has(ctx.currentTurnId)) ctx.addLabel({ flow: startLabel.flow, node: event.type })
  }

  /** After a background task settles, save what it changed (queued behind the session's runs). */
  function saveLater(id: string, s: Session): Promise<void> {
    const run = s.tail.then(async () => {
      if (s.ctx) await store.save(s.ctx).catch(() => (s.ctx = undefined))
      if (s.pending === 0 && !s.ctx?.hasUnfinishedTasks()) sessions.delete(id)
    })
    s.tail = run.catch(() => {})
    return run
  }

  const agent: Agent = {
    send,
    fetch: (request, _env, executionContext) => handleFetch(request, { agent, store, runtime }, executionContext),
  }
  return agent
}

/** The request recorded for an event: its text (for `lastRequest.text`), type and data. */
function requestOf(event: AgentEvent): JsonObject {
  const request: JsonObject = { type: event.type, data: event.data }
  if (typeof event.data.text === 'string') request.text = event.data.text
  return request
}
