/**
 * Tool-step benchmark: what our tool loop costs over the HTTP it does. One tool step is two model
 * calls: the model asks for `get_weather`, the tool runs (a no-op returning a constant), the model
 * answers. The same two Chat Completions exchanges are made
 *   - by hand: `openai().chat(...)` twice, the second request's messages built by hand (the floor),
 *   - through the executor's loop: `executor.chat(context, { tools, maxSteps: 2 })`,
 *   - through the AI SDK's loop, for scale: `generateText` with `@ai-sdk/openai`'s Chat Completions
 *     model, a `tool()` with `execute` and `stopWhen: stepCountIs(2)`,
 * against one loopback server, in one run, interleaved.
 *
 *   npx esbuild bench/tool-step.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/tool-step.bench.mjs \
 *     --banner:js="import{createRequire}from'node:module';const require=createRequire(import.meta.url);" \
 *     && node /tmp/tool-step.bench.mjs [rounds=21] [steps per round=200]
 *
 * (The banner: `ai` brings `@vercel/oidc`, CommonJS that calls `require('path')`.)
 *
 * The server runs in a child process (this same file, argument `server`) so that answering does not
 * share an event loop with the clients being measured. It checks every request against the Chat
 * Completions reference (test/providers/servers/openai.ts: the tool message must answer a preceding
 * tool call, the arguments must be a JSON string…), so both sides are known to send the same,
 * well-formed exchanges: a request that breaks it gets a 418 and the bench fails.
 *
 * Each round runs every client `steps` times in a block, the order rotating from round to round; a
 * client's figure is the median over rounds of its mean step time, and the loop's overhead is the
 * median over rounds of (loop − by hand) within the same round: a slow round (a GC, another
 * process on these 2 cores) then moves both sides of the difference together.
 */
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, jsonSchema, stepCountIs, tool as aiTool } from 'ai'
import aiPackage from 'ai/package.json' with { type: 'json' }
import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Executor } from '../src/llm/executor.js'
import type { ChatResponse, ModelContext, ToolDefinition } from '../src/llm/types.js'
import { openai } from '../src/providers/openai.js'
import type { CompletionMessage } from '../src/state/messages.js'
import type { Seen } from '../test/providers/servers/loopback.js'
import { checkOpenAI, completion } from '../test/providers/servers/openai.js'

const MODEL = 'gpt-4o-mini'
const CALL = { id: 'call_bench_1', name: 'get_weather', arguments: '{"city":"Paris"}' }
const ANSWER = 'It is sunny in Paris, 21 °C.'
const WEATHER = { city: 'Paris', sky: 'sunny', celsius: 21 }
const PARAMETERS = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false }
const QUESTION: CompletionMessage = { role: 'user', content: 'What is the weather in Paris?' }

function serve() {
  // Answers are serialized once: the server's own work is the same for every client.
  const askTool = JSON.stringify(completion({ toolCalls: [CALL], usage: [52, 15], model: MODEL }))
  const answer = JSON.stringify(completion({ content: ANSWER, usage: [80, 12], model: MODEL }))
  const server = createServer(async (req, res) => {
    let text = ''
    for await (const c of req) text += c
    const body = JSON.parse(text)
    const seen: Seen = { method: req.method ?? '', path: req.url ?? '', query: new URLSearchParams(), headers: req.headers, body, clientClosed: new Promise(() => {}) }
    const wrong = checkOpenAI(seen)
    const last = body.messages?.at(-1)
    // The second call must carry the tool's result for the call the first one asked for.
    if (last?.role === 'tool' && (last.tool_call_id !== CALL.id || JSON.parse(last.content).sky !== 'sunny')) wrong.push('tool result is not the tool’s')
    if (!body.tools?.some((t: any) => t.function?.name === CALL.name)) wrong.push('get_weather not offered')
    if (wrong.length) {
      res.writeHead(418, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: { message: wrong.join('; ') } }))
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(last?.role === 'tool' ? answer : askTool)
  })
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }))
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function main() {
  const rounds = Number(process.argv[2] ?? 21)
  const steps = Number(process.argv[3] ?? 200)
  const child = fork(process.argv[1]!, ['server'], { stdio: 'inherit' })
  const { port } = await new Promise<{ port: number }>((r) => child.once('message', r as any))
  const provider = openai({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'bench-key', maxRetries: 0 })

  // By hand: what a user of the bare provider writes for one tool step.
  const tool: ToolDefinition = { name: 'get_weather', description: 'The weather in a city.', parameters: PARAMETERS }
  const getWeather = async (_args: unknown) => WEATHER
  async function byHand(): Promise<ChatResponse> {
    const first = await provider.chat({ model: MODEL, messages: [QUESTION], tools: [tool] })
    const call = first.toolCalls[0]!
    const result = await getWeather(call.arguments)
    return provider.chat({
      model: MODEL,
      messages: [QUESTION, first.message, { role: 'tool', toolCallId: call.id, content: JSON.stringify(result) }],
      tools: [tool],
    })
  }

  // One bare call, for scale: half of a step's HTTP.
  const oneCall = () => provider.chat({ model: MODEL, messages: [QUESTION], tools: [tool] })

  // The AI SDK: the same tool, its JSON Schema given as is (no conversion), no retries.
  const aiOpenAI = createOpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'bench-key' })
  const aiTools = { get_weather: aiTool({ description: tool.description, inputSchema: jsonSchema<{ city: string }>(PARAMETERS as any), execute: getWeather }) }
  const throughAiSdk = () => generateText({ model: aiOpenAI.chat(MODEL), messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: aiTools, stopWhen: stepCountIs(2), maxRetries: 0 })

  const executor = new Executor({ providers: [provider] })
  const context = (): ModelContext => ({ contextId: 'bench', routing: { model: MODEL, provider: 'openai' }, messages: [QUESTION] })
  // Through the loop. PENDING until the tool loop lands in src/llm/executor.ts; meanwhile `executor.chat`
  // without tools is measured (one call through the executor: its routing, fitting and checks).
  async function throughLoop(): Promise<{ text: string }> {
    return executor.chat(context(), { tools: [tool] })
  }

  const clients: Record<string, () => Promise<void>> = {
    'two calls by hand': async () => {
      const r = await byHand()
      if (r.text !== ANSWER) throw new Error(`by hand: ${JSON.stringify(r.text)}`)
    },
    'executor loop (pending: one call through the executor)': async () => {
      const r = await throughLoop()
      if (r.text !== '' && r.text !== ANSWER) throw new Error(`loop: ${JSON.stringify(r.text)}`)
    },
    [`AI SDK ${aiPackage.version} generateText loop`]: async () => {
      const r = await throughAiSdk()
      if (r.text !== ANSWER || r.steps.length !== 2) throw new Error(`AI SDK: ${JSON.stringify(r.text)} in ${r.steps.length} steps`)
    },
    'one bare call': async () => {
      await oneCall()
    },
  }
  const names = Object.keys(clients)
  const order = (i: number) => names.map((_, k) => names[(i + k) % names.length]!)

  // Warm-up: JIT and the connection pool.
  for (const name of names) for (let i = 0; i < 200; i++) await clients[name]!()
  const means: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let i = 0; i < rounds; i++)
    for (const name of order(i)) {
      const start = performance.now()
      for (let j = 0; j < steps; j++) await clients[name]!()
      means[name]!.push(((performance.now() - start) / steps) * 1000)
    }
  child.kill()

  const [hand, loop, , one] = names
  const f = (x: number, d = 0) => x.toFixed(d)
  console.log(`\nOne tool step (two Chat Completions exchanges, a no-op tool) over a loopback server; median over ${rounds} rounds of each round's mean of ${steps} steps, Node ${process.version}\n`)
  console.log('| client | µs a step | × by hand |')
  console.log('| --- | ---: | ---: |')
  for (const n of names) console.log(`| ${n} | ${f(median(means[n]!))} | ${f(median(means[n]!) / median(means[hand!]!), 2)} |`)
  const overhead = median(means[loop!]!.map((x, i) => x - means[hand!]![i]!))
  console.log(`\nloop overhead over by hand, paired within rounds: ${f(overhead)} µs a step (${f((overhead / median(means[hand!]!)) * 100, 1)}%)`)
  console.log(`one bare call: ${f(median(means[one!]!))} µs; per-round means µs: ${names.map((n) => `${n} ${means[n]!.map((x) => f(x)).join(', ')}`).join('; ')}`)
}

if (process.argv[2] === 'server') serve()
else await main()
