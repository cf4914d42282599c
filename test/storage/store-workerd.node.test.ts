import { afterAll, beforeAll } from 'vitest'
import type { Miniflare } from 'miniflare'
import type { CaseResult } from './conformance.js'
import { startWorker } from './miniflare.js'
import { reportStoreSuite } from './store-run.js'

// Workers KV and Durable Objects live in workerd: the store and its cases are bundled into a Worker
// (workerd/store-worker.ts), run inside workerd, and each case's result is reported here as a test.
let mf: Miniflare | undefined
const results: Record<string, CaseResult[]> = {}

beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/store-worker.ts', import.meta.url).pathname, {
    kvNamespaces: ['KV'],
    durableObjects: { DO: { className: 'StoreDO', useSQLite: true }, KVDO: 'StoreKvDO' },
  })
  for (const route of ['kv', 'do', 'do/kv']) {
    const response = await mf.dispatchFetch(`http://localhost/${route}`)
    if (!response.ok) throw new Error(`/${route}: HTTP ${response.status}: ${await response.text()}`)
    results[route] = (await response.json()) as CaseResult[]
  }
}, 180_000)
afterAll(() => mf?.dispose())

reportStoreSuite('cloudflareKV (workerd)', () => results.kv)
reportStoreSuite('durableObject, SQLite backed (workerd)', () => results.do)
reportStoreSuite('durableObject, key-value backed (workerd)', () => results['do/kv'])
