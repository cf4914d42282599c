import { describe, it } from 'vitest'
import { cases, type Case, type CaseResult, type Harness } from './conformance.js'

/**
 * Registers every case of `list` as its own vitest test against `harness` under `title`; a case's
 * skip is a vitest skip with its reason. With `missing` (why the backend is absent), every case is
 * skipped with that reason instead of run: visible in the report, never a silent pass.
 */
export function registerCases<H>(title: string, list: Case<H>[], harness: H, missing?: string): void {
  describe(title, () => {
    for (const c of list) {
      it(c.name, async (ctx) => {
        if (missing) ctx.skip(missing)
        const skip = await c.run(harness)
        if (skip) ctx.skip(skip)
      })
    }
  })
}

/**
 * Registers every case of `list` as its own vitest test whose outcome was computed elsewhere (inside
 * workerd): `results()` is read when the test runs, after the runner's `beforeAll` fetched it.
 */
export function reportCases<H>(title: string, list: Case<H>[], results: () => CaseResult[] | undefined): void {
  describe(title, () => {
    for (const c of list) {
      it(c.name, (ctx) => {
        const all = results()
        if (!all) throw new Error(`${title}: no results (the runtime did not answer; see beforeAll)`)
        const r = all.find((x) => x.name === c.name)
        if (!r) throw new Error(`${title}: case did not run`)
        if (r.status === 'skipped') ctx.skip(r.message)
        if (r.status === 'failed') throw new Error(r.message)
      })
    }
  })
}

/** The adapter conformance cases against `harness`. */
export function conformance(label: string, harness: Harness, missing?: string): void {
  registerCases(`${label}: conformance`, cases, harness, missing)
}

/** The adapter conformance cases, run inside workerd. */
export function reportConformance(label: string, results: () => CaseResult[] | undefined): void {
  reportCases(`${label}: conformance`, cases, results)
}
