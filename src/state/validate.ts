import * as v from 'valibot'
import { invalid, ValidationError } from '../errors.js'
import { formatPath, toJson, type Json, type JsonLimits, type JsonObject } from './json.js'

/** Any JSON value. Only used behind `toJson`, which has already checked and copied it. */
export const JsonValue = v.custom<Json>(() => true)

const isObject = (x: unknown): x is JsonObject => typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * A JSON object behind `toJson`. Not `v.record`: valibot's record (like its looseObject and
 * objectWithRest) silently drops the keys "constructor" and "prototype", its guard against prototype
 * pollution, and in JSON those are plain data: `setData('constructor', 1)` must survive `fromJSON`.
 * `toJson` has already refused "__proto__", the one key that is dangerous.
 */
export const JsonRecord = v.custom<JsonObject>(isObject, 'must be an object')

/**
 * An object whose every value matches `item`, with each issue's path through its key: `v.record`
 * without the key drop (see `JsonRecord`). Parsing stops at the first issue, as `parse` asks. Only
 * `~run`, what valibot calls, is replaced: the copied `~standard` checks just "is an object".
 */
export function record<S extends v.GenericSchema>(item: S): v.GenericSchema<Record<string, v.InferInput<S>>, Record<string, v.InferOutput<S>>> {
  return {
    ...JsonRecord,
    '~run'(dataset: { value: unknown }, config: v.Config<v.BaseIssue<unknown>>) {
      const input = dataset.value
      if (!isObject(input)) return JsonRecord['~run'](dataset, config)
      const output: JsonObject = {}
      for (const key in input) {
        const result = item['~run']({ value: input[key] }, config)
        if (result.issues) {
          for (const issue of result.issues) {
            ;((issue as { path?: unknown[] }).path ??= []).unshift({ type: 'object', origin: 'value', input, key, value: input[key] })
          }
          return { typed: false, value: input, issues: result.issues }
        }
        output[key] = result.value as Json
      }
      return { typed: true, value: output }
    },
  } as never
}

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
  // `root` is a formatted prefix (`messages[2]`, `outcomes.wins`), not one key to quote.
  return parseJson(schema, toJson(value, root, { ...limits, code }), root, code)
}

/**
 * `parse` for a value `toJson` has already checked and copied: `toCompletionMessages` copies a
 * message once, then checks what it built (1.2 µs a message; a second copy made it 2.5).
 */
export function parseJson<S extends v.GenericSchema>(schema: S, json: Json, root: string, code: 'invalid_argument' | 'invalid_state' = 'invalid_argument'): v.InferOutput<S> {
  const result = v.safeParse(schema, json, { abortEarly: true })
  if (result.success) return result.output
  const issue = result.issues[0]
  const segments: (string | number)[] = []
  for (const item of issue.path ?? []) {
    if (typeof item.key === 'string' || typeof item.key === 'number') segments.push(item.key)
  }
  const where = formatPath(segments, root) || '(root)'
  // A strict object's unknown key: say which, and the camelCase spelling when that is the mistake.
  const message = issue.expected === 'never' ? unknownKey(issue.path?.at(-1)?.key as string) : issue.message
  throw new ValidationError(code, `${where}: ${message}`, { path: where })
}

/** "unknown key", with the camelCase spelling when the key is snake_case (`max_tokens`: did you mean maxTokens?). */
export function unknownKey(key: string): string {
  const camel = key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
  return `unknown key${camel !== key ? ` (did you mean ${camel}?)` : ''}`
}

/**
 * `options` without its undefined values (`{}` when undefined) if it is an object with no key
 * outside `keys` (space-separated), else a `ValidationError` naming the key: `prune({ max_tokens: 10 })`
 * says "did you mean maxTokens?" instead of being silently ignored.
 */
export function checkOptions<T extends object>(options: T | undefined, keys: string): T {
  const out = defined(options)
  for (const k in out) if (!keys.split(' ').includes(k)) throw invalid(`options.${k}`, `${unknownKey(k)}; known: ${keys}`)
  return out
}

/** `source` without its undefined values; a non-object is a `ValidationError` at `path`. */
export function defined<T extends object>(source?: T, path = 'options'): T {
  if (source !== undefined && !isObject(source)) throw invalid(path, 'must be an object')
  return Object.fromEntries(Object.entries(source ?? {}).filter((e) => e[1] !== undefined)) as T
}
