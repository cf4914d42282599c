import { describe, it } from 'vitest'
import type { CaseResult } from './conformance.js'
import { storeCases, type StoreHarness } from './store-cases.js'

/**
 * Registers every context-store case as its own vitest test against `harness`; a case's skip is a
 * vitest skip with its reason. With `missing` (why the backend is absent), every case is skipped
 * with that reason instead of run: visible in the report, never a silent pass.
 */
export function storeSuite(label: string, harness: StoreHarness, missing?: string): void {
  describe(`${label}: context store`, () => {
    for (const c of storeCases) {
      it(c.name, async (ctx) => {
        if (missing) ctx.skip(missing)
        const skip = await c.run(harness)
        if (skip) ctx.skip(skip)
      })
    }
  })
}

/** Registers every context-store case as a test whose outcome was computed elsewhere (inside workerd). */
export function reportStoreSuite(label: string, results: () => CaseResult[] | undefined): void {
  describe(`${label}: context store`, () => {
    for (const c of storeCases) {
      it(c.name, (ctx) => {
        const all = results()
        if (!all) throw new Error(`${label}: no results (the runtime did not answer; see beforeAll)`)
        const r = all.find((x) => x.name === c.name)
        if (!r) throw new Error(`${label}: case did not run`)
        if (r.status === 'skipped') ctx.skip(r.message)
        if (r.status === 'failed') throw new Error(r.message)
      })
    }
  })
}
