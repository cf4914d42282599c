#!/usr/bin/env node
/**
 * Adds lockfile entries for optional platform packages this machine's registry does not serve.
 *
 * Why: npm 11 `npm ci` checks that every optional dependency named in the lockfile (rollup's 20
 * `@rollup/rollup-<platform>` builds, esbuild's, workerd's) has an entry of its own, but the registry
 * these machines reach answers 404 for other platforms' builds, so `npm install` writes a lockfile
 * without them and `npm ci` then refuses it ("Missing: @rollup/rollup-android-arm-eabi@ from lock
 * file"). An entry with the version and `optional: true` satisfies the check; npm never fetches a
 * build whose platform does not match. Run after any `npm install` that changes package-lock.json.
 */
import { readFileSync, writeFileSync } from 'node:fs'

const file = new URL('../package-lock.json', import.meta.url)
const lock = JSON.parse(readFileSync(file, 'utf8'))
let added = 0
for (const [path, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = path ? `${path}/node_modules/${name}` : `node_modules/${name}`
    if (lock.packages[base] || lock.packages[`node_modules/${name}`]) continue
    lock.packages[`node_modules/${name}`] = { version, ...(pkg.dev ? { dev: true } : {}), optional: true }
    added++
  }
}
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n')
console.log(`lock-optional: added ${added} optional platform entries`)
