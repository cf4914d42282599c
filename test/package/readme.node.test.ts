import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEY, sse, json, type Loopback } from '../providers/servers/loopback.js'
import { completion, completionChunks, openaiServer } from '../providers/servers/openai.js'

// The README's examples and the guides' in docs/ must stay true: every ```js block runs against the built package, and each
// `console.log(...) // expected` line must print what its comment says (text after " — " is a note).
// Blocks that call a model get OPENAI_BASE_URL pointing at a loopback server speaking the Chat
// Completions format (the same fake the provider tests use), which answers "Paris" (and, asked for
// JSON, the city as an object).
const root = join(import.meta.dirname, '../..')
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const blocks = pages.flatMap((page) =>
  [...readFileSync(join(root, page), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m, i) => [`${page} block ${i + 1}`, m[1]!] as const),
)
// Inside the package, so `import 'agentctx'` resolves to this package's own exports (self-reference).
const dir = join(root, '.readme-blocks')
const run = promisify(execFile)

let server: Loopback
beforeAll(async () => {
  server = await openaiServer()
  // A request for JSON (generateObject, streamObject, output.format json) gets the city as an object,
  // streamed 8 characters a chunk: keys, strings and numbers arrive cut.
  const city = JSON.stringify({ city: 'Paris', country: 'France', population: 2102650, landmarks: ['Eiffel Tower', 'Louvre'] })
  const answer = (seen: Parameters<Parameters<Loopback['queue']>[0]>[0], res: Parameters<Parameters<Loopback['queue']>[0]>[1]) => {
    const deltas = seen.body?.response_format ? city.match(/[\s\S]{1,8}/g)! : ['Par', 'is']
    return seen.body?.stream
      ? sse(completionChunks(deltas, { usage: [42, 2] }))(seen, res)
      : json(completion({ content: deltas.join(''), usage: [42, 2], model: seen.body?.model }))(seen, res)
  }
  server.queue(...Array.from({ length: 50 }, () => answer))
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await server?.close()
})

describe('README and docs/ examples', () => {
  it('has examples, and the package is built', () => {
    expect(blocks.length).toBeGreaterThan(0)
    expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
  })

  it.each(blocks)('%s runs and prints what its comments say', async (name, code) => {
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${name.replace(/\W+/g, '-')}.mjs`)
    writeFileSync(file, code as string)
    const env = { ...process.env, OPENAI_BASE_URL: `${server.url}/v1`, OPENAI_API_KEY: KEY }
    const { stdout } = await run(process.execPath, [file], { encoding: 'utf8', timeout: 20_000, env })
    const expected = [...(code as string).matchAll(/console\.log\(.*\) \/\/ (.*)$/gm)].map((m) => m[1]!.split(' — ')[0]!.trim())
    expect(stdout.trimEnd().split('\n')).toEqual(expected)
    expect(server.problems).toEqual([])
  })
})
