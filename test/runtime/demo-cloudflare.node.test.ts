import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundle, demoAuthorization, demoConversation, readToml, root } from './demos.js'
import { CONDITIONS } from '../storage/miniflare.js'

// demo/cloudflare as `wrangler dev` runs it: its wrangler.toml read for the entry, the compatibility
// date and the Durable Object binding; the entry bundled by esbuild with wrangler's conditions
// (`agentctx` resolved through package.json's exports to src/, see demos.ts); run in workerd by
// miniflare 3. Requests go through `dispatchFetch`, SSE read as a client reads it.
const dir = resolve(root, 'demo/cloudflare')
const config = readToml(readFileSync(resolve(dir, 'wrangler.toml'), 'utf8')) as {
  name?: string
  main?: string
  compatibility_date?: string
  compatibility_flags?: string[]
  durable_objects?: { bindings?: { name: string; class_name: string }[] }
  migrations?: { tag: string; new_classes?: string[]; new_sqlite_classes?: string[] }[]
}
let mf: Miniflare
// The same Worker deployed with the secret AGENT_TOKEN set.
let guarded: Miniflare
const TOKEN = 'demo-token-5f2a9c'

beforeAll(async () => {
  const sqlite = new Set((config.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []))
  const durableObjects = Object.fromEntries((config.durable_objects?.bindings ?? []).map((b) => [b.name, { className: b.class_name, useSQLite: sqlite.has(b.class_name) }]))
  const worker = {
    modules: true,
    script: await bundle({ entryPoints: [resolve(dir, config.main ?? 'missing main')], format: 'esm', conditions: CONDITIONS.workerd }),
    compatibilityDate: config.compatibility_date!,
    compatibilityFlags: config.compatibility_flags ?? [],
    durableObjects,
  }
  mf = new Miniflare(worker)
  guarded = new Miniflare({ ...worker, bindings: { AGENT_TOKEN: TOKEN } })
  await Promise.all([mf.ready, guarded.ready])
}, 60_000)

afterAll(async () => {
  await mf?.dispose()
  await guarded?.dispose()
})

describe('demo/cloudflare: wrangler.toml', () => {
  it('names the Worker, its entry and a compatibility date, and binds SESSIONS to AgentSession, created by a migration', () => {
    expect(config).toMatchObject({ name: expect.any(String), main: 'worker.js', compatibility_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) })
    expect(config.durable_objects?.bindings).toEqual([{ name: 'SESSIONS', class_name: 'AgentSession' }])
    const created = (config.migrations ?? []).flatMap((m) => [...(m.new_classes ?? []), ...(m.new_sqlite_classes ?? [])])
    expect(created).toEqual(['AgentSession'])
  })
})

describe('demo/cloudflare: the Worker in workerd, a Durable Object per session', () => {
  demoConversation('Hi! I am a small agent in a Durable Object on Cloudflare. What can I do for you?', () => (path, init) =>
    mf.dispatchFetch(`http://demo.test${path}`, init as never) as unknown as Promise<Response>,
  )

  demoAuthorization(TOKEN, 'Hi! I am a small agent in a Durable Object on Cloudflare. What can I do for you?', () => (path, init) =>
    guarded.dispatchFetch(`http://demo.test${path}`, init as never) as unknown as Promise<Response>,
  )

  it('answers a path outside /sessions/ with a JSON 404 that says what to try', async () => {
    const response = await mf.dispatchFetch('http://demo.test/')
    expect(response.status).toBe(404)
    expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'not_found', message: expect.stringContaining('POST /sessions/:id/events') })
  })
})
