/**
 * Every error agentctx throws on purpose is a `ContextError` (or a subclass) with a stable `code`,
 * so callers can branch on `err.code` instead of parsing messages. Messages name the field or path
 * at fault and never include a value that could be a secret (variables, API keys).
 */

/** Stable machine-readable error codes. New codes may be added; existing ones never change meaning. */
export type ContextErrorCode =
  | 'invalid_argument' // a method was called with a bad value (path says which)
  | 'invalid_state' // serialized state (fromJSON, a stored record) failed validation
  | 'unsupported_version' // serialized state of a format version this build cannot read
  | 'too_large' // input over a size limit (bytes, depth, node count)
  | 'empty' // lastRequest / lastLabel / getLastIndex on an empty history
  | 'not_found' // a named test, outcome or task that does not exist
  | 'storage' // a storage backend failed
  | 'conflict' // another writer saved the same context first
  | 'constraint' // a constraint (maxCost, maxTokens) refused the call
  | 'provider' // an LLM provider answered with an error or broke its stream
  | 'timeout' // a deadline passed: an AbortedError with reason timeout (a task's timeout, maxTime, AbortSignal.timeout)
  | 'aborted' // an AbortedError cancelled or interrupted
  | 'delivery' // a webhook (agentctx/experiments) was not delivered after its retries
  | 'http' // an agent's HTTP endpoint answered an error status or broke its protocol (agentctx/client)

/** Base class of every error agentctx throws on purpose. */
export class ContextError extends Error {
  /** Always `'ContextError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'ContextError'
  /** Stable code to branch on. */
  readonly code: ContextErrorCode
  /** Path of the offending field, like `messages[2].role`, when there is one. */
  readonly path: string | undefined

  /** `path` names the offending field; `cause` is kept as the standard `Error.cause`. */
  constructor(code: ContextErrorCode, message: string, options?: { path?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.path = options?.path
  }
}

/** A value given to agentctx (argument or serialized state) is not what it should be. */
export class ValidationError extends ContextError {
  /** Always `'ValidationError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'ValidationError'
}

/** A storage adapter failed; the stored state is as it was before the failed operation. */
export class StorageError extends ContextError {
  /** Always `'StorageError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'StorageError'
  /** An error with code `storage`; `cause` is the underlying error, when there is one. */
  constructor(message: string, options?: { path?: string; cause?: unknown }) {
    super('storage', message, options)
  }
}

/** Another writer saved the same context since it was loaded: reload, reapply, save again. */
export class ContextConflictError extends ContextError {
  /** Always `'ContextConflictError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'ContextConflictError'
  /** An error with code `conflict`; `cause` is the underlying error, when there is one. */
  constructor(message: string, options?: { path?: string; cause?: unknown }) {
    super('conflict', message, options)
  }
}

/** A constraint (maxCost, maxTokens) refused an operation before it ran; `maxTime` passing mid-way is an `AbortedError` (reason `timeout`). */
export class ConstraintError extends ContextError {
  /** Always `'ConstraintError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'ConstraintError'
  /** An error with code `constraint`; `cause` is the underlying error, when there is one. */
  constructor(message: string, options?: { path?: string; cause?: unknown }) {
    super('constraint', message, options)
  }
}

/** A `ValidationError` for the value at `path`: the message reads `path: problem`. */
export function invalid(path: string, problem: string, code: 'invalid_argument' | 'invalid_state' = 'invalid_argument'): ValidationError {
  return new ValidationError(code, `${path}: ${problem}`, { path })
}

/**
 * Throws unless `key` is a string (non-empty when `nonEmpty`): JavaScript callers get a clear error,
 * not a key named "undefined". `"__proto__"` is refused too: `fromJSON` refuses that key anywhere,
 * so a state holding it could be saved but never loaded again.
 */
export function checkKey(key: unknown, path = 'key', nonEmpty?: boolean): asserts key is string {
  if (typeof key !== 'string' || key === '__proto__' || (nonEmpty && !key)) {
    throw invalid(path, `must be a ${nonEmpty ? 'non-empty ' : ''}string other than "__proto__"`)
  }
}
