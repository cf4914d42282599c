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
// The D1 variant's config (`wrangler dev -c wrangler.d1.toml`).
const d1Config = readToml(readFileSync(resolve(dir, 'wrangler.d1.toml'), 'utf8')) as {
  main?: string
  compatibility_date?: string
  durable_objects?: unknown
  d1_databases?: { binding: string; database_name: string; database_id: string }[]
}
let mf: Miniflare
// The same Worker deployed with the secret AGENT_TOKEN set.
let guarded: Miniflare
// The same Worker as `wrangler dev -c wrangler.d1.toml` runs it: a D1 database bound as DB, sessions in D1.
let onD1: Miniflare
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
  const { durableObjects: _, ...plain } = worker
  onD1 = new Miniflare({ ...plain, compatibilityDate: d1Config.compatibility_date!, d1Databases: (d1Config.d1_databases ?? []).map((d) => d.binding) })
  await Promise.all([mf.ready, guarded.ready, onD1.ready])
}, 60_000)

afterAll(async () => {
  await mf?.dispose()
  await guarded?.dispose()
  await onD1?.dispose()
})

describe('demo/cloudflare: wrangler.toml', () => {
  it('names the Worker, its entry and a compatibility date, and binds SESSIONS to AgentSession, created by a migration', () => {
    expect(config).toMatchObject({ name: expect.any(String), main: 'worker.js', compatibility_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) })
    expect(config.durable_objects?.bindings).toEqual([{ name: 'SESSIONS', class_name: 'AgentSession' }])
    const created = (config.migrations ?? []).flatMap((m) => [...(m.new_classes ?? []), ...(m.new_sqlite_classes ?? [])])
    expect(created).toEqual(['AgentSession'])
  })
})

describe('demo/cloudflare: wrangler.d1.toml', () => {
  it('runs the same entry, binds a D1 database as DB and no Durable Object', () => {
    expect(d1Config).toMatchObject({ main: config.main, compatibility_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) })
    expect(d1Config.d1_databases).toEqual([{ binding: 'DB', database_name: expect.any(String), database_id: expect.any(String) }])
    expect(d1Config.durable_objects).toBeUndefined()
    expect((config as Record<string, unknown>).d1_databases).toBeUndefined()
  })
})

describe('demo/cloudflare: the Worker in workerd, sessions in D1 (wrangler.d1.toml)', () => {
  demoConversation(
    'Hi! I am a small agent on Cloudflare, my sessions in D1. What can I do for you?',
    () => (path, init) => onD1.dispatchFetch(`http://demo.test${path}`, init as never) as unknown as Promise<Response>,
    // Seen here: the second text is answered while the story streams on to its end. In production the
    // two requests may not even reach one isolate: interrupting a reply needs the Durable Object.
    { bargeIn: 'a plain Worker has no one place per session: a reply streaming in one request is not interrupted by the next; barge-in needs the Durable Object' },
  )

  it('keeps the session in the D1 table agentctx: its header and turns, readable in SQL', async () => {
    const events = await onD1.dispatchFetch('http://demo.test/sessions/in-d1/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'text', data: { text: 'hello' } }),
    })
    expect(events.status).toBe(200)
    await events.text()
    const db = await onD1.getD1Database('DB')
    const { results } = await db.prepare("SELECT key FROM agentctx WHERE key LIKE 'agentctx/%in-d1%' ORDER BY key").all<{ key: string }>()
    expect(results.length).toBeGreaterThan(1)
    expect(results.some((r) => r.key.startsWith('agentctx/h/in-d1/'))).toBe(true)
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
