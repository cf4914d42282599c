import * as v from 'valibot'
import { checkKey, ContextError, invalid } from '../../errors.js'
import { formatPath } from '../../state/json.js'
import { int, parse, range } from '../../state/validate.js'
import { chooseOption, hashBucket } from './hash.js'

/**
 * When a test concludes (checked across sessions by `createExperiments` in `agentctx/experiments`):
 * after `maxIterations` sessions, when confidence in `targetOutcome` reaches `maxConfidence` (0–100),
 * either condition (`stopOn: 1`) or both (`stopOn: 2`); then every later session gets `default`;
 * `notify` lists who to tell.
 */
export const StopConditionsSchema = v.strictObject({
  /** Sessions after which the test may conclude. */
  maxIterations: v.optional(int(1)),
  /** Confidence (0–100) in `targetOutcome` at which the test may conclude. */
  maxConfidence: v.optional(range(0, 100)),
  /** The outcome the confidence is about. */
  targetOutcome: v.optional(v.string()),
  /** 1 (the default): either condition concludes the test; 2: both are needed. */
  stopOn: v.optional(v.picklist([1, 2])),
  /** The value every later session gets once it concludes; the winner when absent. */
  default: v.optional(v.string()),
  /** Who to tell when it concludes (in the webhook's body). */
  notify: v.optional(v.array(v.string())),
})
/** Stop conditions of an A/B test. */
export type StopConditions = v.InferOutput<typeof StopConditionsSchema>

/**
 * A test's options and their weights: an object (`{ a: 0.5, b: 0.5 }`), or `[value, weight]` pairs
 * when the order matters. The order decides which bucket range each option owns (the first option is
 * the control in `agentctx/experiments`' reports), and JavaScript puts an object's integer-like keys
 * (`"1"`, `"2"`) first, in ascending order, whatever order they were written in: `{ '2': 1, '1': 1 }`
 * is `1, 2`. Weights need not sum to 1; each must be a finite number >= 0, with at least one above 0.
 */
export type TestOptions = Record<string, number> | ReadonlyArray<readonly [value: string, weight: number]>

/** A test as stored: its options in order, and the value this session got. */
export type TestRecord = {
  /** `[value, weight]` pairs, in the order given (a state written with an object of weights loads as its entries). */
  options: [string, number][]
  /** What the test tests, for people reading the report; `''` when none was given. */
  description: string
  /** When `agentctx/experiments` concludes it; `{}` when none were given. */
  stop: StopConditions
  /** The option this session got: drawn from the assignment key's hash, or a conclusion's value. */
  value: string
  /** The value is a concluded test's (`applyConclusions`), not a draw: such a session was not randomized. */
  concluded?: true
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * Reads options as `[value, weight]` pairs (an object of weights as its entries): the pairs, copied,
 * or where (segments below the options) and why they are not valid: distinct string values other than
 * "__proto__", finite weights >= 0, and a positive finite sum. One check for `addTest` and for stored
 * states, whose shape it also upgrades (an object of weights, written before issue 10).
 */
function readOptions(options: unknown): { pairs: [string, number][] } | { at: (string | number)[]; problem: string } {
  if (!Array.isArray(options) && !isObject(options)) return { at: [], problem: 'must be an object of weights or an array of [value, weight] pairs' }
  const entries: unknown[] = Array.isArray(options) ? options : Object.entries(options)
  const pairs: [string, number][] = []
  const seen = new Set<string>()
  let total = 0
  for (let i = 0; i < entries.length; i++) {
    const pair = entries[i]
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || pair[0] === '__proto__') {
      return { at: [i], problem: 'must be a [value, weight] pair, value a string (not "__proto__")' }
    }
    const [value, weight] = pair as [string, unknown]
    if (seen.has(value)) return { at: [value], problem: 'is given twice' }
    // `!(weight >= 0)` also catches NaN.
    if (typeof weight !== 'number' || !(weight >= 0) || weight === Infinity) {
      return { at: [value], problem: `the weight must be a finite number >= 0, not ${typeof weight === 'number' ? weight : typeof weight}` }
    }
    seen.add(value)
    total += weight
    pairs.push([value, weight + 0]) // -0 as 0, as JSON reads it back
  }
  if (!(total > 0)) return { at: [], problem: 'needs at least one option with a weight above 0' }
  // Two weights of 1e308 sum to Infinity, and every normalized weight would be 0.
  if (total === Infinity) return { at: [], problem: 'the weights sum past the largest number' }
  return { pairs }
}

/**
 * Schema of stored options, running `readOptions` (the way `record` in state/validate.ts runs its
 * own loop): an issue with its path, or the pairs. Hand-written rather than valibot's
 * unknown/transform/array/strictTuple/check pipe, which cost 0.3 KB gzip of the core entry.
 */
const OptionsSchema = {
  ...v.custom<[string, number][]>(() => true),
  '~run'(dataset: { value: unknown }) {
    const read = readOptions(dataset.value)
    if ('pairs' in read) return { typed: true, value: read.pairs }
    // What parseJson reads of an issue (message, path keys), and no more: valibot's own parents only
    // prepend their path item to it.
    return { typed: false, value: dataset.value, issues: [{ message: read.problem, path: read.at.map((key) => ({ key })) }] }
  },
} as unknown as v.GenericSchema<[string, number][]>

/** Schema of a test as stored. Declared as giving a `TestRecord`, as `OutcomeRecordSchema` is: its input may be the older object form. */
export const TestRecordSchema = v.pipe(
  v.strictObject({
    options: OptionsSchema,
    description: v.string(),
    stop: StopConditionsSchema,
    value: v.string(),
    concluded: v.optional(v.literal(true)),
  }),
  v.check((t) => isOption(t, t.value), 'value must be one of the options'),
  v.check((t) => t.stop.default === undefined || isOption(t, t.stop.default), 'stop.default must be one of the options'),
) as v.GenericSchema<TestRecord>

const isOption = (t: { options: [string, number][] }, value: string) => t.options.some(([o]) => o === value)

/** Arguments of one test for `addTests`. */
export interface TestDefinition {
  /** The test's name. */
  name: string
  /** Its options and their weights. */
  options: TestOptions
  /** What it tests, for people reading the report. */
  description?: string
  /** When `agentctx/experiments` concludes it. */
  stop?: StopConditions
}

/** A test's options in order, weights as given: read this, not `TestRecord.options`, whose shape is the storage's. */
export function testOptions(record: TestRecord): { value: string; weight: number }[] {
  return record.options.map(([value, weight]) => ({ value, weight }))
}

/**
 * Validates a test definition and gives it a value: the record `addTest` stores. The value is
 * `concluded` (marked `concluded: true`) when that is one of the options, else the option whose
 * range holds the bucket of `key` in the test `name` (GrowthBook's hash v2, see `hashBucket`).
 */
export function newTest(name: string, options: TestOptions, description: string, stop: StopConditions, key: string, concluded?: string): TestRecord {
  checkKey(name, 'name', true)
  const path = `tests.${name}`
  const read = readOptions(options)
  if (!('pairs' in read)) throw invalid(formatPath(read.at, `${path}.options`), read.problem)
  const record = parse(TestRecordSchema, { options: read.pairs, description, stop, value: read.pairs[0]![0] }, path)
  if (concluded !== undefined && isOption(record, concluded)) {
    record.value = concluded
    record.concluded = true
  } else {
    record.value = record.options[chooseOption(hashBucket(name, key), record.options.map((o) => o[1]))]![0]
  }
  return record
}

/** The not-found error for a test or an outcome, naming it. */
export function notFound(kind: 'test' | 'outcome', name: string): ContextError {
  return new ContextError('not_found', `no ${kind} named ${JSON.stringify(name)}`, {
    path: `${kind}s.${name}`,
  })
}
