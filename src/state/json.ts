import { ValidationError, type ContextErrorCode } from '../errors.js'

/** A JSON value: what every piece of context state is made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
/** A JSON object. */
export type JsonObject = { [key: string]: Json }

/**
 * What a getter with a fallback returns: the fallback's type, widened, so `getData('count', 0)` is a
 * `number` (not the literal `0`), `'Guest'` a `string`, `false` a `boolean`. `[]` stands for any
 * `Json[]` and `null` or `undefined` for any `Json`. The stored value is not checked against it:
 * the fallback states what the caller stored under that key.
 */
export type Widen<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends null | undefined
        ? Json | T
        : T extends readonly never[]
          ? Json[]
          : T

/** Limits applied to untrusted JSON before any schema sees it. */
export interface JsonLimits {
  /** Deepest nesting accepted. 64 levels is far past real state and far below a stack overflow. */
  maxDepth?: number
  /** Most values (objects, arrays and primitives together) accepted in one document. */
  maxNodes?: number
  /** Error code for a value that is not JSON: `invalid_argument` for method arguments, `invalid_state`
   * for loaded state. Going past `maxDepth` or `maxNodes` is always `too_large`. */
  code?: 'invalid_argument' | 'invalid_state'
}

const DEFAULT_LIMITS = { maxDepth: 64, maxNodes: 1_000_000 }

/** `a.b[3].c` from path segments, for error messages, after `prefix` (taken as already formatted). */
export function formatPath(segments: ReadonlyArray<string | number>, prefix = ''): string {
  let out = prefix
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`
    else if (/^[A-Za-z_$][\w$]*$/.test(s)) out += out ? `.${s}` : s
    else out += `[${JSON.stringify(s)}]`
  }
  return out
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Returns a deep copy of `value` as plain JSON, or throws a `ValidationError` naming the path of the
 * first value that is not JSON: `undefined`, a function, a symbol, a bigint, `NaN` or `Infinity`, a
 * class instance (Date, Map, …), a cycle, a `__proto__` key, or nesting past `limits`. `-0` becomes
 * `0`, as `JSON.stringify` writes it: JSON has no negative zero, and a copy that kept it would not
 * equal the same state read back from text.
 *
 * `path` is where `value` sits, for error messages: segments (`['data', key]`, formatted and quoted
 * as needed) or a string taken as an already formatted prefix (`'messages[2]'`).
 *
 * Recursive, but never deeper than `maxDepth` (64) frames: a hostile document nested 100,000 deep
 * gets this error at level 64, not a `RangeError: Maximum call stack size exceeded`.
 */
export function toJson(value: unknown, path: string | ReadonlyArray<string | number> = [], limits?: JsonLimits): Json {
  const maxDepth = limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth
  const maxNodes = limits?.maxNodes ?? DEFAULT_LIMITS.maxNodes
  const prefix = typeof path === 'string' ? path : ''
  const at: (string | number)[] = typeof path === 'string' ? [] : [...path]
  const fail = (what: string, code: ContextErrorCode = limits?.code ?? 'invalid_argument'): never => {
    const where = formatPath(at, prefix) || '(root)'
    throw new ValidationError(code, `${where}: ${what}`, { path: where })
  }
  // Objects on the current path only: a value shared by two branches (a DAG) is copied twice, as
  // JSON.stringify would, not refused as circular.
  const ancestors = new Set<object>()
  let nodes = 0
  const walk = (source: unknown): Json => {
    if (++nodes > maxNodes) fail(`more than ${maxNodes} values`, 'too_large')
    if (typeof source === 'string' || typeof source === 'boolean' || source === null) return source
    // `+ 0` turns -0 into 0 and leaves every other number as it is.
    if (typeof source === 'number') return Number.isFinite(source) ? source + 0 : fail(`${source} is not a JSON number`)
    if (typeof source !== 'object') return fail(`${typeof source} is not JSON`)
    if (ancestors.size >= maxDepth) fail(`nested deeper than ${maxDepth} levels`, 'too_large')
    if (ancestors.has(source)) fail('circular reference')
    const isArray = Array.isArray(source)
    if (!isArray && !isPlainObject(source)) fail(`${source.constructor?.name ?? 'object'} is not plain JSON`)
    ancestors.add(source)
    let copy: Json
    if (isArray) {
      copy = []
      for (let i = 0; i < source.length; i++) {
        at.push(i)
        copy.push(walk(source[i]))
        at.pop()
      }
    } else {
      copy = {}
      for (const key of Object.keys(source)) {
        at.push(key)
        if (key === '__proto__') fail('the key "__proto__" is not allowed')
        copy[key] = walk((source as Record<string, unknown>)[key])
        at.pop()
      }
    }
    ancestors.delete(source)
    return copy
  }
  return walk(value)
}

/** Deep copy of a value already known to be JSON (no checks; structural sharing would leak edits). */
export function cloneJson<T extends Json>(value: T): T {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((v) => cloneJson(v)) as T
  const out: JsonObject = {}
  for (const k of Object.keys(value)) out[k] = cloneJson((value as JsonObject)[k]!)
  return out as T
}

/** Freezes `value` and everything inside it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
