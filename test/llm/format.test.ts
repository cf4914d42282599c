import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FORMAT_INSTRUCTIONS, formatInstruction, withFormatInstruction } from '../../src/llm/format.js'
import { fitMessages } from '../../src/llm/fit.js'
import { ValidationError } from '../../src/errors.js'
import type { CompletionMessage } from '../../src/state/messages.js'

const history: CompletionMessage[] = [
  { role: 'system', content: 'You are a travel agent.' },
  { role: 'user', content: 'Where should I go in May?' },
]

describe('formatInstruction', () => {
  it('asks for Markdown', () => {
    expect(formatInstruction('markdown')).toBe('Format your reply as Markdown.')
  })
  it('asks for an HTML fragment: no document elements, no scripts, no fence', () => {
    const line = formatInstruction('html')!
    expect(line).toMatch(/HTML fragment/)
    for (const word of ['<html>', '<body>', '<script>', 'code fence']) expect(line).toContain(word)
  })
  it('asks for plain text without Markdown', () => {
    expect(formatInstruction('text')).toBe('Reply in plain text: no Markdown, no HTML.')
  })
  it('leaves json (the provider JSON mode and the parser handle it) and no format alone', () => {
    expect(formatInstruction('json')).toBeUndefined()
    expect(formatInstruction(undefined)).toBeUndefined()
  })
  it('refuses an unknown format, an inherited key included, naming output.format', () => {
    for (const f of ['yaml', 'constructor', '__proto__', 'Markdown']) {
      let error: unknown
      try {
        formatInstruction(f)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).path).toBe('output.format')
      expect((error as Error).message).toContain('known: json, markdown, html, text')
    }
  })
})

describe('withFormatInstruction', () => {
  it.each(['markdown', 'html', 'text'] as const)('%s format never reaching the model: it is appended to the first system message', (format) => {
    const out = withFormatInstruction(history, format)
    expect(out).toEqual([{ role: 'system', content: `You are a travel agent.\n\n${FORMAT_INSTRUCTIONS[format]}` }, history[1]])
    // The history given is not changed, and its other messages are the same objects.
    expect(history[0]).toEqual({ role: 'system', content: 'You are a travel agent.' })
    expect(out[1]).toBe(history[1])
  })
  it('adds a system message at the start when there is none', () => {
    const h: CompletionMessage[] = [{ role: 'user', content: 'hi' }]
    expect(withFormatInstruction(h, 'markdown')).toEqual([{ role: 'system', content: 'Format your reply as Markdown.' }, h[0]])
    expect(h).toHaveLength(1)
  })
  it('merges with the first system message wherever it is, and an empty one', () => {
    const h: CompletionMessage[] = [{ role: 'user', content: 'hi' }, { role: 'system', content: '' }, { role: 'system', content: 'second' }]
    const out = withFormatInstruction(h, 'text')
    expect(out[1]).toEqual({ role: 'system', content: FORMAT_INSTRUCTIONS.text })
    expect(out[2]).toBe(h[2])
  })
  it('adds nothing on repeated calls', () => {
    const once = withFormatInstruction(history, 'html')
    const twice = withFormatInstruction(once, 'html')
    expect(twice).toBe(once)
    expect((twice[0]!.content as string).split(FORMAT_INSTRUCTIONS.html)).toHaveLength(2)
  })
  it('returns the same array for json and no format', () => {
    expect(withFormatInstruction(history, 'json')).toBe(history)
    expect(withFormatInstruction(history, undefined)).toBe(history)
  })
  it('is idempotent on any history', () => {
    const message = fc.oneof(
      fc.string().map((content) => ({ role: 'system', content }) as CompletionMessage),
      fc.string().map((content) => ({ role: 'user', content }) as CompletionMessage),
      fc.string().map((content) => ({ role: 'assistant', content }) as CompletionMessage),
    )
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), fc.constantFrom('markdown', 'html', 'text'), (h, format) => {
        const once = withFormatInstruction(h, format)
        expect(withFormatInstruction(once, format)).toBe(once)
        expect(once.filter((m) => m.role === 'system' && m.content.includes(FORMAT_INSTRUCTIONS[format])).length).toBeGreaterThanOrEqual(1)
        // Only the first system message changes (or one is added): the rest are the same objects.
        expect(once.length - h.length).toBe(h.some((m) => m.role === 'system') ? 0 : 1)
      }),
    )
  })
  it('survives fitting: the instruction is in a system message, and system messages stay', () => {
    const long: CompletionMessage[] = []
    for (let i = 0; i < 100; i++) long.push({ role: 'user', content: `question ${i}` }, { role: 'assistant', content: `answer ${i}` })
    const out = fitMessages(withFormatInstruction(long, 'markdown'), { maxTokens: 50 })
    expect(out.messages[0]).toEqual({ role: 'system', content: 'Format your reply as Markdown.' })
    expect(out.omitted).toBeGreaterThan(0)
  })
})
