import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'

/**
 * The relative imports of one TypeScript source: static `import … from`, `import type … from`,
 * `export … from` (`export *` and `export type` included), side-effect `import '…'` and dynamic
 * `import('…')` with a literal specifier. Block comments and whole-line `//` comments are skipped
 * first, so that a JSDoc example (`import { Context } from 'agentctx'`) is no import.
 */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const found: string[] = []
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) if (m[1]!.startsWith('.')) found.push(m[1]!)
  return found
}

/** Every `.ts` file under `dir`, as paths relative to `root` with `/` separators. */
export function sourceFiles(root: string, dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = posix.join(dir, name)
    return statSync(join(root, path)).isDirectory() ? sourceFiles(root, path) : path.endsWith('.ts') ? [path] : []
  })
}

/** The graph of `files` (path → text): each file → the files of the set it imports (`.js` written for `.ts`, a folder for its index). */
export function importGraph(files: Map<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const [file, text] of files) {
    const targets = importsOf(text).map((spec) => {
      const path = posix.normalize(posix.join(posix.dirname(file), spec))
      const candidates = [path.replace(/\.js$/, '.ts'), path, `${path}.ts`, `${path}/index.ts`]
      return candidates.find((c) => files.has(c)) ?? `${path} (missing)`
    })
    graph.set(file, [...new Set(targets)])
  }
  return graph
}

/**
 * The import cycles of `graph`, each as the files around it (`a → b → a`): one per strongly
 * connected component of more than one file (or a file importing itself), found by Tarjan's
 * algorithm, then walked from its first file so that the message names a real path round it.
 */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0
  const order = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const components: string[][] = []
  const visit = (v: string): void => {
    order.set(v, index), low.set(v, index++), stack.push(v), onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!order.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!))
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!))
    }
    if (low.get(v) === order.get(v)) {
      const component: string[] = []
      let w: string
      do (w = stack.pop()!), onStack.delete(w), component.push(w)
      while (w !== v)
      if (component.length > 1 || graph.get(v)!.includes(v)) components.push(component.sort())
    }
  }
  for (const v of [...graph.keys()].sort()) if (!order.has(v)) visit(v)
  return components.map((component) => {
    // A path round the component: breadth-first from its first file back to it, inside the component.
    const inside = new Set(component)
    const start = component[0]!
    const previous = new Map<string, string>()
    const queue = [start]
    while (queue.length) {
      const v = queue.shift()!
      for (const w of graph.get(v)!) {
        if (w === start) {
          const path = [start]
          for (let u: string | undefined = v; u !== start && u; u = previous.get(u)) path.splice(1, 0, u)
          return [...path, start]
        }
        if (inside.has(w) && !previous.has(w)) previous.set(w, v), queue.push(w)
      }
    }
    return [...component, start]
  })
}

/** Every `.ts` file under `dir` of `root`, path → text. */
export function readSources(root: string, dir: string): Map<string, string> {
  return new Map(sourceFiles(root, dir).map((f) => [f, readFileSync(join(root, f), 'utf8')]))
}
