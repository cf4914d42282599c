import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import { Executor } from '../../../src/llm/executor.js'
import type { Provider } from '../../../src/llm/types.js'
import type { Loopback } from './loopback.js'

/** The servers of a file's wires and the Executor over a provider of each, once `beforeAll` has run. */
export interface WireServers {
  servers: Record<string, Loopback>
  executor: Executor
}

/**
 * One loopback server per wire format for the test file that calls it, and an `Executor` with a
 * provider of each (`make`): started before the file's tests, closed after them. After each test,
 * every request each server saw must have followed its provider's documented format; then what the
 * servers recorded is cleared.
 */
export function serveWires<W extends { name: string; serve(): Promise<Loopback> }>(wires: readonly W[], make: (wire: W, server: Loopback) => Provider): WireServers {
  const env = { servers: {} } as WireServers
  beforeAll(async () => {
    for (const w of wires) env.servers[w.name] = await w.serve()
    env.executor = new Executor({ providers: wires.map((w) => make(w, env.servers[w.name]!)) })
  })
  afterAll(async () => {
    for (const s of Object.values(env.servers)) await s.close()
  })
  afterEach(() => {
    for (const s of Object.values(env.servers)) {
      expect(s.problems).toEqual([])
      s.seen.length = 0
      s.problems.length = 0
    }
  })
  return env
}
