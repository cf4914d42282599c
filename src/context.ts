import { nanoid } from 'nanoid'
import { checkKey, ContextError, invalid } from './errors.js'
import { Cache, type CacheSetOptions, type EntityType } from './state/cache.js'
import { cloneJson, deepFreeze, toJson, type Json, type JsonObject } from './state/json.js'
import { CompletionMessageSchema, type CompletionMessage } from './state/messages.js'
import { ContextStateSchema, FORMAT_VERSION, parseState, type ContextState, type ParseLimits } from './state/schema.js'
import { toNodeLabel, toTurnMessage, TurnMap, Turns, type NodeLabel, type TurnMessage } from './state/turns.js'
import { parse, unknownKey } from './state/validate.js'
import type { ContextInput } from './llm/types.js'
import type { OutcomeDefinition, OutcomeType, OutcomeValue } from './testing/outcomes.js'
import type { StopConditions, TestDefinition } from './testing/tests.js'
import { Testing, type TestingState } from './testing/testing.js'

/** Hard limits on an execution. Times in seconds, cost in USD, as the LLM document gives them. */
export interface Constraints {
  maxTokens?: number
  maxTime?: number
  maxCost?: number
  [key: string]: Json | undefined
}

/** Routing hints for `execute`. */
export interface Routing {
  model?: string
  provider?: string
  strategy?: 'cost_optimized' | 'quality_optimized' | 'speed_optimized'
  temperature?: number
  maxOutputTokens?: number
  /** Models tried in order when a call fails with a retryable or context-window error. */
  fallbacks?: string[]
  [key: string]: Json | undefined
}

/** Output shaping. `schema` may be JSON Schema (stored) or any Standard Schema (runtime only, never stored). */
export interface Output {
  format?: 'json' | 'markdown' | 'text' | 'html'
  schema?: unknown
  [key: string]: unknown
}

/** Everything `new Context(config)` takes, from the voice-agent, dialog and LLM documents. */
export interface ContextConfig {
  intent?: string
  category?: string
  constraints?: Constraints
  routing?: Routing
  output?: Output
  metadata?: JsonObject
  parentId?: string
  /** The context's id; a nanoid when absent. `id` and `contextId` are the same value. */
  contextId?: string
  agentId?: string
  environment?: string
  /** A nanoid when absent. */
  sessionId?: string
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
  /** Uniform [0, 1) source for A/B draws. Default: `crypto.getRandomValues`. */
  random?: () => number
  /** Limits applied by `fromJSON` to untrusted input. */
  limits?: ParseLimits
}

/** Framework data of the dialog document: pipeline bookkeeping next to the conversation. */
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
const CONFIG_KEYS = 'intent category constraints routing output metadata parentId contextId agentId environment sessionId functionId variables data'.split(' ')

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
  readonly #labels = new TurnMap<NodeLabel>(() => this.#turns, 'label')
  readonly #requests = new TurnMap<TurnMessage>(() => this.#turns, 'request')
  readonly #responses = new TurnMap<TurnMessage>(() => this.#turns, 'response')

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
   * `options` takes an `id` (the dialog document's name) or any other `ContextConfig` field.
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
    this.#testing = new Testing(testing as TestingState, this.#runtime.random)
    this.#frameworkData = { serviceStates: {}, currentNode: frameworkData.currentNode, stats: frameworkData.stats, slots: frameworkData.slots }
    this.#dataView = undefined
  }

  /** The plain JSON form: `JSON.stringify(ctx)` works. Versioned, camelCase, no runtime inputs. */
  toJSON(): ContextState {
    const { currentNode, stats, slots } = this.#frameworkData
    const state = {
      ...cloneJson(this.#state as unknown as JsonObject),
      cache: this.#cache.toJSON(),
      currentTurnId: this.#turns.currentTurnId,
      turns: this.#turns.records().map((r) => cloneJson(r as unknown as JsonObject)),
      frameworkData: toJson(currentNode === undefined ? { stats, slots } : { currentNode, stats, slots }, 'frameworkData'),
      testing: this.#testing.toJSON(),
    }
    return state as unknown as ContextState
  }

  // ── identity ──────────────────────────────────────────────────────────────────────────────────

  /** The context's unique id (the dialog document's `id`). */
  get id(): string {
    return this.#state.id
  }
  /** The same value as `id` (the LLM document's `contextId`). */
  get contextId(): string {
    return this.#state.id
  }
  get agentId(): string | undefined {
    return this.#state.agentId
  }
  get environment(): string | undefined {
    return this.#state.environment
  }
  get sessionId(): string {
    return this.#state.sessionId
  }
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

  /** A copy of a data key's value, or `fallback` when the key was never set (a stored `0`, `false`, `""` or `null` is returned). */
  getData<T = Json>(key: string, fallback?: T): Json | T | undefined {
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

  /** The dialog document's name for custom data: the same store as `data`. */
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

  /** Appends a message after validating it (role, content, tool calls). */
  addCompletionMessage(message: CompletionMessage): void {
    this.#state.messages.push(parse(CompletionMessageSchema, message, 'message'))
  }

  /** Replaces the whole history, all or nothing: one bad message leaves the old history in place. */
  setCompletionMessages(messages: CompletionMessage[]): void {
    if (!Array.isArray(messages)) throw invalid('messages', 'must be an array')
    this.#state.messages = messages.map((m, i) => parse(CompletionMessageSchema, m, `messages[${i}]`))
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
    if (this.#labels.lastKey() === undefined) {
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

  get intent(): string | undefined {
    return this.#state.intent
  }
  get category(): string | undefined {
    return this.#state.category
  }
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

  // ── testing ───────────────────────────────────────────────────────────────────────────────────

  /** The testing and outcomes manager. */
  get testing(): Testing {
    return this.#testing
  }
  /** Adds an A/B test and returns this session's value (the same on every call). */
  addTest(name: string, options: Record<string, number>, description?: string, stop?: StopConditions): string {
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
  setTestingMetadata(key: string, value: unknown): void {
    this.#testing.setMetadata(key, value)
  }
  getTestingMetadata<T = Json>(key: string, fallback?: T): Json | T | undefined {
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
