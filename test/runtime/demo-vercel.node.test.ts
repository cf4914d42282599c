import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { EdgeRuntime, runServer } from 'edge-runtime'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundle, demoAuthorization, demoConversation, root } from './demos.js'
import { CONDITIONS } from '../storage/miniflare.js'

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

const wrapper = `
import handler, { config } from ${JSON.stringify(resolve(dir, 'api/agent.js'))}
if (config?.runtime !== 'edge') throw new Error('api/agent.js: config.runtime is not "edge"')
addEventListener('fetch', (event) => event.respondWith(handler(event.request, { waitUntil: (p) => event.waitUntil(p) })))
`

beforeAll(async () => {
  const code = await bundle({ stdin: { contents: wrapper, resolveDir: dir, sourcefile: 'edge-wrapper.js' }, format: 'iife', conditions: CONDITIONS.edge })
  server = await runServer({ runtime: new EdgeRuntime({ initialCode: code }), host: '127.0.0.1', port: 0 })
  // Vercel gives an Edge Function its environment variables as `process.env`.
  const runtime = new EdgeRuntime({ initialCode: code, extend: (context) => Object.assign(context, { process: { env: { AGENT_TOKEN: TOKEN } } }) })
  guarded = await runServer({ runtime, host: '127.0.0.1', port: 0 })
}, 60_000)

afterAll(async () => {
  await server?.close()
  await guarded?.close()
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
