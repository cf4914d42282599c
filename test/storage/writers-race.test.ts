import { describe, expect, it } from 'vitest'
import { createStorage } from 'unstorage'
import { memoryStorage } from '../../src/storage/memory.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { withoutCas } from './store-helpers.js'
import { writersRace } from './writers-race.js'

// The dialog framework's concurrency test (writers-race.ts) on the memory adapter, in Node and in
// Chromium. IndexedDB: writers-race.browser.test.ts; Durable Objects and every other store backend:
// the store suite's race case (turns-cases.ts).
describe('3 writers × 19 turns on one context, random delays, every write checked', () => {
  it('memory (compare-and-set): all 57 turns stored once, ids 1..57, the losers retried', async () => {
    const shared = memoryStorage()
    const report = await writersRace(() => shared)
    expect(report.stored).toBe(57)
    expect(report.saves).toBe(57)
    // Random delays of 0-4 ms around each save: writers overlap, so some lose and retry.
    expect(report.conflicts).toBeGreaterThan(0)
  })

  it('the same race replayed with a seed saves the same turns (a failure names its seed)', async () => {
    const shared = memoryStorage()
    const report = await writersRace(() => shared, { seed: 42, writers: 2, turns: 5, id: 'seeded' })
    expect([report.seed, report.stored, report.lost, report.duplicated]).toEqual([42, 10, [], []])
  })

  // What README (docs/persistence.md § Two writers) documents for adapters without compare-and-set:
  // no conflict is seen, the last header written wins, and the other writers' new turns are dropped.
  for (const [label, make] of [
    ['memory without compareAndSet', () => withoutCas(memoryStorage())],
    ['unstorage (memory driver)', () => unstorageStorage(createStorage(), { consistency: 'strong' })],
  ] as const) {
    it(`${label}: turns are lost without a conflict, as documented; the context still loads`, async () => {
      const shared = make()
      const report = await writersRace(() => shared, { strict: false })
      // The one conflict seen without compare-and-set: a new context must not replace one saved
      // meanwhile (checked, not atomically), so the writers that created it second and third retry.
      expect(report.conflicts).toBeLessThanOrEqual(2)
      expect(report.saves).toBe(57)
      expect(report.lost.length).toBeGreaterThan(0)
      expect(report.stored + report.lost.length).toBeGreaterThanOrEqual(57)
    })
  }
})
