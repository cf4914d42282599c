import { invalid } from '../errors.js'
import { estimateTokens } from './tokens.js'
import type { ContextInput, TokenCounter } from './types.js'

/**
 * The smallest leftover budget, in tokens, worth filling with the head of a text that does not fit
 * whole. 32 tokens is ~24 English words, about two sentences: less than that gives the model a
 * fragment that costs tokens and carries little, and the `…` marker plus a word-boundary cut can
 * already eat a few of them.
 */
export const MIN_TRUNCATE_TOKENS = 32

/**
 * Prunes inputs to a token budget, the way `ctx.prune()` does:
 * 1. drops inputs whose relevance is below `relevanceThreshold`;
 * 2. orders the rest by relevance, highest first, ties in their original order;
 * 3. keeps each input whose `tokens` fit in what is left of `maxTokens`, and keeps scanning after
 *    one that does not (a smaller, less relevant input may still fit);
 * 4. a text input that does not fit whole, met while at least `MIN_TRUNCATE_TOKENS` remain, is cut
 *    to fill them: at a word boundary when there is one in its last 20%, ending with `…`, its
 *    `tokens` recounted with `counter`. An object or array input is never cut.
 *
 * Returns new input objects (their `data` is shared, not copied); the given ones are not touched.
 * `maxTokens` undefined means no token limit. Runs in O(n): a radix sort and one scan, plus, for a
 * truncated text, a binary search of O(log length) counts.
 */
export function pruneInputs(
  inputs: readonly ContextInput[],
  maxTokens?: number,
  relevanceThreshold = 0,
  counter: TokenCounter = estimateTokens,
): ContextInput[] {
  if (!Array.isArray(inputs)) throw invalid('inputs', 'must be an array')
  if (maxTokens !== undefined && !(typeof maxTokens === 'number' && maxTokens >= 0)) throw invalid('maxTokens', 'must be a number >= 0')
  if (!(typeof relevanceThreshold === 'number' && relevanceThreshold >= 0 && relevanceThreshold <= 1)) {
    throw invalid('relevanceThreshold', 'must be a number in 0..1')
  }
  if (typeof counter !== 'function') throw invalid('counter', 'must be a function')

  const candidates: ContextInput[] = []
  const rel = new Float64Array(inputs.length)
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!
    const relevance = input?.relevance
    const tokens = input?.tokens
    if (!(typeof relevance === 'number' && relevance >= 0 && relevance <= 1)) throw invalid(`inputs[${i}].relevance`, 'must be a number in 0..1')
    if (!(typeof tokens === 'number' && tokens >= 0 && tokens < Infinity)) throw invalid(`inputs[${i}].tokens`, 'must be a finite number >= 0')
    if (relevance >= relevanceThreshold) rel[candidates.push(input) - 1] = relevance + 0 // -0 → 0
  }
  const order = sortByRelevance(rel, candidates.length)

  const out: ContextInput[] = []
  let left = maxTokens ?? Infinity
  for (let k = 0; k < order.length; k++) {
    const { data, relevance, tokens } = candidates[order[k]!]!
    if (tokens <= left) {
      out.push({ data, relevance, tokens })
      left -= tokens
    } else if (typeof data === 'string' && left >= MIN_TRUNCATE_TOKENS) {
      const cut = truncateText(data, left, counter)
      if (cut) {
        const used = counter(cut)
        out.push({ data: cut, relevance, tokens: used })
        left -= used
      }
    }
  }
  return out
}

/**
 * Indices of `rel[0..m)` ordered by value, highest first, ties in index order. An LSD radix sort on
 * the 8 bytes of each double (for doubles >= 0, +0 included, the bit pattern orders like the value),
 * each byte complemented so that the ascending, stable passes yield a descending, stable order, and
 * a pass skipped when all values share its byte. On 100,000 inputs a prune with it takes ~2x a
 * native Float64Array sort of the relevances alone, and half an Array#sort with a comparator
 * (bench/prune.bench.ts); 256 buckets keep the fixed cost negligible for a handful of inputs.
 */
function sortByRelevance(rel: Float64Array, m: number): Uint32Array {
  const bytes = new Uint8Array(rel.buffer)
  const le = new Uint8Array(Uint16Array.of(1).buffer)[0] // 1 on little-endian platforms (all of them, in practice)
  let order = new Uint32Array(m)
  let next = new Uint32Array(m)
  const count = new Uint32Array(257)
  for (let i = 0; i < m; i++) order[i] = i
  for (let d = 0; d < 8; d++) {
    const at = le ? d : 7 - d
    count.fill(0)
    for (let i = 0; i < m; i++) count[256 - bytes[8 * i + at]!]!++
    if (count[256 - bytes[at]!] === m) continue // every value shares this byte: the pass would change nothing
    for (let v = 1; v <= 256; v++) count[v]! += count[v - 1]!
    for (let k = 0; k < m; k++) {
      const i = order[k]!
      next[count[255 - bytes[8 * i + at]!]!++] = i
    }
    ;[order, next] = [next, order]
  }
  return order
}

/**
 * The longest head of `text` that, with a `…` appended, counts at most `budget` tokens; cut at the
 * last whitespace in its final 20% when there is one. `''` when not even one character fits.
 * Binary search on the length: O(log n) counts of O(n) each.
 */
export function truncateText(text: string, budget: number, counter: TokenCounter = estimateTokens): string {
  if (typeof text !== 'string') throw invalid('text', 'must be a string')
  if (!(typeof budget === 'number' && budget >= 0)) throw invalid('budget', 'must be a number >= 0')
  const fits = (len: number) => counter(text.slice(0, len) + '…') <= budget
  let lo = 0 // longest length known to fit
  let hi = text.length // shortest length known not to fit (the whole text is assumed not to)
  // Narrow first: a token is rarely 16 characters, so 1 MB of text for a 100-token budget costs one
  // count of 1,600 characters here instead of a first count of 500,000.
  const guess = Math.floor(budget * 16)
  if (guess < hi) {
    if (fits(guess)) lo = guess
    else hi = guess
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1
    if (fits(mid)) lo = mid
    else hi = mid
  }
  // Never split a surrogate pair (an emoji) in two.
  const code = text.charCodeAt(lo - 1)
  if (code >= 0xd800 && code <= 0xdbff) lo--
  let end = lo
  while (end > lo * 0.8 && !/\s/.test(text[end] ?? ' ')) end--
  const head = text.slice(0, end > lo * 0.8 ? end : lo).trimEnd()
  if (!head) return ''
  const cut = head + '…'
  // Counters are not strictly monotonic: fall back to the searched length if the word cut counts more.
  return counter(cut) <= budget ? cut : lo > 0 && fits(lo) ? text.slice(0, lo) + '…' : ''
}

/** The LLM-execution reference's `Pruner` (docs/reference.md#llm-pruner): `pruneInputs` with a token counter fixed at construction. */
export class Pruner {
  /** Counts the tokens of a truncated text; the default is `estimateTokens`. */
  readonly counter: TokenCounter

  /** A pruner counting tokens with `counter` (`estimateTokens` by default; pass a real tokenizer for exact budgets). */
  constructor(counter: TokenCounter = estimateTokens) {
    if (typeof counter !== 'function') throw invalid('counter', 'must be a function')
    this.counter = counter
  }

  /** See `pruneInputs`. */
  prune(inputs: readonly ContextInput[], maxTokens?: number, relevanceThreshold = 0): ContextInput[] {
    return pruneInputs(inputs, maxTokens, relevanceThreshold, this.counter)
  }
}
