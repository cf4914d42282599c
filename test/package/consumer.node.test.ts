import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attw, CONFIGS, createConsumer, lint, pack, readmeBlocks, typecheckAll, type Result } from '../../scripts/consumer.mjs'

// The package as a strict user gets it (issue 8, "Types a strict user can compile"): one `npm pack`
// per run, installed into a fresh consumer project, compiled by `tsc` without `skipLibCheck` under
// each config of scripts/consumer.mjs; publint and attw on the same tarball. The bug this guards:
// dist/state/schema.d.ts spelled out valibot's inferred type of the whole state schema and a
// consumer's `tsc --strict` stopped on it with TS2589 ("excessively deep"); node10 found no subpath.
const root = join(import.meta.dirname, '../..')
const blocks = readmeBlocks()
const tsBlocks = readmeBlocks('ts')
// Three `tsc` runs of about 3.5 s each on an idle machine; generous for a loaded one.
const SLOW = 240_000

let dir: string
let checks: Record<string, Promise<Result>>
let linted: Promise<string[]>
let typed: Promise<Result>

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)')
  dir = mkdtempSync(join(tmpdir(), 'agentctx-consumer-'))
  const tarball = await pack(dir)
  const pkgDir = await createConsumer(join(dir, 'consumer'), tarball)
  checks = typecheckAll(join(dir, 'consumer'))
  linted = lint(pkgDir)
  typed = attw(tarball)
}, 60_000)

afterAll(async () => {
  // The checks may still run when a test failed early: let them end before their folder goes.
  await Promise.allSettled([...Object.values(checks ?? {}), linted, typed])
  if (dir) rmSync(dir, { recursive: true, force: true })
}, SLOW)

/** tsc's diagnostics (`--pretty false`: a line `file(line,col): error …`, its details indented below). */
const diagnostics = (output: string) => output.split(/\n(?=\S)/).filter((d) => d.trim() !== '')
const inReadme = (d: string) => d.startsWith('readme/') || d.startsWith('readme-ts/')

describe('the packed package in a strict consumer project (skipLibCheck off)', () => {
  it.each(CONFIGS.map((c) => [c.name, c.files.join(', ')]))(
    'moduleResolution %s: compiles %s (every subpath export, and the main APIs in usage.ts)',
    async (name) => {
      const { output } = await checks[name]!
      expect(diagnostics(output).filter((d) => !inReadme(d))).toEqual([])
    },
    SLOW,
  )

  it.each(blocks.map((_, i) => [i + 1]))(
    'README block %i type-checks as strict TypeScript',
    async (i) => {
      const { output } = await checks.nodenext!
      expect(diagnostics(output).filter((d) => d.startsWith(`readme/block-${i}.ts(`))).toEqual([])
    },
    SLOW,
  )

  it.each(tsBlocks.map((_, i) => [i + 1]))(
    'README ```ts block %i (a Worker or Edge module) type-checks as strict TypeScript with the DOM lib',
    async (i) => {
      const { output } = await checks.bundler!
      expect(diagnostics(output).filter((d) => d.startsWith(`readme-ts/block-${i}.ts(`))).toEqual([])
    },
    SLOW,
  )

  it('publint finds nothing, suggestions and warnings included', async () => {
    expect(await linted).toEqual([])
  }, SLOW)

  it('attw --profile esm-only finds no problem', async () => {
    const { ok, output } = await typed
    expect(ok, output).toBe(true)
  }, SLOW)
})
