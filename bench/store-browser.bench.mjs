#!/usr/bin/env node
/**
 * The context-store benchmark on IndexedDB in real Chromium: bundles bench/store-browser.ts with
 * esbuild, serves it to a page at http://localhost:9/ through Playwright's request routing (no
 * server, nothing on the network: an http origin, which IndexedDB needs, and a secure one, which
 * cross-origin isolation needs), and prints the markdown tables.
 * Exits with 1 when the save ratio is over 1.5 or the bytes per save grow with the history.
 *
 * Run: node bench/store-browser.bench.mjs [rounds=300] [loads=100]
 *
 * With `--costs`, the storage-costs benchmark instead (store-costs-browser.ts: loadTurns all, delete
 * and list at 100,000 ÷ 10,000 turns, getTurn of an old turn); exits with 1 when a ratio is over its bound (12; getTurn 2).
 * Run: node bench/store-browser.bench.mjs --costs [rounds=3] [lists=10]
 */
import { build } from 'esbuild'
import { chromium } from 'playwright'
import { chromiumArgs, findChromium } from '../scripts/chromium.mjs'

const costs = process.argv.includes('--costs')
const args = process.argv.slice(2).filter((a) => a !== '--costs')
const [rounds = costs ? '3' : '300', loads = costs ? '10' : '100'] = args
const bundle = await build({
  entryPoints: [new URL(costs ? './store-costs-browser.ts' : './store-browser.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'silent',
})
// --expose-gc: the costs run collects garbage before each timed part, as in Node.
const browser = await chromium.launch({ executablePath: await findChromium(), args: [...chromiumArgs, ...(costs ? ['--js-flags=--expose-gc'] : [])] })
try {
  const page = await browser.newPage()
  // Cross-origin isolated (COOP + COEP), so performance.now() has 5 µs steps instead of 100 µs.
  const headers = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
  await page.route('http://localhost:9/**', (route) => {
    const url = new URL(route.request().url())
    if (url.pathname === '/bench.js') return route.fulfill({ headers, contentType: 'text/javascript', body: bundle.outputFiles[0].text })
    return route.fulfill({ headers, contentType: 'text/html', body: '<!doctype html><script type="module" src="/bench.js"></script>' })
  })
  page.on('pageerror', (e) => console.error('page error:', e))
  if (costs) {
    await page.goto(`http://localhost:9/?rounds=${rounds}&lists=${loads}`)
    await page.waitForFunction(() => window.costsBench !== undefined)
    const result = await page.evaluate(() => window.costsBench)
    console.log(`Chromium ${browser.version()}, IndexedDB adapter (idb-keyval), ${rounds} rounds, ${loads} list walks\n`)
    console.log(result.markdown)
    if (result.loadRatio > 12 || result.deleteRatio > 12 || result.getTurnRatio > 2) process.exitCode = 1
  } else {
    await page.goto(`http://localhost:9/?rounds=${rounds}&loads=${loads}`)
    await page.waitForFunction(() => window.storeBench !== undefined)
    const result = await page.evaluate(() => window.storeBench)
    if (!(await page.evaluate(() => crossOriginIsolated))) console.error('note: the page is not cross-origin isolated: timer steps are 100 µs')
    const version = browser.version()
    console.log(`Chromium ${version}, IndexedDB adapter (idb-keyval), ${rounds} rounds, ${loads} loads per size\n`)
    console.log(result.markdown)
    console.log(`\nbytes per save, 10,000 turns − 10 turns: ${result.bytesDiff.toFixed(0)} (≤ 64: ${result.bytesDiff <= 64 ? 'ok' : 'OVER'})`)
    if (result.saveRatio > 1.5 || result.bytesDiff > 64) process.exitCode = 1
  }
} finally {
  await browser.close()
}
