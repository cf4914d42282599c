import type { Usage } from './types.js'

/**
 * Model calls summed: what `ctx.usage` returns and what the context serializes. Every provider call
 * that reported usage counts once: a success, and a failed or aborted call's partial (a broken
 * stream is billed for what it produced); a fallback attempt is a call of its own. A provider's own
 * HTTP retries of a 429 or 5xx are inside one call (a refused request produced no tokens).
 */
export interface UsageTotals {
  /** Prompt tokens, summed. */
  inputTokens: number
  /** Reply tokens, summed. */
  outputTokens: number
  /** USD, summed over the priced calls only: a model without prices adds its tokens and to `unpricedCalls`, not to `cost`. */
  cost: number
  /** Provider calls counted (each step of a tool loop, each fallback attempt that reported usage). */
  calls: number
  /** Calls whose model has no prices in the router (`registerModel` it to price them): `cost` leaves them out. */
  unpricedCalls: number
  /** Present (true) when some call's usage was estimated (a provider that did not report it, a stream cut short). */
  estimated?: true
}

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
