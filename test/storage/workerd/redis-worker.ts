/**
 * A Worker that runs the conformance suite, the context-store suite and the writers' race on
 * `redisStorage` over @upstash/redis (its Cloudflare build: REST over the Worker's own `fetch`)
 * inside workerd, against the loopback Upstash server whose address and token come as bindings.
 * Bundled by esbuild and started by miniflare from ../redis-workerd.node.test.ts. Each route answers
 * with JSON:
 *   GET /conformance   the per-case results of the conformance suite
 *   GET /store         the per-case results of the store suite
 *   GET /race          the report of 3 writers × 19 turns, each writer its own client
 */
import { Redis } from '@upstash/redis/cloudflare'
import { redisStorage } from '../../../src/storage/redis.js'
import { runCases, SECRET } from '../conformance.js'
import { runStoreCases } from '../store-cases.js'
import { writersRace } from '../writers-race.js'

interface Env {
  UPSTASH_URL: string
  UPSTASH_TOKEN: string
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const client = () => new Redis({ url: env.UPSTASH_URL, token: env.UPSTASH_TOKEN, retry: false, enableTelemetry: false })
    const make = async () => {
      const c = client()
      await c.flushdb()
      return redisStorage(c)
    }
    const { pathname } = new URL(request.url)
    if (pathname === '/conformance') {
      // A refused token: @upstash/redis's error quotes the whole command (values too), which must not reach our message.
      const broken = async () => redisStorage(new Redis({ url: env.UPSTASH_URL, token: `wrong-${SECRET}`, retry: false, enableTelemetry: false }))
      return Response.json(await runCases({ make, broken }))
    }
    if (pathname === '/store') return Response.json(await runStoreCases({ make }))
    if (pathname === '/race') {
      await (await make()).list('')
      return Response.json(await writersRace(() => redisStorage(client())))
    }
    return new Response('not found', { status: 404 })
  },
}
