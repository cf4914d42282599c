import { describe, expect, it } from 'vitest'
import { createStorage } from 'unstorage'
import { memoryStorage } from '../../src/storage/memory.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { twoAgents } from './two-agents.js'

// Two createAgent instances (separate stores, separate caches) on one session, events sent to both
// at once (two-agents.ts), in Node and in Chromium. IndexedDB: two-agents.browser.test.ts.
describe('two agents on one session', () => {
  it('memory (compare-and-set): no turn lost, none twice; the loser of each race runs its turn again on the stored version', async () => {
    const shared = memoryStorage()
    const report = await twoAgents(() => shared)
    expect([report.stored, report.count, report.lost, report.duplicated, report.errors]).toEqual([40, 40, [], [], []])
    // Both events of a round start together: one save of each round loses and runs again.
    expect(report.retries).toBeGreaterThan(0)
    expect(report.runs).toBe(40 + report.retries)
  })

  it('conflictRetries 0: each lost turn is an ErrorEvent (code conflict) on its stream, never silent', async () => {
    const shared = memoryStorage()
    const report = await twoAgents(() => shared, { conflictRetries: 0, strict: false })
    expect(report.retries).toBe(0)
    const conflicts = report.errors.filter((e) => /error event conflict/.test(e))
    expect(conflicts.length).toBeGreaterThan(0)
    expect(report.lost.length).toBe(conflicts.length)
    // Every lost event's stream said so.
    for (const name of report.lost) expect(conflicts.some((e) => e.startsWith(`${name}:`))).toBe(true)
    expect(report.count).toBe(report.stored)
  })

  // docs/persistence.md § Two writers: without compare-and-set no conflict is seen and the last
  // header written wins: events answered on their stream are missing from the stored session.
  it('unstorage (no compare-and-set): turns are lost without an error, as documented', async () => {
    const shared = unstorageStorage(createStorage(), { consistency: 'strong' })
    const report = await twoAgents(() => shared, { strict: false })
    expect(report.lost.length).toBeGreaterThan(0)
    expect(report.errors.filter((e) => /error event/.test(e))).toEqual([])
  })
})
