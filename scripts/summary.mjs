#!/usr/bin/env node
/**
 * One closing line for CI from the Vitest and Playwright JSON reports of the last `npm test`:
 * `tests: N passed, N failed, N skipped`. Exits non-zero when a report is missing or counts a failure.
 */
import { readFileSync } from 'node:fs'

let passed = 0
let failed = 0
let skipped = 0
try {
  const unit = JSON.parse(readFileSync('.reports/vitest.json', 'utf8'))
  passed += unit.numPassedTests
  failed += unit.numFailedTests
  skipped += unit.numPendingTests + unit.numTodoTests
  const e2e = JSON.parse(readFileSync('.reports/e2e.json', 'utf8'))
  passed += e2e.stats.expected + e2e.stats.flaky
  failed += e2e.stats.unexpected
  skipped += e2e.stats.skipped
} catch (error) {
  console.error(`summary: no test report (${error.message}); did npm test run?`)
  process.exit(1)
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(failed ? 1 : 0)
