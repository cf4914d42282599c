import { describe, it } from 'vitest'
import { cases, type CaseResult, type Harness } from './conformance.js'

/**
 * Registers every conformance case as its own vitest test against `harness`; a case's skip is a
 * vitest skip with its reason. With `missing` (why the backend is absent), every case is skipped
 * with that reason instead of run: visible in the report, never a silent pass.
 */
export function conformance(label: string, harness: Harness, missing?: string): void {
  describe(`${label}: conformance`, () => {
    for (const c of cases) {
      it(c.name, async (ctx) => {
        if (missing) ctx.skip(missing)
        const skip = await c.run(harness)
        if (skip) ctx.skip(skip)
      })
    }
  })
}

/**
 * Registers every conformance case as its own vitest test whose outcome was computed elsewhere (inside
 * workerd): `results()` is read when the test runs, after the runner's `beforeAll` fetched it.
 */
export function reportConformance(label: string, results: () => CaseResult[] | undefined): void {
  describe(`${label}: conformance`, () => {
    for (const c of cases) {
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
