import type { FinishReason } from '../../llm/types.js'

/*
 * Checks on what a provider's response holds, before it is used to address anything. The readers
 * (openai.ts, anthropic.ts, gemini.ts) throw the `TypeError`s made here; `chat` turns them into a
 * `ProviderError` that is not retried, so a hostile response never reaches a prototype, and a
 * malformed one never escapes as a bare `TypeError`.
 */

// Indexes from a response address a JavaScript array, so only small non-negative integers may: an
// index "__proto__" reaches Array.prototype. 1,024 is far above a real reply (a few parallel tool
// calls; Anthropic numbers its content blocks in the tens) and keeps the walk over the holes an index
// leaves short: an index of 1e9 would make `finish` step through a billion holes.
const MAX_INDEX = 1024

/** `v` when it is an integer in [0, 1024), else a `TypeError` naming `what` (`chat` makes it a `ProviderError`). */
export function checkIndex(v: unknown, what: string): number {
  if (Number.isInteger(v) && (v as number) >= 0 && (v as number) < MAX_INDEX) return v as number
  throw new TypeError(`${what} must be an integer in [0, ${MAX_INDEX})`)
}

/**
 * `v` when it is a string of at most `max` characters, else a `TypeError` naming `what`. Ids and
 * names default to 1,024: OpenAI's call ids are 29 characters, Anthropic's 30, tool names at most 64.
 * Text is bounded by `TEXT` instead.
 */
export function checkString(v: unknown, what: string, max = 1024): string {
  if (typeof v === 'string' && v.length <= max) return v
  throw new TypeError(`${what} must be a string of at most ${max} characters`)
}

/** The bound of `checkString` for text: what one SSE event may hold. */
export const TEXT = 1 << 24

/** `v` when it is a token count (a non-negative safe integer), else undefined: usage is then estimated. */
export const count = (v: unknown): number | undefined => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined)

/** `table[key]` when `key` is one of its own keys (never `constructor` or `__proto__` from its prototype), else `other`. */
export const lookup = (table: Record<string, FinishReason>, key: unknown): FinishReason =>
  typeof key === 'string' && Object.hasOwn(table, key) ? table[key]! : 'other'
