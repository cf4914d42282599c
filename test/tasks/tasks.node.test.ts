import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskManager } from '../../src/tasks/tasks.js'

/**
 * A loopback server that reads each request and never answers. It reports every request as it
 * arrives and every connection as the client closes it: the proof that an abort reached the socket.
 */
let server: Server
let url: string
const arrivals: ((req: IncomingMessage) => void)[] = []

beforeAll(async () => {
  server = createServer((req) => {
    req.resume()
    arrivals.shift()?.(req)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hang`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

/** Resolves with the next request the server receives, and a promise of its connection closing. */
function nextRequest(): Promise<{ req: IncomingMessage; closed: Promise<void> }> {
  return new Promise((resolve) =>
    arrivals.push((req) => resolve({ req, closed: new Promise<void>((done) => req.socket.once('close', () => done())) })),
  )
}

describe('a task inside a fetch to a server that never answers', () => {
  it('times out: the fetch rejects with the timeout reason and the server sees the connection closed', async () => {
    const tasks = new TaskManager()
    const arrived = nextRequest()
    let rejected!: (e: unknown) => void
    const fetchFailed = new Promise<unknown>((resolve) => (rejected = resolve))
    const task = tasks.create(
      async (signal) => {
        try {
          await fetch(url, { signal })
        } catch (e) {
          rejected(e)
          throw e
        }
      },
      { name: 'slow_lookup', timeout: 0.2 },
    )
    const { closed } = await arrived
    expect(await task.done).toBe('timeout')
    await closed // hangs (and the test times out) if the abort never reached the socket
    const fetchError = await fetchFailed
    expect(fetchError).toBe(task.signal.reason)
    expect((fetchError as DOMException).name).toBe('TimeoutError')
    expect((fetchError as DOMException).message).toBe('task "slow_lookup" timed out after 0.2 s')
  })

  it('is cancelled: the fetch rejects with the cancel reason and the server sees the connection closed', async () => {
    const onError = (e: unknown) => {
      throw new Error(`not an error: ${String(e)}`)
    }
    const tasks = new TaskManager({ onError })
    const arrived = nextRequest()
    let rejected!: (e: unknown) => void
    const fetchFailed = new Promise<unknown>((resolve) => (rejected = resolve))
    const task = tasks.create(
      async (signal) => {
        await fetch(url, { signal }).catch((e) => {
          rejected(e)
          throw e
        })
      },
      { name: 'search', interruptible: true },
    )
    const { closed } = await arrived
    expect(tasks.cancelInterruptible()).toBe(1)
    expect(await task.done).toBe('cancelled')
    await closed
    const fetchError = await fetchFailed
    expect(fetchError).toBe(task.signal.reason)
    expect((fetchError as DOMException).name).toBe('AbortError')
    expect((fetchError as DOMException).message).toBe('task "search" was cancelled')
  })
})
