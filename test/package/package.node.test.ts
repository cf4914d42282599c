import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { entries } from '../../scripts/entries.mjs'

const root = join(import.meta.dirname, '../..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : []
  })
}

describe('the core entry', () => {
  it('regression: internals (batchGet, encodeKey, jsonEqual, namespaced, MAX_PAGE, renderPrompt…) left it: the facade, factories, pieces, errors only', async () => {
    const core = await import('../../src/index.js')
    expect(Object.keys(core).sort()).toEqual(
      [
        // the facade and its helpers of the spec
        'Context', 'getLastIndex', 'TurnMap', 'Testing', 'FORMAT_VERSION',
        // the pieces, usable on their own
        'Executor', 'setDefaultExecutor', 'getDefaultExecutor', 'Router', 'STRATEGIES', 'builtinModels', 'estimateCost', 'PRICES_READ_ON', 'tool',
        'Pruner', 'estimateTokens', 'countInputTokens', 'TaskManager', 'createContextStore', 'memoryStorage',
        // the errors
        'ContextError', 'ValidationError', 'StorageError', 'ContextConflictError', 'ConstraintError', 'OutputError', 'ProviderError', 'AbortedError', 'isContextWindowError',
      ].sort(),
    )
  })
})

describe('the experiments entry', () => {
  it('agentctx/experiments exports createExperiments, sequentialTest and WebhookError: keys, shards, records and rules stay inside', async () => {
    const experiments = await import('../../src/experiments/index.js')
    expect(Object.keys(experiments).sort()).toEqual(['WebhookError', 'createExperiments', 'sequentialTest'])
  })
})

describe('the client entry', () => {
  it('agentctx/client exports createAgentClient and the errors it throws; its view, event checks and SSE reader stay inside', async () => {
    const client = await import('../../src/client/index.js')
    expect(Object.keys(client).sort()).toEqual(['AbortedError', 'AgentHttpError', 'ContextConflictError', 'ContextError', 'ValidationError', 'createAgentClient', 'toUIMessages'])
  })

  it('imports no core: not context.ts, not valibot, not the agent runtime (a page that talks to an agent does not carry them)', () => {
    const seen = new Set<string>()
    const walk = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const code = readFileSync(join(root, file), 'utf8')
      for (const [, spec] of code.matchAll(/^(?:import|export)\s(?!type\b)[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
        if (spec!.startsWith('.')) walk(join(file, '..', spec!.replace(/\.js$/, '.ts')))
        else seen.add(spec!)
      }
    }
    walk('src/client/index.ts')
    expect([...seen].sort()).toEqual(['eventsource-parser', 'src/abort.ts', 'src/client/client.ts', 'src/client/errors.ts', 'src/client/events.ts', 'src/client/index.ts', 'src/client/ui-messages.ts', 'src/client/view.ts', 'src/errors.ts', 'src/providers/kernel/errors.ts', 'src/providers/kernel/scrub.ts'])
  })
})

describe('package.json', () => {
  it('is an ESM package without side effects, with nanoid and valibot as runtime dependencies', () => {
    expect(pkg.name).toBe('agentctx')
    expect(pkg.type).toBe('module')
    expect(pkg.sideEffects).toBe(false)
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['nanoid', 'valibot']))
  })

  it('exports exactly the entries the build and the size check know, each with types', () => {
    const subpath = (specifier: string) => (specifier === 'agentctx' ? '.' : specifier.replace(/^agentctx/, '.'))
    const exported = Object.keys(pkg.exports).filter((k) => k !== './package.json')
    expect(exported.sort()).toEqual(entries.map((e) => subpath(e.specifier)).sort())
    for (const entry of entries) {
      expect(pkg.exports[subpath(entry.specifier)]).toEqual({ types: `./dist/${entry.output}.d.ts`, import: `./dist/${entry.output}.js` })
    }
  })

  it('maps every subpath to its declarations in typesVersions, for node10 resolution, which ignores exports', () => {
    // The bug: `"moduleResolution": "node"` found no subpath's types (consumer.node.test.ts compiles it).
    const subpaths = entries.filter((e) => e.specifier !== 'agentctx')
    expect(Object.keys(pkg.typesVersions)).toEqual(['*'])
    expect(pkg.typesVersions['*']).toEqual(Object.fromEntries(subpaths.map((e) => [e.specifier.slice('agentctx/'.length), [`./dist/${e.output}.d.ts`]])))
    expect(pkg.types).toBe('./dist/index.d.ts')
  })
})

describe('src/ uses web standards only', () => {
  // DESIGN.md principle 1: the core runs unchanged in browsers, Workers, Vercel Edge and Node.
  const files = sourceFiles(join(root, 'src'))
  it.each(files.map((f) => [f.slice(root.length + 1), f]))('%s imports no node:* module and touches no Node global', (_, file) => {
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
    expect(code).not.toMatch(/from\s+['"]node:|import\(\s*['"]node:|require\(/)
    expect(code).not.toMatch(/\b(process|Buffer|__dirname|setImmediate)\b[.(]/)
  })
})
