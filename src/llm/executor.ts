import { AbortedError } from '../abort.js'
import { ConstraintError, invalid } from '../errors.js'
import { isContextWindowError } from '../providers/kernel/errors.js'
import type { Json } from '../state/json.js'
import type { CompletionMessage } from '../state/messages.js'
import { RoutingSchema } from '../state/schema.js'
import { defined, parse } from '../state/validate.js'
import { inferProvider, type ModelSpec } from './models.js'
import { pruneInputs } from './pruner.js'
import { renderInput } from './render.js'
import { estimateCost, Router } from './router.js'
import { estimateTokens } from './tokens.js'
import { fitMessages, historyBudget, messageTokens } from './fit.js'
import { formatInstruction, withFormatInstruction } from './format.js'
import { overlayRouting } from './routing.js'
import { notify, type ExecutorHooks, type HookCall } from './hooks.js'
import type { ChatRequest, ChatResponse, FinishReason, ModelContext, Provider, Routing, TokenCounter, Usage } from './types.js'
import { runSteps, type CallStep, type StepOptions } from './steps.js'
import { ChatStream, type StepResult, type StreamSink } from './stream.js'
import { toolSet, type Tools } from './tools.js'
import { askJson, jsonOutput, parseOutput } from './output.js'
import { generateObject, streamObject, type ObjectRequest, type ObjectResult, type ObjectStream } from './object.js'
import { loadSchemaConverter, type InferSchemaOutput } from './schema.js'

/** What `ctx.execute()` takes (docs/reference.md#llm-execute, plus a signal and streaming). */
export interface ExecutionRequest {
  /** What to do with the inputs: the `Task:` line of the user message. */
  task: string
  /** A system message sent before the inputs and the task, when given. */
  systemPrompt?: string
  /** Routing for this call only, over the context's (see `overlayRouting`). */
  overrideRouting?: Routing
  /** Key for this call only; never stored, never in an error. */
  apiKey?: string
  /** Aborts the call (retries and fallbacks included); the error is an `AbortedError` with the partial reply. */
  signal?: AbortSignal
  /** Streams: called with each text delta. */
  onToken?: (delta: string) => void
  /** Tools the model may call, by name; see `ChatOptions.tools`. */
  tools?: Tools
  /** Whether and which tool the model must call; see `ChatRequest.toolChoice`. */
  toolChoice?: ChatRequest['toolChoice']
  /** Provider calls at most; see `ChatOptions.maxSteps`. */
  maxSteps?: number
  /** Called (and awaited) after each step; see `ChatOptions.onStepFinish`. */
  onStepFinish?: (step: StepResult) => unknown
}

/** What `ctx.execute()` returns. */
export interface ExecutionResponse {
  /** The text, or the parsed (and validated) value when the output is JSON. */
  result: unknown
  /** The id of the context the call ran over. */
  contextId: string
  /** The model id routed to (the registry's, which priced the call), not the provider's dated alias. */
  modelUsed: string
  /** The name of the provider that answered. */
  providerUsed: string
  /** Seconds, as the LLM-execution reference gives it (docs/reference.md#llm-response-duration). */
  duration: number
  /** Tokens used, summed over the steps. */
  usage: Usage
  /** USD from the usage and the model's prices; `undefined` for a model without prices. */
  cost: number | undefined
  /** Why the last step ended. */
  finishReason: FinishReason
  /** `inputCount` inputs were sent, of `totalInputTokens` tokens together (after pruning). */
  metadata: {
    /** The context's intent (`ctx.intent`); `undefined` when it has none. */
    intent: string | undefined
    /** How many of the context's inputs were sent, after pruning them to fit `constraints.maxTokens` with the prompt. */
    inputCount: number
    /** Those inputs' tokens together (the sum of their `tokens`), without the system prompt and the task. */
    totalInputTokens: number
  }
  /** Each provider call with its tool calls and results; `usage` and `cost` above are their sums. */
  steps: StepResult[]
  /** The last step's tool calls when the loop stopped on them (maxSteps reached, or a tool without `execute`); else empty. */
  toolCalls: ChatResponse['toolCalls']
}

/** Options of a chat completion over the context's completion messages. */
export interface ChatOptions {
  /**
   * Tools the model may call, by name: `{ weather: { description, parameters, execute } }`
   * (`parameters` a JSON Schema or a Standard Schema; see `Tool`). The older array of definitions
   * (`[{ name, description, parameters }]`) is still taken: its tools never run.
   */
  tools?: Tools
  /** Whether and which tool the model must call; see `ChatRequest.toolChoice`. */
  toolChoice?: ChatRequest['toolChoice']
  /**
   * Provider calls at most, 1 to 100; default 1: the model's tool calls are returned, not run.
   * Above 1, tool calls whose tools all have `execute` are run (concurrently), their results
   * appended, and the model called again, until it answers without tool calls or `maxSteps` calls
   * were made: then the result's `finishReason` is `tool_calls` and `toolCalls` the calls not run.
   */
  maxSteps?: number
  /** Called (and awaited) after each step, with its text, tool calls, results, usage and cost. */
  onStepFinish?: (step: StepResult) => unknown
  /** Routing for this call only, over the context's. */
  overrideRouting?: Routing
  /** Key for this call only; never stored, never in an error. */
  apiKey?: string
  /** Aborts the call; the error is an `AbortedError` with the partial reply. */
  signal?: AbortSignal
  /** Streams: called with each text delta of the reply. */
  onToken?: (delta: string) => void
  /** `ctx.generateChatCompletion` appends the assistant's message to the completion history unless false. Default true; `Executor.chat` never appends. */
  append?: boolean
}

/** A chat completion's answer, with its cost. */
export interface ChatResult extends ChatResponse {
  /** USD over all steps; undefined when no step's model had prices. `usage` too is summed over the steps. */
  cost: number | undefined
  /** Each provider call with its tool calls and results (one for `maxSteps: 1`). */
  steps: StepResult[]
  /** `omittedMessages`: how many of the history's oldest messages were left out to fit `constraints.maxTokens` and the model's window. */
  metadata: {
    /** How many of the history's oldest messages were left out; 0 when all fit. */
    omittedMessages: number
  }
  /** With `output.format: 'json'` (or an `output.schema`): the reply parsed and validated, as `execute`'s `result` (an `OutputError` otherwise). */
  object?: unknown
}

export { OutputError } from './output.js'

/** The parameter schemas of `tools` (by name or an array), whatever its shape: `toolSet` checks it after. */
const parametersOf = (tools: unknown): unknown[] =>
  tools && typeof tools === 'object' ? Object.values(tools).map((t) => (t as { parameters?: unknown } | null)?.parameters) : []

/**
 * `messageTokens` counted once per message for one call: `#call` fits the history before routing
 * and again for each model of the fallback chain, and a tool loop fits the growing history at every
 * step, each time over the same message objects.
 */
function countOnce(counter: TokenCounter): (message: CompletionMessage) => number {
  const counted = new WeakMap<CompletionMessage, number>()
  return (m) => {
    let n = counted.get(m)
    if (n === undefined) counted.set(m, (n = messageTokens(m, counter)))
    return n
  }
}

/** Options of `new Executor()`; the hooks (`onRequest`, `onFinish`, `onError`) see every provider call, fallbacks and tool-loop steps included, and never a key. */
export interface ExecutorOptions extends ExecutorHooks {
  /** The providers to call, by their `name`: `[openai(), anthropic()]`. */
  providers: Provider[]
  /** Model registry and strategies; the built-in one by default. */
  router?: Router
  /** Counts prompt tokens for pruning and cost checks; `estimateTokens` by default. */
  tokenCounter?: TokenCounter
  /** Output tokens asked for when `routing.maxOutputTokens` is absent. Default 1024. */
  maxOutputTokens?: number
}

/** A chat's history, fitted per model by `#call`: its messages (format instruction applied), how to count one, what the tools take. */
interface Fit {
  messages: CompletionMessage[]
  count: (message: CompletionMessage) => number
  reserve: number
  maxTokens: number | undefined
}

type CallOptions = Pick<ChatOptions, 'overrideRouting' | 'apiKey' | 'signal' | 'onToken'> & Pick<ChatRequest, 'onChunk'>

/**
 * The LLM-execution reference's `Executor` (docs/reference.md#llm-executor): builds the prompt (system prompt, inputs pruned to
 * `constraints.maxTokens`, the task), routes to a model, enforces `maxCost` before and `maxTime`
 * during the call, calls the provider, tries `routing.fallbacks` on a retryable or context-window
 * failure, and parses the output.
 */
export class Executor {
  /** The model registry and strategies calls are routed with. */
  readonly router: Router
  /** Counts prompt tokens for pruning, fitting the history and cost checks. */
  readonly tokenCounter: TokenCounter
  readonly #providers = new Map<string, Provider>()
  readonly #maxOutput: number
  readonly #hooks: ExecutorHooks

  /** An executor over `options.providers` (at least one), routing with `options.router` and counting with `options.tokenCounter`. */
  constructor(options: ExecutorOptions) {
    if (!Array.isArray(options?.providers) || !options.providers.length) {
      throw invalid('providers', 'give at least one provider, e.g. new Executor({ providers: [openai()] })')
    }
    for (const p of options.providers) {
      if (typeof p?.chat !== 'function' || typeof p.name !== 'string') throw invalid('providers', 'each must be a provider, e.g. openai()')
      this.#providers.set(p.name, p)
    }
    this.router = options.router ?? new Router()
    this.tokenCounter = options.tokenCounter ?? estimateTokens
    this.#maxOutput = options.maxOutputTokens ?? 1024
    for (const name of ['onRequest', 'onFinish', 'onError'] as const) if (options[name] !== undefined && typeof options[name] !== 'function') throw invalid(name, 'must be a function')
    // A copy: hooks swapped in the options object later change nothing here.
    this.#hooks = { ...options }
  }

  /** The models of `router` (default: this executor's) whose provider this executor has: what a strategy picks among. */
  models(router = this.router): ModelSpec[] {
    return router.models().filter((m) => this.#providers.has(m.provider))
  }

  /**
   * Runs `request.task` over `context`'s inputs (a plain `ModelContext`, as `ctx.execute` builds
   * it); see `ExecutionResponse`. The prompt is a system message (`systemPrompt`, when given) and one
   * user message: `Context:`, the inputs most relevant
   * first (objects as compact JSON) that fit `constraints.maxTokens` together with the system prompt
   * and the task, then `Task: <task>`. A failed or aborted stream's error keeps what arrived in
   * `partial`. `constraints.maxTime` passing is an `AbortedError` with reason and code `timeout`, path
   * `constraints.maxTime` (the partial kept); the caller's signal, an `AbortedError` with its reason.
   */
  execute(context: ModelContext, request: ExecutionRequest): Promise<ExecutionResponse> {
    return this.#execute(context, request)
  }

  /** `execute` as a `ChatStream` (see it): the same result, read as parts, text or a `Response`. */
  streamExecute(context: ModelContext, request: ExecutionRequest): ChatStream<ExecutionResponse> {
    return new ChatStream((sink) => this.#execute(context, request, sink), request?.signal)
  }

  async #execute(context: ModelContext, request: ExecutionRequest, sink?: StreamSink): Promise<ExecutionResponse> {
    const started = Date.now()
    await loadSchemaConverter(context?.output?.schema, ...parametersOf(request?.tools))
    const { task, systemPrompt: system } = request ?? {}
    if (typeof task !== 'string' || !task) throw invalid('task', 'must be a non-empty string')
    if (system !== undefined && typeof system !== 'string') throw invalid('systemPrompt', 'must be a string')
    const count = this.tokenCounter
    checkContext(context)
    const { maxTokens } = context.constraints ?? {}
    const { format, schema } = context.output ?? {}
    // A schema without a format asks for JSON: there is nothing to validate in free text.
    const { json, jsonSchema } = jsonOutput(context.output)
    // OpenAI's JSON mode answers HTTP 400 to messages that never say "JSON"; one line more for the others.
    const ask = json && !/json/i.test(`${system} ${task}`) ? `${task}\nReply with JSON.` : task
    // Framing ("Context:", "Task:", separators) is a few tokens; 8 keeps the sum an upper bound.
    // output.format markdown/html/text: one line of the system prompt (json is the provider's JSON mode).
    const line = formatInstruction(format)
    const fixed = (system ? count(system) : 0) + (line ? count(line) : 0) + count(ask) + 8
    if (maxTokens !== undefined && fixed > maxTokens) {
      throw new ConstraintError(`constraints.maxTokens is ${maxTokens}, but the system prompt and task alone take ${fixed} tokens`, { path: 'constraints.maxTokens' })
    }
    const kept = pruneInputs(context.inputs ?? [], maxTokens === undefined ? undefined : maxTokens - fixed, 0, count)
    let inputTokens = 0
    for (const input of kept) inputTokens += input.tokens
    const messages = withFormatInstruction(system ? [{ role: 'system', content: system }] : [], format)
    messages.push({ role: 'user', content: renderPrompt(kept.map((i) => i.data), ask) })
    const tools = toolSet(request.tools)
    const body = {
      messages: [],
      responseFormat: json ? ('json' as const) : undefined,
      jsonSchema,
      tools: tools?.definitions,
      toolChoice: request.toolChoice,
    }
    const reserve = tools ? count(JSON.stringify(tools.definitions)) : 0
    const countMessage = countOnce(count)
    const { last, steps, usage, cost } = await runSteps(
      messages,
      context,
      { ...request, tools },
      // The first step is the prompt built above; later ones (a tool loop) carry the tool calls and
      // results too and fit the model's window only: constraints.maxTokens bounded the inputs.
      (n, msgs, ctx, call) =>
        n
          ? this.#call(ctx, { ...request, ...call }, 0, body, { messages: [...msgs], count: countMessage, reserve, maxTokens: undefined })
          : this.#call(ctx, { ...request, ...call }, fixed + inputTokens + reserve, { ...body, messages: [...msgs] }),
      sink,
    )
    const { response, model } = last
    // Stopped on tool calls (maxSteps reached, a tool without execute): there is no answer to parse yet.
    const stoppedOnTools = response.toolCalls.length > 0
    return {
      result: json && !stoppedOnTools ? await parseOutput(response.text, schema) : response.text,
      contextId: context.contextId,
      modelUsed: model,
      providerUsed: response.provider,
      duration: (Date.now() - started) / 1000,
      usage,
      cost,
      finishReason: response.finishReason,
      metadata: { intent: context.intent, inputCount: kept.length, totalInputTokens: inputTokens },
      steps,
      toolCalls: response.toolCalls,
    }
  }

  /**
   * A chat completion over `context.messages` (docs/reference.md#voice-generate-chat-completion: the voice-agent platform's
   * `generate_chat_completion`), with tools. Appends nothing: `ctx.generateChatCompletion` appends
   * the reply (tool calls included) to its history. Constraints, routing and keys work as in `execute`.
   */
  chat(context: ModelContext, options: ChatOptions = {}): Promise<ChatResult> {
    return this.#chat(context, options)
  }

  /**
   * `chat` as a `ChatStream`: parts, text deltas or a `Response`, read lazily (a slow reader holds
   * the network read); `result` is what `chat` returns. `context.onMessage` gets each message as its
   * step ends, as with `chat`.
   */
  streamChat(context: ModelContext, options: ChatOptions = {}): ChatStream<ChatResult> {
    return new ChatStream((sink) => this.#chat(context, options, sink), options?.signal)
  }

  /**
   * A JSON object typed by `request.schema` (`ctx.generateObject`): `task` over `context.inputs` as
   * `execute`, else `messages` (or `context.messages`) as `chat`; see `generateObject` in object.ts.
   */
  object<S>(context: ModelContext, request: ObjectRequest<S>): Promise<ObjectResult<InferSchemaOutput<S>>> {
    return generateObject(this, context, request)
  }

  /** `object` as it streams (`ctx.streamObject`): deep-partial objects, then `object` and `result`; see `ObjectStream`. */
  streamObject<S>(context: ModelContext, request: ObjectRequest<S>): ObjectStream<InferSchemaOutput<S>> {
    return streamObject(this, context, request)
  }

  async #chat(context: ModelContext, options: ChatOptions, sink?: StreamSink): Promise<ChatResult> {
    await loadSchemaConverter(context?.output?.schema, ...parametersOf(options?.tools))
    checkContext(context)
    if (!isObject(options)) throw invalid('options', 'must be an object')
    const history = context.messages ?? []
    if (!history.length) throw invalid('messages', 'the completion history is empty: add a message first')
    const tools = toolSet(options.tools)
    const definitions = tools?.definitions
    const count = countOnce(this.tokenCounter)
    // Tool definitions go beside the messages, as JSON: their tokens come off the history's budget.
    const reserve = definitions?.length ? this.tokenCounter(JSON.stringify(definitions)) : 0
    // output.format json (or a schema): the provider's JSON mode, parsed and validated as in execute.
    const { json, jsonSchema } = jsonOutput(context.output)
    const body = { messages: [], tools: definitions, toolChoice: options.toolChoice, ...(json && { responseFormat: 'json' as const, jsonSchema }) }
    const { last, steps, usage, cost } = await runSteps(
      [...history],
      context,
      { ...options, tools } satisfies StepOptions,
      ((_, messages, ctx, call) =>
        this.#call(ctx, { ...options, ...call }, 0, body, {
          messages: json ? askJson([...messages]) : withFormatInstruction([...messages], context.output?.format),
          count,
          reserve,
          maxTokens: ctx.constraints?.maxTokens,
        })) satisfies CallStep,
      sink,
    )
    const result: ChatResult = { ...last.response, usage, cost, steps, metadata: { omittedMessages: last.omitted } }
    // Stopped on tool calls: there is no answer to parse yet.
    if (json && !last.response.toolCalls.length) result.object = await parseOutput(last.response.text, context.output?.schema)
    return result
  }

  /**
   * Routes, checks every model of the chain (the routed one, then `routing.fallbacks`) before any
   * request, calls, and falls back. Fallbacks are tried on a retryable error (after the provider's
   * own retries), a context-window error or a window too small for the estimate; never after an
   * abort or a timeout, nor once a token has been streamed (the caller already has it). A model
   * whose estimate is over `maxCost` is never called: refused outright when it is the routed one,
   * skipped when it is a fallback.
   */
  async #call(
    context: ModelContext,
    call: CallOptions,
    inputTokens: number,
    body: Pick<ChatRequest, 'messages' | 'tools' | 'toolChoice' | 'responseFormat' | 'jsonSchema'>,
    fit?: Fit,
  ): Promise<{ response: ChatResponse; model: string; cost: number | undefined; omitted: number }> {
    const { overrideRouting, apiKey, signal: callerSignal, onToken, onChunk } = call
    if (apiKey !== undefined && typeof apiKey !== 'string') throw invalid('apiKey', 'must be a string')
    if (onToken !== undefined && typeof onToken !== 'function') throw invalid('onToken', 'must be a function')
    const routing = overlayRouting(context.routing ?? {}, overrideRouting && parse(RoutingSchema, defined(overrideRouting, 'overrideRouting'), 'overrideRouting'))
    const { maxCost, maxTime } = context.constraints ?? {}
    const outputTokens = routing.maxOutputTokens ?? this.#maxOutput
    // A chat's history fits constraints.maxTokens first (what a strategy routes by), then each model's window below.
    let omitted = 0
    const fitTo = (f: Fit, contextWindow?: number, maxOutputTokens?: number) => {
      const budget = historyBudget({ maxTokens: f.maxTokens, contextWindow, maxOutputTokens })
      // Refused over the window (path routing.model): the chain's next model may have a larger one.
      const path = budget < (f.maxTokens ?? Infinity) ? 'routing.model' : 'constraints.maxTokens'
      const out = fitMessages(f.messages, { maxTokens: budget, count: f.count, reserve: f.reserve, path })
      omitted = out.omitted
      return [{ ...body, messages: out.messages }, out.tokens + f.reserve] as const
    }
    if (fit) [body, inputTokens] = fitTo(fit)
    const first = routing.model ?? this.#select(routing, inputTokens, outputTokens, maxCost).id
    const chain = [first, ...(routing.fallbacks ?? []).filter((m) => m !== first)].map((model, i) => {
      const spec = this.router.getModelSpec(model)
      // The routing's provider goes with its model; a fallback's is the registry's, else inferred from its id.
      const name = (i ? undefined : routing.provider) ?? spec?.provider ?? inferProvider(model)
      const provider = this.#providers.get(name!)
      if (!provider) {
        throw invalid(
          i ? 'routing.fallbacks' : 'routing.provider',
          name
            ? `"${model}" needs the provider "${name}": add it, e.g. new Executor({ providers: [${name}()] })`
            : `no provider for "${model}": set routing.provider or registerModel it; known: ${this.router.models().map((m) => m.id).join(', ')}`,
        )
      }
      return { model, spec, provider }
    })
    // Whole milliseconds (Node throws a RangeError for 1.1 s = 1100.0000000000002 ms), at most 2^31 - 1
    // (~24.8 days): timers overflow past it and fire at once.
    const timer = maxTime === undefined ? undefined : AbortSignal.timeout(Math.min(Math.ceil(maxTime * 1000), 2 ** 31 - 1))
    const signal = callerSignal && timer ? AbortSignal.any([callerSignal, timer]) : (callerSignal ?? timer)
    let streamed = false
    let error: unknown
    let attempt = 0
    for (const [i, { model, spec, provider }] of chain.entries()) {
      // No model writes past its own maximum: asking for more is an HTTP 400, so it is capped per model.
      const output = spec ? Math.min(outputTokens, spec.maxOutput) : outputTokens
      let request = body
      let tokens = inputTokens
      if (fit && spec) {
        try {
          ;[request, tokens] = fitTo(fit, spec.contextWindow, output)
        } catch (e) {
          // Over the window: the next model of the chain may have a larger one.
          if ((e as ConstraintError).path !== 'routing.model') throw e
          error = e
          continue
        }
      }
      const misfit = checkFits(model, spec, tokens, output, maxCost)
      if (misfit) {
        // A routed model over maxCost is refused; a window too small, or a fallback over budget, passes to the next.
        if (!i && misfit.path !== 'routing.model') throw misfit
        error = misfit
        continue
      }
      const hook: HookCall = { contextId: context.contextId, provider: provider.name, model, attempt: attempt++ }
      notify('onRequest', this.#hooks.onRequest, { ...hook, messages: request.messages.length, tools: request.tools?.length ?? 0, stream: !!onToken, maxOutputTokens: output })
      const started = Date.now()
      try {
        const response = await provider.chat({
          ...request,
          model,
          temperature: routing.temperature,
          maxOutputTokens: output,
          // The call's key, else the context's variable (OPENAI_API_KEY for `openai`…), else the provider's own.
          // An empty string counts as absent: no provider takes an empty key.
          apiKey: apiKey || context.variables?.[`${provider.name.toUpperCase().replace(/\W/g, '_')}_API_KEY`] || undefined,
          signal,
          onToken: onToken && ((delta) => ((streamed = true), onToken(delta))),
          onChunk,
        })
        const cost = this.#account(context, hook, spec, response.usage)
        notify('onFinish', this.#hooks.onFinish, { ...hook, usage: { ...response.usage }, cost, finishReason: response.finishReason, durationMs: Date.now() - started, requestId: response.requestId })
        return { response, model, omitted, cost }
      } catch (e) {
        // A failed call is billed for what it produced: a broken or aborted stream's partial usage counts.
        const usage = (e as { partial?: ChatResponse } | undefined)?.partial?.usage
        const cost = usage && this.#account(context, hook, spec, usage)
        notify('onError', this.#hooks.onError, { ...hook, error: e, durationMs: Date.now() - started, ...(usage && { usage: { ...usage }, cost }) })
        if (timer?.aborted && !callerSignal?.aborted) {
          throw new AbortedError(`constraints.maxTime: ${model} did not finish within ${maxTime} s`, {
            reason: 'timeout',
            signalReason: timer.reason,
            partial: (e as { partial?: ChatResponse }).partial,
            path: 'constraints.maxTime',
            cause: e,
          })
        }
        if (signal?.aborted || streamed || !((e as { retryable?: boolean }).retryable || isContextWindowError(e))) throw e
        error = e
      }
    }
    throw error
  }

  /** One provider call's cost (undefined without prices), reported to the context's `onUsage`. */
  #account(context: ModelContext, hook: HookCall, spec: ModelSpec | undefined, usage: Usage): number | undefined {
    const cost = spec && estimateCost(spec, usage.inputTokens, usage.outputTokens)
    notify('onUsage', context.onUsage && ((u: Usage) => context.onUsage!(u, cost, hook.model, hook.provider)), usage)
    return cost
  }

  /** The strategy's pick among the models of the providers this executor has. */
  #select(routing: Routing, inputTokens: number, outputTokens: number, maxCost: number | undefined): ModelSpec {
    if (!routing.strategy) throw invalid('routing', 'set routing.model or routing.strategy (ctx.route(...))')
    const models = this.models()
    if (!models.length) throw invalid('routing.strategy', `no registered model of ${[...this.#providers.keys()].join(', ')}`)
    return new Router(models).select(routing.strategy, { inputTokens, outputTokens, maxCost }, routing.provider)
  }
}

/** The user message: the inputs under "Context:", then the task. Objects are compact JSON. */
export function renderPrompt(inputs: Json[], task: string): string {
  return inputs.length ? `Context:\n${inputs.map(renderInput).join('\n\n')}\n\nTask: ${task}` : task
}

/** A `ConstraintError` when `model` cannot take the request: its window (path `routing.model`) or `maxCost`. */
function checkFits(model: string, spec: ModelSpec | undefined, inputTokens: number, outputTokens: number, maxCost: number | undefined): ConstraintError | undefined {
  if (spec && inputTokens + outputTokens > spec.contextWindow) {
    return new ConstraintError(`${model}: ${inputTokens} input + ${outputTokens} output tokens exceed its ${spec.contextWindow}-token window`, { path: 'routing.model' })
  }
  if (maxCost === undefined) return
  const estimate = spec ? estimateCost(spec, inputTokens, outputTokens) : 0
  if (!spec || estimate > maxCost) {
    return new ConstraintError(
      spec
        ? `${model}: estimated cost $${+estimate.toPrecision(4)} (${inputTokens} input + ${outputTokens} output tokens) exceeds constraints.maxCost $${maxCost}`
        : `${model}: no price to check constraints.maxCost against; registerModel it`,
      { path: 'constraints.maxCost' },
    )
  }
}

/** A `ValidationError` unless `context` is an object with a `contextId`: `execute(request)` without the context says so. */
function checkContext(context: ModelContext): void {
  if (!isObject(context) || typeof (context as ModelContext).contextId !== 'string') throw invalid('context', 'must be a ModelContext: { contextId, … }')
}

const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v)
