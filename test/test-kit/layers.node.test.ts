import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importGraph, readSources } from '../package/imports.js'

const root = join(import.meta.dirname, '../..')

describe('agentctx/test stands on the provider contract only', () => {
  it('src/test/ imports the errors, the contract types and the provider errors: no Context, executor, store or agent', () => {
    // So that a test helper adds 2 KB to what a test imports, and a mock is what the Executor sees: a Provider.
    const allowed = /^src\/(errors\.ts|abort\.ts|llm\/types\.ts|state\/json\.ts|state\/messages\.ts|providers\/kernel\/errors\.ts|test\/)/
    const imports = [...importGraph(readSources(root, 'src'))].filter(([file]) => file.startsWith('src/test/')).flatMap(([file, targets]) => targets.map((t) => `${file} → ${t}`))
    expect(imports.length).toBeGreaterThan(0)
    expect(imports.filter((i) => !allowed.test(i.split(' → ')[1]!))).toEqual([])
  })
})
