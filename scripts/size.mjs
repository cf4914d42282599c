#!/usr/bin/env node
/**
 * Size check, run by `npm test` after the build: every entry of scripts/entries.mjs is bundled from
 * dist/ the way a consumer's bundler would (esbuild, ESM, minified, dependencies included,
 * tree-shaken), then compressed with gzip and brotli. The run fails when an entry is over its budget,
 * or a subpath adds more than its `addsToCore` to the core.
 */
import { build } from 'esbuild'
import { existsSync } from 'node:fs'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { entries } from './entries.mjs'

async function bundle(source) {
  const result = await build({
    stdin: { contents: source, resolveDir: process.cwd(), loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    // A browser build: the strictest consumer, and the one edge bundlers (wrangler, Vercel) resemble:
    // they resolve the `browser` / `worker` conditions, so nanoid's web-crypto build is the one counted.
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  })
  const bytes = result.outputFiles[0].contents
  return {
    min: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  }
}

for (const entry of entries) {
  for (const file of [`dist/${entry.output}.js`, `dist/${entry.output}.d.ts`]) {
    if (!existsSync(file)) {
      console.error(`size check: ${file} is missing for ${entry.specifier}; run \`npm run build\` first`)
      process.exit(1)
    }
  }
}

const core = entries.find((e) => e.specifier === 'agentctx')
const distOf = (e) => `./dist/${e.output}.js`
const kb = (n) => (n / 1024).toFixed(2) + ' KB'
const rows = []
let failed = false
const coreSize = await bundle(`export * from '${distOf(core)}'`)
for (const entry of entries) {
  const size = entry === core ? coreSize : await bundle(`export * from '${distOf(core)}'\nexport * from '${distOf(entry)}'`)
  const adds = entry === core ? undefined : size.gzip - coreSize.gzip
  const over = size.gzip > entry.budget || (entry.addsToCore !== undefined && adds > entry.addsToCore)
  failed ||= over
  rows.push([
    entry.specifier,
    kb(size.min),
    kb(size.gzip),
    kb(size.brotli),
    adds === undefined ? '—' : `+${kb(adds)}${entry.addsToCore !== undefined ? ` (≤ ${kb(entry.addsToCore)})` : ''}`,
    `≤ ${kb(entry.budget)}`,
    over ? 'OVER' : 'ok',
  ])
}
// What most apps pay: `import { Context } from 'agentctx'` alone, tree-shaken. 14 KB keeps it honest
// as the whole entry grows with optional pieces (executor, store, adapters' helpers).
const CONTEXT_ALONE_BUDGET = 14 * 1024
const alone = await bundle(`export { Context } from '${distOf(core)}'`)
const aloneOver = alone.gzip > CONTEXT_ALONE_BUDGET
failed ||= aloneOver
rows.splice(1, 0, ["import { Context } from 'agentctx'", kb(alone.min), kb(alone.gzip), kb(alone.brotli), '—', `≤ ${kb(CONTEXT_ALONE_BUDGET)}`, aloneOver ? 'OVER' : 'ok'])

const header = ['entry (with core)', 'min', 'gzip', 'brotli', 'adds to core (gzip)', 'budget (gzip)', '']
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
const line = (cells) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |'
console.log(line(header))
console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|')
for (const r of rows) console.log(line(r))
if (failed) {
  console.error('\nsize check failed: an entry is over its budget (see OVER above)')
  process.exit(1)
}
