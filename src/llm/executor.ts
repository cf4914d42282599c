import type { Context, Routing } from '../context.js'
import { ConstraintError, ContextError, invalid } from '../errors.js'
import type { Json, JsonObject } from '../state/json.js'
import type { CompletionMessage } from '../state/messages.js'
import { RoutingSchema } from '../state/schema.js'
import { parse } from '../state/validate.js'
import { inferProvider, type ModelSpec } from './models.js'
import { pruneInputs } from './pruner.js'
import { renderInput } from './render.js'
import { estimateCost, Router } from './router.js'
import { estimateTokens } from './tokens.js'
import type { ChatRequest, ChatResponse, FinishReason, Provider, TokenCounter, ToolDefinition, Usage } from './types.js'

/** What `ctx.execute()` takes (the LLM document's `execute`, plus a signal and streaming). */
export interface ExecutionRequest {
  task: string
  systemPrompt?: string
  /** Routing for this call only: merged over the context's routing. */
  overrideRouting?: Routing
  /** Key for this call only; never stored, never in an error. */
  apiKey?: string
  signal?: AbortSignal
  /** Streams: called with each text delta. */
  onToken?: (delta: string) => void
}

/** What `ctx.execute()` returns. */
export interface ExecutionResponse {
  /** The text, or the parsed (and validated) value when `output.format` is `json`. */
  result: unknown
  contextId: string
  modelUsed: string
  providerUsed: string
  /** Seconds, as the document gives it. */
  duration: number
  usage: Usage
  /** USD from the usage and the model's prices; `undefined` for a model without prices. */
  cost: number | undefined
  finishReason: FinishReason
  metadata: { intent: string | undefined; inputCount: number; totalInputTokens: number }
}

/** Options of a chat completion over the context's completion messages. */
export interface ChatOptions {
  tools?: ToolDefinition[]
  toolChoice?: ChatRequest['toolChoice']
  overrideRouting?: Routing
  apiKey?: string
  signal?: AbortSignal
  onToken?: (delta: string) => void
  /** Append the assistant's message to the completion history. Default true. */
  append?: boolean
}

/** A chat completion's answer, with its cost. */
export interface ChatResult extends ChatResponse {
  cost: number | undefined
}

/** The model's output did not parse as JSON or failed `output.schema`. `issues` lists why; `text` is the raw output. */
export class OutputError extends ContextError {
  override name = 'OutputError'
  declare issues: { message: string; path?: string }[]
  declare text: string
  constructor(message: string, text: string, issues: { message: string; path?: string }[] = []) {
    super('invalid_argument', message, { path: 'output' })
    Object.assign(this, { text, issues })
  }
}

/** Options of `new Executor()`. */
export interface ExecutorOptions {
  /** The providers to call, by their `name`: `[openai(), anthropic()]`. */
  providers: Provider[]
  /** Model registry and strategies; the built-in one by default. */
  router?: Router
  /** Counts prompt tokens for pruning and cost checks; `estimateTokens` by default. */
  tokenCounter?: TokenCounter
  /** Output tokens asked for when `routing.maxOutputTokens` is absent. Default 1024. */
  maxOutputTokens?: number
}

// Env-variable names a context's `variables` may hold a provider's key under (the voice-agent
// document reads `context.variables.get("OPENAI_API_KEY")`).
const KEY_VARIABLES: Record<string, string> = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY', gemini: 'GEMINI_API_KEY' }

/**
 * The LLM document's `Executor`: builds the prompt (system prompt, inputs pruned to
 * `constraints.maxTokens`, the task), routes to a model, enforces `maxCost` before and `maxTime`
 * during the call, calls the provider, tries `routing.fallbacks` on a retryable or context-window
 * failure, and parses the output.
 */
export class Executor {
  readonly router: Router
  readonly tokenCounter: TokenCounter
  readonly #providers = new Map<string, Provider>()
  readonly #maxOutput: number

  constructor(options: ExecutorOptions) {
    if (!options || !Array.isArray(options.providers) || !options.providers.length) {
      throw invalid('providers', 'give at least one provider, e.g. new Executor({ providers: [openai()] })')
    }
    for (const p of options.providers) {
      if (!p || typeof p.chat !== 'function' || typeof p.name !== 'string') throw invalid('providers', 'each must be a provider (openai(), anthropic(), gemini(), …)')
      this.#providers.set(p.name, p)
    }
    this.router = options.router ?? new Router()
    this.tokenCounter = options.tokenCounter ?? estimateTokens
    this.#maxOutput = options.maxOutputTokens ?? 1024
  }

  /** Runs `request.task` over `ctx`'s inputs; see `ExecutionResponse`. */
  async execute(ctx: Context, request: ExecutionRequest): Promise<ExecutionResponse> {
    const started = Date.now()
    if (!request || typeof request.task !== 'string' || !request.task) throw invalid('task', 'must be a non-empty string')
    if (request.systemPrompt !== undefined && typeof request.systemPrompt !== 'string') throw invalid('systemPrompt', 'must be a string')
    const count = this.tokenCounter
    const { maxTokens, maxCost } = ctx.constraints
    const system = request.systemPrompt
    // Framing ("Context:", "Task:", separators) is a few tokens; 8 keeps the sum an upper bound.
    const fixed = (system ? count(system) : 0) + count(request.task) + 8
    if (maxTokens !== undefined && fixed > maxTokens) {
      throw new ConstraintError(`constraints.maxTokens is ${maxTokens}, but the system prompt and task alone take ${fixed} tokens`, { path: 'constraints.maxTokens' })
    }
    const kept = pruneInputs(ctx.inputs, maxTokens === undefined ? undefined : maxTokens - fixed, 0, count)
    const inputTokens = fixed + kept.reduce((n, i) => n + i.tokens, 0)
    const messages: CompletionMessage[] = []
    if (system) messages.push({ role: 'system', content: system })
    messages.push({ role: 'user', content: renderPrompt(kept.map((i) => i.data), request.task) })

    const output = ctx.output
    const json = output.format === 'json'
    const standard = isStandardSchema(output.schema) ? output.schema : undefined
    const reply = await this.#call(ctx, request.overrideRouting, inputTokens, maxCost, request, {
      messages,
      responseFormat: json ? 'json' : undefined,
      jsonSchema: json && !standard && isObject(output.schema) ? (output.schema as JsonObject) : undefined,
    })
    const { response, spec } = reply
    let result: unknown = response.text
    if (json) result = await parseOutput(response.text, standard)
    return {
      result,
      contextId: ctx.id,
      modelUsed: response.model,
      providerUsed: response.provider,
      duration: (Date.now() - started) / 1000,
      usage: response.usage,
      cost: spec ? estimateCost(spec, response.usage.inputTokens, response.usage.outputTokens) : undefined,
      finishReason: response.finishReason,
      metadata: { intent: ctx.intent, inputCount: kept.length, totalInputTokens: inputTokens },
    }
  }

  /**
   * A chat completion over `ctx`'s completion messages (the voice-agent document's
   * `generate_chat_completion`), with tools. Appends the assistant's reply to the history unless
   * `append: false`.
   */
  async chat(ctx: Context, options: ChatOptions = {}): Promise<ChatResult> {
    const messages = ctx.getCompletionMessages()
    if (!messages.length) throw invalid('messages', 'the completion history is empty: add a message first')
    const count = this.tokenCounter
    let inputTokens = 0
    for (const m of messages) inputTokens += count(typeof m.content === 'string' ? m.content : JSON.stringify(m.content)) + 4
    if (options.tools) inputTokens += count(JSON.stringify(options.tools))
    const { response, spec } = await this.#call(ctx, options.overrideRouting, inputTokens, ctx.constraints.maxCost, options, {
      messages,
      tools: options.tools,
      toolChoice: options.toolChoice,
    })
    if (options.append !== false) ctx.addCompletionMessage(response.message)
    return { ...response, cost: spec ? estimateCost(spec, response.usage.inputTokens, response.usage.outputTokens) : undefined }
  }

  /** Routes, checks constraints, calls, and falls back. */
  async #call(
    ctx: Context,
    override: Routing | undefined,
    inputTokens: number,
    maxCost: number | undefined,
    call: { apiKey?: string; signal?: AbortSignal; onToken?: (delta: string) => void },
    body: Pick<ChatRequest, 'messages' | 'tools' | 'toolChoice' | 'responseFormat' | 'jsonSchema'>,
  ): Promise<{ response: ChatResponse; spec: ModelSpec | undefined }> {
    const routing = parse(RoutingSchema, { ...ctx.routing, ...override }, 'routing') as Routing
    const outputTokens = routing.maxOutputTokens ?? this.#maxOutput
    const first = routing.model ?? this.#select(routing, inputTokens, outputTokens, maxCost).id
    const models = [first, ...(routing.fallbacks ?? []).filter((m) => m !== first)]
    const maxTime = ctx.constraints.maxTime
    // One deadline for the whole call, retries and fallbacks included; the caller's signal beside it.
    const signals = [call.signal, maxTime === undefined ? undefined : AbortSignal.timeout(maxTime * 1000)].filter((s): s is AbortSignal => !!s)
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0]
    let lastError: unknown
    for (const [i, model] of models.entries()) {
      const spec = this.router.getModelSpec(model)
      const providerName = (i === 0 ? routing.provider : undefined) ?? spec?.provider ?? inferProvider(model)
      const provider = providerName === undefined ? undefined : this.#providers.get(providerName)
      if (!provider) {
        throw invalid(
          'routing.provider',
          `no provider for model "${model}"${providerName ? ` (its provider "${providerName}" is not in this executor)` : ''}: add it, e.g. new Executor({ providers: [${providerName ?? 'openai'}()] })`,
        )
      }
      try {
        checkFits(model, spec, inputTokens, outputTokens, maxCost)
        const apiKey = call.apiKey ?? ctx.variables[KEY_VARIABLES[provider.name] ?? '']
        const response = await provider.chat({
          ...body,
          model,
          temperature: routing.temperature,
          maxOutputTokens: outputTokens,
          apiKey,
          signal,
          onToken: call.onToken,
        })
        return { response, spec }
      } catch (error) {
        lastError = error
        // A fallback for what another model may not hit: rate limits, outages, a window too small.
        const next = i < models.length - 1 && !signal?.aborted && (isRetryable(error) || isWindowError(error))
        if (!next) throw error
      }
    }
    throw lastError
  }

  /** The strategy's pick among models of the providers this executor has. */
  #select(routing: Routing, inputTokens: number, outputTokens: number, maxCost: number | undefined): ModelSpec {
    const strategy = routing.strategy
    if (!strategy) throw invalid('routing', 'set routing.model or routing.strategy (ctx.route({ model }) or ctx.route({ strategy: "cost_optimized" }))')
    const available = this.router.models().filter((m) => this.#providers.has(m.provider) && (!routing.provider || m.provider === routing.provider))
    if (!available.length) throw invalid('routing.provider', `no registered model belongs to the providers of this executor (${[...this.#providers.keys()].join(', ')})`)
    return new Router(available).select(strategy, { inputTokens, outputTokens, maxCost })
  }
}

/** The user message: the inputs under "Context:", then the task. Objects are compact JSON. */
export function renderPrompt(inputs: Json[], task: string): string {
  if (!inputs.length) return task
  return `Context:\n${inputs.map(renderInput).join('\n\n')}\n\nTask: ${task}`
}

function checkFits(model: string, spec: ModelSpec | undefined, inputTokens: number, outputTokens: number, maxCost: number | undefined): void {
  if (spec && inputTokens + outputTokens > spec.contextWindow) {
    throw new ConstraintError(`${model}: ${inputTokens} input + ${outputTokens} output tokens exceed its ${spec.contextWindow}-token window`, { path: 'routing.model' })
  }
  if (maxCost === undefined) return
  if (!spec) throw new ConstraintError(`constraints.maxCost is set but "${model}" has no price: register it with router.registerModel(...)`, { path: 'constraints.maxCost' })
  const estimate = estimateCost(spec, inputTokens, outputTokens)
  if (estimate > maxCost) {
    throw new ConstraintError(
      `estimated cost $${+estimate.toPrecision(4)} (${inputTokens} input tokens, up to ${outputTokens} output tokens on ${model}) exceeds constraints.maxCost $${maxCost}`,
      { path: 'constraints.maxCost' },
    )
  }
}

const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v)
const isStandardSchema = (v: unknown): v is StandardSchemaLike => isObject(v) && '~standard' in v
const isRetryable = (e: unknown) => (e as { retryable?: boolean })?.retryable === true
const isWindowError = (e: unknown) =>
  e instanceof ConstraintError ||
  ((e as { status?: number })?.status === 400 && /context.?(length|window)|too many tokens|too long|maximum context/i.test(String((e as Error).message) + String((e as { providerCode?: string }).providerCode)))

/** The part of the Standard Schema interface we call (valibot, zod, arktype all implement it). */
interface StandardSchemaLike {
  '~standard': { validate(value: unknown): { value?: unknown; issues?: readonly { message: string; path?: readonly unknown[] }[] } | Promise<{ value?: unknown; issues?: readonly { message: string; path?: readonly unknown[] }[] }> }
}

/** JSON out of a model's text (a ```json fence is tolerated), then the Standard Schema's verdict. */
async function parseOutput(text: string, schema: StandardSchemaLike | undefined): Promise<unknown> {
  const body = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text)?.[1] ?? text
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    throw new OutputError('output.format is json, but the model did not answer with JSON', text)
  }
  if (!schema) return value
  const verdict = await schema['~standard'].validate(value)
  if (verdict.issues) {
    const issues = verdict.issues.map((i) => ({
      message: i.message,
      path: i.path?.map((p) => (typeof p === 'object' && p !== null ? String((p as { key: unknown }).key) : String(p))).join('.'),
    }))
    throw new OutputError(`output.schema rejected the model's answer: ${issues.map((i) => (i.path ? `${i.path}: ` : '') + i.message).join('; ')}`, text, issues)
  }
  return verdict.value
}
