import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Miniflare } from 'miniflare'
import type { CaseResult } from './conformance.js'
import { startWorker } from './miniflare.js'
import { reportConformance } from './run.js'

// Workers KV and Durable Objects run in their own runtime: the cases are bundled into a Worker
// (workerd/worker.ts), run inside workerd, and each case's result is reported here as its own test.
let mf: Miniflare | undefined
const results: Record<string, CaseResult[]> = {}

beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/worker.ts', import.meta.url).pathname, {
    kvNamespaces: ['KV'],
    durableObjects: { DO: 'KvBackedDO', SQL: { className: 'SqliteDO', useSQLite: true } },
  })
  for (const route of ['kv', 'do/kv-backed', 'do/sqlite']) {
    const response = await mf.dispatchFetch(`http://localhost/${route}`)
    if (!response.ok) throw new Error(`/${route}: HTTP ${response.status}: ${await response.text()}`)
    results[route] = (await response.json()) as CaseResult[]
  }
}, 60_000)
afterAll(() => mf?.dispose())

reportConformance('cloudflareKV (workerd)', () => results.kv)
reportConformance('durableObject, key-value backed (workerd)', () => results['do/kv-backed'])
reportConformance('durableObject, SQLite backed (workerd)', () => results['do/sqlite'])

it('stores KV records as JSON text under the namespaced key, readable outside the Worker', async () => {
  expect(await (await mf!.dispatchFetch('http://localhost/kv/sample')).text()).toBe('ok')
  const kv = await mf!.getKVNamespace('KV')
  expect(await kv.get('agentctx/ctx/1/h/', 'text')).toBe('{"turns":1,"text":"ünï"}')
})
