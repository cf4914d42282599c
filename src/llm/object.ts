import { AbortedError } from '../abort.js'
import { invalid } from '../errors.js'
import type { MessageInput } from '../state/wire.js'
import { toCompletionMessages } from '../state/wire.js'
import { parsePartialJson, type DeepPartial } from './partial.js'
import { canConvertNow, toJsonSchema, type InferSchemaOutput } from './schema.js'
import type { FinishReason, ModelContext, Routing, Usage } from './types.js'

/** What `ctx.generateObject()` and `ctx.streamObject()` take. */
export interface ObjectRequest<S = unknown> {
  /**
   * What the object must be: a valibot schema (converted by `@valibot/to-json-schema`), another
   * Standard Schema that gives its JSON Schema (zod 4.2+, ArkType), or a JSON Schema object (sent,
   * not checked here: `object` is then `unknown`). Sent to the provider's structured-output mode and,
   * for a Standard Schema, checked against the answer.
   */
  schema: S
  /** Runs over the context's inputs, as `execute` does. Without it: `messages`, or the completion history. */
  task?: string
  /** The conversation to answer (our shape, OpenAI's or Anthropic's wire shapes); default: the context's completion messages. */
  messages?: readonly MessageInput[]
  /** A system prompt before the task or the messages. */
  systemPrompt?: string
  /** Routing for this call only, over the context's. */
  overrideRouting?: Routing
  /** Key for this call only; never stored, never in an error. */
  apiKey?: string
  /** Aborts the call; the error is an `AbortedError`. */
  signal?: AbortSignal
}

/** What `ctx.generateObject()` returns; `streamObject(...).result` too. */
export interface ObjectResult<T> {
  /** The answer, parsed and validated: the schema's output type (transforms applied). */
  object: T
  /** Tokens used. */
  usage: Usage
  /** USD; `undefined` for a model without prices. */
  cost: number | undefined
  /** The model that answered: for a `task`, the registry's id; for messages, the one the provider names. */
  modelUsed: string
  /** The name of the provider that answered. */
  providerUsed: string
  /** Why the generation ended. */
  finishReason: FinishReason
}

/**
 * `ctx.streamObject()`: the object as it arrives. Iterate it for deep-partial objects, each a new
 * object, emitted only when it changed (a slow reader gets the newest one, not every step: nothing
 * piles up); `object` and `result` settle when the answer is whole and validated. The iteration
 * throws the call's error after the partials it had. A reader who breaks out early lets the call
 * run to its end, as a `ChatStream` does: `cancel()` or the signal stops it.
 */
export interface ObjectStream<T> extends AsyncIterable<DeepPartial<T>> {
  /** The validated object; rejects with the call's error (`OutputError`, `AbortedError`, `ProviderError`…). */
  readonly object: Promise<T>
  /** The whole result (object, usage, cost, model); rejects as `object` does. */
  readonly result: Promise<ObjectResult<T>>
  /** Aborts the call: `object` and `result` reject with an `AbortedError` (reason `cancelled`). */
  cancel(): void
}

type Call = { overrideRouting?: Routing; apiKey?: string; signal?: AbortSignal; onToken?: (delta: string) => void }
type Answer = { usage: Usage; cost: number | undefined; finishReason: FinishReason }

/**
 * What `generateObject` needs of an executor: the `Executor`'s `execute` and `chat`, which parse
 * and validate JSON output. Named here, not imported: executor.ts imports this file.
 */
export interface ObjectRunner {
  execute(context: ModelContext, request: Call & { task: string; systemPrompt?: string }): Promise<Answer & { result: unknown; modelUsed: string; providerUsed: string }>
  chat(context: ModelContext, options: Call): Promise<Answer & { object?: unknown; model: string; provider: string }>
}

const KEYS = new Set(['schema', 'task', 'messages', 'systemPrompt', 'overrideRouting', 'apiKey', 'signal'])

/** The context a call runs over: JSON output with the schema, the messages given, the system prompt. Throws a `ValidationError` for bad input. */
function prepare(context: ModelContext, request: ObjectRequest): ModelContext {
  if (typeof request !== 'object' || request === null) throw invalid('request', 'must be an object: { schema, task | messages, … }')
  for (const key of Object.keys(request)) if (!KEYS.has(key)) throw invalid(key, `unknown option; known: ${[...KEYS].join(', ')}`)
  const { schema, task, messages, systemPrompt } = request
  if (schema === undefined) throw invalid('schema', 'is required: a valibot schema, another Standard Schema or a JSON Schema')
  // Refused before any request: a schema the model cannot be shown would make every answer a guess.
  // (A valibot schema before its converter is loaded is converted, and so checked, by the executor.)
  if (canConvertNow(schema)) toJsonSchema(schema, 'schema')
  if (task !== undefined && messages !== undefined) throw invalid('messages', 'give task or messages, not both')
  if (systemPrompt !== undefined && typeof systemPrompt !== 'string') throw invalid('systemPrompt', 'must be a string')
  const out: ModelContext = { ...context, output: { ...context?.output, format: 'json', schema } }
  if (task !== undefined) return out
  if (messages !== undefined && !Array.isArray(messages)) throw invalid('messages', 'must be an array')
  const history = messages ? messages.flatMap((m, i) => toCompletionMessages(m, `messages[${i}]`)) : [...(context?.messages ?? [])]
  if (systemPrompt) history.unshift({ role: 'system', content: systemPrompt })
  return { ...out, messages: history }
}

/**
 * One JSON answer, parsed and validated: `task` runs over `context.inputs` through `execute`, else
 * `messages` (or `context.messages`) through `chat`. Both ask each provider for JSON its own way
 * (OpenAI `json_schema`, Gemini `responseJsonSchema`, Anthropic an instruction with the schema),
 * tolerate a ```json fence, and throw an `OutputError` with the raw text and the issues when the
 * answer is not JSON or fails the schema.
 */
export async function generateObject<S>(runner: ObjectRunner, context: ModelContext, request: ObjectRequest<S>, onToken?: (delta: string) => void): Promise<ObjectResult<InferSchemaOutput<S>>> {
  const prepared = prepare(context, request as ObjectRequest)
  const { task, systemPrompt, overrideRouting, apiKey, signal } = request
  const call = { overrideRouting, apiKey, signal, onToken }
  if (task !== undefined) {
    const r = await runner.execute(prepared, { ...call, task, systemPrompt })
    return { object: r.result as InferSchemaOutput<S>, usage: r.usage, cost: r.cost, modelUsed: r.modelUsed, providerUsed: r.providerUsed, finishReason: r.finishReason }
  }
  const r = await runner.chat(prepared, call)
  return { object: r.object as InferSchemaOutput<S>, usage: r.usage, cost: r.cost, modelUsed: r.model, providerUsed: r.provider, finishReason: r.finishReason }
}

/**
 * `generateObject` streamed: the text deltas are parsed as they arrive (`parsePartialJson`, a
 * leading ```json fence skipped) and each partial that differs from the last is offered to the
 * reader. Bad input throws at once; the call starts at once, so `await stream.object` alone works.
 */
export function streamObject<S>(runner: ObjectRunner, context: ModelContext, request: ObjectRequest<S>): ObjectStream<InferSchemaOutput<S>> {
  prepare(context, request as ObjectRequest)
  const controller = new AbortController()
  const signal = request.signal ? AbortSignal.any([request.signal, controller.signal]) : controller.signal
  let text = ''
  let shown = ''
  let latest: unknown
  let fresh = false
  let done = false
  let wake: (() => void) | undefined
  let parsed = 0
  const show = () => {
    parsed = Date.now()
    const got = parsePartialJson(unfence(text))
    if (!got) return
    const json = JSON.stringify(got.value)
    if (json === shown) return
    shown = json
    latest = got.value
    fresh = true
    wake?.()
  }
  // The whole text is parsed again at each delta (20 µs a KB): quadratic. Past 8 KB, at most once
  // per 16 ms (a frame): a 100 KB answer in 25,000 deltas streamed in 0.4 s here, 59 s unthrottled.
  const onToken = (delta: string) => {
    text += delta
    if (text.length < 8192 || Date.now() - parsed >= 16) show()
  }
  const result = generateObject(runner, context, { ...request, signal }, onToken).finally(() => {
    // What the last deltas held, had the throttle skipped them: the last partial is the whole answer.
    show()
    done = true
    wake?.()
  })
  const object = result.then((r) => r.object)
  // Handled here, so a caller who only iterates (or only awaits `object`) gets no unhandled rejection.
  result.catch(() => {})
  object.catch(() => {})
  let iterated = false
  return {
    result,
    object,
    cancel: () => controller.abort(new AbortedError('the stream was cancelled', { reason: 'cancelled' })),
    async *[Symbol.asyncIterator]() {
      if (iterated) throw invalid('streamObject', 'its partial objects can be iterated once')
      iterated = true
      for (;;) {
        if (fresh) {
          fresh = false
          yield latest as DeepPartial<InferSchemaOutput<S>>
        } else if (done) {
          await result
          return
        } else await new Promise<void>((resolve) => (wake = resolve))
      }
    },
  }
}

/** The text after a leading ```json fence line (and before a closing fence), as it streams; the text itself without one. */
function unfence(text: string): string {
  const open = /^\s*```[\w-]*[ \t]*(\n|$)/.exec(text)
  if (!open) return text.trimStart().startsWith('`') ? '' : text
  // The fence line is not whole yet: nothing to show.
  if (!open[1]) return ''
  return text.slice(open[0].length).replace(/`{1,3}\s*$/, '')
}
