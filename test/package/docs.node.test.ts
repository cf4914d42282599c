import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as core from '../../src/index.js'
import * as agent from '../../src/agent/index.js'
import { fakeProvider } from '../llm/fake-provider.js'

// docs/reference.md retells the three reference APIs member by member, and source comments link to
// its anchors. Two ways it can rot: a comment cites an anchor the page no longer has, and the page
// names an agentctx member that was renamed or removed. Both are checked here.
const root = join(import.meta.dirname, '../..')
const doc = readFileSync(join(root, 'docs/reference.md'), 'utf8')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : /\.(ts|mts|js|mjs)$/.test(name) ? [path] : []
  })
}

/** GitHub's heading ids: text without tags, lower-cased, punctuation but `-` and `_` dropped, spaces to `-`. */
const slug = (heading: string) =>
  heading
    .replace(/<[^>]*>/g, '')
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

const explicit = [...doc.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]!)
const headings = [...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!))
const anchors = new Set([...explicit, ...headings])

/** The rows of every member table: cells split on `|` (an escaped `\|` stays inside its cell). */
const rows = doc
  .split('\n')
  .filter((line) => line.startsWith('| ') && !line.startsWith('| reference |') && !line.startsWith('| ---'))
  .map((line) =>
    line
      .slice(2, -2)
      .split(/(?<!\\) \| /)
      .map((cell) => cell.trim()),
  )

/** The agentctx name of a row: its second cell's first code span, up to a call's parenthesis. */
const agentctxName = (cell: string) => /`([^`]+)`/.exec(cell)?.[1]?.replace(/\(.*$/, '').trim()

/** Names `export { … }` / `export type { … }` lists in an entry's source: types included, which an import cannot see. */
const exportedNames = (file: string) =>
  new Set(
    [...readFileSync(join(root, file), 'utf8').matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)].flatMap((m) =>
      m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!),
    ),
  )
const exported = new Set([...exportedNames('src/index.ts'), ...exportedNames('src/agent/index.ts')])
const runtime: Record<string, unknown> = { ...core, ...agent }

/** True when `path` (a.b.c) can be followed from `value`; the last step is only tested with `in`, never read (getters may throw). */
function reaches(value: unknown, path: string[]): boolean {
  let at = value
  for (const [i, key] of path.entries()) {
    if (at === null || at === undefined || !(key in Object(at))) return false
    if (i < path.length - 1) at = (at as Record<string, unknown>)[key]
  }
  return true
}

/** Some value of the key is accepted: `constraints`, `routing`, `output` and stop conditions refuse unknown keys. */
const SAMPLES: unknown[] = [1, 'a', 'cost_optimized', 'json', ['a'], {}, true]
const acceptsKey = (make: (value: unknown) => unknown) =>
  SAMPLES.some((value) => {
    try {
      make(value)
      return true
    } catch {
      return false
    }
  })

async function executeResponse(): Promise<unknown> {
  const provider = fakeProvider('openai')
  provider.queue('ok')
  const ctx = new core.Context({ intent: 'check', routing: { model: 'gpt-4' } }, { executor: new core.Executor({ providers: [provider] }) })
  ctx.addInput('x')
  return ctx.execute({ task: 'Say ok.' })
}

/** Why `name` does not name a member of agentctx, or undefined when it does. */
function missing(name: string, response: unknown): string | undefined {
  const [head, ...rest] = name.split('.')
  const sample = new core.Context({ intent: 'i' })
  const ok = (() => {
    if (name.startsWith('new ')) return typeof runtime[name.slice(4)] === 'function'
    if (head === 'ctx') return rest.length > 0 && rest[0]! in core.Context.prototype && reaches(sample, rest)
    if (head === 'Context') return rest.length === 1 && rest[0]! in core.Context
    if (/^\w+#\w+$/.test(name)) {
      const [cls, member] = name.split('#') as [string, string]
      return typeof runtime[cls] === 'function' && member in (runtime[cls] as { prototype: object }).prototype
    }
    if (/^\w+$/.test(name)) return name in runtime || exported.has(name)
    if (rest.length !== 1 && head !== 'response') return undefined
    const key = rest[0]!
    switch (head) {
      case 'constraints':
      case 'routing':
      case 'output':
        return acceptsKey((value) => new core.Context({ [head]: { [key]: value } }))
      case 'stop':
        return acceptsKey((value) => new core.Context().addTest('t', { a: 1, b: 1 }, '', { [key]: value }))
      case 'input':
        return reaches(sample.addInput('x').inputs[0], rest)
      case 'spec':
        return reaches(core.builtinModels()[0], rest)
      case 'response':
        return reaches(response, rest)
      default:
        return undefined
    }
  })()
  if (ok === undefined) return `${name}: a form this test does not know (see "How to read the tables")`
  return ok ? undefined : `${name}: not found`
}

describe('docs/reference.md', () => {
  it('has each anchor once', () => {
    const seen = new Set<string>()
    const twice = explicit.filter((a) => seen.has(a) || !seen.add(a))
    expect(twice).toEqual([])
    expect(explicit.length).toBeGreaterThan(100)
  })

  it('has every anchor that src/, README.md, SECURITY.md and the page itself link to', () => {
    const sources = [...files(join(root, 'src')), join(root, 'README.md'), join(root, 'SECURITY.md')]
    const cited = sources.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/docs\/reference\.md#([\w-]+)/g)].map((m) => `${file.slice(root.length + 1)}: #${m[1]}`),
    )
    const internal = [...doc.matchAll(/\]\(#([\w-]+)\)/g)].map((m) => `docs/reference.md: #${m[1]}`)
    expect(internal.length).toBeGreaterThan(10)
    expect([...cited, ...internal].filter((c) => !anchors.has(c.split('#').pop()!))).toEqual([])
  })

  it('gives every reference member an anchor of its own', () => {
    // A row whose first cell is "—" is an agentctx addition, not a reference member.
    const bare = rows.filter(([reference]) => reference !== '—' && !reference!.startsWith('<a id="'))
    expect(bare.map((r) => r[0])).toEqual([])
  })

  it('names only agentctx members that exist', async () => {
    const response = await executeResponse()
    const names = rows.map((r) => agentctxName(r[1] ?? '')).filter((n): n is string => n !== undefined)
    expect(names.length).toBeGreaterThan(100)
    expect(names.map((n) => missing(n, response)).filter(Boolean)).toEqual([])
  })

  it('would notice a member that does not exist', async () => {
    const response = await executeResponse()
    for (const name of ['ctx.bogus', 'ctx.frameworkData.bogus', 'Context.bogus', 'Router#bogus', 'Bogus', 'constraints.max_tokens', 'routing.bogus', 'stop.bogus', 'input.bogus', 'spec.bogus', 'response.metadata.bogus']) {
      expect(missing(name, response), name).toMatch(/not found$/)
    }
    expect(missing('weird.form.here', response)).toMatch(/does not know/)
  })

  it('leaves no comment citing a reference document that is not in the repository (issue 9: 14 comments cited "the LLM/dialog/voice-agent document")', () => {
    // "the spec's `" and "of the spec" were the LLM-execution reference; the SSE reader's "the spec's line ends" is the WHATWG spec.
    const cites = /\b(LLM|dialog|voice-agent) documents?\b|\bthe documents?\b|\bthe spec's `|\bof the spec\b|\bspec 00\d/i
    const stale = files(join(root, 'src')).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) => (cites.test(line) ? [`${file.slice(root.length + 1)}:${i + 1}: ${line.trim()}`] : [])),
    )
    expect(stale).toEqual([])
  })
})
