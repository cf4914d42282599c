import { describe, expect, it } from 'vitest'
import { hangingServer } from './hanging-server.js'
import { TaskManager } from '../../src/tasks/tasks.js'

const { url: serverUrl, nextRequest } = hangingServer()

describe('a task inside a fetch to a server that never answers', () => {
  it('times out: the fetch rejects with the timeout reason and the server sees the connection closed', async () => {
    const tasks = new TaskManager()
    const arrived = nextRequest()
    let rejected!: (e: unknown) => void
    const fetchFailed = new Promise<unknown>((resolve) => (rejected = resolve))
    const task = tasks.create(
      async (signal) => {
        try {
          await fetch(serverUrl(), { signal })
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
    expect(fetchError).toMatchObject({ name: 'AbortedError', code: 'timeout', reason: 'timeout', message: 'task "slow_lookup" timed out after 0.2 s' })
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
        await fetch(serverUrl(), { signal }).catch((e) => {
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
    expect(fetchError).toMatchObject({ name: 'AbortedError', code: 'aborted', reason: 'interrupted', message: 'task "search" was interrupted' })
  })
})
