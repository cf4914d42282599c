import * as v from 'valibot'
import { ValidationError } from '../errors.js'
import { formatPath, toJson, type Json, type JsonLimits } from './json.js'

/** Any JSON value. Only used behind `toJson`, which has already checked and copied it. */
export const JsonValue = v.custom<Json>(() => true)
/** A JSON object behind `toJson`. */
export const JsonRecord = v.record(v.string(), JsonValue)

// The checks below are all `v.check`: one valibot action reused, rather than integer + minValue +
// maxValue + minLength + maxLength, saves ~270 bytes gzip of the core's 8 KB budget.

/** An integer >= `min`. */
export const int = (min: number) => v.pipe(v.number(), v.check((n) => Number.isInteger(n) && n >= min, `must be an integer >= ${min}`))
/** A number in `min..max` (inclusive; `max` defaults to unbounded). */
export const range = (min: number, max = Infinity) =>
  v.pipe(v.number(), v.check((n) => n >= min && n <= max, max === Infinity ? `must be >= ${min}` : `must be in ${min}..${max}`))
/** A non-empty string of at most `max` characters. */
export const nonEmpty = (max = Infinity) =>
  v.pipe(v.string(), v.check((s) => s !== '' && s.length <= max, max === Infinity ? 'must be a non-empty string' : `must be a non-empty string of at most ${max} characters`))

/**
 * Checks `value` is JSON (see `toJson`), then parses it with `schema`. Throws a `ValidationError`
 * whose message and `path` name the first problem, prefixed by `root` (`"message"`, `"state"`), so
 * `addCompletionMessage({ role: 'robot' })` says `message.role: …`, not a bare valibot issue.
 */
export function parse<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  root: string,
  code: 'invalid_argument' | 'invalid_state' = 'invalid_argument',
  limits?: JsonLimits,
): v.InferOutput<S> {
  const json = toJson(value, root ? [root] : [], { ...limits, code })
  const result = v.safeParse(schema, json, { abortEarly: true })
  if (result.success) return result.output
  const issue = result.issues[0]
  const segments: (string | number)[] = root ? [root] : []
  for (const item of issue.path ?? []) {
    if (typeof item.key === 'string' || typeof item.key === 'number') segments.push(item.key)
  }
  const where = formatPath(segments) || '(root)'
  // A strict object's unknown key: say which, and the camelCase spelling when that is the mistake.
  const key = issue.expected === 'never' ? (issue.path?.at(-1)?.key as string) : undefined
  const camel = key?.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
  const message = key === undefined ? issue.message : `unknown key${camel !== key ? ` (did you mean ${camel}?)` : ''}`
  throw new ValidationError(code, `${where}: ${message}`, { path: where })
}
