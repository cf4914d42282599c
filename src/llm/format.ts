import { invalid } from '../errors.js'
import type { CompletionMessage } from '../state/messages.js'

/**
 * What `output.format` asks of the model, as one line of its system prompt. `json` is not here:
 * JSON output goes through the provider's JSON mode and is parsed, not only asked for.
 */
export const FORMAT_INSTRUCTIONS = {
  markdown: 'Format your reply as Markdown.',
  // Models wrap HTML in a ```html fence unless told not to; a page's own <html>/<body> or a script
  // would not belong inside the element the caller renders the reply into.
  html: 'Format your reply as an HTML fragment: no <html>, <head> or <body> element, no <script> or <style>, no Markdown, no code fence around it.',
  text: 'Reply in plain text: no Markdown, no HTML.',
} as const

/** An `output.format` that reaches the model as an instruction. */
export type TextFormat = keyof typeof FORMAT_INSTRUCTIONS

/**
 * The instruction for `format`, `undefined` for `json` or no format. Any other value is a
 * `ValidationError` at `output.format`.
 */
export function formatInstruction(format: string | undefined): string | undefined {
  if (format === undefined || format === 'json') return undefined
  if (!Object.hasOwn(FORMAT_INSTRUCTIONS, format)) throw invalid('output.format', `unknown format "${format}"; known: json, markdown, html, text`)
  return FORMAT_INSTRUCTIONS[format as TextFormat]
}

/**
 * `messages` with `format`'s instruction in the system prompt: appended (after a blank line) to the
 * first system message, or as a system message of its own at the start when there is none. The
 * instruction is added once: a first system message that already holds it is left as it is, so
 * applying this again (or to a history that went through it) changes nothing. A new array; the
 * messages given are not changed. `messages` itself when there is nothing to add.
 */
export function withFormatInstruction(messages: CompletionMessage[], format: string | undefined): CompletionMessage[] {
  const line = formatInstruction(format)
  if (!line) return messages
  const i = messages.findIndex((m) => m.role === 'system')
  if (i < 0) return [{ role: 'system', content: line }, ...messages]
  const { content } = messages[i] as { content: string }
  if (content.includes(line)) return messages
  const out = messages.slice()
  out[i] = { role: 'system', content: content ? `${content}\n\n${line}` : line }
  return out
}
