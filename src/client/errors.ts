import { ContextConflictError, ContextError, ValidationError } from '../errors.js'
import type { Scrub } from '../providers/kernel/scrub.js'

/** What an `AgentHttpError` carries besides its message. */
export interface AgentHttpErrorInit {
  /** The HTTP status; `undefined` when the request never got an answer (network) or a 200's stream broke. */
  status?: number
  /** The agent's own code from its error JSON: `forbidden`, `too_large`, `unsupported_media_type`, `internal`… */
  serverCode?: string
  /** The underlying error (a network failure, a parse error), kept as `Error.cause`. */
  cause?: unknown
}

/**
 * The agent's endpoint answered an error status (401, 403, 404, 405, 413, 415, 5xx), could not be
 * reached, or broke its protocol (a body that is not an event stream, an event that is not JSON or
 * over the size limit). The message names the status and carries the agent's own message, with the
 * values of the client's `headers` (a bearer token) replaced by `***` should a server echo them.
 */
export class AgentHttpError extends ContextError {
  /** Always `'AgentHttpError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'AgentHttpError'
  /** The HTTP status; `undefined` when the request never got an answer (network) or a 200's stream broke. */
  declare status: number | undefined
  /** The agent's own code from its error JSON: `forbidden`, `too_large`, `unsupported_media_type`, `internal`… */
  declare serverCode: string | undefined

  /** `init` sets the HTTP status and the server's error code, when the response had them. */
  constructor(message: string, { cause, ...init }: AgentHttpErrorInit = {}) {
    super('http', message, { cause })
    Object.assign(this, { status: undefined, serverCode: undefined }, init)
  }
}

// An error body is a few hundred bytes; a proxy's HTML page a few KB. Read at most this much of it.
const MAX_ERROR_BODY = 64 * 1024
// The server's message is shown at most this long, control characters dropped (a hostile server
// could otherwise write a terminal escape or a fake second line into a log).
const MAX_MESSAGE = 500

/** At most `limit` bytes of `response`'s body as text (the rest cancelled); '' when it cannot be read. */
export async function readText(response: Response, limit: number): Promise<string | undefined> {
  const reader = response.body?.getReader()
  if (!reader) return ''
  const decoder = new TextDecoder()
  let text = ''
  try {
    for (let step; !(step = await reader.read()).done; ) {
      text += decoder.decode(step.value, { stream: true })
      if (text.length > limit) return undefined
    }
    return text + decoder.decode()
  } catch {
    return ''
  } finally {
    reader.cancel().catch(() => {})
  }
}

const clip = (text: string) => text.replace(/[\0-\x1f\x7f]+/g, ' ').slice(0, MAX_MESSAGE)

/**
 * The error for an answer that is not 2xx, typed as the agent threw it: its JSON
 * `{ error: { code, message } }` with code `invalid_argument` or `invalid_state` becomes a
 * `ValidationError` (its `path` read from the message's `path: problem` form, as `invalid()` writes
 * it), `conflict` a `ContextConflictError`; anything else, and a body that is not that JSON (a
 * proxy's HTML page), an `AgentHttpError` naming the status.
 */
export async function errorOf(response: Response, scrub: Scrub): Promise<ContextError> {
  const text = await readText(response, MAX_ERROR_BODY)
  let code: string | undefined
  let message: string | undefined
  try {
    const error = JSON.parse(text ?? '').error
    if (typeof error?.code === 'string' && /^[\w.-]{1,64}$/.test(error.code)) code = error.code
    if (typeof error?.message === 'string') message = scrub(clip(error.message))
  } catch {
    // not JSON: the status says it
  }
  const { status } = response
  if (message !== undefined && (code === 'invalid_argument' || code === 'invalid_state')) {
    const path = /^([\w$.[\]"-]+): /.exec(message)?.[1]
    return new ValidationError(code, message, { path })
  }
  if (message !== undefined && code === 'conflict') return new ContextConflictError(message)
  const said = message === undefined ? (text === undefined ? 'a body over 64 KiB' : 'no error JSON') : message
  return new AgentHttpError(`agent: HTTP ${status}${code ? ` ${code}` : ''}: ${said}`, { status, serverCode: code })
}
