import { invalid } from '../errors.js'
import type { Json } from '../state/json.js'
import { renderInput } from './render.js'
import type { TokenCounter } from './types.js'

/**
 * Estimates how many tokens a text is for o200k (GPT-4o and later), with no vocabulary and no
 * network: one pass over the char codes, no regex, no allocation.
 *
 * It follows o200k's own pre-tokenizer, which splits text into words (a leading space or punctuation
 * mark glued on, a new piece at each lower→UPPER change: `refill|Per|Second`), digit groups of at
 * most 3, punctuation runs, and whitespace runs, then counts each piece:
 * - a word is 1 token up to ~8 letters (almost every English word is one token), then 1 more per
 *   2.75 letters; uppercase letters after the first weigh 1.75 (`HTTP`, `ALLCAPS` split more); an
 *   accented Latin letter adds 1.8 (`M|ühle`), a Greek one 1.25, a Cyrillic one 0.1, at most 1.45
 *   per word;
 * - digits cost 1.15 per group of 3; punctuation 0.95 for a run's first mark, 0.3 per further mark,
 *   0.15 per repeat of the same mark (`=====`), 0.4 less when glued to the next word (`.js`, `_id`);
 * - extra spaces (indentation) 0.85 per run; a line break 0.6, or 0.15 right after punctuation
 *   (`{\n` and `.\n\n` are one token);
 * - a Han character 0.8, kana and Hangul 0.7, CJK punctuation 1, Arabic, Hebrew, Indic and Thai
 *   letters 0.4, an emoji or other astral character 2, any other symbol 1.
 *
 * The constants were fitted (coordinate descent on the mean absolute percentage error) against
 * gpt-tokenizer's o200k counts on bench/fixtures and on half of a set of READMEs, sources, JSON files
 * and TypeScript's translated messages from node_modules. bench/tokens.bench.ts: 4.5% error on the
 * fixtures (prose, code, JSON, CJK) where `chars / 4` is off by 24% (68% on CJK), and 5.4% against
 * 21% on the held-out half. Pass an exact counter where it matters.
 */
export function estimateTokens(text: string): number {
  if (typeof text !== 'string') throw invalid('text', 'must be a string')
  const n = text.length
  let t = 0
  let word = 0 // weighted letters of the current word piece
  let extra = 0 // cost of its non-ASCII letters
  let spaceLed = false
  let wasLower = false
  let digits = 0
  let punct = 0
  let repeats = 0
  let lastPunct = 0
  let spaces = 0
  let prev = 0 // class of the previous char, as `k` below
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : -1
    // 1 letter, 2 digit, 3 ASCII punctuation, 4 space or tab, 5 line break, 6 other, 0 the end.
    let k = 6
    let x = 0
    let upper = false
    if (c < 0) k = 0
    else if (c >= 97 && c <= 122) k = 1
    else if (c >= 65 && c <= 90) (k = 1), (upper = true)
    else if (c >= 48 && c <= 57) k = 2
    else if (c === 32 || c === 9) k = 4
    else if (c === 10 || c === 13) k = 5
    else if (c < 128) k = 3
    else if ((c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) || (c >= 0x1e00 && c <= 0x1eff)) (k = 1), (x = 1.8)
    else if (c >= 0x400 && c <= 0x52f) (k = 1), (x = 0.1)
    else if (c >= 0x370 && c <= 0x3ff) (k = 1), (x = 1.25)

    // Close the runs this char ends.
    if (word && (k !== 1 || (upper && wasLower))) {
      t += 1 + Math.max(0, word - (spaceLed ? 8.5 : 8)) / 2.75 + Math.min(extra, 1.45)
      word = extra = 0
    }
    if (digits && k !== 2) (t += Math.ceil(digits / 3) * 1.15), (digits = 0)
    if (punct && k !== 3) {
      t += 0.95 + 0.3 * (punct - 1 - repeats) + 0.15 * repeats - (k === 1 ? 0.4 : 0)
      punct = repeats = 0
    }
    if (spaces && k !== 4) {
      // The last space of a run is glued to the next word; spaces before a line break join it.
      if (spaces > 1 && k !== 5) t += 0.85
      spaces = 0
    }

    if (k === 1) {
      if (!word) spaceLed = prev === 4
      word += upper && word ? 1.75 : 1
      extra += x
    } else if (k === 2) digits++
    else if (k === 3) {
      if (punct && c === lastPunct) repeats++
      punct++
      lastPunct = c
    } else if (k === 4) spaces++
    else if (k === 5) {
      if (prev !== 5) t += prev === 3 ? 0.15 : 0.6
    } else if (k === 6) {
      t +=
        (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0xf900 && c <= 0xfaff)
          ? 0.8 // Han
          : (c >= 0x3040 && c <= 0x30ff) || (c >= 0xac00 && c <= 0xd7af)
            ? 0.7 // kana, Hangul
            : c >= 0xd800 && c <= 0xdbff
              ? 2 // high surrogate: an emoji or a rare character (its low half costs nothing)
              : c >= 0xdc00 && c <= 0xdfff
                ? 0
                : c >= 0x530 && c < 0x2000
                  ? 0.4 // Armenian .. Thai, Georgian, Ethiopic...: BPE merges these letters well
                  : 1 // CJK and full-width punctuation, symbols, arrows, quotes
    }
    wasLower = k === 1 && !upper
    prev = k
  }
  return n === 0 ? 0 : Math.max(1, Math.round(t))
}

/** Tokens of one input's data as it will be sent: a string as it is, anything else as compact JSON. */
export function countInputTokens(data: Json, counter: TokenCounter = estimateTokens): number {
  return counter(renderInput(data))
}
