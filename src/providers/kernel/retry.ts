import { aborted, fail, ProviderError, type ProviderErrorInit } from './errors.js'

/** What `fetchWithRetry` needs besides the request. */
export interface RetryOptions {
  provider: string
  /** The `fetch` to call; default `globalThis.fetch`, looked up at call time so it can be patched. */
  fetch?: typeof fetch
  /** Retries after a retryable failure. Default 2 (3 attempts in all). */
  maxRetries?: number
  /** Base of the exponential backoff in ms, default 500. */
  retryDelay?: number
  /** Applied to the whole text of an error body before it is cut to length (see `scrubber`). */
  scrub?: (text: string) => string
}

// An error body is read up to 64 KiB: the provider's message is in its first few hundred bytes, and a
// hostile server streaming an endless error body must not fill memory.
const ERROR_BODY = 1 << 16
// fetch follows 20 redirects; an API that needs more than 5 is misconfigured.
const MAX_REDIRECTS = 5

/**
 * The wait before retry `attempt` (0-based), or -1 to give up. A `retry-after-ms` or `retry-after`
 * (seconds or an HTTP date) header is obeyed when it asks for at most 60 s; a longer one means the
 * limit will not lift soon, so the retryable error is thrown at once. Without a header: full jitter,
 * uniform in [0, base × 2^min(attempt, 4)): with base 500 ms, up to 0.5, 1, 2, 4, 8, 8 … s.
 */
function backoff(headers: Headers | undefined, attempt: number, base = 500): number {
  const ms = headers?.get('retry-after-ms')
  const s = headers?.get('retry-after')
  const wait = ms ? +ms : s ? (+s === +s ? +s * 1000 : Date.parse(s) - Date.now()) : NaN
  return wait === wait ? (wait > 60_000 ? -1 : Math.max(0, wait)) : Math.random() * base * 2 ** Math.min(attempt, 4)
}

/** A string field of a hostile body: strings as they are, numbers (always finite in JSON) as digits, anything else undefined. */
const text = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? `${v}` : undefined)

/**
 * The `ProviderError` for an error body: OpenAI, Anthropic and Gemini all put `{ message, code }`
 * under `error` (Gemini's streaming endpoint in an array); `what` says where it came from and
 * `fallback` is the text when the body has no message. Every field is type-checked (a `code` that is
 * an object or a `message` that is null is skipped, never a `TypeError`), scrubbed whole, then cut:
 * the message to 1,000 characters, the code to 80.
 */
export function bodyError(
  o: Pick<RetryOptions, 'provider' | 'scrub'>,
  json: any,
  what: string,
  retryable: boolean,
  fallback = '',
  init?: Omit<ProviderErrorInit, 'provider'>,
): ProviderError {
  const scrub = o.scrub ?? ((s: string) => s)
  const body = Array.isArray(json) ? json[0] : json
  const e = body && typeof body === 'object' ? body.error : undefined
  const f = e && typeof e === 'object' ? e : {}
  // OpenAI: code ('rate_limit_exceeded', may be null) or type; Anthropic: type; Gemini: status (its code is the HTTP number).
  const code = [f.code, f.type, f.status].find((c) => typeof c === 'string' && c)
  return fail(o.provider, `${what}: ${scrub(text(e) ?? text(f.message) ?? fallback).slice(0, 1000)}`, retryable, {
    providerCode: code && scrub(code).slice(0, 80),
    ...init,
  })
}

/** `JSON.parse(text)`, or undefined when it is not JSON. A `"__proto__"` key is dropped (see `safeJson`). */
export const tryJson = (text: string): any => {
  try {
    // JSON.parse makes "__proto__" an own property, harmless here but a trap for a caller who merges a
    // tool call's arguments into an object, and `fromJSON` refuses it: it is dropped. `\u` catches it
    // written with escapes; the reviver (about 2× slower) runs only then. Two `includes` rather than
    // one regex: 0.1 against 0.5 µs per event of a 20,000-event stream.
    return text.includes('__proto__') || text.includes('\\u') ? JSON.parse(text, (k, v) => (k === '__proto__' ? undefined : v)) : JSON.parse(text)
  } catch {}
}

/** The first `max` characters of a body (at least; whole chunks are read), then the body is cancelled. */
export async function head(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader()
  const decoder = new TextDecoder()
  let out = ''
  try {
    for (let c; reader && out.length < max && !(c = await reader.read()).done; ) out += decoder.decode(c.value, { stream: true })
  } finally {
    reader?.cancel().catch(() => {})
  }
  return out
}

// The failed response of an error, for the retry-after headers: kept aside so the error itself stays plain.
const answered = new WeakMap<object, Headers>()

/** The `x-request-id` (OpenAI) or `request-id` (Anthropic) header, cut to 200 characters. */
const requestIdOf = (res: Response): string | undefined => (res.headers.get('x-request-id') ?? res.headers.get('request-id'))?.slice(0, 200)

/**
 * One `fetch`, following redirects only within the URL's origin (scheme, host and port). Every
 * provider sends its key in a header (`Authorization`, `x-api-key`, `x-goog-api-key`) and fetch
 * strips only `Authorization` when a redirect changes origin, so fetch is told `redirect: 'manual'`
 * and a redirect elsewhere is refused: nothing at all is sent to the other origin. In a browser a
 * manual redirect is an opaque response (status 0, no `Location`): it is refused too, whatever its
 * target. A 301 or 302 after a POST, and a 303, continue as a GET without body, as fetch does.
 * A non-2xx answer becomes a `ProviderError` with the provider's message and code.
 */
export async function send(url: string, init: RequestInit, o: RetryOptions): Promise<Response> {
  const { provider } = o
  for (let hops = 0; ; hops++) {
    let res: Response
    let body = ''
    let to: string | null | false
    try {
      res = await (o.fetch ?? fetch)(url, { ...init, redirect: 'manual' })
      to = [301, 302, 303, 307, 308].includes(res.status) && res.headers.get('location')
      if (!res.ok && !to && res.type !== 'opaqueredirect') body = await head(res, ERROR_BODY)
    } catch (cause) {
      throw fail(provider, `network error: ${(cause as Error)?.message}`, true, { cause })
    }
    if (res.ok) return res
    const s = res.status
    if (to || res.type === 'opaqueredirect') {
      res.body?.cancel().catch(() => {})
      let next: URL | undefined
      try {
        next = to ? new URL(to, url) : undefined
      } catch {}
      const origin = new URL(url).origin
      if (!next || next.origin !== origin)
        throw fail(provider, `HTTP ${s}: redirect ${next ? `to ${next.origin} ` : ''}refused: the API key is only sent to ${origin}`, false, { status: s || undefined })
      if (hops === MAX_REDIRECTS) throw fail(provider, `HTTP ${s}: more than ${MAX_REDIRECTS} redirects`, false, { status: s })
      if (s === 303 || (s < 303 && init.method === 'POST')) init = { ...init, method: 'GET', body: null }
      url = next.href
      continue
    }
    const error = bodyError(o, tryJson(body), `HTTP ${s}`, s === 408 || s === 409 || s === 429 || s > 499, (o.scrub?.(body) ?? body).slice(0, 300) || res.statusText, {
      status: s,
      requestId: requestIdOf(res),
    })
    answered.set(error, res.headers)
    throw error
  }
}

/**
 * Runs `attempt` until it succeeds, retrying a retryable `ProviderError` up to `maxRetries` times
 * (default 2) while `may()` allows it, waiting as `backoff` says (a failed response's `retry-after`
 * included). Never retries once `signal` has aborted (the sleep itself is abortable): that throws an
 * `AbortedError`.
 */
export async function retry<T>(o: RetryOptions, signal: AbortSignal | null | undefined, attempt: () => Promise<T>, may = () => true): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt()
    } catch (e) {
      if (signal?.aborted) throw aborted(o.provider, signal.reason)
      const wait = e instanceof ProviderError && e.retryable && n < (o.maxRetries ?? 2) && may() ? backoff(answered.get(e), n, o.retryDelay) : -1
      if (wait < 0) throw e
      // An abortable sleep: an abort during it ends the call at once.
      await new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', done)
          signal?.aborted ? reject(aborted(o.provider, signal.reason)) : resolve(0)
        }
        const timer = setTimeout(done, wait)
        signal?.addEventListener('abort', done)
      })
    }
  }
}

/**
 * `fetch` with retries: up to `maxRetries` (default 2) more attempts after a 408, 409, 429, 5xx or a
 * network failure, waiting as `backoff` says; redirects followed within the origin only (see `send`).
 * A non-2xx answer that is not retried becomes a `ProviderError` with the provider's own message and
 * code from its JSON error body.
 */
export const fetchWithRetry = (url: string, init: RequestInit, o: RetryOptions): Promise<Response> => retry(o, init.signal, () => send(url, init, o))

export { requestIdOf as requestId }
