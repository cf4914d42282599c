/**
 * The agent as a Cloudflare Worker, bundled by esbuild and run in workerd by ../workerd.node.test.ts.
 *
 *   /kv/sessions/...   the Worker's own `fetch` is `agent.fetch`, sessions in Workers KV (env.KV)
 *   /do/sessions/:id/… forwarded to a Durable Object per session, whose agent keeps its sessions in
 *                      the object's storage (durableObjectStorage)
 *   /kv/debug          how many promises the agent gave to `ctx.waitUntil`, and how many settled
 */
import { createAgent, type Agent } from '../../../src/agent/agent.js'
import type { ExecutionContextLike } from '../../../src/agent/http.js'
import { cloudflareKVStorage, type KVNamespaceLike } from '../../../src/storage/cloudflare-kv.js'
import { durableObjectStorage, type DurableObjectStorageLike } from '../../../src/storage/durable-object.js'
import { createContextStore } from '../../../src/storage/store.js'
import { handler } from '../handler.js'

interface Env {
  KV: KVNamespaceLike
  AGENT: { idFromName(name: string): unknown; get(id: unknown): { fetch(request: Request): Promise<Response> } }
}

// Created on the first request, when `env` is known; the isolate keeps it for the next requests.
let agent: Agent | undefined
const waitUntil = { given: 0, settled: 0 }

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContextLike): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname.startsWith('/do/')) {
      const session = /^\/do\/sessions\/([^/]+)/.exec(pathname)?.[1]
      return env.AGENT.get(env.AGENT.idFromName(session ? decodeURIComponent(session) : '')).fetch(request)
    }
    if (pathname === '/kv/debug') return Response.json(waitUntil)
    if (!pathname.startsWith('/kv/')) return new Response('not found', { status: 404 })
    agent ??= createAgent({ store: createContextStore(cloudflareKVStorage(env.KV)), handler })
    const counted: ExecutionContextLike = {
      waitUntil(promise) {
        waitUntil.given++
        ctx.waitUntil(promise.finally(() => waitUntil.settled++))
      },
    }
    return agent.fetch(request, env, counted)
  },
}

/** One session per object: its agent's store is the object's own transactional storage. */
export class AgentObject {
  readonly agent: Agent
  constructor(readonly state: { storage: DurableObjectStorageLike; waitUntil(promise: Promise<unknown>): void }) {
    this.agent = createAgent({ store: createContextStore(durableObjectStorage(state.storage)), handler })
  }
  fetch(request: Request): Promise<Response> {
    return this.agent.fetch(request, undefined, this.state)
  }
}
