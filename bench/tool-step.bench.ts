/**
 * Tool-step benchmark: what our tool loop costs over the HTTP it does. One tool step is two model
 * calls: the model asks for `get_weather`, the tool runs (a no-op returning a constant), the model
 * answers. The same two Chat Completions exchanges are made
 *   - by hand: `openai().chat(...)` twice, the second request's messages built by hand (the floor),
 *   - through the executor's loop: `executor.chat(context, { tools, maxSteps: 2 })` (plain data in),
 *   - through a `Context`: `ctx.generateChatCompletion({ tools, maxSteps: 2 })`, which also appends
 *     the three messages to its history (reset to the question before each step),
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
 *
 * A second table replays the server's two answers (as our provider parsed them) from memory, with no
 * HTTP: what the loop itself costs in CPU, which loopback HTTP's noise (hundreds of µs a call when
 * the machine is busy) would hide.
 */
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, jsonSchema, stepCountIs, tool as aiTool } from 'ai'
import aiPackage from 'ai/package.json' with { type: 'json' }
import { fork } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Context } from '../src/context.js'
import { Executor } from '../src/llm/executor.js'
import type { Tool } from '../src/llm/tools.js'
import type { ChatResponse, ModelContext, Provider, ToolDefinition } from '../src/llm/types.js'
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

const tool: ToolDefinition = { name: 'get_weather', description: 'The weather in a city.', parameters: PARAMETERS }
const getWeather = async (_args: unknown) => WEATHER
const routing = { model: MODEL, provider: 'openai' }

/** Our three ways to make one tool step over `provider`, each checking its answer. */
function ours(provider: Provider): Record<string, () => Promise<void>> {
  // By hand: what a user of the bare provider writes for one tool step.
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
  // Through the loop: the same tool by name, its JSON Schema given as is, with `execute`.
  const executor = new Executor({ providers: [provider] })
  const tools: Record<string, Tool> = { get_weather: { description: tool.description, parameters: PARAMETERS, execute: getWeather } }
  const throughLoop = () => executor.chat({ contextId: 'bench', routing, messages: [QUESTION] } satisfies ModelContext, { tools, maxSteps: 2 })
  const ctx = new Context({ routing }, { executor })
  const throughContext = () => {
    ctx.setCompletionMessages([QUESTION])
    return ctx.generateChatCompletion({ tools, maxSteps: 2 })
  }
  return {
    'two calls by hand': async () => {
      const r = await byHand()
      if (r.text !== ANSWER) throw new Error(`by hand: ${JSON.stringify(r.text)}`)
    },
    'executor.chat loop (maxSteps 2)': async () => {
      const r = await throughLoop()
      if (r.text !== ANSWER || r.steps.length !== 2) throw new Error(`loop: ${JSON.stringify(r.text)} in ${r.steps.length} steps`)
    },
    'ctx.generateChatCompletion loop (maxSteps 2)': async () => {
      const r = await throughContext()
      if (r.text !== ANSWER || ctx.getCompletionMessages().length !== 4) throw new Error(`context: ${JSON.stringify(r.text)}, ${ctx.getCompletionMessages().length} messages`)
    },
  }
}

/**
 * Runs every client `steps` times a round, the order rotating; returns each client's mean µs a
 * step per round. The first round of `warm` steps is not kept (JIT, the connection pool).
 */
async function measure(clients: Record<string, () => Promise<void>>, rounds: number, steps: number, warm: number) {
  const names = Object.keys(clients)
  for (const name of names) for (let i = 0; i < warm; i++) await clients[name]!()
  const means: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let i = 0; i < rounds; i++)
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length]!
      const start = performance.now()
      for (let j = 0; j < steps; j++) await clients[name]!()
      means[name]!.push(((performance.now() - start) / steps) * 1000)
    }
  return means
}

const f = (x: number, d = 0) => x.toFixed(d)

function report(title: string, means: Record<string, number[]>, d = 0) {
  const names = Object.keys(means)
  const [hand, loop, inContext] = names.map((n) => means[n]!)
  const handMedian = median(hand!)
  console.log(`\n${title}\n`)
  console.log('| client | µs a step | × by hand |')
  console.log('| --- | ---: | ---: |')
  for (const n of names) console.log(`| ${n} | ${f(median(means[n]!), d)} | ${f(median(means[n]!) / handMedian, 2)} |`)
  // Paired within rounds: a slow round moves both sides of the difference together.
  const over = (xs: number[]) => median(xs.map((x, i) => x - hand![i]!))
  const pct = (x: number) => f((x / handMedian) * 100, 1)
  console.log(`\noverhead over by hand (median of per-round differences): executor loop ${f(over(loop!), 1)} µs a step (${pct(over(loop!))}%), through the Context ${f(over(inContext!), 1)} µs (${pct(over(inContext!))}%)`)
  console.log(`per-round means µs: ${names.map((n) => `${n} ${means[n]!.map((x) => f(x, d)).join(', ')}`).join('; ')}`)
}

async function main() {
  const rounds = Number(process.argv[2] ?? 21)
  const steps = Number(process.argv[3] ?? 200)
  const child = fork(process.argv[1]!, ['server'], { stdio: 'inherit' })
  const { port } = await new Promise<{ port: number }>((r) => child.once('message', r as any))
  const baseURL = `http://127.0.0.1:${port}/v1`
  const http = openai({ baseURL, apiKey: 'bench-key', maxRetries: 0 })

  // The AI SDK: the same tool, its JSON Schema given as is (no conversion), no retries.
  const aiOpenAI = createOpenAI({ baseURL, apiKey: 'bench-key' })
  const aiTools = { get_weather: aiTool({ description: tool.description, inputSchema: jsonSchema<{ city: string }>(PARAMETERS as any), execute: getWeather }) }
  const throughAiSdk = () => generateText({ model: aiOpenAI.chat(MODEL), messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: aiTools, stopWhen: stepCountIs(2), maxRetries: 0 })

  const overHttp = await measure(
    {
      ...ours(http),
      [`AI SDK ${aiPackage.version} generateText loop (stopWhen stepCountIs(2))`]: async () => {
        const r = await throughAiSdk()
        if (r.text !== ANSWER || r.steps.length !== 2) throw new Error(`AI SDK: ${JSON.stringify(r.text)} in ${r.steps.length} steps`)
      },
      // For scale: half of a step's HTTP.
      'one bare openai().chat call': async () => void (await http.chat({ model: MODEL, messages: [QUESTION], tools: [tool] })),
    },
    rounds,
    steps,
    200,
  )
  // The two answers as our provider read them from the server, replayed from memory: the loop's own
  // CPU cost without HTTP, whose noise (hundreds of µs a call on these machines) hides tens of µs.
  const ask = await http.chat({ model: MODEL, messages: [QUESTION], tools: [tool] })
  const answer = await http.chat({ model: MODEL, messages: [QUESTION, ask.message, { role: 'tool', toolCallId: CALL.id, content: JSON.stringify(WEATHER) }], tools: [tool] })
  child.kill()
  const memory: Provider = {
    name: 'openai',
    chat: async (request) => {
      // What a provider checks of its request is not the loop's cost: only which answer is due.
      const last = request.messages.at(-1)!
      if (last.role === 'tool' && (last.toolCallId !== CALL.id || JSON.parse(last.content as string).sky !== 'sunny')) throw new Error('tool result is not the tool’s')
      return structuredClone(last.role === 'tool' ? answer : ask)
    },
  }
  const inMemory = await measure(ours(memory), rounds, steps * 10, 2000)

  report(`One tool step (two Chat Completions exchanges, a no-op tool) over a loopback server; median over ${rounds} rounds of each round's mean of ${steps} steps, Node ${process.version}`, overHttp)
  report(`The same with the provider's two answers replayed from memory (no HTTP): the loop's own cost; ${rounds} rounds of ${steps * 10} steps`, inMemory, 1)
}

if (process.argv[2] === 'server') serve()
else await main()
