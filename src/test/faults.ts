import { fail } from '../providers/kernel/errors.js'

/** The faults a scripted reply can raise: each the `ProviderError` a real provider throws after its own retries. */
export type MockFaultKind = 'rate_limit' | 'server' | 'overloaded' | 'context_window' | 'network' | 'auth'

/**
 * A scripted failure: a fault kind, or any `Error` to throw as it is. The kinds, as OpenAI and
 * Anthropic answer them (`status`, `providerCode`, `retryable`):
 * - `rate_limit`: 429 `rate_limit_exceeded`, retryable;
 * - `server`: 500 `server_error`, retryable;
 * - `overloaded`: 529 `overloaded_error`, retryable;
 * - `context_window`: 400 `context_length_exceeded`, not retryable; `isContextWindowError` is true, so the executor tries the fallbacks;
 * - `network`: no status (`fetch` failed), retryable;
 * - `auth`: 401 `invalid_api_key`, not retryable.
 */
export interface MockFault {
  /** The kind of failure (a `ProviderError` as that provider would throw it), or an `Error` thrown as it is. */
  error: MockFaultKind | Error
  /** Overrides the kind's HTTP status. */
  status?: number
  /** Overrides whether the same call may succeed later (the executor tries fallbacks only then, or on a context-window error). */
  retryable?: boolean
  /** Overrides the kind's message, the part after `<provider>: HTTP <status>: `. */
  message?: string
  /** Milliseconds to wait before failing. */
  delayMs?: number
}

// [status, provider code, message, retryable]: what the providers answer, so that code which branches
// on `status`, `providerCode` or `isContextWindowError` sees in its tests what it will see in production.
export const KINDS: Record<MockFaultKind, [number | undefined, string | undefined, string, boolean]> = {
  rate_limit: [429, 'rate_limit_exceeded', 'Rate limit reached', true],
  server: [500, 'server_error', 'The server had an error while processing your request', true],
  // Anthropic's status for an overload; OpenAI answers 503 for the same.
  overloaded: [529, 'overloaded_error', 'Overloaded', true],
  context_window: [400, 'context_length_exceeded', "This model's maximum context length is 8192 tokens", false],
  network: [undefined, undefined, 'fetch failed', true],
  auth: [401, 'invalid_api_key', 'Incorrect API key provided', false],
}

/** The error a scripted fault throws: the `Error` given, or a fresh `ProviderError` of `provider` of the fault's kind. */
export function faultError(provider: string, fault: MockFault): Error {
  const { error } = fault
  if (error instanceof Error) return error
  const [kindStatus, providerCode, text, retryable] = KINDS[error]
  const status = fault.status ?? kindStatus
  // Worded as the providers' kernel words them: "openai: HTTP 429: …", "openai: network error: fetch failed".
  return fail(provider, `${status ? `HTTP ${status}` : 'network error'}: ${fault.message ?? text}`, fault.retryable ?? retryable, {
    status,
    providerCode,
    cause: status ? undefined : new TypeError(text),
  })
}
