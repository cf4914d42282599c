import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readToml, root } from '../runtime/demos.js'
import { readSSE } from '../runtime/sse.js'
import { installPacked, run } from './packed.js'

// demo/cloudflare deployed as its README says, up to the upload: the real wrangler (the
// devDependency, 3.114.17: the last of wrangler 3, whose miniflare is this repository's, and which
// runs on Node 20; wrangler 4 needs Node 22) runs `wrangler deploy --dry-run --outdir`, which bundles
// the Worker exactly as a deploy would and stops before logging in. The bundle it wrote runs in
// workerd through miniflare with wrangler.toml's compatibility date and Durable Object binding, and
// answers an event over SSE. The demo is copied to a temporary folder with agentctx installed as
// `npm pack` packs it (packed.ts), as a project outside this repository would have it.
// (Whether a background task's events reach the client is tested in test/runtime/demo-cloudflare.)
const wrangler = resolve(root, 'node_modules/wrangler/bin/wrangler.js')
let work: string
let outdir: string
let mf: Miniflare
let log = ''
let config: { main: string; compatibility_date: string; compatibility_flags?: string[]; durable_objects: { bindings: { name: string; class_name: string }[] } }

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'agentctx-wrangler-'))
  const project = join(work, 'demo/cloudflare')
  cpSync(resolve(root, 'demo/shared'), join(work, 'demo/shared'), { recursive: true })
  cpSync(resolve(root, 'demo/cloudflare'), project, { recursive: true, filter: (src) => !/[\\/](\.wrangler|\.dev\.vars|node_modules)$/.test(src) })
  await installPacked(work, work)
  outdir = join(work, 'out')
  // HOME: wrangler's config and logs go to the temporary folder; no account, no token.
  const env = { ...process.env, HOME: work, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_API_TOKEN: '', CI: '1' }
  const built = await run(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outdir], { cwd: project, encoding: 'utf8', env, timeout: 60_000 })
  log = built.stdout + built.stderr
  config = readToml(readFileSync(join(project, 'wrangler.toml'), 'utf8')) as typeof config
  const script = readFileSync(join(outdir, config.main), 'utf8')
  const sqlite = new Set(((config as { migrations?: { new_sqlite_classes?: string[] }[] }).migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []))
  mf = new Miniflare({
    modulesRoot: outdir,
    modules: [{ type: 'ESModule', path: join(outdir, config.main), contents: script }],
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags ?? [],
    durableObjects: Object.fromEntries(config.durable_objects.bindings.map((b) => [b.name, { className: b.class_name, useSQLite: sqlite.has(b.class_name) }])),
  })
  await mf.ready
}, 90_000)

afterAll(async () => {
  await mf?.dispose()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('demo/cloudflare: `wrangler deploy --dry-run`, then the Worker it bundled', () => {
  it('bundles worker.js into one module, with the SESSIONS binding, without logging in', () => {
    expect(log).toMatch(/--dry-run: exiting now/)
    expect(log).toMatch(/SESSIONS: AgentSession/)
    expect(readdirSync(outdir)).toContain(config.main)
    // One file: agentctx and ../shared are inside it, nothing left to resolve at upload.
    expect(readFileSync(join(outdir, config.main), 'utf8')).not.toMatch(/from ["'](agentctx|\.\.\/shared)/)
  })

  it('answers an event over SSE in workerd, and keeps the session in its Durable Object', async () => {
    const post = await mf.dispatchFetch('http://demo.local/sessions/deployed/events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'text', data: { text: 'hello' } }),
    })
    expect(post.status).toBe(200)
    expect(post.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = await readSSE(post as unknown as Response)
    expect(events.map((e) => [e.type, e.turn, e.data.text])).toEqual([
      ['text_to_speech', 0, expect.stringMatching(/\S/)],
      ['text_to_speech', 1, 'You said “hello”. I only know a few tricks.'],
    ])
    const stored = await mf.dispatchFetch('http://demo.local/sessions/deployed')
    expect(((await stored.json()) as { currentTurnId: number }).currentTurnId).toBe(1)
  })
})
