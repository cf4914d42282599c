/**
 * What a long conversation costs in storage, on the memory adapter in Node: `loadTurns({ all: true })`
 * and `delete` at 100,000 ÷ 10,000 turns, `ctx.getTurn` of an old turn at 100,000 ÷ 10,000, and
 * `store.list()` by contexts and by records. See
 * store-costs-core.ts for the method. Exits with 1 when a 100,000 ÷ 10,000 ratio is over its bound (12; getTurn 2).
 *
 * Run: npx esbuild bench/store-costs.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/store-costs.bench.mjs && node --expose-gc /tmp/store-costs.bench.mjs [rounds=5] [lists=20]
 * The IndexedDB run in Chromium: node bench/store-browser.bench.mjs --costs
 */
import { memoryStorage } from '../src/storage/memory.js'
import { costsBench } from './store-costs-core.js'

const [rounds = '5', lists = '20'] = process.argv.slice(2)
const result = await costsBench({ make: async () => memoryStorage(), rounds: Number(rounds), lists: Number(lists), log: (line) => console.error(line) })
console.log(`Node ${process.version}, memory adapter, ${rounds} rounds, ${lists} list walks\n`)
console.log(result.markdown)
if (result.loadRatio > 12 || result.deleteRatio > 12 || result.getTurnRatio > 2) process.exitCode = 1
