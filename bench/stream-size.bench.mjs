#!/usr/bin/env node
/**
 * What streaming a chat completion costs in a bundle, beside the clients of bench/stream.bench.ts:
 * each import bundled the way scripts/size.mjs bundles ours (esbuild, ESM, minified, tree-shaken,
 * dependencies included, browser platform), then gzip level 9 and brotli quality 11.
 *
 *   node bench/stream-size.bench.mjs
 *
 * Ours is bundled from src/ (esbuild reads the TypeScript directly, `./x.js` imports resolving to
 * `./x.ts`), so no build is needed; the difference from dist/ is a few bytes of Rollup's output.
 */
import { build } from 'esbuild'
import { readFileSync } from 'node:fs'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

// Read from the file: `openai` does not export its package.json.
const version = (name) => JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')).version

const CASES = [
  // The provider alone streams (`onToken`): what a user who only wants the model call imports.
  ['agentctx `openai()` (agentctx/providers/openai)', `export { openai } from './src/providers/openai.ts'`],
  // With the Executor (routing, fallbacks, constraints, the tool loop): a model call through the library.
  ['agentctx `Executor` + `openai()`', `export { Executor } from './src/index.ts'\nexport { openai } from './src/providers/openai.ts'`],
  [`openai SDK ${version('openai')} (\`OpenAI\`)`, `export { default } from 'openai'`],
  [
    `AI SDK \`streamText\` + \`createOpenAI\` (ai ${version('ai')}, @ai-sdk/openai ${version('@ai-sdk/openai')})`,
    `export { streamText } from 'ai'\nexport { createOpenAI } from '@ai-sdk/openai'`,
  ],
  // `ai` and `@ai-sdk/gateway` pin @ai-sdk/provider-utils 4.0.65 and @ai-sdk/openai pins 4.0.66, so an
  // install of these two versions holds three copies (two nested) and the bundle above carries all
  // three; this row resolves every import of it to one copy, as when the pins match.
  [`the same, one copy of @ai-sdk/provider-utils`, `export { streamText } from 'ai'\nexport { createOpenAI } from '@ai-sdk/openai'`, { '@ai-sdk/provider-utils': './node_modules/@ai-sdk/provider-utils' }],
]

async function size(source, alias) {
  const result = await build({
    alias,
    stdin: { contents: source, resolveDir: process.cwd(), loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
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

const kb = (n) => (n / 1024).toFixed(1) + ' KB'
const rows = []
for (const [name, source, alias] of CASES) rows.push({ name, ...(await size(source, alias)) })
const ours = rows[0]
console.log('| import | minified | gzip | brotli | gzip × ours (`openai()`) |')
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const r of rows) console.log(`| ${r.name} | ${kb(r.min)} | ${kb(r.gzip)} | ${kb(r.brotli)} | ${(r.gzip / ours.gzip).toFixed(1)}× |`)
