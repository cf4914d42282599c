/**
 * Page entry of the IndexedDB run of the storage-costs benchmark (see store-costs-core.ts), bundled
 * and driven in Chromium by `node bench/store-browser.bench.mjs --costs`. Exposes `window.costsBench`:
 * a promise of the result.
 */
import { indexedDBStorage } from '../src/storage/indexeddb.js'
import { costsBench, type CostsBenchResult } from './store-costs-core.js'

declare global {
  interface Window {
    costsBench: Promise<CostsBenchResult & { userAgent: string }>
    benchLog: string[]
  }
}

const params = new URLSearchParams(location.search)
let n = 0
window.benchLog = []
window.costsBench = costsBench({
  // A database per backend, deleted by nobody: the page's origin is thrown away with the browser.
  make: async () => indexedDBStorage({ dbName: `agentctx-costs-${Date.now()}-${n++}` }),
  rounds: Number(params.get('rounds') ?? 3),
  lists: Number(params.get('lists') ?? 10),
  settle: 2000,
  log: (line) => window.benchLog.push(line),
}).then((r) => ({ ...r, userAgent: navigator.userAgent }))
