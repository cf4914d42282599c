import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { build, type Plugin } from 'esbuild'
import { EdgeRuntime, runServer } from 'edge-runtime'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { root } from '../runtime/demos.js'
import { readSSE } from '../runtime/sse.js'
import { CONDITIONS } from '../storage/miniflare.js'
import { installPacked, run } from './packed.js'

// demo/vercel deployed as its README says, up to the upload: the real Vercel CLI (`vercel build`,
// the devDependency) builds a copy of the demo offline, with a local .vercel/project.json instead of
// `vercel link` (no login, no network), then the function it wrote (.vercel/output/functions/
// api/agent.func) runs in the runtime its .vc-config.json names: Edge, so Vercel's edge-runtime VM,
// over real HTTP on 127.0.0.1. The function is bundled from its .func folder alone, as the deploy
// does: an import that reaches outside it (the bug of issue 12: `agentctx`, ../../shared and
// @upstash/redis left out) fails the bundle. Requests take the routes of .vercel/output/config.json.
const vercelCli = resolve(root, 'node_modules/vercel/dist/index.js')
let work: string
let project: string
let func: string
let output: { routes: { src?: string; dest?: string }[] }
let server: Awaited<ReturnType<typeof runServer>>
let buildLog = ''

/** Refuses any module outside `dir`: a deployed function has nothing else. */
const only = (dir: string): Plugin => ({
  name: 'inside-the-function',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'inside') return undefined
      const found = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'inside' })
      if (found.errors.length > 0) return { errors: found.errors }
      const path = realpathSync(found.path)
      if (relative(dir, path).startsWith('..')) return { errors: [{ text: `"${args.path}" resolves to ${path}, outside the function` }] }
      return { path }
    })
  },
})

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'agentctx-vercel-'))
  // The demo as the repository holds it (../shared beside it), without anything a previous run made.
  project = join(work, 'demo/vercel')
  cpSync(resolve(root, 'demo/shared'), join(work, 'demo/shared'), { recursive: true })
  cpSync(resolve(root, 'demo/vercel'), project, { recursive: true, filter: (src) => !/[\\/](node_modules|lib|\.vercel)$/.test(src) })
  // What `npm install` makes of package.json with .npmrc's install-links (see packed.ts).
  const demoPkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  expect(demoPkg.dependencies.agentctx).toBe('file:../..')
  expect(readFileSync(join(project, '.npmrc'), 'utf8')).toMatch(/^install-links=true$/m)
  await installPacked(work, project, Object.keys(demoPkg.dependencies).filter((n) => n !== 'agentctx'))
  // `vercel link` writes this file; with it `vercel build` needs no login. installCommand: the
  // dependencies are in place (Vercel's own install would ask the registry).
  mkdirSync(join(project, '.vercel'))
  writeFileSync(join(project, '.vercel/project.json'), JSON.stringify({ projectId: 'prj_agentctxdemo', orgId: 'team_agentctxdemo', settings: { framework: null, installCommand: 'true' } }))
  const env = { ...process.env, VERCEL_TELEMETRY_DISABLED: '1', HOME: work, VERCEL_TOKEN: '', CI: '1' }
  const built = await run(process.execPath, [vercelCli, 'build', '--yes'], { cwd: project, encoding: 'utf8', env, timeout: 90_000 })
  buildLog = built.stdout + built.stderr
  func = join(project, '.vercel/output/functions/api/agent.func')
  output = JSON.parse(readFileSync(join(project, '.vercel/output/config.json'), 'utf8')) as typeof output
}, 120_000)

afterAll(async () => {
  await server?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('demo/vercel: `vercel build`, then the function it built', () => {
  it('builds api/agent.js as an Edge Function (ES module), with lib/ copied in by vercel-build', () => {
    expect(buildLog).toMatch(/Build Completed/)
    // The bug: "Compiling … from ESM to CommonJS", the sign of a Node.js function built from a file it misread.
    expect(buildLog).not.toMatch(/to CommonJS/)
    const vc = JSON.parse(readFileSync(join(func, '.vc-config.json'), 'utf8')) as { runtime: string; entrypoint: string; filePathMap?: Record<string, string> }
    expect(vc).toMatchObject({ runtime: 'edge', entrypoint: 'api/agent.js' })
    // Every file the function needs is inside its folder: none left to be fetched from elsewhere at upload.
    expect(vc.filePathMap ?? {}).toEqual({})
    for (const file of ['api/agent.js', 'lib/handler.js', 'lib/auth.js', 'node_modules/agentctx/dist/index.js', 'node_modules/@upstash/redis/package.json']) expect(existsSync(join(func, file)), file).toBe(true)
  })

  it('bundles from its own folder alone and answers an event over SSE, reached by the built routes', async () => {
    const vc = JSON.parse(readFileSync(join(func, '.vc-config.json'), 'utf8')) as { entrypoint: string }
    const wrapper = `
import handler, { config } from ${JSON.stringify(join(func, vc.entrypoint))}
if (config?.runtime !== 'edge') throw new Error('config.runtime is not "edge"')
addEventListener('fetch', (event) => event.respondWith(handler(event.request, { waitUntil: (p) => event.waitUntil(p) })))
`
    const result = await build({
      stdin: { contents: wrapper, resolveDir: func, sourcefile: 'edge-wrapper.js' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      conditions: CONDITIONS.edge,
      plugins: [only(realpathSync(func))],
    })
    server = await runServer({ runtime: new EdgeRuntime({ initialCode: result.outputFiles[0]!.text }), host: '127.0.0.1', port: 0 })
    // The path a client calls, rewritten by the routes `vercel build` wrote from vercel.json.
    const path = '/sessions/deployed/events'
    const route = output.routes.find((r) => r.src && r.dest && new RegExp(r.src).test(path))!
    const target = path.replace(new RegExp(route.src!), route.dest!)
    expect(target).toBe('/api/agent?id=deployed&events=1')
    const response = await fetch(`${server.url.replace(/\/$/, '')}${target}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'text', data: { text: 'hello' } }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events = await readSSE(response)
    expect(events.map((e) => [e.type, e.turn, e.data.text])).toEqual([
      ['text_to_speech', 0, 'Hi! I am a small agent in a Vercel Edge Function. What can I do for you?'],
      ['text_to_speech', 1, 'You said “hello”. I only know a few tricks.'],
    ])
    const stored = await fetch(`${server.url.replace(/\/$/, '')}/api/agent?id=deployed`)
    expect(((await stored.json()) as { currentTurnId: number }).currentTurnId).toBe(1)
  })
})
