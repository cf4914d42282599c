// The demo agent as a Vercel Edge Function. vercel.json rewrites /sessions/:id/… here:
//
//   POST   /sessions/:id/events   a JSON event in ({"type":"text","data":{"text":"hello"}}), SSE out
//   GET    /sessions/:id          the session's context as JSON
//   DELETE /sessions/:id          deletes the session
import { createContextStore } from 'agentctx'
import { createAgent } from 'agentctx/agent'
import { unstorageStorage } from 'agentctx/storage/unstorage'
import { createStorage } from 'unstorage'
import memoryDriver from 'unstorage/drivers/memory'
import { bearer } from '../../shared/auth.js'
import { createHandler } from '../../shared/handler.js'

export const config = { runtime: 'edge' }

// Sessions in memory: enough for `vercel dev` and a try-out, but each instance of the function has
// its own memory and loses it when it stops. For sessions that last, use a shared store through an
// unstorage driver, e.g. Upstash Redis (Vercel KV is Upstash now; both speak HTTP, so both run on the edge):
//
//   import upstashDriver from 'unstorage/drivers/upstash'   // npm i @upstash/redis
//   const storage = createStorage({ driver: upstashDriver({ base: 'agentctx' }) })
//   // reads UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN; pass { url, token } for KV_REST_API_*
//
// and drop `consistency: 'strong'` below unless the store is one primary (one Redis, no read replicas).
const storage = createStorage({ driver: memoryDriver() })

const agent = createAgent({
  store: createContextStore(unstorageStorage(storage, { consistency: 'strong' })),
  handler: createHandler({ greeting: 'Hi! I am a small agent in a Vercel Edge Function. What can I do for you?' }),
  // With the environment variable AGENT_TOKEN set (the project's settings, or `vercel env add`),
  // every request must carry `Authorization: Bearer <token>`; it runs before the session is touched.
  authorize: bearer(globalThis.process?.env?.AGENT_TOKEN),
})

/**
 * The agent's own routes, from either form of the URL: the original path (`/sessions/demo/events`),
 * or the rewrite's destination with its parameters (`/api/agent?id=demo&events=1`).
 * @param {Request} request
 */
function route(request) {
  const url = new URL(request.url)
  const id = url.searchParams.get('id')
  if (url.pathname.startsWith('/sessions/') || id === null) return request
  url.pathname = `/sessions/${encodeURIComponent(id)}${url.searchParams.has('events') ? '/events' : ''}`
  // `duplex: 'half'`: the body is passed on as a stream, not read first (fetch requires saying so).
  const init = /** @type {RequestInit} */ ({ method: request.method, headers: request.headers, body: request.body, signal: request.signal, duplex: 'half' })
  return new Request(url, init)
}

/**
 * The Edge Function: `Request` in, `Response` out. `context.waitUntil` keeps each turn and background
 * task (with the save after it) alive after the response has been sent.
 * @param {Request} request
 * @param {{ waitUntil(promise: Promise<unknown>): void }} [context]
 */
export default function handler(request, context) {
  return agent.fetch(route(request), undefined, context)
}
