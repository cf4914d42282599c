/**
 * The provider kernel, shared by every wire format (openai.ts, anthropic.ts, gemini.ts hold only
 * their request and response shapes): `chat.ts` runs one call (request, stream or JSON, partial
 * replies, the normalized response), `retry.ts` retries and follows redirects within the origin,
 * `sse.ts` reads Server-Sent Events (eventsource-parser, bounded), `errors.ts` types what fails,
 * `scrub.ts` keeps every piece of a key out of errors, `check.ts` checks what a response indexes.
 * A second provider in a bundle costs only its wire format: the kernel is paid once.
 */
import { ContextError, invalid } from '../../errors.js'
import type { ChatRequest, ChatResponse, FinishReason } from '../../llm/types.js'
import type { CompletionMessage, ContentPart, ToolCall } from '../../state/messages.js'
import type { Json } from '../../state/json.js'
import { aborted, fail, ProviderError } from './errors.js'
import { bodyError, head, requestId, retry, send, tryJson } from './retry.js'
import { clean, deep, scrubber } from './scrub.js'
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
  /** Retries after a 408, 409, 429, 5xx, network failure or broken body, while no text has reached `onToken`. Default 2 (3 attempts in all). */
  maxRetries?: number
  /** Base of the exponential backoff in ms, default 500; the cap is 16× the base (8 s). */
  retryDelay?: number
  /** Provider name reported in responses and errors (`groq`, `openrouter`, …). */
  name?: string
}

/** The text of a message's content, images left out (as `messageText`, without pulling in the schemas). */
export const textOf = (content: CompletionMessage['content']): string =>
  typeof content === 'string' ? content : content.map((p) => (p.type === 'text' ? p.text : '')).join('')

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

// A whole (non-streamed) answer is read up to 32 Mi characters: a hostile server's endless body would
// otherwise fill memory. Gemini's inline images, the largest real answers, are a few MB of base64.
const MAX_BODY = 1 << 25

/**
 * Runs one chat call: checks the request, builds the provider's `Call` with the API key to use
 * (the request's, else the options'), POSTs `call.body` as JSON, then reads the whole answer or,
 * when `request.onToken` is given, its SSE stream. A retryable failure (a 429, a 5xx, a network
 * error, a stream that breaks or reports an overload) is retried as `retry` says as long as no text
 * has reached `onToken`: once some has, a retry would deliver it twice, so the error is thrown, its
 * `partial` keeping the text so far. An abort throws an `AbortedError` with the same partial.
 * Errors thrown by `onToken` itself pass through. A response the reader cannot use (an index that
 * is not a small integer, an id that is not a string, a shape that is not the provider's) is a
 * `ProviderError` that is not retried. Every `ProviderError` is rebuilt from scrubbed text on the
 * way out (see `clean`): no 8 characters of the key, nor of the caller's header values, remain.
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
  // The caller's own headers may carry credentials (a gateway's token, Azure's `api-key`): their values
  // count as secrets too, from 8 characters on (a `true` or `v2` is no credential, and scrubbing it
  // would blank every "true" of an error message).
  const scrub = scrubber([apiKey, options.apiKey, ...Object.values(options.headers ?? {}).filter((v) => v?.length > 7)])
  const o = { ...options, provider, scrub }
  let reply: Reply
  // `emitted`: text reached onToken, so no retry; `inCallback`: an exception comes from onToken, so it passes through.
  let emitted = false
  let inCallback = false
  let streaming = false
  let reqId: string | undefined
  const emit = (d: unknown) => {
    if (typeof d !== 'string') throw new TypeError('text must be a string')
    reply.text += d
    if (onToken) {
      emitted = inCallback = true
      onToken(d)
      inCallback = false
    }
  }
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
    if (json === undefined) throw fail(provider, `invalid JSON: ${scrub(text).slice(0, 80)}`)
    try {
      if (!json || typeof json !== 'object') throw new TypeError('not a JSON object')
      if (json.error) throw bodyError(o, json, 'stream error', true)
      call.read(json, reply)
    } catch (e) {
      throw inCallback || e instanceof ContextError ? e : fail(provider, `unusable response: ${(e as Error)?.message}`, false, { cause: e })
    }
  }
  try {
    return await retry(
      o,
      signal,
      async () => {
        reply = { text: '', calls: [], emit }
        streaming = false
        const res = await send(call.url, { method: 'POST', headers, body: JSON.stringify(call.body), signal }, o)
        const id = requestId(res)
        reqId = id && scrub(id)
        try {
          if (onToken) {
            streaming = true
            // request.onChunk (a ChatStream's backpressure) runs as onToken does: what it throws passes through.
            const pause = request.onChunk && (() => ((inCallback = true), Promise.resolve(request.onChunk!()).then(() => void (inCallback = false))))
            await readEvents(res.body, provider, (data) => data === '[DONE]' || (read(data), reply.done), signal, pause)
            if (!reply.done && !reply.finish) throw fail(provider, 'stream ended early', true)
          } else {
            const text = await head(res, MAX_BODY)
            if (text.length >= MAX_BODY) throw fail(provider, `response body over ${MAX_BODY} characters`)
            read(text)
          }
        } catch (e) {
          // Anything but our own errors and onToken's is the body breaking while read: a provider failure.
          throw inCallback || e instanceof ContextError ? e : fail(provider, `reading the response failed: ${(e as Error)?.message}`, true, { cause: e })
        }
        return finish()
      },
      () => !emitted,
    )
  } catch (e) {
    if (signal?.aborted) throw aborted(provider, signal.reason, streaming ? deep(finish('aborted'), scrub) : undefined)
    if (inCallback || !(e instanceof ProviderError)) throw e
    if (streaming) e.partial = finish('error')
    e.requestId ??= reqId
    throw clean(e, scrub)
  }
}
