/**
 * Two agent instances on one session (issue 11): two `createAgent`s, each with its own store on its
 * own adapter from `make` (over the one backend) and so its own cache of live contexts, as two
 * function instances of one deployment. Each round sends one event to each agent at the same moment,
 * so their turns of the session race; the handler waits a random 0-`maxDelayMs` ms, counts the event
 * in `ctx.data.count`, and answers `got <text>`.
 *
 * On a compare-and-set backend the loser's save gets a `ContextConflictError` and the agent runs
 * the turn again on the stored version (`conflictRetries`, see src/agent/agent.ts), so at the end:
 * every event is a turn exactly once (request `e<i>`, response `got e<i>`), the turn ids run 1 to
 * 2 × rounds, `count` equals the number of events (each handler run that was stored saw the other
 * agent's count: a turn copied onto the stored version instead of run again would have lost one),
 * no stream carries an error, and every stream's last event answers its own event.
 *
 * Free of any test-framework import (vitest in Node and Chromium, workerd alike). Delays come from a
 * seeded generator; a failure names the seed.
 *
 * @example
 * const shared = memoryStorage()
 * const report = await twoAgents(() => shared) // throws when a turn is lost
 * report.retries // > 0: the agents did race
 */
import { createAgent, type AgentHandler } from '../../src/agent/agent.js'
import { StartEvent, TextEvent, TextToSpeechEvent, type AgentEvent } from '../../src/agent/events.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { createContextStore } from '../../src/storage/store.js'

/** Options of `twoAgents`. */
export interface TwoAgentsOptions {
  /** Rounds of two simultaneous events, one per agent (default 20: 40 events). */
  rounds?: number
  /** The handler waits 0 to this many ms before answering (default 4). */
  maxDelayMs?: number
  /** Seed of the delays (default random; named in the report and in every failure). */
  seed?: number
  /** Session id (default `shared`). */
  sessionId?: string
  /** Passed to both agents (default: the agent's own, 3). */
  conflictRetries?: number
  /**
   * `true` (default): throw when a check fails. `false`: collect what went wrong in the report (for
   * a backend without compare-and-set, whose loss the report then shows).
   */
  strict?: boolean
}

/** What `twoAgents` saw. */
export interface TwoAgentsReport {
  seed: number
  /** `retry` events on the streams: turns run again after a conflict. */
  retries: number
  /** Failed checks (`strict: false`), error events first, as `e<i>: error event <code> (<message>)`. */
  errors: string[]
  /** Handler runs for the events (retries included). */
  runs: number
  /** Turns stored at the end with an event's request. */
  stored: number
  /** Events whose turn is not stored. */
  lost: string[]
  /** Events stored as more than one turn. */
  duplicated: string[]
  /** `data.count` of the stored context (equal to `stored` when nothing was lost). */
  count: number
  /** Milliseconds the rounds took. */
  ms: number
}

function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** Runs the rounds (see the file comment) against adapters from `make`; throws naming the seed on a failed check unless `strict` is false. */
export async function twoAgents(make: () => StorageAdapter | Promise<StorageAdapter>, options: TwoAgentsOptions = {}): Promise<TwoAgentsReport> {
  const rounds = options.rounds ?? 20
  const maxDelay = options.maxDelayMs ?? 4
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const id = options.sessionId ?? 'shared'
  const strict = options.strict ?? true
  const rand = random(seed)
  const report: TwoAgentsReport = { seed, retries: 0, errors: [], runs: 0, stored: 0, lost: [], duplicated: [], count: 0, ms: 0 }
  const fail = (what: string) => {
    if (strict) throw new Error(`twoAgents (seed ${seed}): ${what}`)
    report.errors.push(what)
  }

  const handler: AgentHandler = async function* (event, ctx) {
    if (event instanceof StartEvent) return
    if (!(event instanceof TextEvent)) return
    report.runs++
    const count = ctx.getData('count', 0)
    await new Promise<void>((r) => setTimeout(r, Math.floor(rand() * (maxDelay + 1))))
    ctx.setData('count', count + 1)
    yield new TextToSpeechEvent({ text: `got ${event.data.text}` })
  }
  const agentOn = async () =>
    createAgent({
      store: createContextStore(await make(), { channel: false, recentTurns: 5 }),
      handler,
      ...(options.conflictRetries !== undefined && { conflictRetries: options.conflictRetries }),
    })
  const agents = [await agentOn(), await agentOn()]

  async function send(a: number, name: string): Promise<void> {
    const out: AgentEvent[] = []
    for await (const e of agents[a]!.send(id, new TextEvent({ text: name }))) out.push(e)
    for (const e of out) {
      if (e.type === 'retry') report.retries++
      if (e.type === 'error') fail(`${name}: error event ${String(e.data.code)} (${String(e.data.message)})`)
    }
    const last = out.at(-1)
    if (last?.type !== 'error' && last?.data.text !== `got ${name}`) fail(`${name}: stream ended with ${JSON.stringify(last?.toJSON())}`)
  }

  const started = Date.now()
  for (let r = 0; r < rounds; r++) await Promise.all([send(0, `e${2 * r}`), send(1, `e${2 * r + 1}`)])
  report.ms = Date.now() - started

  const ctx = await createContextStore(await make(), { channel: false }).load(id)
  if (!ctx) {
    fail('the session is not stored')
    return report
  }
  await ctx.loadTurns({ all: true })
  const seen = new Map<string, number>()
  const ids: number[] = []
  for (const [turnId, request] of ctx.requests) {
    const name = String(request.text)
    ids.push(turnId)
    seen.set(name, (seen.get(name) ?? 0) + 1)
    if (ctx.responses.get(turnId)?.text !== `got ${name}`) fail(`turn ${turnId} (${name}) has response ${JSON.stringify(ctx.responses.get(turnId))}`)
  }
  report.stored = ids.length
  report.count = ctx.getData('count', 0)
  for (let i = 0; i < 2 * rounds; i++) if (!seen.has(`e${i}`)) report.lost.push(`e${i}`)
  for (const [name, n] of seen) if (n > 1) report.duplicated.push(name)
  if (report.lost.length) fail(`${report.lost.length} of ${2 * rounds} events lost: ${report.lost.slice(0, 10).join(', ')}`)
  if (report.duplicated.length) fail(`events stored twice: ${report.duplicated.join(', ')}`)
  if (JSON.stringify(ids) !== JSON.stringify(Array.from({ length: ids.length }, (_, i) => i + 1))) fail(`turn ids ${JSON.stringify(ids)} are not 1 to ${ids.length}`)
  if (report.count !== report.stored) fail(`data.count is ${report.count} for ${report.stored} stored turns`)
  return report
}
