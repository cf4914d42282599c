import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Application, LogLevel, TSConfigReader, TypeDocReader } from 'typedoc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { entries } from '../../scripts/entries.mjs'

// The API reference (`npm run docs`, typedoc.json) is built from the JSDoc with warnings as errors.
// This runs the same configuration through TypeDoc's API, as the CLI does (convert, then validate:
// not exported, invalid links, not documented), but writes JSON only, to a temp dir: about 10 s on
// this 2-core machine, where the HTML adds another 10.
const root = join(import.meta.dirname, '../..')
const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'))

/** The parts of TypeDoc's JSON output read here. */
interface JsonReflection {
  id: number
  name: string
  variant?: string
  target?: number
  comment?: { summary: { text: string }[] }
  signatures?: JsonReflection[]
  children?: JsonReflection[]
}

const hasComment = (r: JsonReflection) =>
  [r, ...(r.signatures ?? [])].some((x) => (x.comment?.summary ?? []).some((part) => part.text.trim() !== ''))

let dir: string
const messages: string[] = []
let project: JsonReflection | undefined

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agentctx-typedoc-'))
  const app = await Application.bootstrapWithPlugins({ options: root }, [new TypeDocReader(), new TSConfigReader()])
  // Every warning and error is kept to fail with its text; scripts/typedoc-plugin.mjs wraps `warn`
  // and `info` of this same logger, so what it lets through arrives here.
  const log = app.logger.log.bind(app.logger)
  app.logger.log = (message, level) => {
    if (level >= LogLevel.Warn) messages.push(String(message))
    log(message, level)
  }
  const converted = await app.convert()
  if (!converted) return
  app.validate(converted)
  await app.generateJson(converted, join(dir, 'api.json'))
  project = JSON.parse(readFileSync(join(dir, 'api.json'), 'utf8'))
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the API reference (TypeDoc)', () => {
  it('typedoc.json documents every entry of scripts/entries.mjs, with warnings as errors and every validation on', () => {
    expect([...config.entryPoints].sort()).toEqual(entries.map((e) => e.input).sort())
    expect(config.treatWarningsAsErrors).toBe(true)
    expect(config.validation).toMatchObject({ notExported: true, invalidLink: true, notDocumented: true })
    expect(config.excludePrivate && config.excludeInternal).toBe(true)
    // Every kind a reader meets: with Property among them, a field written without a comment fails the build (81 did before).
    expect(config.requiredToBeDocumented).toEqual(expect.arrayContaining(['Class', 'Interface', 'TypeAlias', 'Function', 'Variable', 'Method', 'Accessor', 'Constructor', 'Property']))
  })

  it('builds with no warning and no error: no broken {@link}, no public type left unexported unless listed, no undocumented symbol', () => {
    expect(messages).toEqual([])
    expect(project).toBeDefined()
  })

  it('names each module by its import specifier (`@module` in the entry file)', () => {
    expect(project!.children!.map((m) => m.name).sort()).toEqual(entries.map((e) => e.specifier).sort())
  })

  it('every value export of every entry has a page, and a comment that says what it is', async () => {
    const byId = new Map<number, JsonReflection>()
    const index = (r: JsonReflection) => {
      byId.set(r.id, r)
      for (const c of r.children ?? []) index(c)
    }
    index(project!)
    const missing: string[] = []
    let checked = 0
    for (const entry of entries) {
      const mod = await import(join(root, entry.input))
      const page = project!.children!.find((m) => m.name === entry.specifier)
      for (const name of Object.keys(mod)) {
        checked++
        let reflection = page?.children?.find((c) => c.name === name)
        // Re-exported from another entry (agentctx/client's errors): TypeDoc links to the one page.
        while (reflection?.variant === 'reference' && reflection.target !== undefined) reflection = byId.get(reflection.target)
        if (!reflection) missing.push(`${entry.specifier}: ${name} has no page`)
        else if (!hasComment(reflection)) missing.push(`${entry.specifier}: ${name} has no comment`)
      }
    }
    expect(missing).toEqual([])
    // 15 entries, about 90 value exports: an empty loop (a moved entry file) must not pass silently.
    expect(checked).toBeGreaterThan(50)
  })
})
