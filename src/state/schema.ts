import * as v from 'valibot'
import { ContextError } from '../errors.js'
import { OutcomeRecordSchema } from '../testing/outcomes.js'
import { TestRecordSchema } from '../testing/tests.js'
import { CacheEntrySchema } from './cache.js'
import type { Json } from './json.js'
import { CompletionMessageSchema } from './messages.js'
import { TurnRecordSchema } from './turns.js'
import { int, JsonRecord, JsonValue, nonEmpty, parse, range } from './validate.js'

/** The serialized format version this build writes. `fromJSON` refuses any other. */
export const FORMAT_VERSION = 1

const Id = nonEmpty(512)

/** Hard limits: maxTokens, maxTime (seconds), maxCost (USD). Unknown keys are refused, to catch typos. */
export const ConstraintsSchema = v.strictObject({
  maxTokens: v.optional(int(1)),
  maxTime: v.optional(v.pipe(v.number(), v.check((n) => n > 0, 'must be > 0'))),
  maxCost: v.optional(range(0)),
})

/** Routing hints. Unknown keys are refused, to catch typos (custom data belongs in `metadata`). */
export const RoutingSchema = v.strictObject({
  model: v.optional(v.string()),
  provider: v.optional(v.string()),
  strategy: v.optional(v.picklist(['cost_optimized', 'quality_optimized', 'speed_optimized'])),
  temperature: v.optional(range(0, 2)),
  maxOutputTokens: v.optional(int(1)),
  fallbacks: v.optional(v.array(v.string())),
})

/** Output shaping: `format` and a JSON Schema (a Standard Schema object is runtime, kept out of JSON). */
export const OutputSchema = v.strictObject({
  format: v.optional(v.picklist(['json', 'markdown', 'text', 'html'])),
  schema: v.optional(JsonValue),
})

const InputSchema = v.strictObject({
  data: JsonValue,
  relevance: range(0, 1),
  tokens: int(0),
})

/** The whole serialized context, version 1. Every key camelCase. */
export const ContextStateSchema = v.strictObject({
  version: v.literal(FORMAT_VERSION),
  id: Id,
  sessionId: Id,
  agentId: v.optional(v.string()),
  environment: v.optional(v.string()),
  functionId: v.optional(v.string()),
  intent: v.optional(v.string()),
  category: v.optional(v.string()),
  parentId: v.optional(Id),
  constraints: ConstraintsSchema,
  routing: RoutingSchema,
  output: OutputSchema,
  metadata: JsonRecord,
  data: JsonRecord,
  cache: v.record(v.string(), CacheEntrySchema),
  messages: v.array(CompletionMessageSchema),
  currentTurnId: int(0),
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
  testing: v.strictObject({
    tests: v.record(v.string(), TestRecordSchema),
    outcomes: v.record(v.string(), OutcomeRecordSchema),
    metadata: JsonRecord,
  }),
})

/** The serialized context: what `toJSON()` returns and `fromJSON()` reads. */
export type ContextState = v.InferOutput<typeof ContextStateSchema>

/** Limits on serialized input, against hostile or accidental giant documents. */
export interface ParseLimits {
  /** Longest JSON string accepted, in UTF-16 code units. Default 16 MiB (real contexts are KBs to a few MBs). */
  maxLength?: number
  /** Deepest nesting accepted. Default 64. */
  maxDepth?: number
}

/**
 * Parses and validates serialized state (a JSON string or an already-parsed object). Every failure is
 * a `ContextError` naming the path of the first problem: `invalid_state`, `unsupported_version`, or
 * `too_large`. The result is a fresh copy: nothing of the input is shared.
 */
export function parseState(input: string | object, limits?: ParseLimits): ContextState {
  let value: unknown = input
  if (typeof input === 'string') {
    const maxLength = limits?.maxLength ?? 16 * 1024 * 1024
    if (input.length > maxLength) {
      throw new ContextError('too_large', `state: ${input.length} characters is over the limit of ${maxLength}`, { path: '(root)' })
    }
    try {
      value = JSON.parse(input)
    } catch (e) {
      throw new ContextError('invalid_state', `state: not valid JSON (${(e as Error).message.slice(0, 100)})`, { path: '(root)' })
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ContextError('invalid_state', 'state: must be a JSON object', { path: '(root)' })
  }
  const version = (value as { version?: unknown }).version
  if (version !== FORMAT_VERSION) {
    throw new ContextError('unsupported_version', `state.version: ${String(JSON.stringify(version)).slice(0, 40)} is not a format this build reads (it reads ${FORMAT_VERSION})`, {
      path: 'version',
    })
  }
  return parse(ContextStateSchema, value, '', 'invalid_state', { maxDepth: limits?.maxDepth ?? 64 }) as ContextState
}

export type { Json }
