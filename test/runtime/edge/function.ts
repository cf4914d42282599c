/**
 * The agent as a Vercel Edge Function, bundled by esbuild (conditions `edge-light`, `worker`,
 * `browser`, as Vercel's bundler resolves them) and run in Vercel's edge-runtime VM by
 * ../edge.node.test.ts. The function is the standard shape, `(request, context) => Response`; the
 * VM delivers requests as `fetch` events, as the edge platform does.
 *
 * Sessions live in an unstorage store the host passes in as `HOST_STORAGE` (standing for Vercel KV
 * or Upstash through unstorage), so a new VM on the same storage is a new runtime instance.
 */
import { createAgent } from '../../../src/agent/agent.js'
import { createContextStore } from '../../../src/storage/store.js'
import { unstorageStorage, type UnstorageLike } from '../../../src/storage/unstorage.js'
import { handler } from '../handler.js'

declare const HOST_STORAGE: UnstorageLike

const agent = createAgent({ store: createContextStore(unstorageStorage(HOST_STORAGE, { consistency: 'strong' })), handler })

/** What a Vercel Edge Function exports. */
export default function edgeFunction(request: Request, context: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
  return agent.fetch(request, undefined, context)
}

interface FetchEvent extends Event {
  request: Request
  respondWith(response: Promise<Response>): void
  waitUntil(promise: Promise<unknown>): void
}
addEventListener('fetch', (event) => {
  const e = event as FetchEvent
  e.respondWith(edgeFunction(e.request, { waitUntil: (p) => e.waitUntil(p) }))
})
