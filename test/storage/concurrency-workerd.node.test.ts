import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Miniflare } from 'miniflare'
import { startWorker } from './miniflare.js'
import type { TwoAgentsReport } from './two-agents.js'
import type { WritersRaceReport } from './writers-race.js'

// Two agent instances on one session, and the writers' race, inside a SQLite-backed Durable Object
// in workerd (workerd/agents-worker.ts): the runtime where an agent's sessions live in production.
let mf: Miniflare | undefined
beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/agents-worker.ts', import.meta.url).pathname, {
    durableObjects: { DO: { className: 'ConcurrencyDO', useSQLite: true } },
  })
}, 60_000)
afterAll(() => mf?.dispose())

async function get<T>(route: string): Promise<T> {
  const response = await mf!.dispatchFetch(`http://localhost${route}`)
  const body = await response.text()
  if (!response.ok) throw new Error(`${route}: HTTP ${response.status}: ${body}`)
  return JSON.parse(body) as T
}

describe('Durable Object (workerd)', () => {
  it('two agents on one session, one adapter each: no turn lost, none twice, data consistent', async () => {
    const report = await get<TwoAgentsReport>('/agents')
    expect([report.stored, report.count, report.lost, report.duplicated, report.errors]).toEqual([40, 40, [], [], []])
    expect(report.runs).toBe(40 + report.retries)
    // The two agents did race: each round's two events start together.
    expect(report.retries).toBeGreaterThan(0)
  })

  it('3 writers × 19 turns, one adapter each: all 57 stored once', async () => {
    const report = await get<WritersRaceReport>('/race')
    expect([report.stored, report.lost, report.duplicated]).toEqual([57, [], []])
  })

  it('conflictRetries 0: every lost turn was an error event on its stream', async () => {
    const report = await get<TwoAgentsReport>('/agents/0')
    const conflicts = report.errors.filter((e) => /error event conflict/.test(e))
    expect(conflicts.length).toBeGreaterThan(0)
    expect(report.lost.length).toBe(conflicts.length)
  })
})
