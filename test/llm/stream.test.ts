import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AbortedError } from '../../src/abort.js'
import { Context } from '../../src/context.js'
import { Executor } from '../../src/llm/executor.js'
import { ChatStream, type StreamPart } from '../../src/llm/stream.js'
import { mockProvider, type MockReply } from '../../src/test/index.js'

/**
 * ChatStream over mockProvider (no network; the loopback HTTP tests are stream.node.test.ts):
 * parts in order, textStream, text and result, toResponse parsed back, cancel and the caller's
 * signal keeping the partial, errors as parts, one reader.
 */

const setup = (replies: MockReply[]) => {
  const mock = mockProvider({ name: 'openai', replies })
  const ctx = new Context({ routing: { model: 'gpt-4o-mini' } }, { executor: new Executor({ providers: [mock] }) })
  ctx.addCompletionMessage({ role: 'user', content: 'Hi' })
  return { mock, ctx }
}

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** The SSE body of a Response, parsed back into parts. */
const parseSse = (body: string) =>
  body
    .split('\n\n')
    .filter(Boolean)
    .map((frame) => {
      expect(frame.startsWith('data: ')).toBe(true)
      return JSON.parse(frame.slice(6))
    })

describe('ChatStream over a chat', () => {
  it('yields text-delta parts as they arrive, then step-finish and finish; result is what generateChatCompletion returns', async () => {
    const { ctx } = setup([{ text: 'Hello there world', chunks: ['Hello', ' there', ' world'], usage: { inputTokens: 5, outputTokens: 3 } }])
    const stream = ctx.streamChatCompletion()
    const parts = await collect(stream)
    expect(parts.map((p) => p.type)).toEqual(['text-delta', 'text-delta', 'text-delta', 'step-finish', 'finish'])
    expect(parts.slice(0, 3)).toEqual([
      { type: 'text-delta', text: 'Hello' },
      { type: 'text-delta', text: ' there' },
      { type: 'text-delta', text: ' world' },
    ])
    expect(parts[4]).toEqual({ type: 'finish', finishReason: 'stop', usage: { inputTokens: 5, outputTokens: 3 }, cost: expect.any(Number) })
    const result = await stream.result
    expect(result.text).toBe('Hello there world')
    expect(result.steps).toHaveLength(1)
    expect(await stream.text).toBe('Hello there world')
    // Appended as generateChatCompletion appends.
    expect(ctx.getCompletionMessages().at(-1)).toEqual({ role: 'assistant', content: 'Hello there world' })

    const other = setup([{ text: 'Hello there world', chunks: ['Hello', ' there', ' world'], usage: { inputTokens: 5, outputTokens: 3 } }])
    const whole = await other.ctx.generateChatCompletion()
    expect(result).toEqual(whole)
  })

  it('textStream yields the strings; text and result are there without reading the parts', async () => {
    const { ctx } = setup([{ text: 'a b c', chunks: ['a', ' b', ' c'] }])
    expect(await collect(ctx.streamChatCompletion().textStream)).toEqual(['a', ' b', ' c'])
    const { ctx: ctx2 } = setup([{ text: 'a b c', chunks: ['a', ' b', ' c'] }])
    const s = ctx2.streamChatCompletion()
    expect(await s.text).toBe('a b c')
    expect((await s.result).text).toBe('a b c')
    // The parts were kept for a reader that comes after.
    expect((await collect(s)).map((p) => p.type)).toEqual(['text-delta', 'text-delta', 'text-delta', 'step-finish', 'finish'])
  })

  it('one reader: a second iteration is a TypeError naming text and result', async () => {
    const { ctx } = setup(['x'])
    const s = ctx.streamChatCompletion()
    await collect(s)
    await expect(collect(s)).rejects.toThrow(/read once/)
    await expect(collect(s.textStream)).rejects.toThrow(TypeError)
  })

  it('toResponse sse: each part a data: frame of JSON, parsed back equal to the parts; text/event-stream headers', async () => {
    const { ctx } = setup([{ text: 'Paris is nice', chunks: ['Paris', ' is', ' nice'] }])
    const res = ctx.streamChatCompletion().toResponse()
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    const parts = parseSse(await res.text())
    expect(parts.map((p) => p.type)).toEqual(['text-delta', 'text-delta', 'text-delta', 'step-finish', 'finish'])
    expect(parts.filter((p) => p.type === 'text-delta').map((p) => p.text).join('')).toBe('Paris is nice')
  })

  it('toResponse text: the deltas as plain UTF-8, extra headers and status kept', async () => {
    const { ctx } = setup([{ text: 'Ça va — très bien 🎉', chunks: ['Ça va', ' — très', ' bien 🎉'] }])
    const res = ctx.streamChatCompletion().toResponse({ type: 'text', status: 201, headers: { 'x-trace': '1' } })
    expect(res.status).toBe(201)
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(res.headers.get('x-trace')).toBe('1')
    expect(await res.text()).toBe('Ça va — très bien 🎉')
  })

  it('toResponse refuses an unknown type', () => {
    const { ctx } = setup(['x'])
    const s = ctx.streamChatCompletion()
    expect(() => s.toResponse({ type: 'json' as never })).toThrow(/sse' or 'text/)
    s.cancel()
  })

  it('cancel() mid-stream: result rejects with AbortedError (cancelled) keeping the partial text and usage; text resolves with what arrived; nothing is appended', async () => {
    const { ctx } = setup([{ text: 'one two three four', chunks: ['one', ' two', ' three', ' four'], delayMs: 5 }])
    const before = ctx.getCompletionMessages().length
    const s = ctx.streamChatCompletion()
    const seen: StreamPart[] = []
    for await (const p of s) {
      seen.push(p)
      if (seen.length === 2) s.cancel()
    }
    const err = await s.result.catch((e) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err.reason).toBe('cancelled')
    expect(err.partial.text).toBe('one two')
    expect(err.partial.usage.outputTokens).toBeGreaterThan(0)
    expect(await s.text).toBe('one two')
    expect(seen.at(-1)!.type).toBe('error')
    expect(ctx.getCompletionMessages()).toHaveLength(before)
  })

  it('textStream ends quietly after cancel(), but throws a real failure', async () => {
    const { ctx } = setup([{ text: 'one two three', chunks: ['one', ' two', ' three'], delayMs: 5 }])
    const s = ctx.streamChatCompletion()
    const got: string[] = []
    for await (const t of s.textStream) {
      got.push(t)
      s.cancel()
    }
    expect(got).toEqual(['one'])
    const { ctx: ctx2 } = setup([{ text: 'one two three', chunks: ['one', ' two', ' three'], breakAfter: 1 }])
    const s2 = ctx2.streamChatCompletion()
    await expect(collect(s2.textStream)).rejects.toMatchObject({ name: 'ProviderError' })
  })

  it("the caller's signal: AbortedError with the signal's reason and the partial", async () => {
    const { ctx } = setup([{ text: 'a b', chunks: ['a', ' b'], hang: true }])
    const controller = new AbortController()
    const s = ctx.streamChatCompletion({ signal: controller.signal })
    const parts: StreamPart[] = []
    for await (const p of s) {
      parts.push(p)
      if (p.type === 'text-delta' && p.text === ' b') controller.abort()
    }
    expect(parts.at(-1)).toMatchObject({ type: 'error', error: { name: 'AbortedError', reason: 'cancelled' } })
    const err = await s.result.catch((e) => e)
    expect(err.partial.text).toBe('a b')
  })

  it('an error in the call is an error part (never a throw of the iteration) and rejects result', async () => {
    const { ctx } = setup([{ error: 'rate_limit' }])
    const s = ctx.streamChatCompletion()
    const parts = await collect(s)
    expect(parts).toEqual([{ type: 'error', error: expect.objectContaining({ name: 'ProviderError', status: 429 }) }])
    await expect(s.result).rejects.toMatchObject({ status: 429 })
    expect(await s.text).toBe('')
  })

  it('an error part in SSE is its name, message and code only: no stack, no cause', async () => {
    const { ctx } = setup([{ error: 'rate_limit' }])
    const body = await ctx.streamChatCompletion().toResponse().text()
    const [part] = parseSse(body)
    expect(part.type).toBe('error')
    expect(Object.keys(part.error).sort()).toEqual(['code', 'message', 'name'])
    expect(body).not.toContain('stack')
  })

  it('a text Response errors its body on a failure (a client sees the break, not a clean end)', async () => {
    const { ctx } = setup([{ text: 'a b c', chunks: ['a', ' b', ' c'], breakAfter: 1 }])
    const res = ctx.streamChatCompletion().toResponse({ type: 'text' })
    await expect(res.text()).rejects.toBeDefined()
  })

  it('cancelling the Response body cancels the call', async () => {
    const { ctx } = setup([{ text: 'a b', chunks: ['a', ' b'], hang: true }])
    const s = ctx.streamChatCompletion()
    const reader = s.toResponse().body!.getReader()
    await reader.read()
    await reader.cancel()
    const err = await s.result.catch((e) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err.reason).toBe('cancelled')
  })

  it('a result nobody awaits does not crash the process (no unhandled rejection)', async () => {
    const { ctx } = setup([{ error: 'server' }])
    const s = ctx.streamChatCompletion()
    await collect(s)
  })

  it('bad options are a ValidationError from result, as from generateChatCompletion', async () => {
    const { ctx } = setup(['x'])
    await expect(ctx.streamChatCompletion({ maxSteps: 0 }).result).rejects.toMatchObject({ name: 'ValidationError', path: 'maxSteps' })
    await expect(ctx.generateChatCompletion({ maxSteps: 1.5 })).rejects.toMatchObject({ name: 'ValidationError', path: 'maxSteps' })
  })

  it('streamExecute: text deltas, and result is what execute returns', async () => {
    const reply = { text: 'Done here', chunks: ['Done', ' here'], usage: { inputTokens: 9, outputTokens: 2 } }
    const { ctx } = setup([reply])
    const s = ctx.streamExecute({ task: 'Do it' })
    expect(await collect(s.textStream)).toEqual(['Done', ' here'])
    const r = await s.result
    const { ctx: ctx2 } = setup([reply])
    const whole = await ctx2.execute({ task: 'Do it' })
    expect({ ...r, duration: 0, contextId: '' }).toEqual({ ...whole, duration: 0, contextId: '' })
  })

  it('an executor of its own without streamChat: a ValidationError naming the executor', () => {
    const ctx = new Context({}, { executor: { execute: async () => ({}) as never, chat: async () => ({}) as never } })
    expect(() => ctx.streamChatCompletion()).toThrow(/streamChat/)
    expect(() => ctx.streamExecute({ task: 'x' })).toThrow(/streamExecute/)
  })
})

describe('ChatStream backpressure (unit)', () => {
  it('the producer waits at ready() while a reader has parts to take, and goes on at once when nobody reads and result is awaited', async () => {
    let waited = 0
    const s = new ChatStream<string>(async (sink) => {
      for (let i = 0; i < 5; i++) {
        sink.push({ type: 'text-delta', text: String(i) })
        const r = sink.ready()
        if (r) {
          waited++
          await r
        }
      }
      return 'ok'
    })
    const it = s[Symbol.asyncIterator]()
    const first = await it.next()
    expect(first.value).toEqual({ type: 'text-delta', text: '0' })
    // The reader took one part and stopped: the producer pushed the next and waits for it to be taken.
    await new Promise((r) => setTimeout(r, 10))
    expect(waited).toBe(1)
    await it.return(undefined)
    expect(await s.result).toBe('ok')

    waited = 0
    const s2 = new ChatStream<string>(async (sink) => {
      for (let i = 0; i < 5; i++) {
        sink.push({ type: 'text-delta', text: String(i) })
        if (sink.ready()) waited++
      }
      return 'ok'
    })
    expect(await s2.result).toBe('ok')
    expect(waited).toBe(0)
  })
})

describe('backpressure through mockProvider (it awaits onChunk after each chunk, as the HTTP kernel does)', () => {
  it('a reader that stops after 2 parts holds the mock: no further chunk is produced until it reads on', async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => `${i} `)
    const { ctx } = setup([{ text: chunks.join(''), chunks }])
    let produced = 0
    const s = ctx.streamChatCompletion({ onToken: () => void produced++ })
    const it = s[Symbol.asyncIterator]()
    await it.next()
    await it.next()
    await new Promise((r) => setTimeout(r, 20))
    expect(produced).toBeLessThanOrEqual(3)
    let n = 2
    while (!(await it.next()).done) n++
    expect(produced).toBe(50)
    expect(n).toBe(52)
  })
})

describe('property: any chunking of a reply streams to the text and result of the non-streaming call', () => {
  it('holds for random chunkings (text and usage equal; parts are the chunks in order)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 }), async (chunks) => {
        const text = chunks.join('')
        const reply = { text, chunks, usage: { inputTokens: 3, outputTokens: chunks.length } }
        const streamed = setup([reply]).ctx.streamChatCompletion()
        const deltas = (await collect(streamed)).flatMap((p) => (p.type === 'text-delta' ? [p.text] : []))
        expect(deltas).toEqual(chunks)
        expect(await streamed.text).toBe(text)
        const whole = await setup([reply]).ctx.generateChatCompletion()
        expect(await streamed.result).toEqual(whole)
      }),
      { numRuns: 60 },
    )
  })
})
