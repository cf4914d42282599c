import { afterAll, describe, expect, it } from 'vitest'
import { indexedDBStorage } from '../../src/storage/indexeddb.js'
import { localStorageStorage } from '../../src/storage/local.js'
import { twoAgents } from './two-agents.js'
import { writersRace } from './writers-race.js'

// The writers' race and two agents on one session, in real Chromium: each writer and each agent has
// its own IndexedDB connection to one database (as tabs of one origin do), or its own
// localStorage adapter on one prefix.
const run = `agentctx-race-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
afterAll(() => {
  for (let i = localStorage.length - 1; i >= 0; i--) if (localStorage.key(i)?.startsWith(run)) localStorage.removeItem(localStorage.key(i)!)
})

describe('concurrency in Chromium', () => {
  it('IndexedDB, one connection per writer: 3 writers × 19 turns, all 57 stored once', async () => {
    const report = await writersRace(() => indexedDBStorage({ dbName: `${run}-race` }))
    expect([report.stored, report.lost, report.duplicated]).toEqual([57, [], []])
  })

  it('IndexedDB, one connection per agent: two agents on one session lose no turn', async () => {
    const report = await twoAgents(() => indexedDBStorage({ dbName: `${run}-agents` }))
    expect([report.stored, report.count, report.lost, report.errors]).toEqual([40, 40, [], []])
    expect(report.runs).toBe(40 + report.retries)
  })

  it('localStorage, one adapter per agent: two agents on one session lose no turn', async () => {
    const report = await twoAgents(() => localStorageStorage({ prefix: `${run}/agents/` }))
    expect([report.stored, report.count, report.lost, report.errors]).toEqual([40, 40, [], []])
  })
})
