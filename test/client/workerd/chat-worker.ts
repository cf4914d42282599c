/**
 * An agent Worker with `protocol: 'ai-sdk'`, sessions in Workers KV, bundled by esbuild as wrangler
 * would (the AI SDK's code is an `import()` inside agentctx: the bundle must carry it) and run in
 * workerd by ../workerd.node.test.ts.
 */
import { createAgent, type Agent } from '../../../src/agent/agent.js'
import type { ExecutionContextLike } from '../../../src/agent/http.js'
import { cloudflareKVStorage, type KVNamespaceLike } from '../../../src/storage/cloudflare-kv.js'
import { createContextStore } from '../../../src/storage/store.js'
import { handler } from '../handler.js'

let agent: Agent | undefined
export default {
  fetch(request: Request, env: { KV: KVNamespaceLike }, ctx: ExecutionContextLike): Promise<Response> {
    agent ??= createAgent({ store: createContextStore(cloudflareKVStorage(env.KV), { channel: false }), handler: handler({ aborted: [] }), protocol: 'ai-sdk' })
    return agent.fetch(request, env, ctx)
  },
}
