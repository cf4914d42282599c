import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { findCycles, importGraph, importsOf, readSources } from './imports.js'

const root = join(import.meta.dirname, '../..')

describe('no import cycle in src/ (DESIGN.md § Layers: imports point down only)', () => {
  it('regression: llm/executor.ts and llm/default.ts imported Context, context.ts imported the executor: no cycle anywhere, type imports included', () => {
    const cycles = findCycles(importGraph(readSources(root, 'src')))
    expect(cycles.map((c) => c.join(' → '))).toEqual([])
  })

  it('llm/ and providers/ import nothing from context.ts, storage/, agent/, experiments/ or tasks/', () => {
    const graph = importGraph(readSources(root, 'src'))
    for (const [file, targets] of graph) {
      if (!/^src\/(llm|providers)\//.test(file)) continue
      for (const t of targets) expect(`${file} → ${t}`).not.toMatch(/→ src\/(context\.ts|storage\/|agent\/|experiments\/|tasks\/)/)
    }
  })
})

describe('the cycle finder is not blind', () => {
  const files = (entries: Record<string, string>) => new Map(Object.entries(entries))

  it('reads every import form: from, type, export-from, export *, side effect, dynamic; not a JSDoc example', () => {
    const text = [
      "import { a } from './a.js'",
      "import type { B } from '../b.js'",
      "import {\n  c,\n  type C,\n} from './c.js'",
      "export { d } from './d.js'",
      "export * from './e.js'",
      "export type { F } from './f.js'",
      "import './g.js'",
      "const h = await import('./h.js')",
      "import { x } from 'valibot'",
      "/** @example import { Context } from './not-an-import.js' */",
      "// import { y } from './commented.js'",
    ].join('\n')
    expect(importsOf(text).sort()).toEqual(['../b.js', './a.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js'])
  })

  it('names a type-only cycle, a dynamic-import cycle and a self import, as paths round them', () => {
    const graph = importGraph(
      files({
        'src/context.ts': "import { run } from './llm/executor.js'",
        'src/llm/executor.ts': "import type { Context } from '../context.js'",
        'src/a.ts': "export * from './b/index.js'",
        'src/b/index.ts': "const c = () => import('./c.js')",
        'src/b/c.ts': "import { a } from '../a.js'",
        'src/self.ts': "import type { X } from './self.js'",
        'src/fine.ts': "import { a } from './a.js'",
      }),
    )
    expect(findCycles(graph).map((c) => c.join(' → '))).toEqual([
      'src/a.ts → src/b/index.ts → src/b/c.ts → src/a.ts',
      'src/context.ts → src/llm/executor.ts → src/context.ts',
      'src/self.ts → src/self.ts',
    ])
  })
})
