/**
 * Streaming benchmark: our `openai()` provider against the official `openai` SDK and the AI SDK's
 * `streamText` with `@ai-sdk/openai` (its Chat Completions model, `.chat(id)`, since the loopback
 * server speaks Chat Completions, not the Responses API), consuming the same long SSE stream from a
 * loopback server, in one run, interleaved. All three are dev dependencies only; `ai` is held at 6
 * because `ai` 7 needs Node 22 and we support Node 20. A fourth column reads our own stream the way
 * `textStream` reads the AI SDK's: `executor.streamChat(...).textStream` (a `ChatStream`, which
 * makes the provider's network read wait for the reader: what that laziness costs shows here).
 *
 *   npx esbuild bench/stream.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/stream.bench.mjs \
 *     --banner:js="import{createRequire}from'node:module';const require=createRequire(import.meta.url);" \
 *     && node /tmp/stream.bench.mjs [chunks=20000] [rounds=5]
 *
 * (The banner: `ai` brings `@vercel/oidc`, CommonJS that calls `require('path')`, which an ES module
 * bundle has no `require` for.)
 *
 * The server runs in a child process (this same file, argument `server`) so that producing the
 * stream does not share an event loop with the client being measured. It streams N chunks shaped
 * like the API's (id, object, created, model, system_fingerprint, one choice with a few tokens of
 * content), then the finish chunk, the usage chunk and `[DONE]`, written 16 events per write.
 * Each round runs the four clients, rotating which goes first; medians over the rounds are reported.
 * Time to first token is measured apart, over 101 rotating short streams (see below).
 */
import { createOpenAI } from '@ai-sdk/openai'
import { streamText } from 'ai'
import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { VERSION } from 'openai/version'
import aiPackage from 'ai/package.json' with { type: 'json' }
import aiOpenAIPackage from '@ai-sdk/openai/package.json' with { type: 'json' }
import { Executor } from '../src/llm/executor.js'
import { openai } from '../src/providers/openai.js'

const WORDS = ['the', ' quick', ' brown', ' fox', ' jumps', ' over', ' a', ' lazy', ' dog', ',', ' and', ' then', ' runs', ' home', '.']

function payload(n: number): Buffer[] {
  const head = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-bench', system_fingerprint: 'fp_bench' }
  const event = (choices: unknown[], extra: object = {}) => `data: ${JSON.stringify({ ...head, choices, ...extra })}\n\n`
  const events = [event([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }])]
  for (let i = 0; i < n; i++) {
    // A few tokens per chunk: two or three words.
    const content = WORDS[i % 15]! + WORDS[(i * 7) % 15]! + (i % 3 === 0 ? WORDS[(i * 11) % 15]! : '')
    events.push(event([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }]))
  }
  events.push(event([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]))
  events.push(event([], { usage: { prompt_tokens: 12, completion_tokens: n * 2, total_tokens: 12 + n * 2 } }))
  events.push('data: [DONE]\n\n')
  const writes: Buffer[] = []
  for (let i = 0; i < events.length; i += 16) writes.push(Buffer.from(events.slice(i, i + 16).join('')))
  return writes
}

async function serve(n: number) {
  const long = payload(n)
  const short = payload(20)
  const server = createServer(async (req, res) => {
    // Only Chat Completions: a client that went to the Responses API (`/v1/responses`, the AI SDK's
    // default model) fails here instead of being measured on a stream it did not ask for.
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return void res.writeHead(404).end()
    let body = ''
    for await (const c of req) body += c
    const writes = JSON.parse(body).model === 'short' ? short : long
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    for (const w of writes) if (!res.write(w)) await new Promise((r) => res.once('drain', r))
    res.end()
  })
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port, bytes: long.reduce((s, w) => s + w.length, 0) }))
}

interface Run {
  ttft: number
  total: number
  chunks: number
  text: number
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function main() {
  const n = Number(process.argv[2] ?? 20_000)
  const rounds = Number(process.argv[3] ?? 5)
  const child = fork(process.argv[1]!, ['server', String(n)], { stdio: 'inherit' })
  const { port, bytes } = await new Promise<{ port: number; bytes: number }>((r) => child.once('message', r as any))
  const baseURL = `http://127.0.0.1:${port}/v1`
  const messages = [{ role: 'user' as const, content: 'Tell me a long story.' }]

  const ours = openai({ baseURL, apiKey: 'bench-key', maxRetries: 0 })
  const sdk = new OpenAI({ baseURL, apiKey: 'bench-key', maxRetries: 0 })
  const aiOpenAI = createOpenAI({ baseURL, apiKey: 'bench-key' })
  const executor = new Executor({ providers: [ours] })

  async function runOurs(model = 'gpt-bench'): Promise<Run> {
    const start = performance.now()
    let ttft = 0
    let chunks = 0
    const r = await ours.chat({
      model,
      messages,
      onToken: () => {
        if (chunks++ === 0) ttft = performance.now() - start
      },
    })
    return { ttft, total: performance.now() - start, chunks, text: r.text.length }
  }

  async function runSdk(model = 'gpt-bench'): Promise<Run> {
    const start = performance.now()
    let ttft = 0
    let chunks = 0
    let text = ''
    const stream = await sdk.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } })
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta?.content
      if (d) {
        if (chunks++ === 0) ttft = performance.now() - start
        text += d
      }
    }
    return { ttft, total: performance.now() - start, chunks, text: text.length }
  }

  async function runAi(model = 'gpt-bench'): Promise<Run> {
    const start = performance.now()
    let ttft = 0
    let chunks = 0
    let text = ''
    // maxRetries 0 as for the other two: a retry would only hide a failure here.
    const result = streamText({ model: aiOpenAI.chat(model), messages, maxRetries: 0 })
    for await (const d of result.textStream) {
      if (d) {
        if (chunks++ === 0) ttft = performance.now() - start
        text += d
      }
    }
    return { ttft, total: performance.now() - start, chunks, text: text.length }
  }

  // Plain data in (no Context, so nothing is appended between rounds); the model is not in the
  // registry, so the executor runs it on the provider named.
  async function runStream(model = 'gpt-bench'): Promise<Run> {
    const start = performance.now()
    let ttft = 0
    let chunks = 0
    let text = ''
    const stream = executor.streamChat({ contextId: 'bench', routing: { model, provider: 'openai' }, messages })
    for await (const d of stream.textStream) {
      if (chunks++ === 0) ttft = performance.now() - start
      text += d
    }
    return { ttft, total: performance.now() - start, chunks, text: text.length }
  }

  type Name = 'ours' | 'sdk' | 'ai' | 'stream'
  const clients: Record<Name, (model?: string) => Promise<Run>> = { ours: runOurs, sdk: runSdk, ai: runAi, stream: runStream }
  const names: Name[] = ['ours', 'sdk', 'ai', 'stream']
  // Round i starts with client i mod 3, so each goes first, second and third equally often.
  const order = (i: number) => names.map((_, k) => names[(i + k) % names.length]!)

  // Warm up all three (JIT, connection pool) before measuring.
  for (const name of names) await clients[name]()
  const results: Record<Name, Run[]> = { ours: [], sdk: [], ai: [], stream: [] }
  for (let i = 0; i < rounds; i++) for (const name of order(i)) results[name].push(await clients[name]())
  // Time to first token on its own: many short (20-chunk) streams, rotating, so that a GC
  // pause or a scheduler hiccup in one sample cannot decide the median.
  const ttft: Record<Name, number[]> = { ours: [], sdk: [], ai: [], stream: [] }
  const ttftRounds = 101
  for (let i = 0; i < ttftRounds; i++) for (const name of order(i)) ttft[name].push((await clients[name]('short')).ttft)
  child.kill()

  const a = results.ours[0]!
  const b = results.sdk[0]!
  const c = results.ai[0]!
  const d = results.stream[0]!
  if ([a, b, c, d].some((r) => r.chunks !== n || r.text !== a.text)) throw new Error(`clients disagree: ${JSON.stringify({ a, b, c, d, n })}`)
  const row = (name: string, runs: Run[], firsts: number[]) => {
    const total = median(runs.map((r) => r.total))
    return { name, total, ttft: median(firsts), cps: n / (total / 1000), mbs: bytes / 1e6 / (total / 1000) }
  }
  const o = row('agentctx openai()', results.ours, ttft.ours)
  const s = row(`openai SDK ${VERSION}`, results.sdk, ttft.sdk)
  const v = row(`AI SDK streamText (ai ${aiPackage.version}, @ai-sdk/openai ${aiOpenAIPackage.version})`, results.ai, ttft.ai)
  const f = (x: number, d = 1) => x.toFixed(d)
  console.log(`\nStreaming ${n} chunks (${f(bytes / 1e6, 2)} MB of SSE) from a loopback server; median of ${rounds} interleaved rounds, Node ${process.version}\n`)
  console.log(`| client | total ms | chunks/s | MB/s | time to first token ms (median of ${ttftRounds} short streams) |`)
  console.log('| --- | ---: | ---: | ---: | ---: |')
  const w = row('agentctx executor.streamChat().textStream', results.stream, ttft.stream)
  for (const r of [o, s, v, w]) console.log(`| ${r.name} | ${f(r.total)} | ${f(r.cps, 0)} | ${f(r.mbs, 2)} | ${f(r.ttft, 2)} |`)
  console.log(`\nthroughput ratio ours/openai SDK: ${f(o.cps / s.cps, 2)}, ours/AI SDK: ${f(o.cps / v.cps, 2)} (floor 1.0 each)`)
  console.log(`TTFT ratio ours/openai SDK: ${f(o.ttft / s.ttft, 2)}, ours/AI SDK: ${f(o.ttft / v.ttft, 2)} (lower is better; floor: no worse than 1.0)`)
  console.log(`textStream against textStream: throughput ours/AI SDK ${f(w.cps / v.cps, 2)}, TTFT ${f(w.ttft / v.ttft, 2)}; ChatStream against onToken: throughput ${f(w.cps / o.cps, 2)}, TTFT ${f(w.ttft / o.ttft, 2)}`)
  console.log(`per-round totals ms: ${names.map((k) => `${k} ${results[k].map((r) => f(r.total)).join(', ')}`).join('; ')}`)
  const q = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.floor(p * (xs.length - 1))]!
  console.log(`TTFT ms p10/p50/p90: ${names.map((k) => `${k} ${[0.1, 0.5, 0.9].map((p) => f(q(ttft[k], p), 2)).join('/')}`).join('; ')}`)
}

if (process.argv[2] === 'server') void serve(Number(process.argv[3]))
else await main()
