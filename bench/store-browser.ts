/**
 * Page entry of the IndexedDB run of the context-store benchmark (see store-core.ts), bundled and
 * driven in Chromium by store-browser.bench.mjs. Exposes `window.storeBench`: a promise of the result.
 */
import { indexedDBStorage } from '../src/storage/indexeddb.js'
import { storeBench, type StoreBenchResult } from './store-core.js'

declare global {
  interface Window {
    storeBench: Promise<StoreBenchResult & { userAgent: string }>
    benchLog: string[]
  }
}

const params = new URLSearchParams(location.search)
window.benchLog = []
window.storeBench = storeBench({
  make: async () => indexedDBStorage({ dbName: `agentctx-bench-${Date.now()}` }),
  rounds: Number(params.get('rounds') ?? 300),
  loads: Number(params.get('loads') ?? 100),
  log: (line) => window.benchLog.push(line),
}).then((r) => ({ ...r, userAgent: navigator.userAgent }))
