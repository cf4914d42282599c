import { describe, expect, it } from 'vitest'
import { indexedDBStorage } from '../../src/storage/indexeddb.js'
import { trackerCases } from './tracker-cases.js'

// IndexedDB in real Chromium: compareAndSet is one read-write transaction, which IndexedDB serializes
// against every other one on the store. A database per case (idb-keyval keeps connections open).
const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let n = 0
const make = async () => indexedDBStorage({ dbName: `agentctx-exp-test-${run}-${n++}` })

describe('createExperiments over IndexedDB (Chromium)', () => {
  it.each(Object.keys(trackerCases))('%s', async (name) => {
    expect(await trackerCases[name]!(make)).toBeNull()
  })
})
