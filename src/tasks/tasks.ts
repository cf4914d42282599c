import { AbortedError, abortReason } from '../abort.js'
import { invalid as invalidError } from '../errors.js'

/**
 * Background tasks driven by one `AbortController` each.
 *
 * Lifecycle of a task, with `timeout: 60`:
 *   create ─► running ─► settles (completed / failed)            done resolves
 *                   ├──► cancel / replace / parent abort ─► settles or t=60 s, first wins
 *                   └──► t=60 s: aborted (reason timeout) ─► dropped at once
 * A task is waited for (`waitForAll`, `hasUnfinished`, `done`) until its handler settles or its
 * deadline passes, whichever is first: a task that ignores its signal costs at most its timeout.
 * A task given as an already-started promise or async iterator (`TaskSource`) has no signal to
 * listen to: it settles at once when aborted (cancel, replacement, barge-in, timeout), and an
 * iterator's `return()` is called so that a generator's `finally` blocks run.
 */

/**
 * What a task runs. It receives the task's `AbortSignal` (pass it to every `fetch`) and the owning
 * context. Return a promise (an `async` function) or an async iterable (an `async function*`),
 * whose yielded values are handed to `emit` in order. A function is required, not a promise: a
 * promise is already running and could not be given the signal.
 */
export type TaskHandler<C = unknown> = (signal: AbortSignal, context: C) => Promise<unknown> | AsyncIterable<unknown>

/**
 * What `create` takes: a `TaskHandler` (it gets the task's `AbortSignal`), or work already started,
 * as docs/reference.md#voice-create-task passes it (`ctx.createTask(processOrder(ctx), { name })`): a promise,
 * or an async iterator / iterable (an async generator's object) whose values are emitted in order.
 *
 * Only a function receives the abort signal. Cancelling a promise or iterator task stops waiting for
 * it and drops what it yields later; an iterator's `return()` is called, so a generator's `finally`
 * runs (at its next `yield`, if it is inside an `await` at that moment). A promise cannot be
 * stopped: the work it stands for goes on, unobserved (its rejection is swallowed, never unhandled).
 */
export type TaskSource<C = unknown> = TaskHandler<C> | PromiseLike<unknown> | AsyncIterable<unknown> | AsyncIterator<unknown>

/** Options of `TaskManager.create`. */
export interface TaskOptions {
  /** Task name; a running task of the same name is aborted and replaced. Default: `task-1`, `task-2`, … */
  name?: string
  /** Cancelled by `cancelInterruptible` (a user barge-in). Default `false`. */
  interruptible?: boolean
  /** Seconds until the task is aborted (an `AbortedError`, reason `timeout`) and no longer waited for. Default 30; `Infinity` for none. */
  timeout?: number
}

/**
 * How a task ended: its handler finished (`completed`) or threw (`failed`, reported to `onError`), it
 * was aborted by `cancel*`, replacement or the parent signal (`cancelled`), or by its timeout or any
 * abort whose reason is a timeout (a `TimeoutError`, an `AbortedError` of reason `timeout`: `timeout`).
 * The first abort decides.
 */
export type TaskStatus = 'completed' | 'failed' | 'cancelled' | 'timeout'

/** A created task, as returned by `create` and passed to `emit` / `onError`. */
export interface TaskInfo {
  /** The task's name (a new task of the same name replaces it). */
  readonly name: string
  /** Whether a barge-in (`cancelInterruptible`) cancels it. */
  readonly interruptible: boolean
  /** Seconds, as given (`Infinity` for none). */
  readonly timeout: number
  /**
   * Aborted on cancel, replacement, timeout or parent abort; `signal.reason` is an `AbortedError`
   * whose `reason` says which (`cancelled`, `timeout`, `interrupted` for `cancelInterruptible`) and
   * whose `signalReason` is the reason given to `cancel*` or the parent's, if any. A `fetch` given
   * the signal rejects with that same error.
   */
  readonly signal: AbortSignal
  /** Resolves (never rejects) when the task settles or is dropped at its deadline. */
  readonly done: Promise<TaskStatus>
}

/** Options of `new TaskManager`. */
export interface TaskManagerOptions<C = unknown> {
  /**
   * Receives each value a generator task yields, in order, with the task: the agent tags it as
   * background (`event.background = { task: task.name }`) and sends it to the session's output.
   * Values yielded after the task was aborted are dropped.
   */
  emit?: (event: unknown, task: TaskInfo) => void
  /** Receives a task's error (not its cancellation or timeout). Default: `console.error`. */
  onError?: (error: unknown, task: TaskInfo) => void
  /** Aborting it cancels every task, current and future, with its reason. */
  parentSignal?: AbortSignal
  /** Edge runtimes' `ctx.waitUntil`: given every task's `done` so the task outlives the response. */
  waitUntil?: (promise: Promise<unknown>) => void
  /** Passed to every handler as its second argument (the Context). */
  context?: C
  /**
   * Called once per task, before `create` returns, with whether it can yield events (an async
   * iterator, or a function that returned one): the agent keeps the request's stream open for those.
   */
  started?: (task: TaskInfo, yields: boolean) => void
}

interface Entry {
  info: TaskInfo
  controller: AbortController
  timer?: ReturnType<typeof setTimeout>
  /** Set by the first abort; stays once set. */
  status?: TaskStatus
  finish: (status: TaskStatus) => void
}

// setTimeout keeps at most 2^31-1 ms (24.8 days); a longer delay fires after 1 ms in browsers and Node.
const MAX_DELAY = 2_147_483_647

const invalid = (path: string, what: string): never => {
  throw invalidError(path, what)
}

/** What a task's signal is aborted with: the one abort error, its reason (the kind) and the cause given from outside. */
const abortedTask = (name: string, what: string, reason: 'cancelled' | 'timeout' | 'interrupted', signalReason?: unknown) =>
  new AbortedError(`task "${name}" ${what}`, { reason, signalReason })

/** Runs and tracks the background tasks of one context. */
export class TaskManager<C = unknown> {
  #tasks = new Map<string, Entry>() // running, not yet aborted, by name
  #pending = new Set<Entry>() // everything still waited for, including aborted-but-settling tasks
  #count = 0
  #options: TaskManagerOptions<C>

  // One parent listener rather than an AbortSignal.any per task, so a task has a single signal. It is
  // attached only while tasks are pending: a long-lived parent must not keep idle managers alive.
  #onParentAbort = () => this.cancelAll(this.#options.parentSignal!.reason)

  /** A manager with no task yet; `options.parentSignal` aborting cancels every pending task. */
  constructor(options: TaskManagerOptions<C> = {}) {
    this.#options = options
  }

  /** Starts `handler` (or watches the promise or async iterator given, see `TaskSource`) in the background and returns at once. */
  create(handler: TaskSource<C>, options: TaskOptions = {}): TaskInfo {
    check(handler)
    if (options === null || typeof options !== 'object') invalid('options', 'must be an object')
    const { interruptible = false, timeout = 30 } = options
    let name = options.name
    if (name !== undefined && (typeof name !== 'string' || !name.trim())) invalid('options.name', 'must be a non-empty string')
    if (typeof interruptible !== 'boolean') invalid('options.interruptible', 'must be a boolean')
    if (typeof timeout !== 'number' || !(timeout > 0)) invalid('options.timeout', 'must be a positive number of seconds or Infinity')
    while (name === undefined || (options.name === undefined && this.#tasks.has(name))) name = `task-${++this.#count}`

    this.#tasks.get(name)?.controller.abort(abortedTask(name, 'was replaced by a new task of the same name', 'cancelled'))

    const controller = new AbortController()
    const signal = controller.signal
    let finish!: (status: TaskStatus) => void
    const done = new Promise<TaskStatus>((resolve) => (finish = resolve))
    const info: TaskInfo = { name, interruptible, timeout, signal, done }
    const entry: Entry = { info, controller, finish }
    const parent = this.#options.parentSignal
    if (this.#pending.size === 0) parent?.addEventListener('abort', this.#onParentAbort)
    this.#pending.add(entry)
    this.#tasks.set(name, entry)
    signal.addEventListener('abort', () => {
      entry.status ??= abortReason(signal.reason) === 'timeout' ? 'timeout' : 'cancelled'
      if (this.#tasks.get(name!) === entry) this.#tasks.delete(name!)
    }, { once: true })
    this.#arm(entry, timeout * 1000)
    try {
      this.#options.waitUntil?.(done)
    } catch {
      // waitUntil throws once the platform's request is over; the task still runs here.
    }
    if (parent?.aborted) {
      // The context is being torn down: never start the handler.
      controller.abort(abortedTask(name, 'was cancelled', abortReason(parent.reason), parent.reason))
      this.#settle(entry, entry.status!)
      this.#started(info, false)
      // Work given as is: a generator never started runs no body; a promise's rejection is nobody's.
      if (typeof handler !== 'function') void Promise.resolve(iteratorOf(handler, true)?.return?.() ?? handler).catch(() => {})
    } else void this.#run(entry, handler)
    return info
  }

  #started(info: TaskInfo, yields: boolean): void {
    try {
      this.#options.started?.(info, yields)
    } catch {
      // the agent's bookkeeping must not fail the task's creation
    }
  }

  /** Aborts the running task called `name`. Returns whether there was one. */
  cancel(name: string, reason?: unknown): boolean {
    const entry = this.#tasks.get(name)
    entry?.controller.abort(abortedTask(name, 'was cancelled', abortReason(reason), reason))
    return entry !== undefined
  }

  /** Aborts every running interruptible task (a user barge-in). Returns how many. */
  cancelInterruptible(reason?: unknown): number {
    return this.#cancelWhere((e) => e.info.interruptible, reason, 'interrupted')
  }

  /** Aborts every running task. Returns how many. */
  cancelAll(reason?: unknown): number {
    return this.#cancelWhere(() => true, reason, 'cancelled')
  }

  /** Whether any task is still waited for (running, or aborted but not yet settled, before its deadline). */
  hasUnfinished(): boolean {
    return this.#pending.size > 0
  }

  /** Resolves when every task, including those created meanwhile, has settled or passed its deadline. Never rejects. */
  async waitForAll(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending].map((e) => e.info.done))
  }

  /** Names of the running (not aborted) tasks, oldest first. */
  names(): string[] {
    return [...this.#tasks.keys()]
  }

  #cancelWhere(match: (e: Entry) => boolean, reason: unknown, kind: 'cancelled' | 'interrupted'): number {
    let n = 0
    for (const [name, entry] of [...this.#tasks]) {
      if (!match(entry)) continue
      entry.controller.abort(abortedTask(name, `was ${kind}`, abortReason(reason, kind), reason))
      n++
    }
    return n
  }

  /** Deadline: abort with an `AbortedError` (reason `timeout`), then stop waiting whether or not the handler listens. */
  #arm(entry: Entry, ms: number): void {
    if (ms === Infinity) return
    entry.timer = setTimeout(() => {
      if (ms > MAX_DELAY) return this.#arm(entry, ms - MAX_DELAY)
      const { name, timeout } = entry.info
      entry.controller.abort(abortedTask(name, `timed out after ${timeout} s`, 'timeout'))
      this.#settle(entry, entry.status!)
    }, Math.min(ms, MAX_DELAY))
  }

  #fail(entry: Entry, error: unknown): void {
    this.#settle(entry, 'failed')
    try {
      ;(this.#options.onError ?? ((e, t) => console.error(`agentctx: task "${t.name}" failed`, e)))(error, entry.info)
    } catch {
      // A throwing onError must not turn into an unhandled rejection.
    }
  }

  /**
   * Runs a function, which gets the signal and is waited for until it settles (or its deadline), or
   * watches work given as is: a promise or an async iterator has no signal to listen to, so an abort
   * settles the task at once and, for an iterator, calls `return()` without waiting for it (a
   * generator inside an `await` runs its `finally` only when that await is over).
   */
  async #run(entry: Entry, task: TaskSource<C>): Promise<void> {
    const { info, controller } = entry
    const signal = controller.signal
    const given = typeof task !== 'function'
    const stopped = given ? new Promise<typeof ABORTED>((resolve) => signal.addEventListener('abort', () => resolve(ABORTED), { once: true })) : undefined
    const wait = <T>(p: PromiseLike<T>) => (stopped ? Promise.race([p, stopped]) : p)
    let told = false
    try {
      const result = given ? task : (task as TaskHandler<C>)(signal, this.#options.context as C)
      const it = iteratorOf(result, given)
      this.#started(info, !!it)
      told = true
      if (it) {
        let step: IteratorResult<unknown> | typeof ABORTED | undefined
        try {
          // After an abort the output is stale (the user interrupted): stop pulling and drop it.
          while ((step = await wait(it.next())) !== ABORTED && !step.done && !signal.aborted) this.#options.emit?.(step.value, info)
        } finally {
          // Runs the generator's `finally` blocks when we stop early (abort, or `emit` threw).
          if (step === ABORTED || !step?.done) {
            const closing = Promise.resolve(it.return?.())
            if (given) closing.catch(() => {})
            else await closing
          }
        }
      } else if (given) {
        const work = Promise.resolve(result)
        work.catch(() => {}) // a cancelled task's later rejection is nobody's
        await wait(work)
      } else await result
      this.#settle(entry, entry.status ?? 'completed')
    } catch (error) {
      if (!told) this.#started(info, false)
      // An abort makes fetch and friends reject: that is the cancellation, not a failure.
      if (signal.aborted) return this.#settle(entry, entry.status!)
      this.#fail(entry, error)
    }
  }

  #settle(entry: Entry, status: TaskStatus): void {
    if (!this.#pending.delete(entry)) return // already dropped at its deadline
    if (this.#pending.size === 0) this.#options.parentSignal?.removeEventListener('abort', this.#onParentAbort)
    clearTimeout(entry.timer)
    if (this.#tasks.get(entry.info.name) === entry) this.#tasks.delete(entry.info.name)
    entry.finish(status)
  }
}

const ABORTED = Symbol('aborted')

/** The async iterator a task's result (or the work given, `given`) is, if any: a thenable is a promise. */
function iteratorOf(x: unknown, given: boolean): AsyncIterator<unknown> | undefined {
  const o = x as Record<PropertyKey, unknown> | null
  if (o === null || typeof o !== 'object' || (given && typeof o.then === 'function')) return undefined
  if (typeof o[Symbol.asyncIterator] === 'function') return (o as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  return given && typeof o.next === 'function' ? (o as unknown as AsyncIterator<unknown>) : undefined
}

/** A `ValidationError` naming `handler` and what it was, unless it is a function, a promise or an async iterator. */
function check(task: unknown): void {
  if (typeof task === 'function') return
  const o = task as Record<PropertyKey, unknown> | null
  if (o !== null && typeof o === 'object') {
    if (typeof o.then === 'function' || typeof o[Symbol.asyncIterator] === 'function') return
    // A sync iterator (a `function*` generator) would run its whole body in this call stack, between
    // two events of the conversation: refused, not silently turned into a blocking loop.
    if (typeof o[Symbol.iterator] === 'function') invalid('handler', 'is a sync iterable: pass an async generator (async function*) or a function')
    if (typeof o.next === 'function') return
  }
  const what = o === null ? 'null' : typeof o === 'object' ? 'an object that is neither a promise nor an async iterator' : `a ${typeof o}`
  invalid('handler', `must be a function (signal, context) => Promise | AsyncIterable, a promise or an async iterator; got ${what}`)
}
