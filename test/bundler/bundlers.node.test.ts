import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, relative, resolve } from 'node:path'
import { build as esbuild } from 'esbuild'
import { chromium, type Browser } from 'playwright'
import { build as vite } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromiumArgs, findChromium } from '../../scripts/chromium.mjs'
import { installPacked } from '../deploy/packed.js'

// An app importing only `agentctx` and `agentctx/storage/indexeddb` (app/main.js), in a folder of its
// own with agentctx installed as `npm pack` packs it (../deploy/packed.ts), bundled for production by
// Vite (`vite build`, the Vite that vitest brings) and by esbuild (`--bundle --minify`, browser
// platform). Each bundle is served over HTTP on 127.0.0.1 and opened in Chromium, where it saves a
// context in IndexedDB and, after a reload, loads it back. The bundles must hold neither provider code
// (the core is provider-agnostic; providers are their own entries) nor Node code.
let work: string
let browser: Browser
const outputs: Record<'vite' | 'esbuild', string> = { vite: '', esbuild: '' }

/** Every file under `dir`, relative paths. */
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)).map((f) => join(name, f)) : [name]))

/** The JavaScript an output folder holds, all files together. */
const javascript = (dir: string) =>
  files(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n')

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' }

/** Serves `dir` on 127.0.0.1 (IndexedDB needs an http origin; file:// has none). */
async function serve(dir: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = resolve(dir, `.${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}`)
    const file = path.endsWith('/') || path === dir ? join(path, 'index.html') : path
    if (relative(dir, file).startsWith('..')) return void res.writeHead(403).end()
    try {
      const body = readFileSync(file)
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address() as { port: number }
  return { url: `http://127.0.0.1:${address.port}/`, server }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'agentctx-bundler-'))
  const app = join(work, 'app')
  cpSync(resolve(import.meta.dirname, 'app'), app, { recursive: true })
  await installPacked(work, app)
  outputs.vite = join(work, 'out-vite')
  await vite({ root: app, configFile: false, logLevel: 'silent', build: { outDir: outputs.vite, emptyOutDir: true } })
  outputs.esbuild = join(work, 'out-esbuild')
  await esbuild({ entryPoints: [join(app, 'main.js')], bundle: true, minify: true, format: 'esm', platform: 'browser', outdir: outputs.esbuild, logLevel: 'silent' })
  cpSync(join(app, 'index.html'), join(outputs.esbuild, 'index.html'))
  browser = await chromium.launch({ executablePath: await findChromium(), args: chromiumArgs })
}, 120_000)

afterAll(async () => {
  await browser?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe.each(['vite', 'esbuild'] as const)('an app importing agentctx and agentctx/storage/indexeddb, bundled by %s', (bundler) => {
  it('runs in Chromium: saves a context in IndexedDB and loads it back after a reload', async () => {
    const { url, server } = await serve(outputs[bundler])
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    try {
      // The page writes its outcome on <body> (empty, so "attached", not "visible").
      const result = async () => JSON.parse((await (await page.waitForSelector('body[data-result]', { state: 'attached' })).getAttribute('data-result'))!) as unknown
      await page.goto(url)
      expect(await result()).toEqual({ saved: true })
      await page.goto(`${url}#load`)
      await page.reload()
      expect(await result()).toEqual({ loaded: true, agentId: 'bundled', user: 'Ada', reply: 'On its way.' })
      expect(errors).toEqual([])
    } finally {
      await page.close()
      server.close()
    }
  }, 30_000)

  it('holds no provider code and no Node code', () => {
    const code = javascript(outputs[bundler])
    expect(code.length).toBeGreaterThan(1000)
    for (const provider of ['api.openai.com', 'anthropic', 'generativelanguage', 'eventsource-parser', 'EventSourceParserStream']) expect(code, provider).not.toContain(provider)
    expect(code).not.toMatch(/["']node:/)
    expect(code).not.toMatch(/\bprocess\./)
    expect(code).not.toMatch(/\bBuffer\b/)
    expect(code).not.toMatch(/\brequire\(/)
  })
})
