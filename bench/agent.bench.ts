/**
 * The agent runtime's cost per event against the length of the session's history: one `TextEvent`
 * through `agent.send` (open the session, run a handler that says one sentence, record and save
 * the turn, end the stream) on a session holding 20,000 completion messages against one holding 20.
 * The bound: 20,000 ÷ 20 at most 1.5×. Before the idle-context cache, every event loaded the
 * context again and validated every message: 36-60 ms an event at 20,000 messages. That path is
 * still measured (`cacheSize: 0`) as the baseline.
 *
 * Method: both sessions are created and saved first (untimed), then one event to each warms the
 * cache. Each round sends one event to each size, the order alternating round by round (so drift
 * and GC hit both alike); a figure is the median of the rounds. Backends: the memory adapter, and
 * unstorage over a real redis-server on loopback (no compare-and-set: the store's other save path,
 * each record a network round trip), skipped with a note when redis-server is not installed.
 *
 * Reading the figures: with the cache an event costs the same at 20 and at 20,000 messages, and the
 * 20-message session may even be the slower one: its 20 messages are a partial chunk, which the
 * store keeps inline in the header it rewrites on each save, while 20,000 messages are 625 full
 * chunks and an empty tail.
 *
 * Run (dependencies stay external, resolved from node_modules: ioredis is CommonJS):
 *   npx esbuild bench/agent.bench.ts --bundle --platform=node --format=esm --packages=external --outfile=node_modules/.cache/agent.bench.mjs && node node_modules/.cache/agent.bench.mjs
 * Exits with 1 when a cached ratio is over 1.5.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { createStorage } from 'unstorage'
import redisDriver from 'unstorage/drivers/redis'
import { createAgent, type AgentHandler } from '../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent } from '../src/agent/events.js'
import { Context } from '../src/context.js'
import type { StorageAdapter } from '../src/storage/adapter.js'
import { memoryStorage } from '../src/storage/memory.js'
import { createContextStore } from '../src/storage/store.js'
import { unstorageStorage } from '../src/storage/unstorage.js'

const BIG = 20_000
const SMALL = 20
const now = () => performance.now()
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`)

const handler: AgentHandler = async function* (event) {
  if (event instanceof StartEvent) return
  yield new TextToSpeechEvent({ text: 'Noted.' })
}

/** A conversation of `messages` completion messages (~120 characters each, user and assistant in turn) and 10 turns. */
function conversation(id: string, messages: number): Context {
  const ctx = Context.init({ flow: 'agent', node: 'start' }, { contextId: id, sessionId: id })
  for (let t = 1; t <= 10; t++) {
    ctx.addRequest({ type: 'text', text: `question ${t}` })
    ctx.addResponse({ text: `answer ${t}` })
  }
  for (let i = 0; i < messages; i++) {
    const role = i % 2 ? 'assistant' : 'user'
    ctx.addCompletionMessage({ role, content: `${role} message ${i}: the quick brown fox jumps over the lazy dog, then asks about order ${i % 97}.` })
  }
  return ctx
}

interface Result {
  backend: string
  cached: { big: number; small: number }
  reload: { big: number; small: number }
}

async function measure(backend: string, adapter: StorageAdapter, rounds: number, reloadRounds: number, log: (line: string) => void): Promise<Result> {
  const store = createContextStore(adapter, { channel: false, namespace: `bench-${Date.now()}` })
  await store.save(conversation('big', BIG))
  await store.save(conversation('small', SMALL))
  const event = () => new TextEvent({ text: 'and one more thing' })
  const time = async (agent: ReturnType<typeof createAgent>, id: string, into: number[]) => {
    const t0 = now()
    for await (const out of agent.send(id, event())) if (out.type === 'error') throw new Error(`${id}: ${JSON.stringify(out.data)}`)
    into.push(now() - t0)
  }
  const run = async (cacheSize: number, n: number) => {
    const agent = createAgent({ store, handler, cacheSize })
    const t = { big: [] as number[], small: [] as number[] }
    for (let i = 0; i < Math.min(20, n); i++) {
      await time(agent, 'big', [])
      await time(agent, 'small', [])
    }
    for (let i = 0; i < n; i++) {
      const order = i % 2 ? (['big', 'small'] as const) : (['small', 'big'] as const)
      for (const id of order) await time(agent, id, t[id])
    }
    return { big: median(t.big), small: median(t.small) }
  }
  log(`${backend}: ${rounds} rounds with the cache, ${reloadRounds} without`)
  const cached = await run(100, rounds)
  const reload = await run(0, reloadRounds)
  return { backend, cached, reload }
}

/** A throwaway redis-server on a free loopback port, persistence off; `undefined` when it is not installed. */
async function redis(): Promise<{ url: string; stop: () => void } | undefined> {
  if (spawnSync('redis-server', ['--version']).error) return undefined
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createServer().on('error', () => resolve(true))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)))
    })
    if (up) return { url, stop: () => child.kill() }
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill()
  throw new Error('redis-server did not start')
}

const log = (line: string) => console.error(line)
const results: Result[] = [await measure('memory adapter', memoryStorage(), 400, 30, log)]
const server = await redis()
if (server) {
  const storage = createStorage({ driver: redisDriver({ url: server.url }) })
  try {
    results.push(await measure('unstorage, real redis-server (loopback)', unstorageStorage(storage, { consistency: 'strong' }), 200, 20, log))
  } finally {
    await storage.dispose()
    server.stop()
  }
} else log('redis-server not installed: the Redis run is skipped')

let over = false
console.log(`Node ${process.version}; one event (open, handler, record, save) on a session of ${BIG.toLocaleString('en')} vs ${SMALL} completion messages; medians\n`)
console.log('| backend | cache | 20 messages | 20,000 messages | 20,000 ÷ 20 |')
console.log('| --- | --- | ---: | ---: | ---: |')
for (const r of results) {
  const ratio = r.cached.big / r.cached.small
  over ||= ratio > 1.5
  console.log(`| ${r.backend} | idle-context LRU (default) | ${ms(r.cached.small)} | ${ms(r.cached.big)} | **${ratio.toFixed(2)}×** (≤ 1.5: ${ratio <= 1.5 ? 'ok' : 'OVER'}) |`)
  console.log(`| ${r.backend} | none (\`cacheSize: 0\`, the old path) | ${ms(r.reload.small)} | ${ms(r.reload.big)} | ${(r.reload.big / r.reload.small).toFixed(1)}× |`)
}
if (!server) console.log('\n(redis-server not installed: its run was skipped)')
if (over) process.exitCode = 1
