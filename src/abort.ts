import { ContextError } from './errors.js'
import type { ChatResponse } from './llm/types.js'

/**
 * Why an operation stopped before its end:
 * - `cancelled`: a caller's signal, `cancelTask`, `cancelAllTasks`, a task replaced by one of the same name;
 * - `timeout`: a deadline: a task's `timeout`, `constraints.maxTime`, an `AbortSignal.timeout`;
 * - `interrupted`: the user barged in (a new event, `cancelInterruptibleTasks`) or the session was deleted.
 */
export type AbortReason = 'cancelled' | 'timeout' | 'interrupted'

/**
 * The one abort error, from tasks (their signal's reason), the agent runtime (a turn's signal) and
 * model calls (what `execute` and `generateChatCompletion` reject with) alike. `code` is `timeout`
 * for a timeout and `aborted` otherwise; `reason` says which of the three; `signalReason` is what
 * was given to `controller.abort(...)` when the abort came from outside (also the `cause`). A model
 * call's stream aborted mid-way keeps what arrived in `partial` (finishReason `aborted`, usage estimated).
 *
 * @example
 * try { await ctx.execute({ task, signal }) } catch (e) {
 *   if (e instanceof AbortedError && e.reason === 'timeout') console.log('late; so far:', e.partial?.text)
 * }
 */
export class AbortedError extends ContextError {
  /** Always `'AbortedError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'AbortedError'
  /** Which abort: `cancelled` (a caller's signal, a task cancelled), `timeout` (a deadline) or `interrupted` (the user barged in); see `AbortReason`. */
  declare reason: AbortReason
  /** What was given to `controller.abort(...)`, when the abort came from outside. */
  declare signalReason: unknown
  /** What a model call's stream delivered before the abort (finishReason `aborted`, usage estimated). */
  declare partial: ChatResponse | undefined

  /** `reason` is derived from `signalReason` when not given; `partial` is the reply received before the abort, if any. */
  constructor(message: string, options: { reason?: AbortReason; signalReason?: unknown; partial?: ChatResponse; path?: string; cause?: unknown } = {}) {
    const reason = options.reason ?? abortReason(options.signalReason)
    super(reason === 'timeout' ? 'timeout' : 'aborted', message, { path: options.path, cause: 'cause' in options ? options.cause : options.signalReason })
    Object.assign(this, { reason, signalReason: options.signalReason, partial: options.partial })
  }
}

/**
 * The kind of an abort signal's reason: an `AbortedError`'s own, `timeout` for a `TimeoutError`
 * (`AbortSignal.timeout`, alone or inside `AbortSignal.any`), else `fallback`.
 */
export function abortReason(signalReason: unknown, fallback: AbortReason = 'cancelled'): AbortReason {
  if (signalReason instanceof AbortedError) return signalReason.reason
  return (signalReason as Error | undefined)?.name === 'TimeoutError' ? 'timeout' : fallback
}
