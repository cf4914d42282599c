import { AbortedError, abortReason } from '../../abort.js'
import { ContextError } from '../../errors.js'
import type { ChatResponse } from '../../llm/types.js'

// The one abort error lives below the kernel (tasks and the agent throw it too); re-exported for the kernel's users.
export { AbortedError }

/** What a `ProviderError` carries besides its message. */
export interface ProviderErrorInit {
  /** The provider's name (`openai`, `anthropic`, `gemini`, or a custom one). */
  provider: string
  /** HTTP status; `undefined` for a network failure or a stream that broke after a 200. */
  status?: number
  /** The provider's own error code or type: `rate_limit_exceeded`, `overloaded_error`, `INVALID_ARGUMENT`. */
  providerCode?: string
  /** True for 408, 409, 429, 5xx, network failures and dropped streams: the same call may succeed later. */
  retryable?: boolean
  /** From the `x-request-id` (OpenAI) or `request-id` (Anthropic) response header. */
  requestId?: string
  /** What a stream delivered before it failed (finishReason `error`, usage estimated). */
  partial?: ChatResponse
  /** The underlying error (a network failure, a parse error), kept as `Error.cause`. */
  cause?: unknown
}

/**
 * An LLM provider answered with an error, or its stream broke. The message names the provider and
 * status and carries the provider's own message, with the API key replaced by `***` should a server
 * echo it back. `JSON.stringify(err)` includes the message and every field below.
 */
export class ProviderError extends ContextError {
  /** Always `'ProviderError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'ProviderError'
  /** The provider's name (`openai`, `anthropic`, `gemini`, or a custom one). */
  declare provider: string
  /** HTTP status; `undefined` for a network failure or a stream that broke after a 200. */
  declare status: number | undefined
  /** The provider's own error code or type: `rate_limit_exceeded`, `overloaded_error`, `INVALID_ARGUMENT`. */
  declare providerCode: string | undefined
  /** True for 408, 409, 429, 5xx, network failures and dropped streams: the same call may succeed later. */
  declare retryable: boolean
  /** From the `x-request-id` (OpenAI) or `request-id` (Anthropic) response header. */
  declare requestId: string | undefined
  /** What a stream delivered before it failed (finishReason `error`, usage estimated). */
  declare partial: ChatResponse | undefined

  /** `init` sets the provider, HTTP status, provider code, request id, partial reply and whether a retry may succeed (`retryable`, false unless given). */
  constructor(message: string, { cause, ...init }: ProviderErrorInit) {
    super('provider', message, { cause })
    Object.assign(this, { retryable: false }, init)
  }

  /** Plain fields plus the message, for logs. */
  toJSON(): object {
    return { ...this, message: this.message }
  }
}

/** A `ProviderError` from `provider` whose message reads `provider: what`: the one shape every provider failure takes. */
export const fail = (provider: string, what: string, retryable = false, init?: Omit<ProviderErrorInit, 'provider' | 'retryable'>): ProviderError =>
  new ProviderError(`${provider}: ${what}`, { provider, retryable, ...init })

/**
 * The `AbortedError` of a provider call aborted by `signalReason` (the signal's reason): its message
 * reads `provider: aborted` or `provider: timeout`; a stream aborted mid-way keeps `partial`.
 */
export const aborted = (provider: string, signalReason: unknown, partial?: ChatResponse): AbortedError =>
  new AbortedError(`${provider}: ${abortReason(signalReason) === 'timeout' ? 'timeout' : 'aborted'}`, { signalReason, partial })

/**
 * Whether `err` says the prompt is longer than the model's context window, as each provider words
 * it: OpenAI `code: context_length_exceeded` ("This model's maximum context length is 8192
 * tokens…"), Anthropic 400 "prompt is too long: 208310 tokens > 200000 maximum" or 413
 * `request_too_large`, Gemini 400 "The input token count (1234567) exceeds the maximum number of
 * tokens allowed (1048576)". A router may then retry on a model with a larger window.
 */
export const isContextWindowError = (err: unknown): boolean =>
  err instanceof ProviderError &&
  (err.status === 413 ||
    err.providerCode === 'context_length_exceeded' ||
    /context (length|window)|prompt is too long|exceeds the maximum number of tokens/i.test(err.message))
