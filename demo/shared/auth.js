// Who may talk to a deployed demo. With a token configured (`AGENT_TOKEN`), only requests carrying
// `Authorization: Bearer <token>`, for every route (POST events, GET and DELETE a session). Without
// one, anyone who knows a session id: fine for `wrangler dev` or a try-out, not for a deployment
// others can reach.

/**
 * Compares two strings in a time that does not depend on where they differ (a plain `===` returns
 * at the first different character, which a patient client could time).
 * @param {string} a @param {string} b
 */
function sameToken(a, b) {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/**
 * `createAgent`'s `authorize` for one shared bearer token, or `undefined` (no check) when `token` is
 * empty. No token sent: 401 with `WWW-Authenticate: Bearer`; a wrong one: `false`, a 403.
 * @param {string | undefined} token
 * @returns {import('agentctx/agent').Authorize | undefined}
 */
export function bearer(token) {
  if (!token) return undefined
  return (request) => {
    const sent = /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
    if (sent === undefined) {
      return Response.json({ error: { code: 'unauthorized', message: 'send Authorization: Bearer <token>' } }, { status: 401, headers: { 'www-authenticate': 'Bearer' } })
    }
    return sameToken(sent, token)
  }
}
