import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

// The README's examples must stay true: every ```js block runs against the built package, and each
// `console.log(...) // expected` line must print what its comment says.
const root = join(import.meta.dirname, '../..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!)
// Inside the package, so `import 'agentctx'` resolves to this package's own exports (self-reference).
const dir = join(root, '.readme-blocks')

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('README examples', () => {
  it('has examples, and the package is built', () => {
    expect(blocks.length).toBeGreaterThan(0)
    expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
  })

  it.each(blocks.map((code, i) => [i + 1, code]))('block %i runs and prints what its comments say', (i, code) => {
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `block-${i}.mjs`)
    writeFileSync(file, code as string)
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 })
    const expected = [...(code as string).matchAll(/console\.log\(.*\) \/\/ (.*)$/gm)].map((m) => m[1]!.split(' — ')[0]!.trim())
    const printed = out.trimEnd().split('\n')
    expect(printed).toEqual(expected)
  })
})
