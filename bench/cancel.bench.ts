/**
 * Cancellation latency of background tasks: 1,000 tasks each inside a `fetch` (Node's undici) to a
 * loopback node:http server that holds every request open. Measured from `abort()`:
 *   (a) the in-flight fetch rejecting (inside the task),
 *   (b) the task's `done` settling,
 *   (c) the server seeing the connection close.
 * Phases: a raw AbortController + fetch baseline, one `cancel(name)` at a time with 999 others in
 * flight, then `cancelAll()` of 1,000 at once.
 *
 * Run: npx esbuild bench/cancel.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/cancel.mjs && node /tmp/cancel.mjs
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { TaskManager, type TaskInfo } from '../src/tasks/tasks.js'

const N = 1000
const now = () => performance.now()

interface Held {
  arrived: number
  closedAt: number[]
  waitFor: (n: number) => Promise<void>
  /** Resolves when the server has seen request `i`'s connection close. */
  closed: (i: number) => Promise<void>
  /** Waits until every connection of the current phase has closed, then starts a new phase. */
  reset: () => Promise<void>
}

function holdingServer(): Promise<{ server: Server; url: string; held: Held }> {
  let waiter: { n: number; resolve: () => void } | undefined
  let closeWaiters = new Map<number, () => void>()
  const held: Held = {
    arrived: 0,
    closedAt: [],
    waitFor: (n) => (held.arrived >= n ? Promise.resolve() : new Promise((resolve) => (waiter = { n, resolve }))),
    closed: (i) => (held.closedAt[i] !== undefined ? Promise.resolve() : new Promise((resolve) => closeWaiters.set(i, resolve))),
    reset: async () => {
      await Promise.all(Array.from({ length: held.arrived }, (_, i) => held.closed(i)))
      held.arrived = 0
      held.closedAt = []
      closeWaiters = new Map()
    },
  }
  const server = createServer((req) => {
    req.resume()
    const i = Number(new URL(req.url!, 'http://x').searchParams.get('i'))
    // Bound to this phase's arrays: a close seen late must not land in the next phase's figures.
    const [closedAt, waiters] = [held.closedAt, closeWaiters]
    req.socket.once('close', () => {
      closedAt[i] = now()
      waiters.get(i)?.()
    })
    if (++held.arrived >= (waiter?.n ?? Infinity)) waiter!.resolve()
  })
  // 1,000 connects arrive at once: a backlog of 511 (Node's default) would drop some SYNs and add 1 s retries.
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', 2048, () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hang`, held })),
  )
}

function stats(samples: number[]): { median: number; p99: number; worst: number } {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!
  return { median: at(0.5), p99: at(0.99), worst: s[s.length - 1]! }
}

const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`)
const rows: string[] = []
function row(phase: string, what: string, samples: number[]): void {
  const { median, p99, worst } = stats(samples)
  rows.push(`| ${phase} | ${what} | ${samples.length} | ${ms(median)} | ${ms(p99)} | ${ms(worst)} |`)
}

async function main(): Promise<void> {
  const { server, url, held } = await holdingServer()

  // Warm-up: JIT and undici's pool, so the first measured cancel is not paying for compilation.
  {
    const warm = new TaskManager()
    for (let i = 0; i < 100; i++) warm.create((signal) => fetch(`${url}?i=${i}`, { signal }))
    await held.waitFor(100)
    warm.cancelAll()
    await warm.waitForAll()
    await held.reset()
  }

  // Phase 0: raw AbortController + fetch, one abort at a time (the floor the task manager adds to).
  {
    const rejectedAt: number[] = []
    const controllers = Array.from({ length: N }, () => new AbortController())
    const fetches = controllers.map((c, i) => fetch(`${url}?i=${i}`, { signal: c.signal }).catch(() => (rejectedAt[i] = now())))
    await held.waitFor(N)
    const fetchLat: number[] = []
    for (let i = 0; i < N; i++) {
      const t0 = now()
      controllers[i]!.abort()
      await fetches[i]
      fetchLat.push(rejectedAt[i]! - t0)
    }
    row('raw fetch, one at a time', '(a) fetch rejects', fetchLat)
    await held.reset()
  }

  // Phase 1: cancel(name) one at a time while the others stay in flight. Each step also waits for the
  // server to see that socket close, so the event loop turns between steps (awaiting `done` alone
  // only drains microtasks, and every close would then be seen after the whole loop).
  {
    const tasks = new TaskManager({ onError: (e) => console.error('unexpected task error', e) })
    const rejectedAt: number[] = []
    const list: TaskInfo[] = []
    for (let i = 0; i < N; i++) {
      list.push(
        tasks.create(
          async (signal) => {
            try {
              await fetch(`${url}?i=${i}`, { signal })
            } catch (e) {
              rejectedAt[i] = now()
              throw e
            }
          },
          { name: `t${i}` },
        ),
      )
    }
    await held.waitFor(N)
    const fetchLat: number[] = []
    const doneLat: number[] = []
    const startedAt: number[] = []
    for (let i = 0; i < N; i++) {
      const t0 = (startedAt[i] = now())
      tasks.cancel(`t${i}`)
      await list[i]!.done
      doneLat.push(now() - t0)
      fetchLat.push(rejectedAt[i]! - t0)
      await held.closed(i)
    }
    row('cancel(name), one at a time', '(a) fetch rejects', fetchLat)
    row('cancel(name), one at a time', '(b) done settles', doneLat)
    row('cancel(name), one at a time', '(c) server sees close', held.closedAt.map((t, i) => t - startedAt[i]!))
    await held.reset()
  }

  // Phase 2: cancelAll() of 1,000 at once; every latency from the single cancelAll call.
  {
    const tasks = new TaskManager({ onError: (e) => console.error('unexpected task error', e) })
    const rejectedAt: number[] = []
    const doneAt: number[] = []
    for (let i = 0; i < N; i++) {
      tasks
        .create(async (signal) => {
          try {
            await fetch(`${url}?i=${i}`, { signal })
          } catch (e) {
            rejectedAt[i] = now()
            throw e
          }
        })
        .done.then(() => (doneAt[i] = now()))
    }
    await held.waitFor(N)
    const t0 = now()
    const count = tasks.cancelAll()
    const tCall = now() - t0
    await tasks.waitForAll()
    const tAll = now() - t0
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (count !== N) throw new Error(`cancelAll cancelled ${count}, expected ${N}`)
    row('cancelAll() of 1,000', '(a) fetch rejects', rejectedAt.map((t) => t - t0))
    row('cancelAll() of 1,000', '(b) done settles', doneAt.map((t) => t - t0))
    row('cancelAll() of 1,000', '(c) server sees close', held.closedAt.map((t) => t - t0))
    rows.push(`| cancelAll() of 1,000 | the cancelAll() call itself | 1 | ${ms(tCall)} | | |`)
    rows.push(`| cancelAll() of 1,000 | until waitForAll() resolves | 1 | ${ms(tAll)} | | |`)
  }

  // Phase 3: the manager alone: cancelAll() of 1,000 tasks that await only their signal (no fetch).
  {
    const tasks = new TaskManager()
    const doneAt: number[] = []
    for (let i = 0; i < N; i++) {
      tasks
        .create((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })))
        .done.then(() => (doneAt[i] = now()))
    }
    const t0 = now()
    tasks.cancelAll()
    const tCall = now() - t0
    await tasks.waitForAll()
    row('cancelAll() of 1,000, no fetch', '(b) done settles', doneAt.map((t) => t - t0))
    rows.push(`| cancelAll() of 1,000, no fetch | the cancelAll() call itself | 1 | ${ms(tCall)} | | |`)
  }

  server.closeAllConnections()
  server.close()
  console.log(`Cancellation latency, ${N} tasks in a fetch to a loopback server (Node ${process.version}, undici fetch)\n`)
  console.log('| phase | from abort() to | samples | median | p99 | worst |')
  console.log('| --- | --- | ---: | ---: | ---: | ---: |')
  for (const r of rows) console.log(r)
}

await main()
