import { AbortedError } from '../abort.js'
import type { Json } from '../state/json.js'
import type { ToolCall } from '../state/messages.js'
import type { FinishReason, Usage } from './types.js'

/** One step of a chat: a provider call, then the tool calls it asked for and their results. */
export interface StepResult {
  /** 0 for the first provider call, then 1, 2… */
  stepNumber: number
  /** This step's text. */
  text: string
  /** The tools the model asked to call in this step. */
  toolCalls: ToolCall[]
  /** What each tool returned (or the error the model was told), in the order of `toolCalls`; empty when the tools did not run. */
  toolResults: ToolResult[]
  /** Why this step's generation ended (`tool_calls` when the loop went on). */
  finishReason: FinishReason
  /** Tokens of this step. */
  usage: Usage
  /** USD; undefined for a model without prices. */
  cost: number | undefined
  /** The model id routed to, as in `modelUsed`. */
  model: string
  /** The name of the provider that answered. */
  provider: string
}

/** A tool's answer to one call: its return value, or (`isError`) the error message the model was sent. */
export interface ToolResult {
  /** The id of the tool call it answers. */
  toolCallId: string
  /** The tool that ran. */
  toolName: string
  /** What the tool returned, as JSON (or the error message the model was told). */
  result: Json
  /** True when the tool threw, does not exist or its arguments were refused; `result` then holds the message the model is told. */
  isError?: boolean
}

/**
 * What a `ChatStream` yields, in order: for each step, its `text-delta`s as they arrive, a
 * `tool-call` per call the model asked for, a `tool-result` per call the loop ran, then
 * `step-finish`; after the last step `finish`. A failure (an abort included) ends the parts with one
 * `error` instead of `finish`.
 */
export type StreamPart =
  | {
      /** A piece of the reply's text. */
      type: 'text-delta'
      /** The new text, to append. */
      text: string
    }
  | {
      /** The model asked for a tool call. */
      type: 'tool-call'
      /** The call's id. */
      toolCallId: string
      /** The tool to call. */
      toolName: string
      /** Its arguments, parsed (the raw string when they were not valid JSON). */
      args: Json
    }
  | ({
      /** A tool call the loop ran, and what it returned. */
      type: 'tool-result'
    } & ToolResult)
  | {
      /** A provider call (a step) ended. */
      type: 'step-finish'
      /** The step: its text, tool calls and results, usage and cost. */
      step: StepResult
    }
  | {
      /** The whole call ended. */
      type: 'finish'
      /** Why the last step ended. */
      finishReason: FinishReason
      /** Tokens used, summed over the steps. */
      usage: Usage
      /** USD over the steps; `undefined` when no step's model had prices. */
      cost: number | undefined
    }
  | {
      /** The call failed (an abort included): the last part. */
      type: 'error'
      /** What it failed with: an `AbortedError`, a `ProviderError`, an `OutputError`… */
      error: unknown
    }

/** What the producer of a stream (the executor's loop) writes to. */
export interface StreamSink {
  /** Queues a part for the reader. */
  push(part: StreamPart): void
  /** Resolves when the reader has taken what is queued (at once while nobody reads parts and `result` or `text` is awaited, or on abort). */
  ready(): Promise<void> | void
  /** The stream's signal: the caller's signal and `cancel()`. */
  signal: AbortSignal
}

/** Options of `toResponse`. */
export interface ToResponseOptions {
  /** `sse` (default): each part as `data: <JSON>` events; `text`: the text deltas as plain UTF-8. */
  type?: 'sse' | 'text'
  /** Status, default 200. */
  status?: number
  /** Extra headers, over ours. */
  headers?: Record<string, string>
}

const done = Promise.resolve()

/**
 * A streamed chat (`ctx.streamChatCompletion`, `ctx.streamExecute`, `executor.streamChat`): the call
 * starts at once; read it as parts (`for await (const part of stream)`), as text (`textStream`), or
 * as a `Response` (`toResponse()`), and await `text` or `result`.
 *
 * - Backpressure: while a reader of parts (or of `textStream`, or a `Response` body) is attached, the
 *   provider's network read waits until the reader has taken what is queued: at most one network
 *   chunk's parts are held, the rest stays in the socket. Nobody reading and `result` or `text`
 *   awaited, it reads at full speed (the parts are then kept for a reader that comes later).
 * - One reader of parts: `for await`, `textStream` and `toResponse` share one queue; a second
 *   iteration is a `TypeError`. `text` and `result` are always available, with or without a reader.
 * - `result` resolves with exactly what the non-streaming call returns (`ChatResult`,
 *   `ExecutionResponse`), or rejects with the error: an `AbortedError` for `cancel()` (reason
 *   `cancelled`) or the caller's signal, its `partial` the reply so far (text and usage).
 * - `text` resolves with every text delta that arrived (all steps' text, joined), also after a
 *   failure or cancel: what the reader would have seen. It never rejects.
 * - Parts never throw: a failure is the last part, `{ type: 'error', error }`. `textStream` throws
 *   the error, except after this stream's own `cancel()`, where it just ends.
 */
export class ChatStream<R> implements AsyncIterable<StreamPart> {
  /** Resolves with the call's result, or rejects with its error (see the class). */
  readonly #result: Promise<R>
  readonly #text: Promise<string>
  readonly #queue: StreamPart[] = []
  readonly #controller = new AbortController()
  #ended = false
  #reading: 'no' | 'yes' | 'done' = 'no'
  #draining = false
  #cancelled = false
  /** Wakes the reader waiting for a part. */
  #wake?: () => void
  /** Wakes the producer waiting for the reader. */
  #resume?: () => void

  /**
   * @param run the call: it writes parts to the sink, honours `sink.ready()` after each network
   *   chunk, and returns the result. Its rejection becomes the `error` part.
   * @param signal the caller's signal, if any.
   */
  constructor(run: (sink: StreamSink) => Promise<R>, signal?: AbortSignal) {
    const own = this.#controller.signal
    const combined = signal ? AbortSignal.any([signal, own]) : own
    // A reader waiting on a cancelled call wakes up at once.
    combined.addEventListener('abort', () => this.#release(), { once: true })
    let text = ''
    const sink: StreamSink = {
      push: (part) => {
        if (part.type === 'text-delta') text += part.text
        this.#push(part)
      },
      ready: () => this.#ready(combined),
      signal: combined,
    }
    // Started in a microtask: a throw of `run` before its first await is a rejection, not a throw of the constructor.
    this.#result = done.then(() => run(sink)).then(
      (r) => (this.#end(), r),
      (error) => {
        this.#push({ type: 'error', error })
        this.#end()
        throw error
      },
    )
    // The rejection is handled by whoever awaits `result`; not awaiting it must not crash Node.
    this.#result.catch(() => {})
    this.#text = this.#result.then(
      () => text,
      () => text,
    )
  }

  /** The call's result (what the non-streaming call returns); see the class for errors. */
  get result(): Promise<R> {
    this.#drain()
    return this.#result
  }

  /** Every text delta, joined, once the call ends (failed or cancelled too). */
  get text(): Promise<string> {
    this.#drain()
    return this.#text
  }

  /** Aborts the call (reason `cancelled`): the provider's connection closes, running tools see their signal abort; `result` rejects with the partial. */
  cancel(): void {
    this.#cancelled = true
    if (!this.#controller.signal.aborted) this.#controller.abort(new AbortedError('the stream was cancelled', { reason: 'cancelled' }))
  }

  /** The parts, in order; see `StreamPart`. One reader only. */
  async *[Symbol.asyncIterator](): AsyncGenerator<StreamPart> {
    if (this.#reading !== 'no') throw new TypeError('a ChatStream is read once: use text or result for a second look')
    this.#reading = 'yes'
    this.#draining = false
    try {
      for (;;) {
        const part = this.#queue.shift()
        if (part) {
          yield part
          continue
        }
        if (this.#ended) return
        // The producer may go on: the queue is empty.
        this.#release()
        await new Promise<void>((resolve) => (this.#wake = resolve))
      }
    } finally {
      // A reader who stops early (break, return) lets the call run to its end without holding it.
      this.#reading = 'done'
      this.#release()
    }
  }

  /** The text deltas as strings. Throws the call's error (not after `cancel()`); shares the one reader with the parts. */
  get textStream(): AsyncIterable<string> {
    return {
      [Symbol.asyncIterator]: async function* (this: ChatStream<R>) {
        for await (const part of this) {
          if (part.type === 'text-delta') yield part.text
          else if (part.type === 'error' && !this.#cancelled) throw part.error
        }
      }.bind(this),
    }
  }

  /**
   * A `Response` streaming the call, to return from a Worker, an Edge Function or a service worker:
   * `sse` (default) sends each part as `data: <JSON>\n\n` (`text/event-stream`; an `error` part as
   * `{ type: 'error', error: { name, message } }`, never a stack); `text` sends the text deltas
   * (`text/plain; charset=utf-8`) and errors the body on a failure. The body is pulled: the call
   * reads from the network as the client reads; cancelling the body (the client went away) cancels
   * the call.
   */
  toResponse(options: ToResponseOptions = {}): Response {
    const sse = (options.type ?? 'sse') === 'sse'
    if (options.type !== undefined && options.type !== 'sse' && options.type !== 'text') throw new TypeError(`toResponse: type must be 'sse' or 'text', not ${String(options.type)}`)
    const parts = this[Symbol.asyncIterator]()
    const encoder = new TextEncoder()
    const body = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            const { value: part, done } = await parts.next()
            if (done) return controller.close()
            if (sse) return controller.enqueue(encoder.encode(`data: ${JSON.stringify(wirePart(part))}\n\n`))
            if (part.type === 'text-delta' && part.text) return controller.enqueue(encoder.encode(part.text))
            if (part.type === 'error') return controller.error(part.error)
          }
        },
        cancel: () => {
          this.cancel()
          void parts.return(undefined)
        },
      },
      // Nothing read ahead of the client: each pull takes one part.
      { highWaterMark: 0 },
    )
    const headers = new Headers(
      sse
        ? { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' }
        : { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' },
    )
    for (const [k, v] of Object.entries(options.headers ?? {})) headers.set(k, v)
    return new Response(body, { status: options.status ?? 200, headers })
  }

  #push(part: StreamPart): void {
    // A reader who stopped early reads no more: nothing is kept for nobody.
    if (this.#reading !== 'done') this.#queue.push(part)
    this.#wake?.()
    this.#wake = undefined
  }

  #end(): void {
    this.#ended = true
    this.#release()
    this.#wake?.()
    this.#wake = undefined
  }

  /** Resolves at once unless a reader is attached and has parts still to take. */
  #ready(signal: AbortSignal): Promise<void> | void {
    if (this.#reading !== 'yes' || this.#draining || !this.#queue.length || signal.aborted) return
    return new Promise<void>((resolve) => {
      const prev = this.#resume
      this.#resume = () => (prev?.(), resolve())
    })
  }

  #release(): void {
    const resume = this.#resume
    this.#resume = undefined
    resume?.()
  }

  /** `result` or `text` is awaited: with no reader of parts, nobody would ever take the queue. */
  #drain(): void {
    if (this.#reading === 'no') {
      this.#draining = true
      this.#release()
    }
  }
}

/** A part as JSON for `toResponse`: an error as its name, message and code only (no stack, no cause). */
function wirePart(part: StreamPart): unknown {
  if (part.type !== 'error') return part
  const e = part.error as { name?: unknown; message?: unknown; code?: unknown } | undefined
  return { type: 'error', error: { name: String(e?.name ?? 'Error'), message: String(e?.message ?? e), ...(typeof e?.code === 'string' && { code: e.code }) } }
}
