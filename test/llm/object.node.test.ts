import * as v from 'valibot'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { AbortedError } from '../../src/abort.js'
import { Context } from '../../src/context.js'
import { OutputError } from '../../src/llm/executor.js'
import type { DeepPartial } from '../../src/llm/partial.js'
import { expectNoKey } from '../providers/suite.js'
import { message } from '../providers/servers/anthropic.js'
import { generateResponse } from '../providers/servers/gemini.js'
import { json, sse, type Seen, type Step } from '../providers/servers/loopback.js'
import { completion } from '../providers/servers/openai.js'
import { MODEL, wires } from '../providers/wires.js'
import { serveWires } from '../providers/servers/per-wire.js'

/**
 * `ctx.generateObject`, `ctx.streamObject` and the chat path's JSON output end to end: real `fetch`
 * over loopback HTTP to the three fake servers of test/providers/servers, which check every request
 * against each provider's documented format (OpenAI's included: `json_object` needs the word "json"
 * in the messages, or the API answers 400).
 */

const Recipe = v.object({
  title: v.string(),
  minutes: v.pipe(v.number(), v.integer()),
  steps: v.array(v.object({ text: v.string(), optional: v.optional(v.boolean()) })),
  diet: v.union([v.literal('vegan'), v.literal('any')]),
})
type Recipe = v.InferOutput<typeof Recipe>
const SOUP: Recipe = { title: 'Leek soup', minutes: 35, steps: [{ text: 'Chop the "leeks" \\ finely' }, { text: 'Simmer — 30 min', optional: false }], diet: 'vegan' }
const SENT = {
  type: 'object',
  properties: {
    title: { type: 'string' },
    minutes: { type: 'integer' },
    steps: { type: 'array', items: { type: 'object', properties: { text: { type: 'string' }, optional: { type: 'boolean' } }, required: ['text'] } },
    diet: { anyOf: [{ const: 'vegan' }, { const: 'any' }] },
  },
  required: ['title', 'minutes', 'steps', 'diet'],
}

/** A whole (not streamed) text answer in each wire's format. */
const whole: Record<string, (text: string) => Step> = {
  openai: (text) => json(completion({ content: text, usage: [30, 20] })),
  anthropic: (text) => json(message({ text, usage: [30, 20] })),
  gemini: (text) => json(generateResponse({ text, usage: [30, 20] })),
}
/** How each request asked for JSON, and with which schema. */
const asked: Record<string, (s: Seen) => unknown> = {
  openai: (s) => s.body.response_format,
  anthropic: (s) => s.body.system,
  gemini: (s) => s.body.generationConfig,
}

const wired = serveWires(wires, (w, server) => w.make(server.url))
const servers = wired.servers

/** `sse`, one frame every `ms` milliseconds. */
const paced =
  (frames: string[], ms: number): Step =>
  async (_seen, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    for (const f of frames) {
      await new Promise<void>((resolve) => res.write(f, () => resolve()))
      await new Promise((resolve) => setTimeout(resolve, ms))
    }
    res.end()
  }

async function rejected(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn()
  } catch (e) {
    expectNoKey(e)
    return e
  }
  throw new Error('expected a rejection')
}

describe.each(wires)('objects over $name', (w) => {
  const server = () => servers[w.name]!
  const ctxFor = (config: ConstructorParameters<typeof Context>[0] = {}) => new Context({ routing: { model: MODEL, provider: w.name }, ...config }, { executor: wired.executor })

  it('generateObject: the object typed from the valibot schema; the schema sent as JSON Schema, the provider\'s way', async () => {
    server().queue(whole[w.name]!(JSON.stringify(SOUP)))
    const ctx = ctxFor()
    ctx.addInput({ pantry: ['leeks', 'potatoes'] })
    const r = await ctx.generateObject({ schema: Recipe, task: 'A recipe from the pantry' })
    expectTypeOf(r.object).toEqualTypeOf<Recipe>()
    expect(r.object).toEqual(SOUP)
    expect(r.usage).toEqual({ inputTokens: 30, outputTokens: 20 })
    expect(r.providerUsed).toBe(w.name)
    const a = asked[w.name]!(server().seen[0]!)
    if (w.name === 'openai') expect(a).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema: SENT } })
    if (w.name === 'anthropic') expect(a).toContain(`It must match this JSON Schema: ${JSON.stringify(SENT)}`)
    if (w.name === 'gemini') expect(a).toMatchObject({ responseMimeType: 'application/json', responseJsonSchema: SENT })
    expect(ctx.usage.calls).toBe(1)
  })

  it('generateObject over messages tolerates a ```json fence', async () => {
    server().queue(whole[w.name]!('```json\n' + JSON.stringify(SOUP, null, 2) + '\n```'))
    const r = await ctxFor().generateObject({ schema: Recipe, systemPrompt: 'You write recipes.', messages: [{ role: 'user', content: 'Leek soup, please' }] })
    expect(r.object).toEqual(SOUP)
  })

  it('invalid JSON is an OutputError with the raw text; a schema violation lists its issues with paths', async () => {
    server().queue(whole[w.name]!('Here you go: leek soup!'))
    const e = await rejected(() => ctxFor().generateObject({ schema: Recipe, task: 'A recipe' }))
    expect(e).toBeInstanceOf(OutputError)
    expect(e.text).toBe('Here you go: leek soup!')
    server().queue(whole[w.name]!(JSON.stringify({ ...SOUP, minutes: 3.5, steps: [{ text: 1 }] })))
    const bad = await rejected(() => ctxFor().generateObject({ schema: Recipe, task: 'A recipe' }))
    expect(bad).toBeInstanceOf(OutputError)
    expect(bad.issues.map((i: { path: string }) => i.path)).toEqual(['minutes', 'steps[0].text'])
  })

  it('streamObject: partials in order as the JSON arrives over SSE, then the validated object', async () => {
    const text = JSON.stringify(SOUP)
    // Cut every 3 characters: keys, strings, escapes and numbers split across network chunks, 3 ms
    // apart (all at once, a reader may see only the newest partial: coalescing, tested with the mock).
    server().queue(paced(w.stream(text.match(/[\s\S]{1,3}/g)!), 3))
    const stream = ctxFor().streamObject({ schema: Recipe, task: 'A recipe' })
    const seen: DeepPartial<Recipe>[] = []
    for await (const partial of stream) seen.push(structuredClone(partial))
    expect(seen.length).toBeGreaterThan(1)
    // Each a deep partial of the next: fields only grow, strings by their prefix.
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!]
      if (a.title !== undefined) expect(b.title!.startsWith(a.title)).toBe(true)
      expect((b.steps?.length ?? 0) >= (a.steps?.length ?? 0)).toBe(true)
      if (a.minutes !== undefined) expect(b.minutes).toBe(35)
    }
    expect(seen.at(-1)).toEqual(SOUP)
    expect(await stream.object).toEqual(SOUP)
    expect(server().seen[0]!.body.stream ?? server().seen[0]!.path.includes('stream')).toBeTruthy()
  })

  it('streamObject aborted mid-stream: the partials so far, an AbortedError, the connection closed', async () => {
    const text = JSON.stringify(SOUP)
    const head = text.slice(0, text.indexOf('"steps"'))
    server().queue(sse(w.partial(head.match(/[\s\S]{1,4}/g)!), 'hold'))
    const controller = new AbortController()
    const stream = ctxFor().streamObject({ schema: Recipe, task: 'A recipe', signal: controller.signal })
    const seen: DeepPartial<Recipe>[] = []
    const e = await rejected(async () => {
      for await (const partial of stream) {
        seen.push(partial)
        if (partial.minutes === 35) controller.abort()
      }
    })
    expect(e).toBeInstanceOf(AbortedError)
    expect(seen.at(-1)).toEqual({ title: 'Leek soup', minutes: 35 })
    await server().seen[0]!.clientClosed
  })

  it('generateChatCompletion honours output.format json and output.schema: JSON mode, result.object validated', async () => {
    server().queue(whole[w.name]!(JSON.stringify(SOUP)))
    const ctx = ctxFor({ output: { format: 'json', schema: Recipe } })
    ctx.addCompletionMessage({ role: 'user', content: 'Leek soup as a recipe object' })
    const r = await ctx.generateChatCompletion()
    expect(r.object).toEqual(SOUP)
    const a = asked[w.name]!(server().seen[0]!)
    if (w.name === 'openai') expect(a).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema: SENT } })
    if (w.name === 'gemini') expect(a).toMatchObject({ responseJsonSchema: SENT })
    if (w.name === 'anthropic') expect(a).toContain('Reply with one JSON value')
  })

  it("regression: a chat in JSON mode whose messages never say JSON (OpenAI's JSON mode answers 400 to it)", async () => {
    server().queue(whole[w.name]!('{"ok":true}'))
    const ctx = ctxFor({ output: { format: 'json' } })
    ctx.addCompletionMessage({ role: 'user', content: 'Is the soup ready? Answer with ok.' })
    expect((await ctx.generateChatCompletion()).object).toEqual({ ok: true })
    if (w.name === 'openai') expect(server().seen[0]!.body.response_format).toEqual({ type: 'json_object' })
  })
})
