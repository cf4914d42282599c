import * as v from 'valibot'
import { checkKey, ContextError } from '../../errors.js'
import { int, parse, range, record } from '../../state/validate.js'

/**
 * When a test concludes (checked across sessions by `agentctx/experiments`): after `maxIterations`
 * runs, when confidence in `targetOutcome` reaches `maxConfidence` (0–100), either condition
 * (`stopOn: 1`) or both (`stopOn: 2`); then every session gets `default`; `notify` lists who to tell.
 */
export const StopConditionsSchema = v.strictObject({
  maxIterations: v.optional(int(1)),
  maxConfidence: v.optional(range(0, 100)),
  targetOutcome: v.optional(v.string()),
  stopOn: v.optional(v.picklist([1, 2])),
  default: v.optional(v.string()),
  notify: v.optional(v.array(v.string())),
})
/** Stop conditions of an A/B test. */
export type StopConditions = v.InferOutput<typeof StopConditionsSchema>

const Weight = range(0)

/** Schema of a test as stored: its options and weights, and the value this session drew. */
export const TestRecordSchema = v.pipe(
  v.strictObject({
    options: v.pipe(
      record(Weight),
      v.check((o) => Object.values(o).some((w) => w > 0), 'needs at least one option with a weight above 0'),
    ),
    description: v.string(),
    stop: StopConditionsSchema,
    value: v.string(),
  }),
  // Object.hasOwn, not `in`: `in` would take "toString" for an option of every test.
  v.check((t) => Object.hasOwn(t.options, t.value), 'value must be one of the options'),
  v.check((t) => t.stop.default === undefined || Object.hasOwn(t.options, t.stop.default), 'stop.default must be one of the options'),
)
/** A test as stored. */
export type TestRecord = v.InferOutput<typeof TestRecordSchema>

/** Arguments of one test for `addTests`. */
export interface TestDefinition {
  name: string
  options: Record<string, number>
  description?: string
  stop?: StopConditions
}

/**
 * Draws one option in proportion to its weight. Weights need not sum to 1: `{ a: 0.5, b: 0.3, c: 0.2 }`
 * and `{ a: 5, b: 3, c: 2 }` are the same test. Insertion order of the options decides which interval
 * each option owns, so a given random number always picks the same option.
 */
export function drawOption(options: Record<string, number>, random: () => number): string {
  const entries = Object.entries(options)
  let total = 0
  for (const [, w] of entries) total += w
  let point = random() * total
  let last = ''
  for (const [value, w] of entries) {
    if (w <= 0) continue
    last = value
    if (point < w) return value
    point -= w
  }
  return last // float rounding left `point` a hair past the end: the last positive option owns it
}

/** Validates a test definition and draws its value: the record `addTest` stores. */
export function newTest(name: string, options: Record<string, number>, description: string, stop: StopConditions, random: () => number): TestRecord {
  checkKey(name, 'name', true)
  const checked = parse(
    TestRecordSchema,
    { options, description, stop, value: Object.keys(options ?? {})[0] ?? '' },
    `tests.${name}`,
  )
  checked.value = drawOption(checked.options, random)
  return checked
}

/** The not-found error for a test or an outcome, naming it. */
export function notFound(kind: 'test' | 'outcome', name: string): ContextError {
  return new ContextError('not_found', `no ${kind} named ${JSON.stringify(name)}`, {
    path: `${kind}s.${name}`,
  })
}
