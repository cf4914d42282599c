/**
 * Streaming benchmark: our `openai()` provider against the official `openai` SDK consuming the same
 * long Chat Completions SSE stream from a loopback server, in one run, interleaved.
 *
 *   npx esbuild bench/stream.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/stream.bench.mjs \
 *     && node /tmp/stream.bench.mjs [chunks=20000] [rounds=5]
 *
 * The server runs in a child process (this same file, argument `server`) so that producing the
 * stream does not share an event loop with the client being measured. It streams N chunks shaped
 * like the API's (id, object, created, model, system_fingerprint, one choice with a few tokens of
 * content), then the finish chunk, the usage chunk and `[DONE]`, written 16 events per write.
 * Each round runs both clients, alternating which goes first; medians over the rounds are reported.
 * Time to first token is measured apart, over 101 alternating short streams (see below).
 */
import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { VERSION } from 'openai/version'
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

  // Warm up both (JIT, connection pool) before measuring.
  await runOurs()
  await runSdk()
  const results: { ours: Run[]; sdk: Run[] } = { ours: [], sdk: [] }
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      results.ours.push(await runOurs())
      results.sdk.push(await runSdk())
    } else {
      results.sdk.push(await runSdk())
      results.ours.push(await runOurs())
    }
  }
  // Time to first token on its own: many short (20-chunk) streams, alternating, so that a GC
  // pause or a scheduler hiccup in one sample cannot decide the median.
  const ttft: { ours: number[]; sdk: number[] } = { ours: [], sdk: [] }
  const ttftRounds = 101
  for (let i = 0; i < ttftRounds; i++) {
    if (i % 2 === 0) {
      ttft.ours.push((await runOurs('short')).ttft)
      ttft.sdk.push((await runSdk('short')).ttft)
    } else {
      ttft.sdk.push((await runSdk('short')).ttft)
      ttft.ours.push((await runOurs('short')).ttft)
    }
  }
  child.kill()

  const a = results.ours[0]!
  const b = results.sdk[0]!
  if (a.chunks !== n || b.chunks !== n || a.text !== b.text) throw new Error(`clients disagree: ${JSON.stringify({ a, b, n })}`)
  const row = (name: string, runs: Run[], firsts: number[]) => {
    const total = median(runs.map((r) => r.total))
    return { name, total, ttft: median(firsts), cps: n / (total / 1000), mbs: bytes / 1e6 / (total / 1000) }
  }
  const o = row('agentctx openai()', results.ours, ttft.ours)
  const s = row(`openai SDK ${VERSION}`, results.sdk, ttft.sdk)
  const f = (x: number, d = 1) => x.toFixed(d)
  console.log(`\nStreaming ${n} chunks (${f(bytes / 1e6, 2)} MB of SSE) from a loopback server; median of ${rounds} interleaved rounds, Node ${process.version}\n`)
  console.log(`| client | total ms | chunks/s | MB/s | time to first token ms (median of ${ttftRounds} short streams) |`)
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const r of [o, s]) console.log(`| ${r.name} | ${f(r.total)} | ${f(r.cps, 0)} | ${f(r.mbs, 2)} | ${f(r.ttft, 2)} |`)
  console.log(`\nthroughput ratio ours/SDK: ${f(o.cps / s.cps, 2)} (floor 1.0); TTFT ratio ours/SDK: ${f(o.ttft / s.ttft, 2)} (lower is better; floor: no worse than 1.0)`)
  console.log(`per-round totals ms: ours ${results.ours.map((r) => f(r.total)).join(', ')}; SDK ${results.sdk.map((r) => f(r.total)).join(', ')}`)
  const q = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.floor(p * (xs.length - 1))]!
  console.log(`TTFT ms p10/p50/p90: ours ${[0.1, 0.5, 0.9].map((p) => f(q(ttft.ours, p), 2)).join('/')}; SDK ${[0.1, 0.5, 0.9].map((p) => f(q(ttft.sdk, p), 2)).join('/')}`)
}

if (process.argv[2] === 'server') void serve(Number(process.argv[3]))
else await main()
