import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { EdgeRuntime, runServer } from 'edge-runtime'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Plugin } from 'esbuild'
import { agentctxFromSource, bundle, demoAuthorization, demoConversation, root } from './demos.js'
import { readSSE } from './sse.js'
import { CONDITIONS } from '../storage/miniflare.js'
import { redisMissing, startRedis, type RedisServer } from '../storage/redis.js'
import { startUpstash, type UpstashServer } from '../storage/upstash-server.js'

// demo/vercel/api/agent.js as an Edge Function in Vercel's edge-runtime VM (web APIs only), served
// over real HTTP on 127.0.0.1 by edge-runtime's server. Bundled by esbuild with the conditions
// Vercel's bundler uses (`agentctx` resolved through package.json's exports to src/, see demos.ts)
// behind a wrapper that checks `config.runtime` and turns the VM's fetch events into calls of the
// default export, as the platform does. vercel.json's rewrites are applied by the test, and the
// function is reached both ways Vercel may hand it a rewritten request: the original path, and the
// destination with the rewrite's parameters.
const dir = resolve(root, 'demo/vercel')
const vercel = JSON.parse(readFileSync(resolve(dir, 'vercel.json'), 'utf8')) as { rewrites?: { source: string; destination: string }[] }
let server: Awaited<ReturnType<typeof runServer>>
// The same function deployed with the environment variable AGENT_TOKEN set.
let guarded: Awaited<ReturnType<typeof runServer>>
const TOKEN = 'demo-token-5f2a9c'
// Two instances of the function with Upstash's variables set, on one real redis-server behind the
// loopback Upstash REST server: sessions in Redis through redisStorage and @upstash/redis, shared.
const redisAbsent = redisMissing()
let redis: RedisServer | undefined
let upstash: UpstashServer | undefined
const instances: Awaited<ReturnType<typeof runServer>>[] = []

const wrapper = `
import handler, { config } from ${JSON.stringify(resolve(dir, 'api/agent.js'))}
if (config?.runtime !== 'edge') throw new Error('api/agent.js: config.runtime is not "edge"')
addEventListener('fetch', (event) => event.respondWith(handler(event.request, { waitUntil: (p) => event.waitUntil(p) })))
`

// api/agent.js imports the demo's rules from lib/, the copy of demo/shared that `vercel build` makes
// (copy-shared.mjs); here they are read where they live. (test/deploy/vercel.node.test.ts runs the real build.)
const sharedLib: Plugin = {
  name: 'demo-vercel-lib',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/lib\/[\w-]+\.js$/ }, ({ path }) => ({ path: resolve(root, 'demo/shared', path.slice('../lib/'.length)) }))
  },
}

beforeAll(async () => {
  const code = await bundle({ stdin: { contents: wrapper, resolveDir: dir, sourcefile: 'edge-wrapper.js' }, format: 'iife', conditions: CONDITIONS.edge, plugins: [agentctxFromSource, sharedLib] })
  server = await runServer({ runtime: new EdgeRuntime({ initialCode: code }), host: '127.0.0.1', port: 0 })
  // Vercel gives an Edge Function its environment variables as `process.env`.
  const runtime = new EdgeRuntime({ initialCode: code, extend: (context) => Object.assign(context, { process: { env: { AGENT_TOKEN: TOKEN } } }) })
  guarded = await runServer({ runtime, host: '127.0.0.1', port: 0 })
  if (redisAbsent) return
  redis = await startRedis()
  upstash = await startUpstash(redis.url)
  for (let i = 0; i < 2; i++) {
    const env = { UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token, UPSTASH_DISABLE_TELEMETRY: '1' }
    const instance = new EdgeRuntime({ initialCode: code, extend: (context) => Object.assign(context, { process: { env } }) })
    instances.push(await runServer({ runtime: instance, host: '127.0.0.1', port: 0 }))
  }
}, 60_000)

afterAll(async () => {
  await server?.close()
  await guarded?.close()
  for (const i of instances) await i.close()
  await upstash?.close()
  await redis?.stop()
})

/** vercel.json's rewrite of `path` (`:name` matches one segment), or undefined when no rule matches. */
function rewrite(path: string): string | undefined {
  for (const { source, destination } of vercel.rewrites ?? []) {
    const names: string[] = []
    const pattern = new RegExp(`^${source.replace(/:(\w+)/g, (_, name: string) => (names.push(name), '([^/]+)'))}$`)
    const match = pattern.exec(path)
    if (match) return destination.replace(/:(\w+)/g, (_, name: string) => match[names.indexOf(name) + 1]!)
  }
  return undefined
}

const at = (path: string, init?: RequestInit) => fetch(`${server.url.replace(/\/$/, '')}${path}`, init)

describe('demo/vercel: vercel.json', () => {
  it('rewrites /sessions/:id and /sessions/:id/events to the function, api/agent.js', () => {
    expect(rewrite('/sessions/demo/events')).toBe('/api/agent?id=demo&events=1')
    expect(rewrite('/sessions/demo')).toBe('/api/agent?id=demo')
    expect(rewrite('/elsewhere')).toBeUndefined()
  })
})

describe('demo/vercel: the Edge Function in edge-runtime, reached at the original path', () => {
  demoConversation('Hi! I am a small agent in a Vercel Edge Function. What can I do for you?', () => at)
  demoAuthorization(TOKEN, 'Hi! I am a small agent in a Vercel Edge Function. What can I do for you?', () => (path, init) => fetch(`${guarded.url.replace(/\/$/, '')}${path}`, init))
})

describe("demo/vercel: the Edge Function in edge-runtime, reached at the rewrite's destination", () => {
  demoConversation('Hi! I am a small agent in a Vercel Edge Function. What can I do for you?', () => (path, init) => {
    const destination = rewrite(path)
    if (!destination) throw new Error(`vercel.json does not rewrite ${path}`)
    return at(destination, init)
  })

  it('answers the function path without a session with a JSON 404', async () => {
    const response = await at('/api/agent')
    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found')
  })
})

describe.skipIf(redisAbsent)('demo/vercel with UPSTASH_REDIS_REST_URL and _TOKEN: sessions in Redis (redisStorage over @upstash/redis), shared by two instances', () => {
  const on = (i: number) => (path: string, init?: RequestInit) => fetch(`${instances[i]!.url.replace(/\/$/, '')}${path}`, init)
  const post = (i: number, id: string, text: string) =>
    on(i)(`/sessions/${id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'text', data: { text } }) })
  const say = async (i: number, id: string, text: string) => (await readSSE(await post(i, id, text))).map((e) => e.data.text)
  const stored = async (i: number, id: string) => (await (await on(i)(`/sessions/${id}`)).json()) as { data: Record<string, unknown>; turns: { request?: { text?: string }; response?: { text?: string } }[] }

  // The whole conversation on one instance (its background order and barge-in live in its memory).
  demoConversation('Hi! I am a small agent in a Vercel Edge Function. What can I do for you?', () => on(0))

  it('a session started on one instance continues on the other, turn by turn: it is in Redis, reached over Upstash’s REST protocol', async () => {
    const before = upstash!.commands.length
    expect(await say(0, 'moves', 'my name is Ada')).toEqual(['Hi! I am a small agent in a Vercel Edge Function. What can I do for you?', 'Nice to meet you, Ada!'])
    expect(await say(1, 'moves', 'hello')).toEqual(['You said “hello”, Ada. I only know a few tricks.'])
    expect(await say(0, 'moves', 'hello again')).toEqual(['You said “hello again”, Ada. I only know a few tricks.'])
    expect((await stored(1, 'moves')).turns.map((t) => t.request?.text)).toEqual([undefined, 'my name is Ada', 'hello', 'hello again'])
    // Every command the store sent is one Lua script.
    expect(upstash!.commands.slice(before).every((c) => String(c[0]).toLowerCase() === 'eval')).toBe(true)
  })

  it('two instances answering events of one session at the same moment lose no turn (compare-and-set, then the loser runs its turn again)', async () => {
    await say(0, 'both', 'my name is Ada')
    for (let r = 0; r < 5; r++) await Promise.all([say(0, 'both', `a${r}`), say(1, 'both', `b${r}`)])
    const requests = (await stored(0, 'both')).turns.map((t) => t.request?.text).filter(Boolean)
    expect(requests.sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4', 'my name is Ada'])
  })
})
