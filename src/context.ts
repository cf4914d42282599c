import { nanoid } from 'nanoid'
import { checkKey, ContextError, invalid } from './errors.js'
import { Cache, type CacheSetOptions, type EntityType } from './state/cache.js'
import { cloneJson, deepFreeze, toJson, type Json, type JsonObject, type Widen } from './state/json.js'
import type { CompletionMessage } from './state/messages.js'
import { toCompletionMessages, type MessageInput } from './state/wire.js'
import { ContextStateSchema, FORMAT_VERSION, parseState, type ContextState, type ParseLimits } from './state/schema.js'
import { MAX_TURN_ID, toNodeLabel, toTurnMessage, TurnMap, Turns, type NodeLabel, type TurnMessage } from './state/turns.js'
import { checkOptions, defined, parse, unknownKey } from './state/validate.js'
import type { Constraints, ContextInput, ModelContext, Output, Routing, TokenCounter } from './llm/types.js'
import type { ChatOptions, ChatResult, ExecutionRequest, ExecutionResponse } from './llm/executor.js'
import type { ObjectRequest, ObjectResult, ObjectStream } from './llm/object.js'
import type { InferSchemaOutput } from './llm/schema.js'
import type { ChatStream } from './llm/stream.js'
import { checkExecutor, getDefaultExecutor, type ExecutorLike } from './llm/default.js'
import { pruneInputs } from './llm/pruner.js'
import type { Router } from './llm/router.js'
import { overlayRouting } from './llm/routing.js'
import { addUsage, NO_USAGE, type UsageTotals } from './llm/usage.js'
import { countInputTokens, estimateTokens } from './llm/tokens.js'
import { RoutingSchema } from './state/schema.js'
import type { TurnLoader, TurnRecord } from './state/turns.js'
import { TaskManager, type TaskInfo, type TaskOptions, type TaskSource } from './tasks/tasks.js'
import type { OutcomeDefinition, OutcomeType, OutcomeValue } from './experiments/session/outcomes.js'
import type { StopConditions, TestDefinition, TestOptions } from './experiments/session/tests.js'
import { Testing, type TestingState } from './experiments/session/testing.js'

// Where they were declared before issue 9; they live with the model-call types now.
export type { Constraints, Output, Routing }

/** Everything `new Context(config)` takes: the fields of the three reference APIs (docs/reference.md#one-context-for-three-apis). */
export interface ContextConfig {
  /** What the model call is for (`analyze`, `summarize`, …). */
  intent?: string
  /** A finer label of the call than `intent`. */
  category?: string
  /** Hard limits: tokens, time in seconds, cost in USD. */
  constraints?: Constraints
  /** Routing hints: model, provider, strategy, temperature, output tokens, fallbacks. */
  routing?: Routing
  /** Output shaping: format and schema. */
  output?: Output
  /** Free metadata, JSON: the place for custom keys. */
  metadata?: JsonObject
  /** The id of the context this one derives from (`extend` sets it). */
  parentId?: string
  /** The context's id; a nanoid when absent. `id` and `contextId` are the same value. */
  contextId?: string
  /** The agent this session belongs to. */
  agentId?: string
  /** The environment's name and id, as one opaque string. */
  environment?: string
  /** A nanoid when absent. */
  sessionId?: string
  /**
   * What A/B tests hash to assign an option (`addTest`), for example a user id, so that one user gets
   * the same option in every session with nothing stored; the session id when absent. Stored with
   * the context (at most 512 characters).
   */
  assignmentKey?: string
  /** The function currently running. */
  functionId?: string
  /** Environment and organization variables (API keys among them): runtime only, never serialized. */
  variables?: Record<string, string>
  /** Initial custom session data. */
  data?: JsonObject
}

/** Runtime inputs: never serialized, never stored, never in an error message. */
export interface ContextRuntime {
  /** Environment variables (API keys, config). */
  variables?: Record<string, string>
  /** Clock in epoch ms, for cache expiry. Default `Date.now`. */
  now?: () => number
  /** Limits applied by `fromJSON` to untrusted input. */
  limits?: ParseLimits
  /** Runs `execute` and `generateChatCompletion`; default: the one given to `setDefaultExecutor`. */
  executor?: ExecutorLike
  /** Counts input tokens (`addInput`, `prune`); default `estimateTokens`. Pass an exact one, e.g. gpt-tokenizer's `countTokens`. */
  tokenCounter?: TokenCounter
  /**
   * Model registry for `route`; default: the executor's (`new Executor()` has the built-in models).
   * The registry is not bundled with `Context` itself: a context that never routes never pays for it.
   */
  router?: Router
}

/** Where a context's background tasks report (set by the agent runtime). */
export interface TaskSink {
  emit?(value: unknown, task: TaskInfo): void
  onError?(error: unknown, task: TaskInfo): void
  waitUntil?(promise: Promise<unknown>): void
  /** A task finished: the agent saves what it changed (the promise is given to `waitUntil`). */
  onSettled?(): void | Promise<unknown>
  /** A task was created during turn `turn`; `yields` when it can emit events (see `TaskManagerOptions.started`). */
  started?(task: TaskInfo, yields: boolean, turn: number): void
}

/** What the store and the agent runtime reach inside a context (not exported from the package). */
export interface ContextInternals {
  turns: Turns
  /** Everything but the turns and the messages; the live messages; how many leading messages are unchanged since `markClean`. */
  snapshot(): { state: JsonObject; messages: readonly CompletionMessage[]; messagesClean: number }
  /** The save that saw these turns (default: every dirty one) and the messages succeeded. */
  markClean(turnIds?: number[]): void
  setTurnLoader(loader: TurnLoader): void
  setTaskSink(sink: TaskSink): void
}

let reach: (ctx: Context) => ContextInternals

/** Package-internal access for the store and the agent runtime. */
export const internals = (ctx: Context): ContextInternals => reach(ctx)

/** The dialog framework's framework data (docs/reference.md#dialog-frameworkdata-class): pipeline bookkeeping next to the conversation. */
export interface FrameworkData {
  /** Per-service state of the current turn; cleared when the next request starts a turn, never serialized. */
  serviceStates: Record<string, Json>
  /** The node being processed. */
  currentNode: Json | undefined
  /** Stats collected across turns. */
  stats: Record<string, Json>
  /** Extracted slots. */
  slots: Record<string, Json>
  /** The pipeline running this context: runtime only. */
  pipeline?: unknown
}

/** The keys `new Context(config)` knows; any other is refused, so `session_id` or `contextID` is not silently ignored. */
const CONFIG_KEYS = 'intent category constraints routing output metadata parentId contextId agentId environment sessionId assignmentKey functionId variables data'.split(' ')

/** A Standard Schema object. Some libraries' schemas are functions (ArkType's types are callable), so not only objects. */
const isStandardSchema = (value: unknown): boolean => (value as { '~standard'?: unknown } | undefined)?.['~standard'] != null

/**
 * A conversational agent's context: session ids, data, cache, chat history by turns, completion
 * messages, LLM inputs and routing, A/B tests and outcomes. Everything it knows is plain JSON
 * (`toJSON()` / `Context.fromJSON()`); variables and other runtime inputs are held apart and never
 * serialized.
 *
 * @example
 * const ctx = new Context({ agentId: 'support-bot', variables: { OPENAI_API_KEY: key } })
 * ctx.setData('user_name', 'John')
 * ctx.getData('user_name', 'Guest') // 'John'
 */
export class Context {
  #state!: Omit<ContextState, 'turns' | 'currentTurnId' | 'cache' | 'testing' | 'frameworkData'>
  #turns = new Turns()
  #cache!: Cache
  #testing!: Testing
  #frameworkData: FrameworkData = { serviceStates: {}, currentNode: undefined, stats: {}, slots: {} }
  #variables: Readonly<Record<string, string>>
  #outputSchema: unknown
  #dataView: Readonly<JsonObject> | undefined
  readonly #runtime: ContextRuntime
  #tasks: TaskManager<Context> | undefined
  #sink: TaskSink = {}
  /** Leading messages unchanged since the last save: the store rewrites none of them. */
  #messagesClean = 0
  #turnLoader: TurnLoader | undefined
  /**
   * With a turn loader: every stored turn from this id to the current one is in memory (older ones
   * may be too, loaded by a range). `loadTurns()` continues below it; `getTurn` reads below it only.
   */
  #turnFloor = 0
  readonly #labels = new TurnMap<NodeLabel>(() => this.#turns, 'label')
  readonly #requests = new TurnMap<TurnMessage>(() => this.#turns, 'request')
  readonly #responses = new TurnMap<TurnMessage>(() => this.#turns, 'response')

  /** A new context from `config` (its state; unknown keys, snake_case ones included, are a `ValidationError`) and `runtime` (what is never serialized: variables, executor, store, clock…). */
  constructor(config: ContextConfig = {}, runtime: ContextRuntime = {}) {
    if (typeof config !== 'object' || config === null) throw invalid('config', 'must be an object')
    for (const key in config) if (!CONFIG_KEYS.includes(key)) throw invalid(`config.${key}`, unknownKey(key))
    this.#runtime = runtime
    const { variables, output: outputConfig, contextId: id = nanoid(), sessionId = nanoid(), ...rest } = config
    this.#variables = checkVariables(variables ?? runtime.variables ?? {})
    const { schema, ...output } = outputConfig ?? {}
    if (isStandardSchema(schema)) this.#outputSchema = schema
    else if (schema !== undefined) output.schema = schema
    if (typeof id !== 'string' || id === '') throw invalid('config.contextId', 'must be a non-empty string')
    this.#restore(
      parse(
        ContextStateSchema,
        // Validate the JSON part of the config with the state schema, so the same rules hold for
        // `new Context(...)` and `fromJSON(...)`; variables and Standard Schemas are not part of it.
        {
          constraints: {},
          routing: {},
          metadata: {},
          data: {},
          // The other config fields (all known keys, checked above); an undefined one means "not given".
          ...Object.fromEntries(Object.entries(rest).filter((entry) => entry[1] !== undefined)),
          version: FORMAT_VERSION,
          id,
          sessionId,
          output,
          cache: {},
          messages: [],
          currentTurnId: 0,
          turns: [],
          frameworkData: { stats: {}, slots: {} },
          inputs: [],
          testing: { tests: {}, outcomes: {}, metadata: {} },
        },
        'config',
        'invalid_argument',
        // As fromJSON reads it: 64 levels for a value (as setData takes) inside the format's own levels.
        { maxDepth: 72 },
      ),
    )
  }

  /**
   * Creates a context whose history starts at `startLabel` (turn 0), as the dialog framework does.
   * `options` takes an `id` (the dialog framework's name, docs/reference.md#dialog-init) or any other `ContextConfig` field.
   */
  static init(startLabel: NodeLabel, options: ContextConfig & { id?: string } = {}, runtime?: ContextRuntime): Context {
    const label = toNodeLabel(startLabel, 'startLabel')
    const { id, ...config } = options
    const ctx = new Context({ ...config, contextId: id ?? config.contextId }, runtime)
    ctx.#turns.set('label', label)
    return ctx
  }

  /**
   * Rebuilds a context from `toJSON()` output, as a string or an object. Runtime inputs (variables…)
   * are passed in `runtime`, never read from the JSON. Malformed or hostile input is a `ContextError`
   * naming the path of the first problem.
   */
  static fromJSON(json: string | ContextState | object, runtime: ContextRuntime = {}): Context {
    const state = parseState(json, runtime.limits)
    const ctx = new Context({ contextId: state.id, sessionId: state.sessionId }, runtime)
    ctx.#restore(state)
    return ctx
  }

  #restore(state: ContextState): void {
    const { turns, currentTurnId, cache, testing, frameworkData, ...rest } = state
    this.#state = rest
    this.#turns = new Turns()
    this.#turns.load(turns)
    this.#turns.currentTurnId = currentTurnId
    this.#cache = new Cache(cache, this.#runtime.now)
    this.#testing = new Testing(testing as TestingState, rest.assignmentKey ?? rest.sessionId)
    this.#frameworkData = { serviceStates: {}, currentNode: frameworkData.currentNode, stats: frameworkData.stats, slots: frameworkData.slots }
    this.#dataView = undefined
  }

  /** The plain JSON form: `JSON.stringify(ctx)` works. Versioned, camelCase, no runtime inputs. */
  toJSON(): ContextState {
    const state = this.#serialize()
    state.messages = this.#state.messages.map((m) => cloneJson(m as unknown as JsonObject)) as unknown as Json
    state.turns = this.#turns.records().map((r) => cloneJson(r as unknown as JsonObject))
    return state as unknown as ContextState
  }

  /** Everything but the history (turns, messages), whose cost grows with the conversation. */
  #serialize(): JsonObject {
    const { currentNode, stats, slots } = this.#frameworkData
    const { messages, ...rest } = this.#state
    return {
      ...cloneJson(rest as unknown as JsonObject),
      cache: this.#cache.toJSON() as unknown as Json,
      currentTurnId: this.#turns.currentTurnId,
      frameworkData: toJson(currentNode === undefined ? { stats, slots } : { currentNode, stats, slots }, 'frameworkData'),
      testing: this.#testing.toJSON() as unknown as Json,
    }
  }

  static {
    reach = (ctx) => ({
      turns: ctx.#turns,
      snapshot: () => ({ state: ctx.#serialize(), messages: ctx.#state.messages, messagesClean: ctx.#messagesClean }),
      markClean: (ids) => {
        ctx.#turns.markClean(ids)
        ctx.#messagesClean = ctx.#state.messages.length
      },
      setTurnLoader: (loader) => {
        ctx.#turnLoader = loader
        ctx.#turnFloor = ctx.#turns.first() ?? ctx.#turns.currentTurnId + 1
      },
      setTaskSink: (sink) => (ctx.#sink = sink),
    })
  }

  // ── identity ──────────────────────────────────────────────────────────────────────────────────

  /** The context's unique id (the dialog framework's `id`, docs/reference.md#dialog-id). */
  get id(): string {
    return this.#state.id
  }
  /** The same value as `id` (the LLM-execution reference's `contextId`, docs/reference.md#llm-context-id). */
  get contextId(): string {
    return this.#state.id
  }
  /** The agent this session belongs to (`config.agentId`, docs/reference.md#voice-agent-id); `undefined` when not given. */
  get agentId(): string | undefined {
    return this.#state.agentId
  }
  /** The environment's name and id as one opaque string, not parsed (docs/reference.md#voice-environment). */
  get environment(): string | undefined {
    return this.#state.environment
  }
  /** The session this context belongs to (`config.sessionId`, else a nanoid). */
  get sessionId(): string {
    return this.#state.sessionId
  }
  /** The key A/B assignment hashes, as given (`config.assignmentKey`); when `undefined`, the session id is hashed. */
  get assignmentKey(): string | undefined {
    return this.#state.assignmentKey
  }
  /** The function currently running (`config.functionId`, docs/reference.md#voice-function-id). */
  get functionId(): string | undefined {
    return this.#state.functionId
  }
  /** Variables given at construction or in `fromJSON`'s runtime. Never serialized. */
  get variables(): Readonly<Record<string, string>> {
    return this.#variables
  }

  // ── data, cache ───────────────────────────────────────────────────────────────────────────────

  /** Sets a data key. The value must be JSON; it is copied, so later edits to it change nothing here. */
  setData(key: string, value: unknown): void {
    checkKey(key)
    const copy = toJson(value, ['data', key])
    // A plain assignment is safe: checkKey refused "__proto__", the one key that would set a prototype.
    this.#state.data[key] = copy
    this.#dataView = undefined
  }

  /**
   * A copy of a data key's value, or `fallback` when the key was never set (a stored `0`, `false`, `""`
   * or `null` is returned). Typed as the fallback, widened (`getData('count', 0)` is a `number`; see `Widen`).
   */
  getData(key: string): Json | undefined
  getData<T>(key: string, fallback: T): Widen<T>
  getData(key: string, fallback?: unknown): unknown {
    return Object.hasOwn(this.#state.data, key) ? cloneJson(this.#state.data[key]!) : fallback
  }

  /** Removes a data key; true when it was there. */
  deleteData(key: string): boolean {
    if (!Object.hasOwn(this.#state.data, key)) return false
    delete this.#state.data[key]
    this.#dataView = undefined
    return true
  }

  /** Read-only view of the session data. Write with `setData`. */
  get data(): Readonly<JsonObject> {
    return (this.#dataView ??= deepFreeze(cloneJson(this.#state.data)))
  }

  /** The dialog framework's name for custom data: the same store as `data` (docs/reference.md#dialog-misc). */
  get misc(): Readonly<JsonObject> {
    return this.data
  }

  /** Caches a primitive, plain JSON, or an entity with `toCache()`; `ttl` in seconds. */
  cacheSet(key: string, value: unknown, options?: CacheSetOptions): void {
    this.#cache.set(key, value, options)
  }

  /** A cached value (rebuilt by `entityType.fromCache` when given), or undefined when absent or expired. */
  cacheGet<T = Json>(key: string, entityType?: EntityType<T>): T | undefined {
    return this.#cache.get(key, entityType)
  }

  /** Removes a cache entry; true when it was there. */
  cacheDelete(key: string): boolean {
    return this.#cache.delete(key)
  }

  // ── completion messages ───────────────────────────────────────────────────────────────────────

  /** A copy of the completion history. */
  getCompletionMessages(): CompletionMessage[] {
    return this.#state.messages.map((m) => cloneJson(m as unknown as JsonObject) as unknown as CompletionMessage)
  }

  /**
   * Appends a message after validating it (role, content, tool calls). Takes our shape, or OpenAI
   * Chat Completions' or Anthropic Messages' (see `toCompletionMessages`), stored as ours: an
   * Anthropic user message of tool results appends a message each, all or none.
   */
  addCompletionMessage(message: MessageInput): void {
    this.#state.messages.push(...toCompletionMessages(message, 'message'))
  }

  /** Replaces the whole history (any shape `addCompletionMessage` takes), all or nothing: one bad message leaves the old history in place. */
  setCompletionMessages(messages: readonly MessageInput[]): void {
    if (!Array.isArray(messages)) throw invalid('messages', 'must be an array')
    const next = messages.flatMap((m, i) => toCompletionMessages(m, `messages[${i}]`))
    // The usual call re-sets the history with one more message: the stored prefix stays valid.
    let same = 0
    const old = this.#state.messages
    while (same < Math.min(this.#messagesClean, next.length) && JSON.stringify(old[same]) === JSON.stringify(next[same])) same++
    this.#messagesClean = same
    this.#state.messages = next
  }

  // ── dialog turns ──────────────────────────────────────────────────────────────────────────────

  /** Labels by turn id; the start label at turn 0. */
  get labels(): TurnMap<NodeLabel> {
    return this.#labels
  }
  /** Requests by turn id; the first at turn 1. */
  get requests(): TurnMap<TurnMessage> {
    return this.#requests
  }
  /** Responses by turn id; the first at turn 1. */
  get responses(): TurnMap<TurnMessage> {
    return this.#responses
  }
  /** The id of the current turn: 0 after `init`, +1 with every request. */
  get currentTurnId(): number {
    return this.#turns.currentTurnId
  }

  /** Starts a new turn with a request (a string is shorthand for `{ text }`). Clears the service states of the turn before. */
  addRequest(request: string | TurnMessage): void {
    const message = toTurnMessage(request, 'request')
    if (this.#turns.currentTurnId >= MAX_TURN_ID) {
      throw new ContextError('too_large', `addRequest: turn ${MAX_TURN_ID} is the last one (a store keys turn ids in 10 digits)`, { path: 'currentTurnId' })
    }
    this.#turns.currentTurnId++
    this.#turns.set('request', message)
    this.#frameworkData.serviceStates = {}
  }

  /** Sets the response of the current turn. */
  addResponse(response: string | TurnMessage): void {
    this.#turns.set('response', toTurnMessage(response, 'response'))
  }

  /** Sets the label of the current turn. A `ContextError` when there is no start label (use `Context.init`). */
  addLabel(label: NodeLabel): void {
    const checked = toNodeLabel(label, 'label')
    // A context loaded by a store may hold only recent turns: its start label is in storage, not gone.
    if (this.#labels.lastKey() === undefined && !this.#turnLoader) {
      throw new ContextError('empty', 'addLabel: no start label; use Context.init(startLabel)')
    }
    this.#turns.set('label', checked)
  }

  /** The most recent label. A `ContextError` when there is none. */
  get lastLabel(): NodeLabel {
    const record = this.#turns.lastWith('label')
    if (!record) throw new ContextError('empty', 'lastLabel: labels is empty')
    return record.label!
  }
  /** The most recent request. A `ContextError` when there is none. */
  get lastRequest(): TurnMessage {
    const record = this.#turns.lastWith('request')
    if (!record) throw new ContextError('empty', 'lastRequest: requests is empty')
    return record.request as TurnMessage
  }
  /** The most recent response, or undefined when none was added. */
  get lastResponse(): TurnMessage | undefined {
    return this.#turns.lastWith('response')?.response as TurnMessage | undefined
  }

  /** Framework bookkeeping (service states, current node, stats, slots). */
  get frameworkData(): FrameworkData {
    return this.#frameworkData
  }
  /** `frameworkData.currentNode`; a `ContextError` when none is set. */
  get currentNode(): Json {
    const node = this.#frameworkData.currentNode
    if (node === undefined) throw new ContextError('empty', 'currentNode: none set')
    return node
  }
  /** `frameworkData.pipeline`; a `ContextError` when none is attached. */
  get pipeline(): unknown {
    const pipeline = this.#frameworkData.pipeline
    if (pipeline === undefined) throw new ContextError('empty', 'pipeline: none attached')
    return pipeline
  }

  /** @internal The turn history, for the store. */
  get turns(): Turns {
    return this.#turns
  }

  // ── LLM context ───────────────────────────────────────────────────────────────────────────────

  /** What the model call is for (`analyze`, `summarize`, …; docs/reference.md#llm-intent). */
  get intent(): string | undefined {
    return this.#state.intent
  }
  /** A finer label of the call than `intent` (docs/reference.md#llm-category). */
  get category(): string | undefined {
    return this.#state.category
  }
  /** The id of the context this one was `extend`ed from; `undefined` for a root context. */
  get parentId(): string | undefined {
    return this.#state.parentId
  }
  /** Hard limits (a frozen copy). */
  get constraints(): Readonly<Constraints> {
    return deepFreeze(cloneJson(this.#state.constraints as JsonObject)) as Constraints
  }
  /** Routing hints (a frozen copy); change them with `route()`. */
  get routing(): Readonly<Routing> {
    return deepFreeze(cloneJson(this.#state.routing as JsonObject)) as Routing
  }
  /** Output shaping (a frozen copy), with the runtime Standard Schema when one was given. */
  get output(): Readonly<Output> {
    const out: Output = cloneJson(this.#state.output as JsonObject)
    if (this.#outputSchema !== undefined) out.schema = this.#outputSchema
    return Object.freeze(out)
  }
  /** Arbitrary metadata (a frozen copy). */
  get metadata(): Readonly<JsonObject> {
    return deepFreeze(cloneJson(this.#state.metadata))
  }
  /** The inputs, in the order added (frozen copies). */
  get inputs(): readonly Readonly<ContextInput>[] {
    return deepFreeze(this.#state.inputs.map((i) => cloneJson(i as unknown as JsonObject) as unknown as ContextInput))
  }

  /**
   * Adds an input (any JSON) with a relevance in 0..1 (default 1) and its token count (counted with
   * the context's token counter when absent). Chainable. An option outside these two, a relevance
   * outside 0..1 or not a number, or tokens not an integer >= 0 is a `ValidationError` naming it.
   */
  addInput(data: unknown, options?: { relevance?: number; tokens?: number }): this {
    const { relevance = 1, tokens } = checkOptions(options, 'relevance tokens')
    if (typeof relevance !== 'number' || !(relevance >= 0 && relevance <= 1)) throw invalid('relevance', 'must be a number in 0..1')
    if (tokens !== undefined && !(Number.isInteger(tokens) && tokens >= 0)) throw invalid('tokens', 'must be an integer >= 0')
    const json = toJson(data, 'data')
    this.#state.inputs.push({ data: json, relevance, tokens: tokens ?? countInputTokens(json, this.#counter) })
    return this
  }

  /** Sum of the inputs' tokens. */
  getTotalTokens(): number {
    let total = 0
    for (const input of this.#state.inputs) total += input.tokens
    return total
  }

  /**
   * Drops inputs below `relevanceThreshold` (default 0), then keeps the most relevant ones that fit
   * `maxTokens` (default `constraints.maxTokens`; none: no limit), scanning past one that does not
   * fit; a text may be cut to fill what remains. Chainable.
   */
  prune(options?: { maxTokens?: number; relevanceThreshold?: number }): this {
    const { maxTokens = this.#state.constraints.maxTokens, relevanceThreshold = 0 } = checkOptions(options, 'maxTokens relevanceThreshold')
    this.#state.inputs = pruneInputs(this.#state.inputs, maxTokens, relevanceThreshold, this.#counter)
    return this
  }

  /**
   * Sets the routing: a registered `model` (its provider from the registry), or a `strategy` that
   * picks among the models whose window fits the inputs (at most `constraints.maxTokens` of them)
   * plus `routing.maxOutputTokens` (default 1024) and whose cost fits `constraints.maxCost`: the
   * models of the executor's providers when the context has an executor. Chainable. The registry is
   * the runtime's `router`, else the executor's (`new Executor()` holds the built-in models): the
   * model table is bundled with the executor, not with `Context`. With neither, a `ValidationError`
   * at `router` names both fixes.
   */
  route(options?: { model?: string; provider?: string; strategy?: string }): this {
    const { model, provider, strategy } = checkOptions(options, 'model provider strategy')
    const { maxTokens = Infinity, maxCost } = this.#state.constraints
    const executor = this.#findExecutor()
    const router = this.#runtime.router ?? executor?.router
    if (!router) {
      throw invalid('router', 'none: route() needs a model registry; pass one in the runtime (new Context(config, { router: new Router() })) or an executor (its router)')
    }
    const among = model === undefined && strategy !== undefined ? executor?.models?.(router) : undefined
    const routing = router.route(this.#state.routing as JsonObject, model, provider, strategy, {
      inputTokens: Math.min(this.getTotalTokens(), maxTokens),
      outputTokens: this.#state.routing.maxOutputTokens ?? 1024,
      maxCost,
      among: among?.length ? among : undefined,
    })
    this.#state.routing = parse(RoutingSchema, routing, 'routing')
    return this
  }

  /**
   * Runs a task over the inputs with the context's executor (docs/reference.md#llm-execute); see
   * `Executor.execute`. The executor is the runtime's (`new Context(config, { executor })` or
   * `Context.fromJSON(json, { executor })`), else the one given to `setDefaultExecutor`.
   */
  async execute(request: ExecutionRequest): Promise<ExecutionResponse> {
    return this.#executor().execute(this.#modelContext(false), request)
  }

  /**
   * `execute` as a `ChatStream` (`for await` its parts, `textStream`, `toResponse()`; `result` is
   * what `execute` returns). Needs an executor with `streamExecute` (the `Executor` has it).
   */
  streamExecute(request: ExecutionRequest): ChatStream<ExecutionResponse> {
    const executor = this.#executor('streamExecute')
    return executor.streamExecute(this.#modelContext(false), request)
  }

  /**
   * A chat completion over the completion messages (docs/reference.md#voice-generate-chat-completion: the voice-agent platform's
   * `generate_chat_completion`), with tools; the reply is appended to the history unless
   * `append: false`. The executor is found as for `execute`. A tool loop (`maxSteps` > 1) appends
   * each step's assistant message and tool results as the step ends, so an abort keeps the steps done.
   */
  async generateChatCompletion(options?: ChatOptions): Promise<ChatResult> {
    const { context, added } = this.#chatContext(options)
    const result = await this.#executor().chat(context, options)
    // An executor of its own that never calls onMessage: its reply is appended as before.
    if (!added() && options?.append !== false) this.addCompletionMessage(result.message)
    return result
  }

  /**
   * `generateChatCompletion` as a `ChatStream` (see it): what it appends is appended as each step
   * ends. Needs an executor with `streamChat` (the `Executor` has it).
   */
  streamChatCompletion(options?: ChatOptions): ChatStream<ChatResult> {
    const executor = this.#executor('streamChat')
    return executor.streamChat(this.#chatContext(options).context, options)
  }

  /**
   * A JSON object typed by `request.schema` (a valibot or other Standard Schema, or a JSON Schema):
   * `{ object, usage, cost, … }`. `task` runs over the inputs as `execute` does; `messages`, or else
   * the completion messages, as a chat. Appends nothing to the history. An answer that is not JSON,
   * or fails the schema, is an `OutputError` with the raw text and the issues. Needs an executor
   * with `object` (the `Executor` has it).
   */
  async generateObject<S>(request: ObjectRequest<S>): Promise<ObjectResult<InferSchemaOutput<S>>> {
    const executor = this.#executor('object')
    return executor.object(this.#modelContext(request?.task === undefined), request)
  }

  /**
   * `generateObject` as it streams: `for await` deep-partial objects (each emitted when it changed),
   * then `object` and `result` (see `ObjectStream`); cancelled by `request.signal` or `cancel()`.
   * Needs an executor with `streamObject` (the `Executor` has it).
   */
  streamObject<S>(request: ObjectRequest<S>): ObjectStream<InferSchemaOutput<S>> {
    const executor = this.#executor('streamObject')
    return executor.streamObject(this.#modelContext(request?.task === undefined), request)
  }

  /** A chat's ModelContext: each message the executor reports is appended (unless `append: false`) and counted. */
  #chatContext(options: ChatOptions | undefined): { context: ModelContext; added: () => number } {
    let added = 0
    const append = options?.append !== false
    const onMessage = (message: CompletionMessage) => {
      added++
      if (append) this.addCompletionMessage(message)
    }
    return { context: { ...this.#modelContext(true), onMessage }, added: () => added }
  }

  /**
   * Input and output tokens, cost (USD, priced calls only) and calls, summed over every model call
   * made through this context: each provider call that reported usage, fallbacks, tool-loop steps,
   * streams and a failed call's partial included (see `UsageTotals`). Serialized with the context,
   * so a store keeps it; `extend` and `merge` start at zero (a call is counted in one context only).
   * A frozen copy.
   */
  get usage(): Readonly<UsageTotals> {
    return Object.freeze({ ...(this.#state.usage ?? NO_USAGE) })
  }

  /** The plain data a model call reads: copies, so that the call cannot change this context. */
  #modelContext(chat: boolean): ModelContext {
    return {
      // The store saves it with the rest of the state: `snapshot()` compares the whole of it.
      onUsage: (usage, cost) => (this.#state.usage = addUsage(this.#state.usage, usage, cost)),
      contextId: this.id,
      intent: this.intent,
      inputs: chat ? undefined : this.inputs,
      constraints: this.constraints,
      routing: this.routing,
      output: this.output,
      variables: this.#variables,
      messages: chat ? this.getCompletionMessages() : undefined,
    }
  }

  #findExecutor(): ExecutorLike | undefined {
    return checkExecutor(this.#runtime.executor, 'runtime.executor') ?? getDefaultExecutor()
  }

  /** The executor, which must have `method` when one is named (an `ExecutorLike` of one's own may lack the optional ones). */
  #executor<M extends keyof ExecutorLike = never>(method?: M): ExecutorLike & Required<Pick<ExecutorLike, M>> {
    const executor = this.#findExecutor()
    if (!executor) {
      throw invalid('executor', 'none: pass one in the runtime (new Context(config, { executor: new Executor({ providers: [openai()] }) })) or call setDefaultExecutor(...) once')
    }
    if (method && typeof executor[method] !== 'function') throw invalid('executor', `has no ${method}: use new Executor({ providers })`)
    return executor as ExecutorLike & Required<Pick<ExecutorLike, M>>
  }

  get #counter(): TokenCounter {
    return this.#runtime.tokenCounter ?? estimateTokens
  }

  /**
   * A child context (docs/reference.md#llm-extend). It inherits the inputs, intent, category,
   * constraints, routing, output, metadata, the session's identity, the variables and the runtime;
   * `parentId` is this context's id, the id is new. `config` overrides: a top-level field replaces
   * the parent's, and inside `constraints`, `output` and `metadata` a key replaces the parent's key
   * (the others are kept); `routing` is laid over as `overlayRouting` says (a new model, provider or
   * strategy replaces all three). Data, cache, history and tests are not inherited. This context is
   * not changed.
   */
  extend(config?: ContextConfig): Context {
    // Unknown keys are the constructor's to refuse (with the camelCase hint).
    const { constraints, routing, output, metadata, ...rest } = defined(config, 'config')
    const s = this.#state
    const child = new Context(
      {
        ...defined({ intent: s.intent, category: s.category, agentId: s.agentId, environment: s.environment, functionId: s.functionId, assignmentKey: s.assignmentKey }),
        sessionId: s.sessionId,
        variables: this.#variables,
        ...rest,
        constraints: { ...s.constraints, ...defined(constraints, 'config.constraints') },
        routing: overlayRouting(s.routing, defined(routing, 'config.routing')),
        output: { ...s.output, schema: this.#outputSchema ?? s.output.schema, ...defined(output, 'config.output') },
        metadata: { ...s.metadata, ...defined(metadata, 'config.metadata') },
        parentId: this.id,
      },
      this.#runtime,
    )
    child.#state.inputs = cloneJson(s.inputs as unknown as Json[]) as unknown as ContextInput[]
    return child
  }

  /**
   * A new context merging `other` into this one (docs/reference.md#llm-merge), with a new id:
   * - inputs: the union, this one's first; inputs whose data render the same JSON are kept once,
   *   at the highest relevance;
   * - constraints: every numeric limit either side sets, at the stricter (smaller) value;
   * - routing: `other`'s laid over this one's (`overlayRouting`: `other`'s keys win);
   * - metadata and output: merged key by key, `other` winning;
   * - intent and category: `other`'s when it has them;
   * - session identity, variables and runtime: this one's.
   */
  merge(other: Context): Context {
    if (!(other instanceof Context)) throw invalid('other', 'must be a Context')
    const a = this.#state
    const b = other.#state
    const constraints: Record<string, Json> = { ...a.constraints, ...b.constraints }
    for (const key in constraints) {
      const x = (a.constraints as JsonObject)[key]
      const y = (b.constraints as JsonObject)[key]
      if (typeof x === 'number' && typeof y === 'number') constraints[key] = Math.min(x, y)
    }
    const merged = new Context(
      {
        ...defined({ intent: b.intent ?? a.intent, category: b.category ?? a.category, agentId: a.agentId, environment: a.environment, functionId: a.functionId, assignmentKey: a.assignmentKey }),
        sessionId: a.sessionId,
        constraints,
        routing: overlayRouting(a.routing, b.routing),
        output: { ...a.output, ...b.output, schema: other.#outputSchema ?? b.output.schema ?? this.#outputSchema ?? a.output.schema },
        metadata: { ...a.metadata, ...b.metadata },
        variables: this.#variables,
      },
      this.#runtime,
    )
    const byData = new Map<string, ContextInput>()
    for (const input of [...a.inputs, ...b.inputs]) {
      const key = JSON.stringify(input.data)
      const seen = byData.get(key)
      if (!seen || input.relevance > seen.relevance) byData.set(key, cloneJson(input as unknown as JsonObject) as unknown as ContextInput)
    }
    merged.#state.inputs = [...byData.values()]
    return merged
  }

  // ── background tasks ──────────────────────────────────────────────────────────────────────────

  /**
   * Starts a background task. The handler gets an `AbortSignal` (pass it to every `fetch`) and this
   * context; an async generator's yields reach the session's output. `timeout` is in seconds
   * (default 30); a task of the same name as a running one replaces it.
   *
   * Work already started is taken too, as docs/reference.md#voice-create-task passes it:
   * `ctx.createTask(processOrder(ctx), { name: 'order_processing' })`, where `processOrder` is an
   * `async function*` (its yields are the task's events) or an `async function` (its promise). Only
   * a function receives the abort signal: cancelling a promise or iterator task stops waiting for it
   * and drops its later events (an iterator's `return()` runs a generator's `finally`), but a
   * promise's work cannot be stopped. Anything else (a string, `null`, a sync generator) is a
   * `ValidationError` naming `handler`.
   */
  createTask(handler: TaskSource<Context>, options?: TaskOptions): TaskInfo {
    this.#tasks ??= new TaskManager<Context>({
      context: this,
      emit: (value, task) => this.#sink.emit?.(value, task),
      started: (task, yields) => this.#sink.started?.(task, yields, this.currentTurnId),
      onError: (error, task) => (this.#sink.onError ? this.#sink.onError(error, task) : console.error(`agentctx: task ${JSON.stringify(task.name)} failed`, error)),
      waitUntil: (done) => {
        // The save after the task is part of what the platform waits for: on Workers, work started
        // after the last waitUntil promise settled may never run. Chained before waitUntil is called,
        // since waitUntil throws once the request is over.
        const saved = done.then(() => this.#sink.onSettled?.()).catch(() => {})
        this.#sink.waitUntil?.(saved)
      },
    })
    return this.#tasks.create(handler, options)
  }
  /** Cancels a task by name; true when one was running. */
  cancelTask(name: string): boolean {
    return this.#tasks?.cancel(name) ?? false
  }
  /** Cancels the tasks created with `interruptible: true` (a user barge-in); returns how many. */
  cancelInterruptibleTasks(): number {
    return this.#tasks?.cancelInterruptible() ?? 0
  }
  /** Cancels every task; returns how many. */
  cancelAllTasks(): number {
    return this.#tasks?.cancelAll() ?? 0
  }
  /** True while a task runs (a task that ignores its signal stops counting at its timeout). */
  hasUnfinishedTasks(): boolean {
    return this.#tasks?.hasUnfinished() ?? false
  }
  /** Resolves when every task (including ones created meanwhile) has finished or timed out. */
  waitForAllTasks(): Promise<void> {
    return this.#tasks?.waitForAll() ?? Promise.resolve()
  }

  // ── history on demand ─────────────────────────────────────────────────────────────────────────

  /**
   * Loads turns from the store this context was loaded from (a store keeps only the most recent
   * `recentTurns` in memory) and keeps them in memory, where `labels`, `requests`, `responses` and
   * `lastLabel` see them (in turn order). Resolves with how many turns were added to memory; 0 when
   * there are none or the context has no store.
   *
   * - `loadTurns()`: the next (up to) 100 stored turns below the ones in memory (gaps in the ids
   *   skipped); `{ all: true }`: every older one.
   * - `loadTurns({ from, to })`: the stored turns with ids from `from` (inclusive) to `to`
   *   (exclusive, as `Array.prototype.slice`; default: the current turn + 1). Negative ids count
   *   from the end, as in `getTurn` (`{ from: -10 }`: the last 10 turns). Integers with
   *   0 <= from <= to <= currentTurnId + 1 once resolved, else a `ValidationError`. A range below the
   *   turns in memory leaves a gap: `loadTurns()` still continues below the recent ones (reading any
   *   turn of the range again).
   */
  async loadTurns(options: { all?: boolean; from?: number; to?: number } = {}): Promise<number> {
    const { all, from, to } = checkOptions(options, 'all from to')
    const loader = this.#turnLoader
    if (from !== undefined || to !== undefined) {
      if (all !== undefined) throw invalid('options.all', 'not with from, to')
      const end = this.#turns.currentTurnId + 1
      const a = from === undefined ? 0 : this.#turnIndex(from, 'from')
      const b = to === undefined ? end : this.#turnIndex(to, 'to')
      if (a < 0 || a > end) throw invalid('from', `must be in 0..${end}, got ${from}`)
      if (b < a || b > end) throw invalid('to', `must be in ${a}..${end}, got ${to}`)
      // Every stored turn at or above the floor is in memory already: read only below it.
      const records = loader && a < this.#turnFloor ? await loader.range(a, Math.min(b, this.#turnFloor)) : []
      const added = records.filter((r) => !this.#turns.record(r.id)).length
      this.#turns.load(records)
      // Reaching the turns in memory: the contiguous part now starts at `from`.
      if (b >= this.#turnFloor) this.#turnFloor = Math.min(this.#turnFloor, a)
      return added
    }
    if (all !== undefined && typeof all !== 'boolean') throw invalid('options.all', 'must be a boolean')
    let loaded = 0
    // The loader returns the (up to) 100 existing turns below `before`, gaps in the ids skipped; none: no older turn.
    while (loader && this.#turnFloor > 0) {
      const older = await loader.older(this.#turnFloor)
      if (!older.length) break
      // Turns of a range loaded before are read again (not counted): they are replaced, unchanged.
      loaded += older.filter((r) => !this.#turns.record(r.id)).length
      this.#turns.load(older)
      for (const t of older) this.#turnFloor = Math.min(this.#turnFloor, t.id)
      if (!all) break
    }
    return loaded
  }

  /**
   * The turn `turnId`: `{ id, label?, request?, response? }` (frozen), or `undefined` when there is
   * no such turn. Negative ids count from the end: -1 is the current turn, -2 the one before (ids,
   * not positions: `currentTurnId + 1 + turnId`). From memory when the turn is there; else, on a
   * context loaded by a store, read from the store in one record read (not the history, not a page
   * of 100) and not kept in memory, so `labels`, `requests` and `responses` are unchanged (keep it
   * with `loadTurns({ from: id, to: id + 1 })`). Without a store: memory only. A `turnId` that is
   * not an integer within ±`MAX_TURN_ID` is a `ValidationError`.
   *
   * @example
   * const first = await ctx.getTurn(1) // { id: 1, request: { text: 'hi' }, response: … }
   * const { request } = (await ctx.getTurn(-1))! // the current turn
   */
  async getTurn(turnId: number): Promise<Readonly<TurnRecord> | undefined> {
    const id = this.#turnIndex(turnId, 'turnId')
    if (id < 0 || id > this.#turns.currentTurnId) return undefined
    const record = this.#turns.record(id) ?? (id < this.#turnFloor ? (await this.#turnLoader?.range(id, id + 1))?.[0] : undefined)
    return record && Object.freeze({ ...record })
  }

  /** A turn id given to `getTurn` / `loadTurns`, negative ones counted from the end (may resolve below 0). */
  #turnIndex(turnId: unknown, path: string): number {
    if (!Number.isSafeInteger(turnId) || (turnId as number) > MAX_TURN_ID || (turnId as number) < -MAX_TURN_ID - 1) {
      throw invalid(path, `must be an integer from -${MAX_TURN_ID + 1} to ${MAX_TURN_ID}, got ${typeof turnId === 'number' ? turnId : typeof turnId}`)
    }
    const n = turnId as number
    return n < 0 ? this.#turns.currentTurnId + 1 + n : n
  }

  // ── testing ───────────────────────────────────────────────────────────────────────────────────

  /** The testing and outcomes manager. */
  get testing(): Testing {
    return this.#testing
  }
  /** Adds an A/B test and returns this session's value (the same on every call; hashed on `assignmentKey ?? sessionId`). */
  addTest(name: string, options: TestOptions, description?: string, stop?: StopConditions): string {
    return this.#testing.addTest(name, options, description, stop)
  }
  /** This session's value of a test. */
  getTest(name: string): string {
    return this.#testing.getTest(name)
  }
  /** Adds several tests, all or none. */
  addTests(tests: TestDefinition[]): Record<string, string> {
    return this.#testing.addTests(tests)
  }
  /** Adds an outcome to track. */
  addOutcome(name: string, type: OutcomeType, description?: string): void {
    this.#testing.addOutcome(name, type, description)
  }
  /** Adds several outcomes, all or none. */
  addOutcomes(outcomes: OutcomeDefinition[]): void {
    this.#testing.addOutcomes(outcomes)
  }
  /** An outcome's current value (its type's default until set or triggered). */
  getOutcome(name: string): OutcomeValue {
    return this.#testing.getOutcome(name)
  }
  /** Sets an outcome; returns the previous value. */
  setOutcome(name: string, value: OutcomeValue): OutcomeValue {
    return this.#testing.setOutcome(name, value)
  }
  /** Boolean → true, number → +1; returns the new value. */
  triggerOutcome(name: string): OutcomeValue {
    return this.#testing.triggerOutcome(name)
  }
  /** Back to the type's default; returns the previous value. */
  resetOutcome(name: string): OutcomeValue {
    return this.#testing.resetOutcome(name)
  }
  /** Sets a testing metadata value (any JSON), stored with the session's tests. */
  setTestingMetadata(key: string, value: unknown): void {
    this.#testing.setMetadata(key, value)
  }
  /** A testing metadata value, or `fallback` when the key was never set; typed as `getData`. */
  getTestingMetadata(key: string): Json | undefined
  getTestingMetadata<T>(key: string, fallback: T): Widen<T>
  getTestingMetadata(key: string, fallback?: unknown): unknown {
    return this.#testing.getMetadata(key, fallback)
  }
}

/** Variables are strings by key. Checked without ever echoing a value: they hold API keys. */
function checkVariables(variables: unknown): Readonly<Record<string, string>> {
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
    throw invalid('variables', 'must be an object of strings')
  }
  for (const [key, value] of Object.entries(variables)) {
    if (typeof value !== 'string') throw invalid(`variables.${key}`, 'must be a string')
  }
  return Object.freeze({ ...(variables as Record<string, string>) })
}
