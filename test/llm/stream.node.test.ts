import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { AbortedError } from '../../src/abort.js'
import { Context } from '../../src/context.js'
import type { StreamPart } from '../../src/llm/stream.js'
import { tool } from '../../src/llm/tools.js'
import type { Provider } from '../../src/llm/types.js'
import { anthropic } from '../../src/providers/anthropic.js'
import { gemini } from '../../src/providers/gemini.js'
import { openai } from '../../src/providers/openai.js'
import { messageEvents } from '../providers/servers/anthropic.js'
import { generateChunks } from '../providers/servers/gemini.js'
import { data, hang, json, KEY, sse, type Loopback, type Seen, type Step } from '../providers/servers/loopback.js'
import { completion, completionChunks, openaiServer } from '../providers/servers/openai.js'
import { anthropicServer } from '../providers/servers/anthropic.js'
import { geminiServer } from '../providers/servers/gemini.js'
import { serveWires } from '../providers/servers/per-wire.js'

/**
 * Streams and tool loops end to end: real fetch over loopback HTTP to the three providers' fake
 * servers, which check every request against the provider's documented format (tool calls and
 * their results included: a result that answers no call, or a call left unanswered, is a 418).
 */

interface Call {
  id: string
  name: string
  args: Record<string, unknown>
}

interface Wire {
  name: 'openai' | 'anthropic' | 'gemini'
  model: string
  serve(): Promise<Loopback>
  make(server: Loopback): Provider
  /** A streamed reply: text deltas, then tool calls. */
  stream(deltas: string[], calls?: Call[]): Step
  /** The tool results the request carried back, as [call id or name, content text]. */
  results(seen: Seen): [string, string][]
}

const wires: Wire[] = [
  {
    name: 'openai',
    model: 'gpt-4o',
    serve: openaiServer,
    make: (s) => openai({ baseURL: `${s.url}/v1`, apiKey: KEY, retryDelay: 1 }),
    stream: (deltas, calls) =>
      sse(completionChunks(deltas, { toolCalls: calls?.map((c) => ({ id: c.id, name: c.name, arguments: JSON.stringify(c.args) })), usage: [20, 5] })),
    results: (s) => s.body.messages.filter((m: any) => m.role === 'tool').map((m: any) => [m.tool_call_id, m.content]),
  },
  {
    name: 'anthropic',
    model: 'claude-haiku-4-5',
    serve: anthropicServer,
    make: (s) => anthropic({ baseURL: s.url, apiKey: KEY, retryDelay: 1 }),
    stream: (deltas, calls) => sse(messageEvents(deltas, { toolUses: calls?.map((c) => ({ id: c.id, name: c.name, input: c.args })), usage: [20, 5] })),
    results: (s) =>
      s.body.messages.flatMap((m: any) =>
        Array.isArray(m.content) ? m.content.filter((c: any) => c.type === 'tool_result').map((c: any) => [c.tool_use_id, typeof c.content === 'string' ? c.content : JSON.stringify(c.content)]) : [],
      ),
  },
  {
    name: 'gemini',
    model: 'gemini-2.5-flash',
    serve: geminiServer,
    make: (s) => gemini({ baseURL: `${s.url}/v1beta`, apiKey: KEY, retryDelay: 1 }),
    stream: (deltas, calls) => sse(generateChunks(deltas, { calls: calls?.map((c) => ({ name: c.name, args: c.args })), usage: [20, 5] })),
    results: (s) =>
      s.body.contents.flatMap((c: any) => c.parts.filter((p: any) => p.functionResponse).map((p: any) => [p.functionResponse.name, JSON.stringify(p.functionResponse.response)])),
  },
]

const wired = serveWires(wires, (w, server) => w.make(server))
const servers = wired.servers

const ctxFor = (w: Wire) => {
  const ctx = new Context({ routing: { model: w.model } }, { executor: wired.executor })
  ctx.addCompletionMessage({ role: 'user', content: 'Weather in Paris and Rome?' })
  return ctx
}

const weather = tool({
  description: 'Weather of a city',
  parameters: v.object({ city: v.string() }),
  execute: async ({ city }) => ({ sky: city === 'Paris' ? 'sunny' : 'rain' }),
})

const collect = async <T>(it: AsyncIterable<T>) => {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe.each(wires)('streams and tool loops over $name', (w) => {
  const server = () => servers[w.name]!

  it('a streamed tool loop: deltas, the tool call, its result, the answer; the server gets the result in its wire format; the history holds all', async () => {
    server().queue(w.stream(['Let me ', 'check.'], [{ id: 'call_1', name: 'weather', args: { city: 'Paris' } }]), w.stream(['Sunny ', 'in Paris.']))
    const ctx = ctxFor(w)
    const s = ctx.streamChatCompletion({ tools: { weather }, maxSteps: 3 })
    const parts = await collect(s)
    expect(parts.map((p) => p.type)).toEqual(['text-delta', 'text-delta', 'tool-call', 'tool-result', 'step-finish', 'text-delta', 'text-delta', 'step-finish', 'finish'])
    expect(parts[2]).toMatchObject({ type: 'tool-call', toolName: 'weather', args: { city: 'Paris' } })
    expect(parts[3]).toMatchObject({ type: 'tool-result', toolName: 'weather', result: { sky: 'sunny' } })
    const r = await s.result
    expect(r.text).toBe('Sunny in Paris.')
    expect(r.usage).toEqual({ inputTokens: 40, outputTokens: 10 })
    expect(r.steps).toHaveLength(2)
    expect(await s.text).toBe('Let me check.Sunny in Paris.')
    const back = w.results(server().seen[1]!)
    expect(back).toHaveLength(1)
    expect(back[0]![1]).toContain('sunny')
    expect(ctx.getCompletionMessages().map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant'])
  })

  it('parallel calls, an invalid argument and a throwing tool: all answered in one step, errors as results the server accepts', async () => {
    server().queue(
      w.stream(
        [],
        [
          { id: 'call_a', name: 'weather', args: { city: 'Paris' } },
          { id: 'call_b', name: 'weather', args: { city: 7 } },
          { id: 'call_c', name: 'broken', args: {} },
        ],
      ),
      w.stream(['Partly.']),
    )
    const ctx = ctxFor(w)
    const r = await ctx.generateChatCompletion({
      maxSteps: 2,
      tools: {
        weather,
        broken: {
          execute: () => {
            throw new Error('sensor offline')
          },
        },
      },
      onToken: () => {},
    })
    expect(r.text).toBe('Partly.')
    const results = r.steps[0]!.toolResults
    expect(results.map((t) => !!t.isError)).toEqual([false, true, true])
    expect(results[1]!.result).toMatch(/invalid arguments: city/)
    expect(results[2]!.result).toBe('Error: sensor offline')
    expect(w.results(server().seen[1]!)).toHaveLength(3)
  })

  it('abort mid-loop (the second request held by the server): AbortedError, the connection closed, the first step kept', async () => {
    server().queue(w.stream([], [{ id: 'call_1', name: 'weather', args: { city: 'Rome' } }]), hang)
    const ctx = ctxFor(w)
    const s = ctx.streamChatCompletion({ tools: { weather }, maxSteps: 3 })
    for await (const p of s) if (p.type === 'step-finish') setTimeout(() => s.cancel(), 20)
    const err = await s.result.catch((e) => e)
    expect(err).toBeInstanceOf(AbortedError)
    expect(err.reason).toBe('cancelled')
    await server().seen[1]!.clientClosed
    expect(ctx.getCompletionMessages().map((m) => m.role)).toEqual(['user', 'assistant', 'tool'])
  })
})

/** Serves `handler`'s Responses from a node:http server: the Web Response body piped to the socket, a client leaving cancels it. */
async function serveResponses(handler: () => Response): Promise<{ url: string; server: Server }> {
  const server = createServer(async (_req, res) => {
    const response = handler()
    res.writeHead(response.status, Object.fromEntries(response.headers))
    const reader = response.body!.getReader()
    res.on('close', () => void reader.cancel().catch(() => {}))
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        res.write(value)
      }
      res.end()
    } catch {
      res.destroy()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

describe('toResponse over HTTP (a Worker-style handler behind a real socket)', () => {
  const w = wires[0]!
  const server = () => servers.openai!

  it('sse: the client parses each data: frame back into the parts', async () => {
    server().queue(w.stream(['Par', 'is.']))
    const { url, server: http } = await serveResponses(() => ctxFor(w).streamChatCompletion().toResponse())
    try {
      const res = await fetch(url)
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      const parts: StreamPart[] = (await res.text())
        .split('\n\n')
        .filter(Boolean)
        .map((f) => JSON.parse(f.replace(/^data: /, '')))
      expect(parts.map((p) => p.type)).toEqual(['text-delta', 'text-delta', 'step-finish', 'finish'])
    } finally {
      http.close()
    }
  })

  it('text: the deltas as plain text', async () => {
    server().queue(w.stream(['Par', 'is.']))
    const { url, server: http } = await serveResponses(() => ctxFor(w).streamChatCompletion().toResponse({ type: 'text' }))
    try {
      expect(await (await fetch(url)).text()).toBe('Paris.')
    } finally {
      http.close()
    }
  })

  it('a client that goes away cancels the model call: the provider server sees its connection closed', async () => {
    // A reply that never ends.
    const frames = completionChunks(['a ', 'b '], { usage: null, done: false }).slice(0, -1)
    server().queue(sse(frames, 'hold'))
    let stream: ReturnType<Context['streamChatCompletion']> | undefined
    const { url, server: http } = await serveResponses(() => (stream = ctxFor(w).streamChatCompletion()).toResponse({ type: 'text' }))
    try {
      const controller = new AbortController()
      const res = await fetch(url, { signal: controller.signal })
      const reader = res.body!.getReader()
      await reader.read()
      controller.abort()
      const err = await stream!.result.catch((e) => e)
      expect(err).toBeInstanceOf(AbortedError)
      await server().seen[0]!.clientClosed
    } finally {
      http.close()
    }
  })
})

describe('backpressure: a slow reader holds the network read', () => {
  // 4,000 events of 2 KiB (8 MiB): more than loopback's socket buffers hold, so an unread reply must stall the server.
  const FRAMES = 4000
  const delta = 'x'.repeat(2048)

  /** Streams FRAMES deltas, waiting for 'drain' like any server honouring TCP backpressure; counts what it got out. */
  const flood =
    (state: { written: number; finished: boolean }): Step =>
    async (seen, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const chunk = (d: object, finish: string | null = null) => data({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: d, finish_reason: finish }] })
      let closed = false
      seen.clientClosed.then(() => (closed = true))
      for (let i = 0; i < FRAMES && !closed; i++) {
        if (!res.write(chunk({ content: delta }))) await new Promise((r) => res.once('drain', r).once('close', r))
        state.written++
      }
      if (closed) return
      res.write(chunk({}, 'stop'))
      res.end(data({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: { prompt_tokens: 1, completion_tokens: FRAMES } }) + 'data: [DONE]\n\n')
      state.finished = true
    }

  it('regression (issue 9: "a slow reader holds the network read"): after reading 3 parts and pausing, the server is stalled and the client holds at most one network chunk ahead', async () => {
    const w = wires[0]!
    const state = { written: 0, finished: false }
    servers.openai!.queue(flood(state))
    let produced = 0
    const s = ctxFor(w).streamChatCompletion({ onToken: () => void produced++ })
    let consumed = 0
    const it = s[Symbol.asyncIterator]()
    for (; consumed < 3; consumed++) await it.next()
    await new Promise((r) => setTimeout(r, 300))
    // The server could not write the whole reply: the socket filled up and stayed full.
    expect(state.finished).toBe(false)
    expect(state.written).toBeLessThan(FRAMES / 2)
    // The client took in one network chunk (≤ 64 KiB: 32 events) past what the reader took, not the reply.
    expect(produced - consumed).toBeLessThanOrEqual(40)
    // Reading on drains it all.
    for (;;) {
      const { done } = await it.next()
      if (done) break
      consumed++
    }
    expect((await s.result).text.length).toBe(FRAMES * delta.length)
    expect(state.finished).toBe(true)
  })

  it('with nobody reading parts, awaiting result reads at full speed (nothing waits on a reader that is not there)', async () => {
    const w = wires[0]!
    const state = { written: 0, finished: false }
    servers.openai!.queue(flood(state))
    const r = await ctxFor(w).streamChatCompletion().result
    expect(r.text.length).toBe(FRAMES * delta.length)
    expect(state.finished).toBe(true)
  })
})

describe('property: any split of the SSE bytes, read by a reader of any pace, gives the non-streaming result', () => {
  it('holds over real HTTP (OpenAI wire): text, usage, finish reason and message equal; deltas join to the text', async () => {
    const w = wires[0]!
    const server = servers.openai!
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }),
        async (deltas, cuts, pauses) => {
          const bytes = Buffer.from(completionChunks(deltas, { usage: [17, deltas.length] }).join(''))
          // The stream's bytes in slices of the given sizes (cycled), each flushed as its own write: events and UTF-8 characters split anywhere.
          server.queue(async (_seen, res) => {
            res.writeHead(200, { 'content-type': 'text/event-stream' })
            for (let at = 0, i = 0; at < bytes.length; i++) {
              const end = Math.min(bytes.length, at + cuts[i % cuts.length]!)
              await new Promise<void>((r) => res.write(bytes.subarray(at, end), () => r()))
              at = end
            }
            res.end()
          })
          server.queue(async (seen, res) => json(completion({ content: deltas.join(''), usage: [17, deltas.length], model: seen.body.model }))(seen, res))
          const s = ctxFor(w).streamChatCompletion()
          let joined = ''
          let n = 0
          for await (const p of s) {
            if (p.type === 'text-delta') joined += p.text
            const ms = pauses[n++ % pauses.length]!
            if (ms) await new Promise((r) => setTimeout(r, ms))
          }
          const streamed = await s.result
          const whole = await ctxFor(w).generateChatCompletion()
          expect(joined).toBe(deltas.join(''))
          for (const k of ['text', 'usage', 'finishReason', 'message', 'toolCalls', 'cost'] as const) expect(streamed[k]).toEqual(whole[k])
        },
      ),
      { numRuns: 25 },
    )
  })
})
