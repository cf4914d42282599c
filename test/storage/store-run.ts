import type { CaseResult } from './conformance.js'
import { registerCases, reportCases } from './run.js'
import { storeCases, type StoreHarness } from './store-cases.js'

/** The context-store cases against `harness` (see `registerCases`). */
export function storeSuite(label: string, harness: StoreHarness, missing?: string): void {
  registerCases(`${label}: context store`, storeCases, harness, missing)
}

/** The context-store cases, run inside workerd (see `reportCases`). */
export function reportStoreSuite(label: string, results: () => CaseResult[] | undefined): void {
  reportCases(`${label}: context store`, storeCases, results)
}
