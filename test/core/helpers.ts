import { expect } from 'vitest'
import { ContextError } from '../../src/errors.js'

/**
 * Runs `fn`, expects it to throw a `ContextError` (or a subclass) with a `code`, and returns it so
 * the test can assert its code, path and message.
 */
export function thrown(fn: () => unknown): ContextError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ContextError)
    expect(typeof (e as ContextError).code).toBe('string')
    return e as ContextError
  }
  throw new Error('expected a ContextError, but nothing was thrown')
}

/** Every key of a JSON value, at any depth, with its path, for "no snake_case key" assertions. */
export function allKeys(value: unknown, path = ''): [string, string][] {
  if (value === null || typeof value !== 'object') return []
  const out: [string, string][] = []
  for (const [key, child] of Object.entries(value)) {
    const at = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key
    if (!Array.isArray(value)) out.push([key, at])
    out.push(...allKeys(child, at))
  }
  return out
}
