import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { root } from '../runtime/demos.js'

/**
 * Helpers of the deploy tests: put into `<dir>/node_modules` what `npm install` of a demo puts there,
 * without a registry. `agentctx` is the package `npm pack` makes of this repository (so only what
 * would be published: a file missing from `files` or `exports` fails the deploy as it would for a
 * user), unpacked; the other packages are real folders copied from this repository's node_modules
 * (a symlink would point outside the folder a platform packs).
 */
export const run = promisify(execFile)

/** A package and all it depends on, by name, from the repository's (hoisted) node_modules. */
function dependencies(name: string, seen: Set<string>): Set<string> {
  if (seen.has(name)) return seen
  seen.add(name)
  const pkg = JSON.parse(readFileSync(resolve(root, 'node_modules', name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  for (const dep of Object.keys(pkg.dependencies ?? {})) dependencies(dep, seen)
  return seen
}

/**
 * Installs agentctx (packed from this repository into `work`) and `others` with their dependencies
 * into `dir`/node_modules.
 */
export async function installPacked(work: string, dir: string, others: string[] = []): Promise<void> {
  if (!existsSync(resolve(root, 'dist/index.js'))) throw new Error('dist/ is missing: run `npm run build`')
  const { stdout } = await run('npm', ['pack', '--pack-destination', work, '--json', '--silent'], { cwd: root, encoding: 'utf8' })
  const tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0]!.filename)
  const target = join(dir, 'node_modules/agentctx')
  mkdirSync(target, { recursive: true })
  await run('tar', ['xzf', tarball, '-C', target, '--strip-components=1'])
  const packed = JSON.parse(readFileSync(join(target, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  const names = new Set<string>()
  for (const name of [...Object.keys(packed.dependencies ?? {}), ...others]) dependencies(name, names)
  for (const name of names) cpSync(resolve(root, 'node_modules', name), join(dir, 'node_modules', name), { recursive: true, dereference: true })
}
