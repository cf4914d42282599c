import * as v from 'valibot'
import { ContextError, ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'
import { int, parseJson, range, record } from '../state/validate.js'
import { showKey } from '../storage/adapter.js'
import type { Contribution, Shard } from './aggregates.js'
import { StopConditionsSchema, type StopConditions } from './session/tests.js'

// Every record read back is checked before use: storage is hostile until checked (DESIGN.md § 8).
// A count that is not a non-negative integer, or a sum that is not a finite number, would turn every
// later figure into NaN; a bad record is a ValidationError naming its key, and nothing is written.

const Finite = v.pipe(v.number(), v.check((x: number) => Number.isFinite(x), 'must be a finite number'))
// Past 2^53 − 1 an increment is lost to rounding (2^53 + 1 === 2^53): such a count is corrupt, not large.
const Count = v.pipe(int(0), v.check((n: number) => n <= Number.MAX_SAFE_INTEGER, 'must be at most 2^53 - 1'))

/** True when `json` holds an own `"__proto__"` key at any depth (`JSON.parse` makes one; copying it into an object would set that object's prototype). */
const hasProto = (json: Json): boolean =>
  typeof json === 'object' && json !== null && (Object.hasOwn(json, '__proto__') || Object.values(json).some(hasProto))

/** A test's definition as first recorded: options in order with their weights, stop conditions, and how many shards its aggregates use. */
export interface Definition {
  options: [value: string, weight: number][]
  stop: StopConditions
  shards: number
}
const DefinitionSchema = v.strictObject({
  options: v.pipe(
    v.array(v.tuple([v.string(), v.pipe(Finite, v.check((w) => w >= 0, 'must be >= 0'))])),
    v.check((o) => o.length > 0 && o.some(([, w]) => w > 0), 'needs an option with a weight above 0'),
    v.check((o) => new Set(o.map(([value]) => value)).size === o.length, 'option values must be distinct'),
  ),
  stop: StopConditionsSchema,
  shards: v.pipe(Count, v.check((n) => n >= 1 && n <= 256, 'must be in 1..256')),
})

const ShardSchema = v.strictObject({
  rev: Count,
  sessions: v.array(Count),
  outcomes: record(v.array(v.tuple([Count, Finite, v.pipe(Finite, v.check((x) => x >= 0, 'must be >= 0'))]))),
})

const ContributionSchema = v.strictObject({ option: Count, outcomes: record(Finite) })

/** Running state of a test's evaluations: the running minimum p-value of each option against the control (index 0 unused). */
export interface EvaluationState {
  pValues: number[]
}
const StateSchema = v.strictObject({ pValues: v.array(range(0, 1)) })

/** A test's conclusion, as stored and as given to `onConclude`. */
export interface Conclusion {
  /** The test's name. */
  test: string
  /** The value every later session gets. */
  value: string
  /** Which stop rule ended the test: `maxIterations`, `maxConfidence`, or `both`. */
  reason: 'maxIterations' | 'maxConfidence' | 'both'
  /** Sequential confidence (0–100) at the conclusion. */
  confidence: number
  /** Sessions recorded for the test at the conclusion. */
  iterations: number
  /** When it concluded (ISO 8601). */
  concludedAt: string
}
const ConclusionSchema = v.strictObject({
  test: v.string(),
  value: v.string(),
  reason: v.picklist(['maxIterations', 'maxConfidence', 'both']),
  confidence: range(0, 100),
  iterations: Count,
  concludedAt: v.string(),
})

/** `json` checked against `schema`, or a `ValidationError` (`invalid_state`) naming the stored key and the problem. */
function read<S extends v.GenericSchema>(schema: S, json: Json | undefined, key: string): v.InferOutput<S> | undefined {
  if (json === undefined) return undefined
  if (hasProto(json)) throw badRecord(key, 'holds the key "__proto__"')
  try {
    return parseJson(schema, json, 'record', 'invalid_state')
  } catch (e) {
    throw new ValidationError('invalid_state', `experiments: the stored record ${showKey(key)} is invalid: ${(e as ContextError).message}`, { path: key })
  }
}

/** A bad stored record: a `ValidationError` naming its key. */
export const badRecord = (key: string, problem: string) =>
  new ValidationError('invalid_state', `experiments: the stored record ${showKey(key)} is invalid: ${problem}`, { path: key })

export const readDefinition = (json: Json | undefined, key: string): Definition | undefined => read(DefinitionSchema, json, key)
export const readState = (json: Json | undefined, key: string): EvaluationState | undefined => read(StateSchema, json, key)

export function readConclusion(json: Json | undefined, key: string, test: string): Conclusion | undefined {
  const c = read(ConclusionSchema, json, key)
  if (c && c.test !== test) throw badRecord(key, `record.test: names another test`)
  return c
}

/** A shard of a test with `options` options: every per-option array must have that length. */
export function readShard(json: Json | undefined, key: string, options: number): Shard | undefined {
  const shard = read(ShardSchema, json, key) as Shard | undefined
  if (!shard) return undefined
  if (shard.sessions.length !== options) throw badRecord(key, `record.sessions: must hold ${options} counts, one per option`)
  for (const name of Object.keys(shard.outcomes)) {
    const per = shard.outcomes[name]!
    if (per.length !== options) throw badRecord(key, `record.outcomes.${name}: must hold ${options} aggregates, one per option`)
    // An outcome is counted in a session only with the session itself: more outcome counts than sessions is corrupt.
    per.forEach(([n], i) => {
      if (n > shard.sessions[i]!) throw badRecord(key, `record.outcomes.${name}[${i}]: counts more sessions than the option has`)
    })
  }
  return shard
}

/** A session's contribution to a test with `options` options. */
export function readContribution(json: Json | undefined, key: string, options: number): Contribution | undefined {
  const c = read(ContributionSchema, json, key) as Contribution | undefined
  if (c && c.option >= options) throw badRecord(key, `record.option: must be below ${options}`)
  return c
}
