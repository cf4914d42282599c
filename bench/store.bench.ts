/**
 * The context store on the memory adapter in Node: saving one new turn on a 10,000-turn context
 * against a 10-turn one, beside the one-JSON-blob baseline, and loads. See store-core.ts for the method.
 * Exits with 1 when the save ratio is over 1.5 or the bytes per save grow with the history (> 64 bytes apart).
 *
 * Run: npx esbuild bench/store.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/store.bench.mjs && node /tmp/store.bench.mjs
 * The IndexedDB run in Chromium: node bench/store-browser.bench.mjs
 */
import { memoryStorage } from '../src/storage/memory.js'
import { storeBench } from './store-core.js'

const result = await storeBench({ make: async () => memoryStorage(), rounds: 1000, loads: 300, log: (line) => console.error(line) })
console.log(`Node ${process.version}, memory adapter\n`)
console.log(result.markdown)
// Bytes: the 10,000-turn context's turn numbers have 3 more digits ("q10051" against "q12") in its
// texts, ids and keys; anything growing with the history would be kilobytes.
console.log(`\nbytes per save, 10,000 turns − 10 turns: ${result.bytesDiff.toFixed(0)} (≤ 64: ${result.bytesDiff <= 64 ? 'ok' : 'OVER'})`)
if (result.saveRatio > 1.5 || result.bytesDiff > 64) process.exitCode = 1
