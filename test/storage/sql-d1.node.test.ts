import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CaseResult } from './conformance.js'
import { startWorker } from './miniflare.js'
import { reportCases, reportConformance } from './run.js'
import { sqlCases } from './sql-cases.js'
import { reportStoreSuite } from './store-run.js'
import type { TwoAgentsReport } from './two-agents.js'
import type { WritersRaceReport } from './writers-race.js'

// sqlStorage over Cloudflare D1: the suites are bundled into a Worker (workerd/sql-worker.ts) with a
// D1 binding, run inside workerd through miniflare, and each case's result is reported here.
let mf: Miniflare | undefined
const results: Record<string, CaseResult[]> = {}
let race: (WritersRaceReport & { error?: string }) | undefined
let agents: (TwoAgentsReport & { error?: string }) | undefined
let model: { ok?: true; error?: string } | undefined

beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/sql-worker.ts', import.meta.url).pathname, { d1Databases: ['DB'] })
  for (const route of ['conformance', 'limited', 'store', 'sql']) {
    const response = await mf.dispatchFetch(`http://localhost/${route}`)
    if (!response.ok) throw new Error(`/${route}: HTTP ${response.status}: ${await response.text()}`)
    results[route] = (await response.json()) as CaseResult[]
  }
  race = (await (await mf.dispatchFetch('http://localhost/race')).json()) as typeof race
  agents = (await (await mf.dispatchFetch('http://localhost/agents')).json()) as typeof agents
  model = (await (await mf.dispatchFetch('http://localhost/model')).json()) as typeof model
}, 180_000)
afterAll(() => mf?.dispose())

reportConformance('sqlStorage sqlite (D1 in workerd)', () => results.conformance)
reportConformance('sqlStorage sqlite (D1 in workerd), maxValueBytes 1,900,000', () => results.limited)
reportStoreSuite('sqlStorage sqlite (D1 in workerd)', () => results.store)
reportCases('sqlStorage sqlite (D1 in workerd): SQL', sqlCases, () => results.sql)

describe('sqlStorage sqlite (D1 in workerd): concurrency and layout', () => {
  it('3 writers × 19 turns on one context over one D1 binding, random delays: no turn lost, every write checked', () => {
    expect(race?.error).toBeUndefined()
    expect(race!.stored).toBe(57)
    expect(race!.lost).toEqual([])
  })

  it('two agents on one session over one D1 binding: no turn lost, none twice; the loser of each race runs its turn again', () => {
    expect(agents?.error).toBeUndefined()
    expect([agents!.stored, agents!.lost, agents!.duplicated, agents!.errors]).toEqual([40, [], [], []])
    expect(agents!.retries).toBeGreaterThan(0)
  })

  it('property: any sequence of every operation, hostile keys and any JSON, gives what the memory adapter gives (50 runs in workerd)', () => {
    expect(model).toEqual({ ok: true })
  })

  it('a record written in the Worker reads back from Node through the binding: one row, key and JSON text', async () => {
    await mf!.dispatchFetch('http://localhost/sample')
    const db = await mf!.getD1Database('DB')
    const { results: rows } = await db.prepare('SELECT key, value FROM sample').all()
    expect(rows).toEqual([{ key: 'agentctx/ctx/1/h/', value: '{"turns":1,"text":"ünï"}' }])
  })
})
