import * as v from 'valibot'
import { ContextError, invalid } from '../errors.js'
import { OutcomeRecordSchema } from '../experiments/session/outcomes.js'
import { TestRecordSchema } from '../experiments/session/tests.js'
import type { OutcomeRecord } from '../experiments/session/outcomes.js'
import type { TestRecord } from '../experiments/session/tests.js'
import { CacheEntrySchema, type CacheEntry } from './cache.js'
import type { Json, JsonObject } from './json.js'
import { CompletionMessageSchema, type CompletionMessage } from './messages.js'
import { TurnIdSchema, TurnRecordSchema, type TurnRecord } from './turns.js'
import { int, JsonRecord, JsonValue, nonEmpty, parse, range, record } from './validate.js'

/** The serialized format version this build writes. `fromJSON` refuses any other. */
export const FORMAT_VERSION = 1

const Id = nonEmpty(512)

/** Hard limits: maxTokens, maxTime (seconds), maxCost (USD). Unknown keys are refused, to catch typos. */
const ConstraintsSchema = v.strictObject({
  maxTokens: v.optional(int(1)),
  maxTime: v.optional(v.pipe(v.number(), v.check((n) => n > 0, 'must be > 0'))),
  maxCost: v.optional(range(0)),
})

/** Routing hints. Unknown keys are refused, to catch typos (custom data belongs in `metadata`). */
const routingSchema = v.strictObject({
  model: v.optional(v.string()),
  provider: v.optional(v.string()),
  strategy: v.optional(v.picklist(['cost_optimized', 'quality_optimized', 'speed_optimized'])),
  temperature: v.optional(range(0, 2)),
  maxOutputTokens: v.optional(int(1)),
  fallbacks: v.optional(v.array(v.string())),
})

/** Output shaping: `format` and a JSON Schema (a Standard Schema object is runtime, kept out of JSON). */
const OutputSchema = v.strictObject({
  format: v.optional(v.picklist(['json', 'markdown', 'text', 'html'])),
  schema: v.optional(JsonValue),
})

/** `ctx.usage` as stored: absent until the first model call (a state written before it existed reads as zeros). */
const UsageSchema = v.strictObject({
  inputTokens: int(0),
  outputTokens: int(0),
  cost: range(0),
  calls: int(0),
  unpricedCalls: int(0),
  estimated: v.optional(v.literal(true)),
})

const InputSchema = v.strictObject({
  data: JsonValue,
  relevance: range(0, 1),
  tokens: int(0),
})

// The whole serialized context, version 1; exported below with its declared type.
const contextStateSchema = v.strictObject({
  version: v.literal(FORMAT_VERSION),
  id: Id,
  sessionId: Id,
  assignmentKey: v.optional(Id),
  agentId: v.optional(v.string()),
  environment: v.optional(v.string()),
  functionId: v.optional(v.string()),
  intent: v.optional(v.string()),
  category: v.optional(v.string()),
  parentId: v.optional(Id),
  constraints: ConstraintsSchema,
  routing: routingSchema,
  output: OutputSchema,
  metadata: JsonRecord,
  data: JsonRecord,
  cache: record(CacheEntrySchema),
  messages: v.array(CompletionMessageSchema),
  currentTurnId: TurnIdSchema,
  turns: v.pipe(
    v.array(TurnRecordSchema),
    v.check((turns) => turns.every((t, i) => i === 0 || t.id > turns[i - 1]!.id), 'turn ids must be strictly ascending'),
  ),
  frameworkData: v.strictObject({
    currentNode: v.optional(JsonValue),
    stats: JsonRecord,
    slots: JsonRecord,
  }),
  inputs: v.array(InputSchema),
  usage: v.optional(UsageSchema),
  testing: v.strictObject({
    tests: record(TestRecordSchema),
    outcomes: record(OutcomeRecordSchema),
    metadata: JsonRecord,
  }),
})

/** Routing as stored: the hints `route` and `execute` read. */
export type RoutingState = {
  /** The model to call, by its registry id. */
  model?: string
  /** The provider that serves it. */
  provider?: string
  /** The strategy that picks the model when none is named. */
  strategy?: 'cost_optimized' | 'quality_optimized' | 'speed_optimized'
  /** Sampling temperature, 0 to 2. */
  temperature?: number
  /** Most output tokens to ask for. */
  maxOutputTokens?: number
  /** Models tried in order after a retryable or context-window failure. */
  fallbacks?: string[]
}

/**
 * Model calls summed: what `ctx.usage` returns and what the context serializes. Every provider call
 * that reported usage counts once: a success, and a failed or aborted call's partial (a broken
 * stream is billed for what it produced); a fallback attempt is a call of its own. A provider's own
 * HTTP retries of a 429 or 5xx are inside one call (a refused request produced no tokens).
 */
export interface UsageTotals {
  /** Prompt tokens, summed. */
  inputTokens: number
  /** Reply tokens, summed. */
  outputTokens: number
  /** USD, summed over the priced calls only: a model without prices adds its tokens and to `unpricedCalls`, not to `cost`. */
  cost: number
  /** Provider calls counted (each step of a tool loop, each fallback attempt that reported usage). */
  calls: number
  /** Calls whose model has no prices in the router (`registerModel` it to price them): `cost` leaves them out. */
  unpricedCalls: number
  /** Present (true) when some call's usage was estimated (a provider that did not report it, a stream cut short). */
  estimated?: true
}

/** The serialized context, version 1: what `toJSON()` returns and `fromJSON()` reads. Every key camelCase. */
export type ContextState = {
  /** The format version (`FORMAT_VERSION`); a state of another version is refused. */
  version: typeof FORMAT_VERSION
  /** The context's id (`ctx.id`). */
  id: string
  /** The session it belongs to. */
  sessionId: string
  /** What A/B assignment hashes (a user id), when it is not the session id. Optional: states written before issue 10 load without it. */
  assignmentKey?: string
  /** The agent the session belongs to. */
  agentId?: string
  /** The environment's name and id, one opaque string. */
  environment?: string
  /** The function running. */
  functionId?: string
  /** What model calls over it are for. */
  intent?: string
  /** A finer label than `intent`. */
  category?: string
  /** The context it was `extend`ed from. */
  parentId?: string
  /** Times in seconds, cost in USD. */
  constraints: {
    /** The token budget of the inputs and of the whole prompt. */
    maxTokens?: number
    /** Longest time for a call, in seconds. */
    maxTime?: number
    /** Most a call may cost, in USD. */
    maxCost?: number
  }
  /** Routing hints. */
  routing: RoutingState
  /** Output shaping; only a JSON Schema is stored (a Standard Schema is runtime only). */
  output: {
    /** `json`, `markdown`, `text` or `html`. */
    format?: 'json' | 'markdown' | 'text' | 'html'
    /** A JSON Schema of the structured output. */
    schema?: Json
  }
  /** Free metadata. */
  metadata: JsonObject
  /** Custom session data (`getData` / `setData`). */
  data: JsonObject
  /** The cache (`cacheSet`), by key. */
  cache: Record<string, CacheEntry>
  /** The completion history. */
  messages: CompletionMessage[]
  /** The id of the current turn. */
  currentTurnId: number
  /** Turns in ascending id order. */
  turns: TurnRecord[]
  /** The dialog framework's node, stats and slots. */
  frameworkData: {
    /** The dialog framework's current node. */
    currentNode?: Json
    /** The framework's statistics. */
    stats: JsonObject
    /** The slots the dialog has filled. */
    slots: JsonObject
  }
  /** The LLM context's inputs, in the order added. */
  inputs: {
    /** The input itself, any JSON. */
    data: Json
    /** How relevant it is, 0 to 1. */
    relevance: number
    /** Its size in tokens. */
    tokens: number
  }[]
  /** Model calls summed (`ctx.usage`); absent until the first call. Optional, so version 1 states written before it load as zeros. */
  usage?: UsageTotals
  /** The A/B tests, outcomes and testing metadata of the session. */
  testing: {
    /** The A/B tests, by name, with this session's values. */
    tests: Record<string, TestRecord>
    /** The outcomes, by name, with their values. */
    outcomes: Record<string, OutcomeRecord>
    /** Testing metadata (`setTestingMetadata`). */
    metadata: JsonObject
  }
}

// The schemas are published with these shallow declared types, not their inferred ones: the
// inferred type of `contextStateSchema`, spelled out in the .d.ts, was 148 lines holding 145 valibot
// generics, and a consumer's `tsc --strict` without skipLibCheck failed on it with TS2589
// ("excessively deep"), under every moduleResolution (test/package/consumer.node.test.ts).
// `Same` keeps the hand-written types honest: a field added to a schema and not to its interface (or
// the reverse, or a changed type or optionality) fails `npm run typecheck`.
type Same<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false
true satisfies Same<v.InferOutput<typeof routingSchema>, RoutingState>
true satisfies Same<v.InferOutput<typeof contextStateSchema>, ContextState>

/** Validates routing hints (`route`, `execute({ overrideRouting })`). Unknown keys are refused. */
export const RoutingSchema: v.GenericSchema<RoutingState> = routingSchema

/** Validates a whole serialized context; `parseState` adds the limits and cross-field checks. */
export const ContextStateSchema: v.GenericSchema<ContextState> = contextStateSchema

/** Limits on serialized input, against hostile or accidental giant documents. */
export interface ParseLimits {
  /** Longest JSON string accepted, in UTF-16 code units. Default 16 MiB (real contexts are KBs to a few MBs). */
  maxLength?: number
  /** Deepest nesting accepted. Default 72: the 64 levels any one value may have (see `toJson`) plus
   * the levels the format wraps around it (3, at `turns[i].request`), rounded up. The check recurses
   * one frame a level: keep it in the hundreds, or a hostile document can exhaust the stack. */
  maxDepth?: number
}

/**
 * Parses and validates serialized state (a JSON string or an already-parsed object). Every failure is
 * a `ContextError` naming the path of the first problem: `invalid_state`, `unsupported_version`, or
 * `too_large`. The result is a fresh copy: nothing of the input is shared.
 */
export function parseState(input: string | object, limits?: ParseLimits): ContextState {
  const fail = (code: 'invalid_state' | 'too_large', problem: string) => new ContextError(code, `state: ${problem}`, { path: '(root)' })
  let value: unknown = input
  if (typeof input === 'string') {
    const maxLength = limits?.maxLength ?? 16 * 1024 * 1024
    if (input.length > maxLength) throw fail('too_large', `${input.length} characters is over the limit of ${maxLength}`)
    try {
      value = JSON.parse(input)
    } catch {
      // The parser's message is left out: engines quote the text around the error, which may be user data.
      throw fail('invalid_state', 'not valid JSON')
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('invalid_state', 'must be a JSON object')
  const version = (value as { version?: unknown }).version
  if (version !== FORMAT_VERSION) {
    // Only a number is shown: echoing any other value could throw (a bigint) or be huge.
    throw new ContextError('unsupported_version', `version: ${typeof version === 'number' ? version : typeof version} is not ${FORMAT_VERSION}, the only format this build reads`, {
      path: 'version',
    })
  }
  const state = parse(ContextStateSchema, value, '', 'invalid_state', { maxDepth: limits?.maxDepth ?? 72 }) as ContextState
  // The next request goes to currentTurnId + 1: a turn past currentTurnId would be overwritten.
  if ((state.turns.at(-1)?.id ?? 0) > state.currentTurnId) {
    throw invalid('currentTurnId', 'must be >= the last turn id', 'invalid_state')
  }
  return state
}

export type { Json }
