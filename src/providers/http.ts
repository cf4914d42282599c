import { ContextError, invalid } from '../errors.js'
import type { ChatRequest, ChatResponse, FinishReason } from '../llm/types.js'
import type { CompletionMessage, ContentPart, ToolCall } from '../state/messages.js'
import type { Json } from '../state/json.js'
import { AbortedError, fail, ProviderError, type ProviderErrorInit } from './errors.js'
import { readEvents } from './sse.js'

/** Options every provider factory takes. */
export interface ProviderOptions {
  /** Sent on every call unless the request carries its own `apiKey`. Optional: Ollama and proxies need none. */
  apiKey?: string
  /** Endpoint root, for proxies and compatible servers. */
  baseURL?: string
  /** Extra headers, replacing the provider's own of the same name (any case); an empty value drops one. */
  headers?: Record<string, string>
  /** The `fetch` to call; default `globalThis.fetch`, looked up at call time so it can be patched. */
  fetch?: typeof fetch
  /** Retries after a 408, 409, 429, 5xx or network failure. Default 2 (3 attempts in all). */
  maxRetries?: number
  /** Base of the exponential backoff in ms, default 500; the cap is 16× the base (8 s). */
  retryDelay?: number
  /** Provider name reported in responses and errors (`groq`, `openrouter`, …). */
  name?: string
}

/** What `fetchWithRetry` needs besides the request. */
export interface RetryOptions extends Pick<ProviderOptions, 'fetch' | 'maxRetries' | 'retryDelay'> {
  provider: string
}

/** The text of a message's content, images left out (as `messageText`, without pulling in the schemas). */
export const textOf = (content: CompletionMessage['content']): string =>
  typeof content === 'string' ? content : content.map((p) => (p.type === 'text' ? p.text : '')).join('')

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

/**
 * The `ProviderError` for an error body: OpenAI, Anthropic and Gemini all put `{ message, code }`
 * under `error` (Gemini's streaming endpoint in an array), `what` says where it came from, and
 * `fallback` is the message when the body has none.
 */
function bodyError(provider: string, json: any, what: string, retryable: boolean, fallback?: string, init?: Omit<ProviderErrorInit, 'provider'>): ProviderError {
  const e = (Array.isArray(json) ? json[0] : json)?.error ?? {}
  return fail(provider, `${what}: ${(typeof e === 'string' ? e : e.message) ?? fallback}`, retryable, {
    // OpenAI: code ('rate_limit_exceeded', may be null) or type; Anthropic: type; Gemini: status (code is the HTTP number).
    providerCode: (typeof e.code === 'string' && e.code) || e.type || e.status,
    ...init,
  })
}

const requestId = (res: Response) => res.headers.get('x-request-id') ?? res.headers.get('request-id') ?? undefined

/**
 * `fetch` with retries: up to `maxRetries` (default 2) more attempts after a 408, 409, 429, 5xx or a
 * network failure, waiting as `backoff` says. Never retries once `init.signal` has aborted (the
 * backoff sleep itself is abortable): that throws an `AbortedError`. A non-2xx answer that is not
 * retried becomes a `ProviderError` with the provider's own message and code from its JSON error body.
 */
export async function fetchWithRetry(url: string, init: RequestInit, options: RetryOptions): Promise<Response> {
  const { provider } = options
  const signal = init.signal
  for (let attempt = 0; ; attempt++) {
    let res: Response | undefined
    let error: ProviderError
    try {
      res = await (options.fetch ?? fetch)(url, init)
      if (res.ok) return res
      const text = await res.text()
      const s = res.status
      error = bodyError(provider, tryJson(text), `HTTP ${s}`, s === 408 || s === 409 || s === 429 || s > 499, text.slice(0, 300) || res.statusText, {
        status: s,
        requestId: requestId(res),
      })
    } catch (cause) {
      if (signal?.aborted) throw new AbortedError(provider, signal.reason)
      error = fail(provider, `network error: ${(cause as Error)?.message}`, true, { cause })
    }
    const wait = error.retryable && attempt < (options.maxRetries ?? 2) ? backoff(res?.headers, attempt, options.retryDelay) : -1
    if (wait < 0) throw error
    // An abortable sleep: an abort during it ends the call at once.
    await new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        signal?.aborted ? reject(new AbortedError(provider, signal.reason)) : resolve(0)
      }
      const timer = setTimeout(done, wait)
      signal?.addEventListener('abort', done)
    })
  }
}

const tryJson = (text: string) => {
  try {
    return JSON.parse(text)
  } catch {}
}

/** What a reply (whole or streamed) has delivered so far. Tool arguments stay raw text until the end. */
export interface Reply {
  text: string
  calls: { id: string; name: string; arguments: any }[]
  finish?: FinishReason
  input?: number
  output?: number
  model?: string
  /** The stream's terminal event arrived. */
  done?: boolean
  /** Appends a text delta and passes it to `onToken`, if any. */
  emit: (delta: string) => void
}

/** One provider call: the provider-specific parts `chat` needs. */
export interface Call {
  url: string
  headers: Record<string, string | false | undefined>
  body: object
  /** Updates `reply` from a whole (non-streamed) JSON answer, or from one streamed event's JSON data. */
  read: (json: any, reply: Reply) => void
}

/** Arguments text parsed to JSON; `{}` for empty; the raw string when it is not a JSON object. */
export function parseArgs(text: Json): Json {
  const v = typeof text === 'string' ? tryJson(text || '{}') : text
  return v && typeof v === 'object' ? v : text
}

/** `args` when it is a JSON object (not an array), else `{}`: Anthropic and Gemini take objects only. */
export const asObject = (args: Json): Json => (args && typeof args === 'object' && !Array.isArray(args) ? args : {})

/** A tool call's arguments as JSON text (a raw string is sent back as the model wrote it). */
export const argsText = (args: Json): string => (typeof args === 'string' ? args : JSON.stringify(args))

/** `[mediaType, base64]` of an image part given as bytes or as a `data:` URL, else undefined. */
export function inlineImage(part: Extract<ContentPart, { type: 'image' }>): [string, string] | undefined {
  if (part.data !== undefined) return [part.mediaType ?? 'image/png', part.data]
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(part.url!)
  return m ? [m[1]!, m[2]!] : undefined
}

/** `baseURL` without its trailing slash, or a `ValidationError` when it is not an absolute http(s) URL. */
export function base(url: string): string {
  if (!/^https?:\/\/./.test(url)) throw invalid('baseURL', 'must be an http(s) URL')
  return url.replace(/\/+$/, '')
}

// ceil(chars / 4): the usual English average; only used when the provider reported no usage.
const estimate = (chars: number) => Math.ceil(chars / 4)

/**
 * Runs one chat call: checks the request, builds the provider's `Call` with the API key to use
 * (the request's, else the options'), POSTs `call.body` as JSON with retries, then reads the whole
 * answer or, when `request.onToken` is given, its SSE stream. A stream that ends without its terminal event, breaks,
 * or carries an error event throws a `ProviderError` whose `partial` keeps the text so far; an abort
 * throws an `AbortedError` with the same partial. Errors thrown by `onToken` itself pass through.
 * The API key is scrubbed (`***`) from every `ProviderError` message and code on the way out.
 */
export async function chat(provider: string, options: ProviderOptions, request: ChatRequest, build: (apiKey?: string) => Call): Promise<ChatResponse> {
  if (!request?.model || !Array.isArray(request.messages)) throw invalid('request', 'needs a model and a messages array')
  const { signal, onToken } = request
  const apiKey = request.apiKey ?? options.apiKey
  const call = build(apiKey)
  const headers: Record<string, any> = { 'content-type': 'application/json', ...call.headers }
  // Ours are lower-case: lower-casing the caller's makes theirs replace ours, not join them ("a, b").
  for (const k in options.headers) headers[k.toLowerCase()] = options.headers[k]
  for (const k in headers) if (!headers[k]) delete headers[k]
  const reply: Reply = { text: '', calls: [], emit: (d) => void ((reply.text += d), onToken?.(d)) }
  const scrub = (s: string) => (apiKey ? s.replaceAll(apiKey, '***') : s)
  let streaming = false
  let reqId: string | undefined
  // The response so far; `reason` is set when the reply broke off (usage is then estimated).
  const finish = (reason?: FinishReason): ChatResponse => {
    // flatMap skips the holes a stream with gaps in its tool-call indexes leaves.
    const toolCalls: ToolCall[] = reply.calls.flatMap((c, i) => ({ id: c.id || `call_${i}`, name: c.name, arguments: parseArgs(c.arguments) }))
    const { text, input, output } = reply
    return {
      message: { role: 'assistant', content: text, ...(toolCalls[0] && { toolCalls }) },
      text,
      toolCalls,
      finishReason: reason ?? reply.finish ?? (toolCalls[0] ? 'tool_calls' : 'stop'),
      usage: {
        // 16 characters (4 tokens) per message: the role and separators every chat format adds.
        inputTokens: input ?? estimate(request.messages.reduce((n, m) => n + textOf(m.content).length + 16, 0)),
        // A broken stream's last reported count (Anthropic's message_start says 1) lags its text.
        outputTokens: output !== undefined && !reason ? output : Math.max(output ?? 0, estimate(text.length + JSON.stringify(toolCalls).length - 2)),
        ...((reason || input === undefined || output === undefined) && { estimated: true }),
      },
      model: reply.model ?? request.model,
      provider,
      ...(reqId && { requestId: reqId }),
    }
  }
  // Every provider puts a failure inside a 200 under `error`: OpenAI `data: {"error": …}`, Anthropic
  // `event: error`, Gemini `{"error": …}`. Retryable: the documented mid-stream errors are overloads
  // and server errors, the request itself having been accepted.
  const read = (text: string) => {
    const json = tryJson(text)
    if (json === undefined) throw fail(provider, `invalid JSON: ${text.slice(0, 80)}`)
    if (json.error) throw bodyError(provider, json, 'stream error', true)
    call.read(json, reply)
  }
  try {
    const res = await fetchWithRetry(
      call.url,
      { method: 'POST', headers, body: JSON.stringify(call.body), signal },
      { ...options, provider },
    )
    reqId = requestId(res)
    if (onToken) {
      streaming = true
      await readEvents(res.body, provider, (data) => data === '[DONE]' || (read(data), reply.done), signal)
      if (!reply.done && !reply.finish) throw fail(provider, 'stream ended early', true)
    } else read(await res.text())
  } catch (e) {
    if (signal?.aborted) throw new AbortedError(provider, signal.reason, streaming ? finish('aborted') : undefined)
    // Before streaming, anything but our own errors is the body breaking while read (or its JSON
    // having a shape we cannot read): a provider failure. While streaming, it came from onToken.
    if (!streaming && !(e instanceof ContextError)) e = fail(provider, `reading the response failed: ${(e as Error)?.message}`, true, { cause: e })
    if (e instanceof ProviderError) {
      if (streaming) e.partial = finish('error')
      e.requestId ??= reqId
      e.message = scrub(e.message)
      e.providerCode &&= scrub(e.providerCode)
    }
    throw e
  }
  return finish()
}
