import { ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'

/**
 * The text an input contributes to a prompt, and the text its tokens are counted on: a string as it
 * is, anything else as compact JSON (`{"title":"Book 1"}`), never `[object Object]`. Compact because
 * indentation costs tokens: the order in bench/fixtures/data-json.txt is 1,706 o200k tokens pretty
 * printed and 1,240 compact. A value JSON cannot hold (a cycle, a bigint, `undefined`) is a
 * `ValidationError` at `data`.
 */
export function renderInput(data: Json): string {
  if (typeof data === 'string') return data
  let text: string | undefined
  let cause: unknown
  try {
    text = JSON.stringify(data)
  } catch (e) {
    cause = e
  }
  if (text === undefined) throw new ValidationError('invalid_argument', 'data: is not JSON', { path: 'data', cause })
  return text
}
