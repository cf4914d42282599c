import type { FinishReason, Usage } from './types.js'

/**
 * What every hook event carries: which call. Never the key, the variables, the headers or the
 * messages' text: hooks feed logs and metrics, which are read by more people than the key's owner.
 */
export interface HookCall {
  /** The `ModelContext`'s id: the `Context`'s id for `ctx.execute` and chat calls. */
  contextId: string
  /** The name of the provider called. */
  provider: string
  /** The model asked for (the router's id, which prices the call). */
  model: string
  /** 0 for the routed model, then 1, 2… for each `routing.fallbacks` model actually called. */
  attempt: number
}

/** `onRequest`: a provider call is about to start. */
export interface ModelRequestEvent extends HookCall {
  /** How many messages are sent (after fitting the history), how many tools. */
  messages: number
  /** How many tools are offered. */
  tools: number
  /** True when the reply is streamed. */
  stream: boolean
  /** The output tokens asked for. */
  maxOutputTokens: number
}

/** `onFinish`: a provider call answered. */
export interface ModelFinishEvent extends HookCall {
  /** Tokens used, as the provider reported them (or estimated). */
  usage: Usage
  /** USD; undefined for a model without prices. */
  cost: number | undefined
  /** Why the generation ended. */
  finishReason: FinishReason
  /** Milliseconds from the request to the end of the reply. */
  durationMs: number
  /** The provider's request id, when it sent one. */
  requestId?: string
}

/** `onError`: a provider call failed (the executor may still fall back to the next model). */
export interface ModelErrorEvent extends HookCall {
  /** What the provider threw: a `ProviderError` with any key already scrubbed from its text, or an `AbortedError`. */
  error: unknown
  /** Milliseconds from the request to the failure. */
  durationMs: number
  /** What a failed stream had produced (the error's `partial`), when it had. */
  usage?: Usage
  /** USD of that partial usage; absent for a model without prices. */
  cost?: number
}

/** Hooks of `new Executor({ … })` for logs and metrics. Each is called synchronously and never awaited; one that throws (or rejects) is reported with `console.error` and the call goes on. */
export interface ExecutorHooks {
  /** Called as each provider call starts (one per model tried, per step). */
  onRequest?: (event: ModelRequestEvent) => unknown
  /** Called when a provider call answers, with its usage. */
  onFinish?: (event: ModelFinishEvent) => unknown
  /** Called when a provider call fails, before any fallback to the next model. */
  onError?: (event: ModelErrorEvent) => unknown
}

/**
 * Calls `hook` with `event`, so that it can never break the call: a throw, or an async hook's
 * rejection (unhandled, it would end a Node process), is reported with `console.error`: silence
 * would hide a metrics pipeline that stopped working, and failing the model call over a log line
 * would cost the user their reply.
 */
export function notify<E>(name: string, hook: ((event: E) => unknown) | undefined, event: E): void {
  if (typeof hook !== 'function') return
  const report = (error: unknown) => console.error(`agentctx: the ${name} hook threw; the model call went on`, error)
  try {
    const out = hook(event) as PromiseLike<unknown> | undefined
    if (typeof out?.then === 'function') out.then(undefined, report)
  } catch (error) {
    report(error)
  }
}
