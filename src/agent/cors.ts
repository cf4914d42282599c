import { invalid } from '../errors.js'

/**
 * Which web pages of other origins may call the agent's HTTP endpoint (`createAgent({ cors })`).
 * Without it the endpoint sends no CORS header, and a browser lets only pages of its own origin read
 * its answers.
 */
export interface CorsOptions {
  /**
   * `'*'`: any origin. Else the origins allowed, each as a browser sends it in `Origin`: scheme, host
   * and port if not the default (`https://app.example`, `http://localhost:5173`), no path. An origin
   * not listed gets no `Access-Control-Allow-Origin`, so its page cannot read the answer. `"null"`
   * (sandboxed frames, `file:` pages) cannot be listed.
   */
  origin: '*' | string | readonly string[]
  /** Request headers a page may send. Default `['content-type', 'authorization']`. */
  headers?: readonly string[]
  /** Seconds a browser may reuse a preflight's answer. Default 600 (Chromium caps it at 7200, Firefox at 86400). */
  maxAge?: number
}

/** `CorsOptions`, checked and ready to answer with. */
export interface Cors {
  any: boolean
  origins: Set<string>
  headers: string
  maxAge: string
}

// An HTTP token (RFC 9110 § 5.6.2): what a header name is made of.
const TOKEN = /^[\w!#$%&'*+.^`|~-]+$/

/** Checks `options` (a `ValidationError` names the field at fault); `undefined` when there is none. */
export function corsPolicy(options: CorsOptions | undefined): Cors | undefined {
  if (options === undefined) return undefined
  if (!options || typeof options !== 'object') throw invalid('cors', 'must be an object { origin }')
  const { origin, headers = ['content-type', 'authorization'], maxAge = 600 } = options
  const list: unknown = typeof origin === 'string' ? [origin] : origin
  if (!Array.isArray(list) || !list.length) throw invalid('cors.origin', 'must be "*", an origin, or a non-empty array of origins')
  const cors: Cors = { any: false, origins: new Set(), headers: '', maxAge: '' }
  list.forEach((o: unknown, i) => {
    if (o === '*') return void (cors.any = true)
    let parsed: string | undefined
    try {
      parsed = new URL(o as string).origin
    } catch {
      // not a URL: refused below
    }
    // `new URL(o).origin === o` holds only for a bare origin: no path, no trailing slash, no
    // default port, lowercase host, and never "null" (the origin of a `data:` or `file:` URL).
    if (typeof o !== 'string' || parsed !== o || o === 'null') {
      throw invalid(typeof origin === 'string' ? 'cors.origin' : `cors.origin[${i}]`, 'must be "*" or an origin such as "https://app.example" (scheme, host, port; no path)')
    }
    cors.origins.add(o)
  })
  if (!Array.isArray(headers) || !headers.every((h) => typeof h === 'string' && TOKEN.test(h))) throw invalid('cors.headers', 'must be an array of header names')
  if (!Number.isInteger(maxAge) || maxAge < 0) throw invalid('cors.maxAge', 'must be an integer >= 0 (seconds)')
  cors.headers = headers.join(', ')
  cors.maxAge = String(maxAge)
  return cors
}

/**
 * The CORS headers of any answer to `request`: `Access-Control-Allow-Origin` when its `Origin` is
 * allowed, and `Vary: Origin` unless every origin is (the answer then depends on the origin, and a
 * shared cache must not give one origin's answer to another).
 */
export function corsHeaders(cors: Cors | undefined, request: Request): Record<string, string> {
  if (!cors) return {}
  if (cors.any) return { 'access-control-allow-origin': '*' }
  const origin = request.headers.get('origin')
  return origin !== null && cors.origins.has(origin) ? { 'access-control-allow-origin': origin, vary: 'Origin' } : { vary: 'Origin' }
}

/**
 * The answer to a preflight `OPTIONS`: 204 and, for an allowed origin, the methods of the route, the
 * allowed headers and the max age (the caller adds `corsHeaders` to it, as to every answer). A
 * preflight carries no credentials (the Fetch standard never sends cookies or `Authorization` with
 * one), so `authorize` does not run for it; the request that follows is authorized as any other.
 */
export function preflight(cors: Cors, request: Request, methods: string): Response {
  const allowed = 'access-control-allow-origin' in corsHeaders(cors, request)
  const headers = allowed ? { 'access-control-allow-methods': methods, 'access-control-allow-headers': cors.headers, 'access-control-max-age': cors.maxAge } : undefined
  return new Response(null, { status: 204, headers })
}
