import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWorker } from '../storage/miniflare.js'
import { trackerCases } from './tracker-cases.js'

// Durable Objects live in workerd: the cases are bundled into a Worker (workerd/tracker-worker.ts),
// run inside a Durable Object, and each case's result is reported here as a test.
let mf: Miniflare | undefined
const results: Record<string, { name: string; error: string | null }[]> = {}

beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/tracker-worker.ts', import.meta.url).pathname, {
    durableObjects: { DO: { className: 'TrackerDO', useSQLite: true }, KVDO: 'TrackerKvDO' },
  })
  for (const route of ['do', 'do/kv']) {
    const response = await mf.dispatchFetch(`http://localhost/${route}`)
    if (!response.ok) throw new Error(`/${route}: HTTP ${response.status}: ${await response.text()}`)
    results[route] = (await response.json()) as { name: string; error: string | null }[]
  }
}, 60_000)
afterAll(() => mf?.dispose())

for (const [route, label] of [
  ['do', 'SQLite backed'],
  ['do/kv', 'key-value backed'],
] as const) {
  describe(`createExperiments over a Durable Object, ${label} (workerd)`, () => {
    it.each(Object.keys(trackerCases))('%s', (name) => {
      const result = results[route]!.find((r) => r.name === name)
      expect(result, 'the case ran').toBeDefined()
      expect(result!.error).toBeNull()
    })
  })
}
