import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * What `npm publish` would ship, read from `npm pack --dry-run` (dist/ is built by `npm test` before
 * vitest runs): the maps a consumer's debugger and editor follow must land on files in the tarball.
 */
const root = join(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const packed: string[] = (
  JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })) as { files: { path: string }[] }[]
)[0]!.files.map((f) => f.path)
const shipped = new Set(packed)

describe('the published package', () => {
  it('names its licence, repository, home page and keywords, and ships LICENSE, README and CHANGELOG', () => {
    expect(pkg.license).toBe('MIT')
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/)
    expect(pkg.repository).toMatchObject({ type: 'git', url: expect.stringMatching(/^git\+https:\/\//) })
    expect(pkg.homepage).toMatch(/^https:\/\//)
    expect(pkg.keywords).toEqual(expect.arrayContaining(['agent', 'llm', 'context']))
    for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']) expect(shipped.has(file), file).toBe(true)
  })

  it('ships a source map beside every module and a declaration map beside every .d.ts', () => {
    const modules = packed.filter((f) => f.startsWith('dist/') && f.endsWith('.js'))
    expect(modules.length).toBeGreaterThan(50)
    for (const file of modules) expect(shipped.has(`${file}.map`), `${file}.map`).toBe(true)
    for (const file of packed.filter((f) => f.endsWith('.d.ts'))) expect(shipped.has(`${file}.map`), `${file}.map`).toBe(true)
  })

  it('regression: a module renamed in src/ left its old build in dist/ (dist/providers/check.js), which npm would publish', () => {
    const modules = new Set(packed.filter((f) => f.startsWith('src/') && f.endsWith('.ts')).map((f) => f.slice(4, -3)))
    const stale = packed.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !modules.has(f.slice(5, -3)))
    expect(stale).toEqual([])
  })

  it('every map points at a TypeScript source the tarball holds (no map into a path only the repository has)', () => {
    const maps = packed.filter((f) => f.endsWith('.map'))
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] }
      // An entry made only of re-exports (agent/index.js) has no code of its own, so no sources.
      for (const source of sources) {
        const target = join(dirname(map), source)
        expect(target, `${map} → ${source}`).toMatch(/^src\/.*\.ts$/)
        expect(shipped.has(target) && existsSync(join(root, target)), `${map} → ${target}`).toBe(true)
      }
    }
  })

  it('ships no tests, benches, demos or secrets: only dist/, src/ and the top-level files', () => {
    const outside = packed.filter((f) => !/^(dist|src)\//.test(f) && !['LICENSE', 'README.md', 'CHANGELOG.md', 'SECURITY.md', 'package.json'].includes(f))
    expect(outside).toEqual([])
    expect(packed.filter((f) => /\.env|\.test\.ts$/.test(f))).toEqual([])
  })
})
