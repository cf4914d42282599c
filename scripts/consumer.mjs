#!/usr/bin/env node
/**
 * The package as a user installs it, checked the way a strict user compiles it.
 *
 * `npm pack` makes the tarball npm would publish; it is unpacked into `node_modules/agentctx` of a
 * fresh consumer project in a temp folder, and the package's runtime dependencies (valibot, nanoid,
 * idb-keyval, eventsource-parser) and `@types/node` are linked from this repository's node_modules.
 * That is what `npm install <tarball>` would lay out, without the network or the state of npm's
 * cache (CI has the registry only for `npm ci`; `npm install --offline` needs packuments `npm ci`
 * never fetched). Then `tsc` runs on the consumer with `skipLibCheck: false` under each config of
 * `CONFIGS`, and publint and `attw --profile esm-only` run on the same tarball.
 *
 * Used by test/package/consumer.node.test.ts (in `npm test`); `node scripts/consumer.mjs` runs the
 * same checks on their own and prints what failed.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { entries } from './entries.mjs'

const run = promisify(execFile)
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (pkg, path) => join(root, 'node_modules', pkg, path)

/** Subpaths whose declarations name DOM-only types (`Storage`), left out of the Node-only config. */
const DOM_ONLY = ['agentctx/storage/local']

// `strict` and what careful projects add to it. `exactOptionalPropertyTypes` is checked on the
// declarations alone (node10 below): under it a consumer cannot yet pass a built-in event to
// `send` or yield one from a handler (their optional fields are `T | undefined`, which `JsonObject`
// refuses), nor `apiKey: process.env.X`; the usage and README checks go without it.
// `skipDefaultLibCheck` skips only TypeScript's own lib.*.d.ts (lib.dom: 1.4 s a run, and proves
// nothing about this package); every package's declarations, ours and our dependencies', are checked.
const STRICT = { strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true, target: 'ES2022' }
const BROWSER = { ...STRICT, lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] }

/**
 * One `tsc` run each, about 3.5 s apiece on an idle machine (checking valibot's 12,000-line .d.ts
 * is most of it: 5.5 of 7 s in a traced run; ours take 0.25 s), so three, not one per combination:
 *  - bundler: a browser or edge app (`lib` with DOM) importing every subpath, usage.ts, and every
 *    README ```ts block (Worker and Edge modules: type-checked, not run);
 *  - node: a Node app, `nodenext`, `@types/node` and no DOM lib (Node's globals declare `fetch`,
 *    `Request`, `AbortSignal`, `Blob`): every subpath but the DOM-only ones, usage.ts, and every
 *    README block (Node scripts all: they run in readme.node.test.ts);
 *  - node10 (`"moduleResolution": "node"`, which ignores `exports` and finds subpaths through
 *    `typesVersions`), with `exactOptionalPropertyTypes`: every subpath's declarations.
 */
export const CONFIGS = [
  { name: 'bundler', compilerOptions: { ...BROWSER, module: 'ESNext', moduleResolution: 'Bundler' }, files: ['all.ts', 'usage.ts', 'readme-ts/*.ts'] },
  {
    name: 'nodenext',
    compilerOptions: { ...STRICT, module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022'], types: ['node'] },
    files: ['all-node.ts', 'usage.ts', 'readme/*.ts'],
  },
  { name: 'node10', compilerOptions: { ...BROWSER, exactOptionalPropertyTypes: true, module: 'ESNext', moduleResolution: 'Node10' }, files: ['all.ts'] },
]

/**
 * The README's ```js blocks (`lang` 'js', the ones test/package/readme.node.test.ts runs) or its
 * ```ts blocks (deployment modules, checked only), in order.
 */
export function readmeBlocks(lang = 'js') {
  const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  return pages.flatMap((page) => [...readFileSync(join(root, page), 'utf8').matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]))
}

/** Packs the package (dist/ must be built) into `dir`; the tarball's path. */
export async function pack(dir) {
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8' })
  return join(dir, JSON.parse(stdout)[0].filename)
}

/**
 * A consumer project in `dir` with `tarball` installed, every config's tsconfig and the sources
 * to check. Returns the installed package's folder.
 */
export async function createConsumer(dir, tarball) {
  const pkgDir = join(dir, 'node_modules', 'agentctx')
  mkdirSync(pkgDir, { recursive: true })
  await run('tar', ['-xzf', tarball, '-C', pkgDir, '--strip-components=1'])
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
  // Linked, as npm would install them: the packed package.json's own dependencies, nothing more.
  for (const name of [...Object.keys(pkg.dependencies ?? {}), '@types/node']) {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true })
    symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name), 'dir')
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { agentctx: `file:${tarball}` } }, null, 2))
  const imports = (skip) =>
    entries
      .filter((e) => !skip.includes(e.specifier))
      .map((e, i) => `import * as entry${i} from '${e.specifier}'\n`)
      .join('') + `\nexport const all = [${entries.filter((e) => !skip.includes(e.specifier)).map((_, i) => `entry${i}`).join(', ')}]\n`
  writeFileSync(join(dir, 'all.ts'), `// Every subpath export, generated from scripts/entries.mjs.\n${imports([])}`)
  writeFileSync(join(dir, 'all-node.ts'), `// Every subpath export but the DOM-only ones.\n${imports(DOM_ONLY)}`)
  cpSync(join(root, 'test/package/consumer/usage.ts'), join(dir, 'usage.ts'))
  mkdirSync(join(dir, 'readme'))
  // `export {}` makes each block a module of its own, as it is when run (no shared top-level names).
  readmeBlocks().forEach((code, i) => writeFileSync(join(dir, 'readme', `block-${i + 1}.ts`), `${code}\nexport {}\n`))
  mkdirSync(join(dir, 'readme-ts'))
  readmeBlocks('ts').forEach((code, i) => writeFileSync(join(dir, 'readme-ts', `block-${i + 1}.ts`), `${code}\nexport {}\n`))
  for (const config of CONFIGS) {
    writeFileSync(join(dir, `tsconfig.${config.name}.json`), JSON.stringify({ compilerOptions: config.compilerOptions, include: config.files }, null, 2))
  }
  return pkgDir
}

/** Runs `tsc` (this repository's TypeScript 5.9) on one config; `output` holds its diagnostics. */
export async function typecheck(dir, name) {
  const tsc = bin('typescript', 'bin/tsc')
  try {
    await run(process.execPath, [tsc, '-p', `tsconfig.${name}.json`, '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 120_000 })
    return { ok: true, output: '' }
  } catch (error) {
    return { ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error) }
  }
}

/** Every config, at most as many `tsc` processes at once as there are cores. */
export function typecheckAll(dir) {
  const results = new Map()
  const queue = [...CONFIGS]
  const worker = async () => {
    for (let config; (config = queue.shift()); ) results.get(config.name).resolve(await typecheck(dir, config.name))
  }
  for (const config of CONFIGS) {
    let resolve
    const promise = new Promise((r) => (resolve = r))
    results.set(config.name, { promise, resolve })
  }
  for (let i = 0; i < Math.max(1, Math.min(availableParallelism(), CONFIGS.length)); i++) void worker()
  return Object.fromEntries([...results].map(([name, r]) => [name, r.promise]))
}

/** publint on the installed files, warnings counted as errors; the formatted messages. */
export async function lint(pkgDir) {
  const { publint } = await import('publint')
  const { formatMessage } = await import('publint/utils')
  const { messages, pkg } = await publint({ pkgDir, pack: false, strict: true, level: 'suggestion' })
  return messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)
}

/** Are the Types Wrong, ESM-only profile (node10 and CommonJS `require` are out of scope for an ESM package). */
export async function attw(tarball) {
  const cli = bin('@arethetypeswrong/cli', 'dist/index.js')
  try {
    const { stdout } = await run(process.execPath, [cli, tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color'], { encoding: 'utf8', timeout: 60_000 })
    return { ok: true, output: stdout }
  } catch (error) {
    return { ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = mkdtempSync(join(tmpdir(), 'agentctx-consumer-'))
  let failed = false
  try {
    const tarball = await pack(dir)
    const pkgDir = await createConsumer(join(dir, 'consumer'), tarball)
    const checks = typecheckAll(join(dir, 'consumer'))
    for (const [name, promise] of Object.entries(checks)) {
      const { ok, output } = await promise
      console.log(`tsc ${name}: ${ok ? 'ok' : `FAILED\n${output}`}`)
      failed ||= !ok
    }
    const messages = await lint(pkgDir)
    console.log(`publint: ${messages.length ? `FAILED\n${messages.join('\n')}` : 'ok'}`)
    const types = await attw(tarball)
    console.log(`attw: ${types.ok ? 'ok' : `FAILED\n${types.output}`}`)
    failed ||= messages.length > 0 || !types.ok
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.exit(failed ? 1 : 0)
}
