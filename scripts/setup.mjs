#!/usr/bin/env node
/**
 * Set-up before `npm test` and `npm run demo` (their `pre` scripts), so that on a fresh machine
 * those two commands are all it takes:
 *  - installs the npm packages (`npm ci`) when node_modules is missing or older than the lockfile;
 *  - for `test`: finds a Chromium (see chromium.mjs), a redis-server and PostgreSQL's server
 *    binaries (Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH); where one is
 *    missing and this is a Debian/Ubuntu machine with root, installs it with apt-get, else says how.
 * Uses only Node's built-ins: it runs before any package is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'

const task = process.argv[2] ?? 'test'
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' })
const has = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined

const installed = 'node_modules/.package-lock.json'
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync('package-lock.json').mtimeMs) {
  console.log('setup: installing npm packages (npm ci)')
  run('npm', ['ci', '--no-audit', '--no-fund'])
}

if (task === 'test') {
  const { findChromium } = await import('./chromium.mjs')
  const missing = []
  if (!(await findChromium().then(() => true, () => false))) missing.push('chromium')
  if (!has('redis-server')) missing.push('redis-server')
  const postgres = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`))
  if (!postgres && !has('pg_ctl')) missing.push('postgresql')
  if (missing.length) {
    const root = process.getuid?.() === 0
    if (root && has('apt-get')) {
      console.log(`setup: installing ${missing.join(', ')} with apt-get`)
      run('apt-get', ['update', '-qq'])
      run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing])
    } else {
      // Chromium is required (the browser tests); without redis-server or PostgreSQL their tests skip and say so.
      console.warn(
        `setup: missing ${missing.join(', ')}. On Debian/Ubuntu: sudo apt-get install -y ${missing.join(' ')}; ` +
          'for Chromium elsewhere: npx playwright install chromium, or set CHROMIUM_PATH.',
      )
    }
  }
}
