// The demo agent as a Vercel Edge Function. vercel.json rewrites /sessions/:id/… here:
//
//   POST   /sessions/:id/events   a JSON event in ({"type":"text","data":{"text":"hello"}}), SSE out
//   GET    /sessions/:id          the session's context as JSON
//   DELETE /sessions/:id          deletes the session
import { Redis } from '@upstash/redis'
import { createContextStore, memoryStorage } from 'agentctx'
import { createAgent } from 'agentctx/agent'
import { redisStorage } from 'agentctx/storage/redis'
// lib/ is ../../shared (the demo's rules, shared with demo/cloudflare), copied here by `vercel build`
// (package.json's vercel-build, copy-shared.mjs): Vercel packs only what lies inside this folder.
import { bearer } from '../lib/auth.js'
import { createHandler } from '../lib/handler.js'

export const config = { runtime: 'edge' }

// Sessions live in Upstash Redis (what Vercel KV is now) when the project has a database: every
// instance of the function shares them, and two instances saving one session at once never lose a
// turn (the loser's save is a ContextConflictError, and the agent runs its turn again on the stored
// version). Upstash speaks HTTP, so this runs on the edge. Connect a database in the project's
// Storage tab (or set the variables by hand): UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN,
// or the KV_REST_API_URL and KV_REST_API_TOKEN of a Vercel KV store.
//
// Without them (`vercel dev` on a laptop), sessions stay in this instance's memory, lost when it stops.
const env = globalThis.process?.env ?? {}
const url = env.UPSTASH_REDIS_REST_URL || env.KV_REST_API_URL
const token = env.UPSTASH_REDIS_REST_TOKEN || env.KV_REST_API_TOKEN
const storage = url && token ? redisStorage(new Redis({ url, token })) : memoryStorage()

const agent = createAgent({
  store: createContextStore(storage),
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
