import type { UsageTotals } from '../state/schema.js'
import type { Usage } from './types.js'

// Declared with the state it is stored in (state/ cannot import llm/); re-exported where it is summed.
export type { UsageTotals }

/** A session's usage before any call. */
export const NO_USAGE: Readonly<UsageTotals> = Object.freeze({ inputTokens: 0, outputTokens: 0, cost: 0, calls: 0, unpricedCalls: 0 })

/** `total` (absent: zeros) with one call's `usage` and `cost` (undefined: unpriced) added; a new object. */
export function addUsage(total: Readonly<UsageTotals> | undefined, usage: Usage, cost: number | undefined): UsageTotals {
  const t = total ?? NO_USAGE
  // A custom provider's missing, negative, NaN, infinite or fractional count adds 0 or is rounded:
  // one NaN would poison the session's total for good, and a fraction fails the stored schema.
  const n = (x: number) => (x > 0 && x < 2 ** 53 ? Math.round(x) : 0)
  const priced = (cost as number) >= 0 && (cost as number) < Infinity
  return {
    inputTokens: t.inputTokens + n(usage?.inputTokens),
    outputTokens: t.outputTokens + n(usage?.outputTokens),
    cost: t.cost + (priced ? cost! : 0),
    calls: t.calls + 1,
    unpricedCalls: t.unpricedCalls + (priced ? 0 : 1),
    ...((t.estimated || usage?.estimated) && { estimated: true }),
  }
}
