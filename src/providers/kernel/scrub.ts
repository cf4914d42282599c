import { ProviderError } from './errors.js'

/** Replaces every piece of a secret in a text with `***`. */
export type Scrub = (text: string) => string

// A piece this long is a leak: 8 characters of a 48-character key narrow a brute force by 62^8 ≈ 2^48,
// while shorter runs (`sk-`, `Bearer `) are common prefixes that say nothing.
const PIECE = 8

/**
 * A scrubber for `secrets` (API keys, the values of the caller's own headers): every run of text
 * covered by any 8-character piece of a secret, as written, URL-encoded or JSON-escaped, becomes one
 * `***`. So a key echoed whole, cut at any point (its first 10 characters before a `…`), or spread
 * over a message and a code cannot be read back from what is left: no 8 characters of it stay
 * together. A secret shorter than 8 characters is replaced where it appears whole.
 *
 * Worked example with the key `sk-abcdefghij` (13 characters, 6 pieces `sk-abcde` … `cdefghij`): the
 * server's `bad key sk-abcdefg…` holds the pieces `sk-abcde`, `k-abcdef` and `-abcdefg` at 8, 9 and
 * 10, so characters 8 to 17 are covered and the text becomes `bad key ***…`.
 */
export function scrubber(secrets: unknown[]): Scrub {
  const whole: string[] = []
  const pieces = new Set<string>()
  for (const s of secrets)
    if (typeof s === 'string' && s)
      for (const form of [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)])
        if (form.length < PIECE) whole.push(form)
        else for (let i = 0; i + PIECE <= form.length; i++) pieces.add(form.slice(i, i + PIECE))
  return (text) => {
    for (const w of whole) text = text.replaceAll(w, '***')
    if (!pieces.size) return text
    // `end` is where the run of covered characters ends; `from` where the copy resumes.
    let out = ''
    let from = 0
    let end = -1
    for (let i = 0; i + PIECE <= text.length; i++)
      if (pieces.has(text.slice(i, i + PIECE))) {
        if (i >= end) out += text.slice(from, i) + '***'
        from = end = i + PIECE
      }
    return out + text.slice(from)
  }
}

/** `value` (plain JSON) with every string in it, keys included, scrubbed. */
export const deep = (value: any, scrub: Scrub): any =>
  typeof value === 'string'
    ? scrub(value)
    : Array.isArray(value)
      ? value.map((v) => deep(v, scrub))
      : value && typeof value === 'object'
        ? // fromEntries defines properties: a "__proto__" key stays an own property, it sets no prototype.
          Object.fromEntries(Object.entries(value).map(([k, v]) => [scrub(k), deep(v, scrub)]))
        : value

/** All the text an error's cause chain holds (3 levels), to test it for secrets; throws on exotic objects. */
function causeText(cause: any, depth = 3): string {
  return cause == null || !depth ? '' : typeof cause === 'object' ? `${cause.message} ${cause.stack} ${causeText(cause.cause, depth - 1)}` : String(cause)
}

/**
 * `e` rebuilt from scrubbed text: message, code, request id, partial reply. The message is scrubbed
 * before the error is constructed, because V8 writes the message into `stack` at construction: an
 * error scrubbed afterwards (`e.message = scrub(e.message)`) keeps the secret in its stack. The cause
 * (a network error, an exception while reading) is kept when nothing of a secret is in it, else
 * replaced by a plain `Error` with its scrubbed message.
 */
export function clean(e: ProviderError, scrub: Scrub): ProviderError {
  let cause = e.cause as any
  try {
    const text = causeText(cause)
    if (scrub(text) !== text) cause = new Error(scrub(String(cause?.message ?? cause)))
  } catch {
    cause = undefined
  }
  const { provider, status, retryable, providerCode, requestId, partial } = e
  const opt = (s?: string) => s && scrub(s)
  return new ProviderError(scrub(e.message), { provider, status, retryable, providerCode: opt(providerCode), requestId: opt(requestId), partial: partial && deep(partial, scrub), cause })
}
