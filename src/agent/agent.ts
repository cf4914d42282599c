import { Context, internals, type ContextConfig, type ContextRuntime } from '../context.js'
import { AbortedError, abortReason } from '../abort.js'
import { ContextConflictError, invalid } from '../errors.js'
import type { Json, JsonObject } from '../state/json.js'
import type { NodeLabel } from '../state/turns.js'
import type { ContextStore } from '../storage/store.js'
import type { TaskInfo } from '../tasks/tasks.js'
import { keepBackground, withBackground } from './background.js'
import { AgentEvent, ErrorEvent, eventFromJSON, StartEvent, TextEvent } from './events.js'
import { channel, type Channel } from './channel.js'
import { corsPolicy, type CorsOptions } from './cors.js'
import { handleFetch, type Authorize, type ExecutionContextLike, type TurnSaved } from './http.js'

/** What a handler gets besides the event and the context. */
export interface TurnInfo {
  /** Aborted when a new user event interrupts this turn (barge-in), the session is deleted, or the caller's signal aborts. */
  signal: AbortSignal
  /** The session's id. */
  sessionId: string
  /**
   * 1, then 2, 3, … when the turn runs again because its save lost a race with another writer of
   * the session (see `AgentOptions.conflictRetries`): side effects outside the context (an email, a
   * payment) should be idempotent or done only once, keyed by the event.
   */
  attempt: number
}

/** What a handler may yield: an event, or its JSON form (`{ type: 'text_to_speech', data: { text } }`). */
export type HandlerOutput =
  | AgentEvent
  | {
      /** The event's type: a built-in's (`'text'`, `'text_to_speech'`, …) or one of your own. */
      type: string
      /** The event's payload as JSON; absent for an event that carries none (`{}` is sent). */
      data?: JsonObject
    }

/**
 * The agent's logic (docs/reference.md#voice-handler): an async generator of output events, as the voice-agent platform's
 * `async def handler(event, context)` that `yield`s. An async function that returns nothing is fine too.
 */
export type AgentHandler = (event: AgentEvent, ctx: Context, turn: TurnInfo) => AsyncIterable<HandlerOutput> | Promise<unknown>

/** Options of `send`. */
export interface SendOptions {
  /** Aborting it interrupts this event's turn, as a barge-in does (the turn is recorded as interrupted). */
  signal?: AbortSignal
  /** The platform's `waitUntil`: given the turn and every background task it starts, with the save after each. */
  waitUntil?: (promise: Promise<unknown>) => void
  /** The HTTP request this event came in, for `init` when the session is new (`fetch` passes its own). */
  request?: Request
}

/** Options of `createAgent`. */
export interface AgentOptions {
  /** The agent's logic: called with each event of a session, it yields the output events. */
  handler: AgentHandler
  /** Where sessions live between events: `createContextStore(adapter)`. */
  store: ContextStore
  /**
   * Runtime inputs of every session's context (clock, executor, token counter…). Never stored. The
   * agent passes its own runtime to the store, so the store's `runtime` option is not used for its sessions.
   */
  runtime?: ContextRuntime
  /** Variables (API keys) of every session's context; shorthand for `runtime.variables`. Never stored. */
  variables?: Record<string, string>
  /** Runs `ctx.execute` and `ctx.generateChatCompletion`; shorthand for `runtime.executor`. */
  executor?: ContextRuntime['executor']
  /** Label of turn 0 of a new session. Default `{ flow: 'agent', node: 'start' }`. */
  startLabel?: NodeLabel
  /**
   * Events that interrupt the session's unfinished turns (barge-in). Default: `TextEvent`s, the user
   * speaking or typing; other events wait their turn.
   */
  interrupts?: (event: AgentEvent) => boolean
  /**
   * Receives the events of background tasks (tagged `background: { task }`) and background save
   * failures that arrive when no `send` of their session is streaming: the stream of the request
   * that started the task has closed (its reader left, a barge-in ended it, or 300 s passed) and
   * no other is open. Without it they are not streamed: they are still kept with their turn
   * (`response.background`) and what the task changed in the context is saved all the same.
   */
  onBackgroundEvent?: (sessionId: string, event: AgentEvent) => void
  /**
   * Who may touch a session through `fetch`: called with the request and the session id before the
   * session is read or written, for every method; `true` lets it through, `false` answers 403, a
   * `Response` is sent instead (see `Authorize`). Without it anyone who can reach the endpoint and
   * knows or guesses a session id can read, continue or delete that session. `send` and `delete`,
   * called from your own code, are not checked.
   */
  authorize?: Authorize
  /** Lets web pages of other origins call `fetch` (see `CorsOptions`). Without it, no CORS header is sent. */
  cors?: CorsOptions
  /**
   * Idle sessions whose context stays in memory (least recently used first out), so that the next
   * event checks one stored header instead of loading and validating the whole history again.
   * Default 100; 0 keeps none. Sessions with a turn or task running are kept whatever the count.
   */
  cacheSize?: number
  /**
   * Told of an error `fetch` answered with a generic 500 (`authorize` or the store threw); the
   * client sees only "internal error". Without it such errors are not reported.
   */
  onError?: (error: unknown, request: Request) => void
  /**
   * The config of a NEW session's context (`agentId`, `environment`, `functionId`, `assignmentKey`,
   * `data`…), called once, when an event arrives for a session the store does not have. `request`
   * is the HTTP request when the event came through `fetch` (its body already read: headers, URL),
   * `undefined` through `send` unless `SendOptions.request` is given. Sync or async. The context's
   * ids are the session id: `id`, `contextId` and `sessionId` are refused, and so are `variables`
   * (runtime only, never stored: they would be gone at the next load; use the agent's `variables`).
   * If it throws (or returns a bad config) the session is not created and nothing is saved: the
   * stream of `send` rejects with the error, and `fetch` answers a generic 500 and gives the error
   * to `onError`, as for `authorize`.
   *
   * @example
   * init: (sessionId, request) => ({ agentId: 'support', assignmentKey: userIdOf(request) })
   */
  init?: (sessionId: string, request?: Request) => ContextConfig | Promise<ContextConfig>
  /**
   * When a turn's save gets a `ContextConflictError` (another agent instance saved the session
   * first), the turn runs again on the stored version, at most this many times: the session is
   * loaded again and the handler runs again for the same event, with `turn.attempt` 2, 3, …; the
   * stream gets a `retry` event (`{ attempt, code: 'conflict' }`) first, so a client drops what the
   * failed attempt streamed. Past the limit the stream ends with the conflict's `ErrorEvent` and the
   * turn is not stored. Default 3; 0 keeps a handler from ever running twice for one event.
   */
  conflictRetries?: number
  /**
   * `'ai-sdk'`: `fetch` also speaks the AI SDK's UI message stream protocol, so `useChat` with its
   * default transport (`DefaultChatTransport({ api: '<endpoint>/chat' })`) talks to this agent:
   * `POST …/chat` takes `{ id, messages }` (the chat id is the session id, the last user message's
   * text the event) and streams the reply as UI message chunks. The agent's own routes stay as
   * they are; the same `authorize`, CORS and limits apply. See docs/client.md.
   */
  protocol?: 'ai-sdk'
  /**
   * Cross-session A/B tests (`createExperiments(adapter)` from `agentctx/experiments`): before the
   * handler runs, the conclusions of concluded tests are attached to the session; after each saved
   * turn, the session is recorded and its tests evaluated, in the background (given to `waitUntil`).
   * A failure never fails the turn: it goes to `onBackgroundEvent` as an `ErrorEvent` tagged
   * `background: { task: 'experiments' }`.
   */
  experiments?: AgentExperiments
}

/** What the agent calls of `createExperiments(...)`: structural, so `agentctx/agent` does not bundle `agentctx/experiments`. */
export interface AgentExperiments {
  /** Before the handler runs: gives the session the values of the tests that have concluded. */
  attach(ctx: Context): Promise<unknown>
  /** After a saved turn: records the session's assignments and outcomes; resolves to the tests recorded. */
  record(ctx: Context): Promise<{
    /** The names of the tests this session was counted in (`RecordResult.recorded`). */
    recorded: string[]
  }>
  /** After recording: checks a test's stop rules, concluding it when one is met. */
  evaluate(test: string): Promise<unknown>
}

/** An agent: sessions in a store, a handler per event, and a standard `fetch` entry point. */
export interface Agent {
  /**
   * Handles one event of a session and streams the output events; the turn runs whether or not the
   * stream is read. A new session gets a `StartEvent` first, whose output is turn 0; each event
   * after is a turn of its own (1, 2, …). The turn is recorded (request, response, label) and saved
   * when the handler finishes, fails or is interrupted; the stream ends after the save, or, when the
   * turn started tasks that yield events (async generators, async iterators), once those have
   * settled or timed out (at most 300 s more): their events, tagged `background: { task }` and
   * `turn` (the turn that started them), come on this stream. The next event of the session does not
   * wait for them. Events of one session run in order, sessions concurrently. A bad `sessionId` or
   * event throws a `ValidationError` at once.
   */
  send(sessionId: string, event: AgentEvent | Json, options?: SendOptions): AsyncIterable<AgentEvent>
  /**
   * Deletes a session: aborts its unfinished turns and all its tasks, forgets it, and deletes it from
   * the store. Resolves whether there was one.
   */
  delete(sessionId: string): Promise<boolean>
  /**
   * `Request` → `Response`, for Workers, Vercel Edge and Node: `POST /sessions/:id/events` with a
   * JSON event streams Server-Sent Events; `GET /sessions/:id` returns the context's JSON and
   * `DELETE /sessions/:id` deletes it (404 for an unknown session). See `handleFetch`.
   */
  fetch(request: Request, env?: unknown, executionContext?: ExecutionContextLike): Promise<Response>
}

/** One event's turn, from `send` until it is saved; its stream, until the tasks it started that yield events are done. */
interface Run {
  controller: AbortController
  /** The run's events, and after them, once the turn is saved, a `TurnSaved` mark (`fetch` writes it as an SSE comment). */
  output: Channel<AgentEvent | TurnSaved>
  /** `done` of the tasks this turn started that can yield events, while they run: the stream stays open for them. */
  tasks: Set<Promise<unknown>>
  /** Set by `interrupt`: the runtime stops waiting on the handler, whether or not the abort reached it. */
  stopped?: { reason: unknown }
  /** Rejects what the runtime is waiting on in the handler (see `untilStopped`). */
  onStop?: (reason: unknown) => void
  /** Given to `init` for a new session. */
  request?: Request
  /** The caller's signal (`fetch`: the request's, aborted when the client goes away). */
  signal?: AbortSignal
  /** Settled once the session is open (with `init`'s error when it threw): `fetch` waits for it before answering. */
  opened?: { resolve(): void; reject(error: unknown): void }
  /** `init` threw: the stream rejects with this error once closed. */
  initFailure?: { error: unknown }
}

interface Session {
  /** The previous event's run: the next one starts after it. */
  tail: Promise<void>
  /** Runs queued or in progress, in order: an interrupting event aborts them all. */
  runs: Set<Run>
  /** The run whose handler is executing (or saving): background events stream on its output. */
  running?: Run
  /** Cached while the session has runs or tasks, and while idle as one of the `cacheSize` most recent. */
  ctx?: Context
  /** Set when the session went idle: its cached context is checked against the store before use. */
  idle?: boolean
  /** Set by `delete`: nothing of this session is saved any more. */
  deleted?: boolean
  /** A save for kept background events is queued and not started: the next event rides on it. */
  saveQueued?: boolean
}

/**
 * Longest a request's stream stays open after its turn was saved, for the events of the tasks the
 * turn started (each task is waited for until it settles or its own timeout): 300 s, what Vercel
 * lets an Edge Function stream; Workers and Node have no such limit while the client is connected.
 */
const MAX_STREAM_WAIT = 300_000

/** The run and turn a task was started in: its events go to that run's stream and are kept with that turn. */
const origins = new WeakMap<TaskInfo, { run: Run; turn: number }>()

/** What an interrupted turn's signal is aborted with. */
const interruption = (message: string, signalReason?: unknown) => new AbortedError(message, { reason: abortReason(signalReason, 'interrupted'), signalReason })

/**
 * Interrupts a run: its handler's signal aborts and the runtime stops waiting on the handler.
 *
 * In a stateless Cloudflare Worker the abort throws when the run belongs to another request
 * ("Cannot perform I/O on behalf of a different request": workerd binds an AbortController to the
 * request that made it), and that request's work cannot be resumed from this one either: its save
 * would fail the same way. So the run is left alone, and the new event waits for it as a
 * non-interrupting event would. Durable Objects, Node and browsers have no such limit.
 */
function interrupt(run: Run, reason: unknown): void {
  if (run.stopped) return
  try {
    run.controller.abort(reason)
  } catch {
    return
  }
  run.stopped = { reason }
  run.onStop?.(reason)
}

/** Runs `fn`, ignoring a throw: a task of another request, in a stateless Worker (see `interrupt`). */
function attempt(fn: () => unknown): void {
  try {
    fn()
  } catch {
    // see interrupt
  }
}

/**
 * Creates an agent.
 *
 * Design notes:
 * - Barge-in: an event for which `interrupts(event)` is true (default: a `TextEvent`) aborts the
 *   `signal` of every unfinished turn of its session, running or queued, and cancels the session's
 *   interruptible tasks; then it is handled. An aborted turn is recorded with `interrupted: true` and
 *   the events it had yielded; a queued turn aborted before it started records its request, and its
 *   handler is not called. The runtime stops waiting for an interrupted handler at once (a
 *   generator's `finally` still runs) so a handler stuck in an `await` cannot delay the next event.
 * - Background events: a task's yielded events stream on the request that started it, which stays
 *   open for them (see `send`); once that stream has closed, on the session's running turn; when
 *   none is streaming they go to `onBackgroundEvent`. Each is also kept with the turn that started
 *   its task, in that turn's `response.background` (at most 100 events and 32 KiB a turn, see
 *   background.ts), whether that turn is still current or long sealed, and saved soon after (saves
 *   coalesced). When a task settles, the context is saved again (in order with the session's
 *   turns), and that save is part of what is given to `waitUntil`.
 * - Caching: a session's context is kept in memory while it has turns or tasks running; when it is
 *   idle it stays among the `cacheSize` most recently used. The first event after that checks it
 *   against the stored header (`store.refresh`: one read): unchanged, it is used as is; changed by
 *   another writer (another isolate, tab or server), the stored version is loaded; deleted, the
 *   session starts anew. So an event costs one header read, not a load and validation of the whole
 *   history, and a new agent (a new Worker isolate, a reloaded tab) still continues every session
 *   from the store.
 * - Conflicts: when a turn's save gets a `ContextConflictError` (another agent instance saved the
 *   session first), the losing copy is dropped with the tasks it started, the session is loaded
 *   again, and the handler runs again for the same event on the stored version (`turn.attempt` 2,
 *   3, …, after a `retry` event on the stream), up to `conflictRetries` times (default 3). Running
 *   the handler again, rather than copying the lost turn onto the stored version, keeps everything
 *   the handler derives from the context (data, messages, labels) consistent with what the other
 *   writer saved; the price is that the handler's side effects outside the context run again. Any
 *   other failed save, a conflict past the limit, or a background task's save that conflicts: the
 *   stream (or `onBackgroundEvent`) gets an `ErrorEvent` with the error's code and the cached
 *   context is dropped, so the next event starts from what is stored. A context a failed turn or
 *   save has changed is never used again.
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
  if (typeof handler !== 'function') throw invalid('handler', 'must be a function (an async generator)')
  if (!store || typeof store.load !== 'function') throw invalid('store', 'must be a context store (createContextStore(adapter))')
  const interrupts = options.interrupts ?? ((e: AgentEvent) => e instanceof TextEvent)
  const startLabel = options.startLabel ?? { flow: 'agent', node: 'start' }
  const runtime: ContextRuntime = { ...options.runtime }
  if (options.variables) runtime.variables = options.variables
  if (options.executor) runtime.executor = options.executor
  const cacheSize = options.cacheSize ?? 100
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw invalid('cacheSize', 'must be an integer >= 0')
  const retries = options.conflictRetries ?? 3
  if (!Number.isInteger(retries) || retries < 0) throw invalid('conflictRetries', 'must be an integer >= 0')
  const cors = corsPolicy(options.cors)
  if (options.protocol !== undefined && options.protocol !== 'ai-sdk') throw invalid('protocol', "must be 'ai-sdk' or left out")
  if (options.authorize !== undefined && typeof options.authorize !== 'function') throw invalid('authorize', 'must be a function')
  if (options.experiments !== undefined && typeof options.experiments?.record !== 'function') throw invalid('experiments', 'must be createExperiments(adapter)')
  const sessions = new Map<string, Session>()
  /** The idle sessions with a cached context, least recently used first (a Map keeps insertion order). */
  const idle = new Map<string, Session>()

  function session(id: string): Session {
    let s = sessions.get(id)
    if (!s) sessions.set(id, (s = { tail: Promise.resolve(), runs: new Set() }))
    // In use again: out of the idle list until it is idle again (then it goes in as the most recent).
    idle.delete(id)
    return s
  }

  /**
   * When a session has gone idle (no run, no task): keeps its context among the `cacheSize` most
   * recently used idle ones, dropping the least recently used beyond that; a later event of a
   * dropped session loads it from the store.
   */
  function evict(id: string, s: Session): void {
    if (s.runs.size || s.ctx?.hasUnfinishedTasks() || sessions.get(id) !== s) return
    idle.delete(id)
    if (s.ctx && cacheSize > 0) {
      s.idle = true
      idle.set(id, s)
    } else sessions.delete(id)
    for (const [oldId, old] of idle) {
      if (idle.size <= cacheSize) break
      idle.delete(oldId)
      if (sessions.get(oldId) === old) sessions.delete(oldId)
    }
  }

  /** Queues `work` after the session's previous runs; a failure never blocks the queue. */
  function queue(s: Session, work: () => Promise<void>): Promise<void> {
    const run = s.tail.then(work)
    s.tail = run.catch(() => {})
    return s.tail
  }

  async function open(s: Session, id: string, run: Run): Promise<{ ctx: Context; isNew: boolean }> {
    const cached = s.ctx
    // Busy since it was last loaded (events back to back, tasks running): it is the context this
    // agent is saving, and its tasks may be changing it, so it is used as is, as it always was.
    if (cached && !s.idle) return { ctx: cached, isNew: false }
    s.ctx = undefined
    s.idle = false
    // Idle: one header read says whether the cached context is still the stored one.
    const loaded = cached ? await store.refresh(cached, runtime) : await store.load(id, runtime)
    const ctx = loaded ?? (await create(id, run))
    s.ctx = ctx
    return { ctx, isNew: !loaded }
  }

  /** A new session's context, from `init`'s config when there is an `init`; its failure is kept on the run. */
  async function create(id: string, run: Run): Promise<Context> {
    if (!options.init) return Context.init(startLabel, { contextId: id, sessionId: id }, runtime)
    try {
      const config = await options.init(id, run.request)
      if (typeof config !== 'object' || config === null || Array.isArray(config)) throw invalid('init()', 'must return a ContextConfig object')
      for (const key of ['id', 'contextId', 'sessionId', 'variables']) {
        if (key in config) throw invalid(`init().${key}`, key === 'variables' ? 'variables are runtime only, never stored: give them to createAgent' : 'is the session id, set by the agent')
      }
      return Context.init(startLabel, { ...config, contextId: id, sessionId: id }, runtime)
    } catch (error) {
      run.initFailure = { error }
      throw error
    }
  }

  /** Where a background task's events go: the stream of the run that started it while open, else the streaming run, else the callback. */
  function deliver(id: string, s: Session, event: AgentEvent, from?: Run): void {
    if (from && !from.output.closed) from.output.push(event)
    else if (s.running && !s.running.output.closed) s.running.output.push(event)
    else options.onBackgroundEvent?.(id, event)
  }

  /** A task's event: tagged with its task and the turn that started it, kept with that turn, delivered. */
  function background(id: string, s: Session, ctx: Context, task: TaskInfo, event: AgentEvent): void {
    const from = origins.get(task)
    event.background = { task: task.name }
    if (from) {
      event.turn = from.turn
      // Kept in memory and saved soon, unless the session was deleted or this copy was dropped
      // (a lost conflict, a failed save): then it is only streamed.
      if (!s.deleted && s.ctx === ctx && keepBackground(ctx, from.turn, event) === 'kept') saveSoon(id, s)
    }
    deliver(id, s, event, from?.run)
  }

  /**
   * Saves the session after a background event was kept, coalesced: while one such save is queued
   * and not started, later events ride on it (10,000 events in a burst cost a few saves, not 10,000).
   * Queued behind the session's runs; a task's own save when it settles comes after it.
   */
  function saveSoon(id: string, s: Session): void {
    if (s.saveQueued) return
    s.saveQueued = true
    void queue(s, async () => {
      s.saveQueued = false
      try {
        if (s.ctx && !s.deleted) await store.save(s.ctx)
      } catch (error) {
        s.ctx = undefined
        deliver(id, s, ErrorEvent.fromError(error))
      }
    })
  }

  /**
   * Ends a run's stream once its turn was saved and the tasks it started that yield events have
   * settled (or passed their timeout), at most `MAX_STREAM_WAIT` later, or at once when the reader
   * left. An interrupted turn's too: a barge-in cancels its interruptible tasks, and the events of
   * the others still reach the stream that started them while its reader is there.
   */
  function closeWhenDone(run: Run): void {
    // A caller gone (its signal aborted: a client that closed the connection) is a reader that left,
    // also where the body is not cancelled (a Node adapter pulling into a closed socket; seen with
    // test/runtime/serve.ts): later task events go to the session's next stream or the callback.
    const left = run.signal
    if (!run.tasks.size || left?.aborted) return run.output.close()
    const leave = () => run.output.close()
    left?.addEventListener('abort', leave, { once: true })
    void run.output.whenClosed.then(() => left?.removeEventListener('abort', leave))
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, MAX_STREAM_WAIT)))
    const settled = (async () => {
      // Tasks started while waiting (by a task, through this turn's context) are waited for too.
      while (run.tasks.size && !run.output.closed) {
        const dones = [...run.tasks]
        await Promise.race([Promise.all(dones), run.output.whenClosed])
        for (const done of dones) run.tasks.delete(done)
      }
    })()
    void Promise.race([settled, bound]).then(() => {
      clearTimeout(timer)
      run.output.close()
    })
  }

  /** `send`, and a promise `fetch` awaits: settled once the session is open, rejected with `init`'s error. */
  function start(sessionId: string, input: AgentEvent | Json, sendOptions: SendOptions = {}): { events: AsyncIterable<AgentEvent | TurnSaved>; opened: Promise<void> } {
    if (typeof sessionId !== 'string' || !sessionId) throw invalid('sessionId', 'must be a non-empty string')
    const event = input instanceof AgentEvent ? input : eventFromJSON(input)
    const s = session(sessionId)
    if (interrupts(event)) {
      for (const r of s.runs) interrupt(r, interruption('interrupted by a new event'))
      // Also when no turn is running: an interruptible task outlives its turn (music playing, a
      // reply being read out in the background), and the user speaking stops it all the same.
      attempt(() => s.ctx?.cancelInterruptibleTasks())
    }
    const run: Run = { controller: new AbortController(), output: channel<AgentEvent | TurnSaved>(), tasks: new Set(), request: sendOptions.request, signal: sendOptions.signal }
    // Without `init` nothing can fail before the stream: `fetch` answers at once, as it always did.
    let opened = Promise.resolve()
    if (options.init) opened = new Promise<void>((resolve, reject) => (run.opened = { resolve, reject }))
    opened.catch(() => {}) // `send` alone never reads it: no unhandled rejection
    s.runs.add(run)
    const caller = sendOptions.signal
    const onCallerAbort = () => interrupt(run, interruption("interrupted by the caller's signal", caller!.reason))
    if (caller?.aborted) onCallerAbort()
    caller?.addEventListener('abort', onCallerAbort, { once: true })
    const queued = queue(s, () => turn(sessionId, s, event, run, sendOptions.waitUntil).finally(() => caller?.removeEventListener('abort', onCallerAbort)))
    sendOptions.waitUntil?.(queued)
    const events = {
      async *[Symbol.asyncIterator]() {
        yield* run.output.iterable
        if (run.initFailure) throw run.initFailure.error
      },
    }
    return { events, opened }
  }

  function send(sessionId: string, input: AgentEvent | Json, sendOptions?: SendOptions): AsyncIterable<AgentEvent> {
    const { events } = start(sessionId, input, sendOptions)
    return {
      async *[Symbol.asyncIterator]() {
        // The save's mark is for `fetch` (an SSE comment): `send` yields events only.
        for await (const event of events) if (event instanceof AgentEvent) yield event
      },
    }
  }

  async function turn(id: string, s: Session, event: AgentEvent, run: Run, waitUntil?: SendOptions['waitUntil']): Promise<void> {
    const { output } = run
    s.running = run
    let ctx: Context | undefined
    let failed = false
    try {
      for (let tries = 1; ; tries++) {
        try {
          const opened = await open(s, id, run)
          run.opened?.resolve()
          const c = (ctx = opened.ctx)
          internals(c).setTaskSink({
            started: (task, yields, turnId) => {
              origins.set(task, { run, turn: turnId })
              if (yields && !run.output.closed) {
                // Only running tasks stay in the set: one that settled within the turn keeps
                // nothing open (and the save is then not marked: the stream ends with it).
                const done = task.done
                const drop = () => void run.tasks.delete(done)
                run.tasks.add(done)
                done.then(drop, drop)
              }
            },
            emit: (value, task) => {
              let out: AgentEvent
              try {
                out = value instanceof AgentEvent ? value : eventFromJSON(value)
              } catch (error) {
                out = ErrorEvent.fromError(error)
              }
              background(id, s, c, task, out)
            },
            onError: (error, task) => background(id, s, c, task, ErrorEvent.fromError(error)),
            waitUntil,
            onSettled: () => saveLater(id, s),
          })
          if (options.experiments) await experiments(id, (x) => x.attach(ctx!))
          if (opened.isNew) await runHandler(ctx, new StartEvent(), run, id, false, tries)
          if (!(event instanceof StartEvent && opened.isNew)) await runHandler(ctx, event, run, id, true, tries)
        } catch (error) {
          // Not the handler's error (that one is recorded as the turn's output): the runtime's own,
          // the load or the recording of the turn failed. `init`'s error is the caller's: the
          // stream rejects with it (fetch: a 500), it is not an event of a session that never was.
          failed = true
          if (run.initFailure) run.opened?.reject(error)
          else output.push(ErrorEvent.fromError(error))
        }
        try {
          if (ctx && !s.deleted) {
            await store.save(ctx)
            // After the turn's events, when the stream stays open for the events of tasks it started:
            // the reply is complete and stored (a client can let the user speak again). A stream
            // without such tasks ends here, which says as much: its frames stay as they were.
            if (run.tasks.size) output.push({ saved: ctx.currentTurnId })
          }
          break
        } catch (error) {
          // Another writer saved first: the turn runs again on the stored version (see
          // `conflictRetries`). Never after a runtime failure, nor past the limit: then the stream
          // says the turn was not saved.
          if (!(error instanceof ContextConflictError) || failed || tries > retries || s.deleted) {
            failed = true
            output.push(ErrorEvent.fromError(error))
            break
          }
          // The losing copy is dropped, and the tasks its attempt started with it: they would
          // change and save a context that is not the stored one.
          const lost = ctx!
          attempt(() => lost.cancelAllTasks())
          if (s.ctx === lost) s.ctx = undefined
          output.push(new AgentEvent('retry', { attempt: tries + 1, code: error.code }))
        }
      }
      const saved = ctx
      if (options.experiments && saved && !failed && !s.deleted) {
        const recorded = experiments(id, async (x) => Promise.all((await x.record(saved)).recorded.map((t) => x.evaluate(t))))
        waitUntil?.(recorded)
      }
    } finally {
      // A context a failed turn or save changed may differ from what is stored, and `refresh`
      // would keep its unsaved changes: drop it, so the next event starts from what is stored.
      if (failed && s.ctx === ctx) s.ctx = undefined
      s.running = undefined
      run.opened?.resolve() // a failure before the session was open: the stream says it
      closeWhenDone(run)
      s.runs.delete(run)
      evict(id, s)
    }
  }

  /** Runs the handler for one event and records the turn; errors become an `ErrorEvent`. */
  async function runHandler(ctx: Context, event: AgentEvent, run: Run, id: string, newTurn: boolean, attempt: number): Promise<void> {
    const { output } = run
    const emitted: AgentEvent[] = []
    if (newTurn) ctx.addRequest(requestOf(event))
    const emit = (value: unknown) => {
      const out = value instanceof AgentEvent ? value : eventFromJSON(value)
      out.turn = ctx.currentTurnId
      emitted.push(out)
      output.push(out)
    }
    // A turn interrupted while still queued is recorded, but its handler is not called.
    if (!run.stopped) {
      try {
        const result = handler(event, ctx, { signal: run.controller.signal, sessionId: id, attempt })
        if (result && typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
          const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]()
          let done = false
          try {
            for (let step; !(step = await untilStopped(it.next(), run)).done; ) emit(step.value)
            done = true
          } finally {
            // Stopped early (abort, or a yield that is not an event): let the generator's `finally`
            // run, without waiting on a handler stuck in an await.
            if (!done) void Promise.resolve(it.return?.()).catch(() => {})
          }
        } else await untilStopped(Promise.resolve(result), run)
      } catch (error) {
        if (!run.stopped) emit(ErrorEvent.fromError(error))
      }
    }
    // The turn's record: what was said back (texts joined), every output event, and whether it was cut off.
    const response: JsonObject = { events: emitted.map((e) => e.toJSON() as unknown as Json) }
    const text = emitted.map((e) => (typeof e.data.text === 'string' ? e.data.text : '')).filter(Boolean).join(' ')
    if (text) response.text = text
    if (run.stopped) response.interrupted = true
    ctx.addResponse(withBackground(ctx, response))
    // The handler may label the turn itself (ctx.addLabel); otherwise the label is the event's type.
    if (!ctx.labels.has(ctx.currentTurnId)) ctx.addLabel({ flow: startLabel.flow, node: event.type })
  }

  /** Runs `work` with the experiments tracker; a failure goes to `onBackgroundEvent` as an `ErrorEvent`, never to the turn. */
  async function experiments(id: string, work: (x: AgentExperiments) => Promise<unknown>): Promise<void> {
    try {
      await work(options.experiments!)
    } catch (error) {
      // Not on the turn's stream, even while one is running: the turn itself went fine.
      attempt(() => options.onBackgroundEvent?.(id, ErrorEvent.fromError(error, { meta: { background: { task: 'experiments' } } })))
    }
  }

  /** After a background task settles, save what it changed (queued behind the session's runs). */
  function saveLater(id: string, s: Session): Promise<void> {
    return queue(s, async () => {
      try {
        if (s.ctx && !s.deleted) await store.save(s.ctx)
      } catch (error) {
        s.ctx = undefined
        deliver(id, s, ErrorEvent.fromError(error))
      }
      evict(id, s)
    })
  }

  async function remove(id: string): Promise<boolean> {
    if (typeof id !== 'string' || !id) throw invalid('sessionId', 'must be a non-empty string')
    const s = sessions.get(id)
    if (s) {
      // Forget it first: its running turn and tasks must not save it back after the delete.
      sessions.delete(id)
      idle.delete(id)
      s.deleted = true
      for (const r of s.runs) interrupt(r, interruption('the session was deleted'))
      attempt(() => s.ctx?.cancelAllTasks())
    }
    const stored = (await store.load(id, runtime)) !== undefined
    if (stored) await store.delete(id)
    return stored || s !== undefined
  }

  const agent: Agent = {
    send,
    delete: remove,
    fetch: (request, _env, executionContext) => {
      const deps = { agent: { start, delete: remove }, store, runtime, authorize: options.authorize, cors, onError: options.onError }
      // The AI SDK's protocol is loaded the first time a request needs it (1.3 KB gzip that an
      // agent without it does not carry); the path test is the same as ai-sdk.ts's CHAT_PATH.
      if (options.protocol === 'ai-sdk' && /\/chat(?:\/[^/]+\/stream)?\/?$/.test(new URL(request.url).pathname)) {
        return import('./ai-sdk.js').then((m) => m.handleChat(request, deps, executionContext))
      }
      return handleFetch(request, deps, executionContext)
    },
  }
  return agent
}

/** `promise`, or a rejection as soon as the run is interrupted. One pending hook per run, so a long stream leaks nothing. */
function untilStopped<T>(promise: Promise<T>, run: Run): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (run.stopped) reject(run.stopped.reason)
    run.onStop = reject
    promise.then(resolve, reject).finally(() => run.onStop === reject && (run.onStop = undefined))
  })
}

/** The request recorded for an event: its text (for `lastRequest.text`), type and data. */
function requestOf(event: AgentEvent): JsonObject {
  const request: JsonObject = { type: event.type, data: event.data }
  if (typeof event.data.text === 'string') request.text = event.data.text
  return request
}
