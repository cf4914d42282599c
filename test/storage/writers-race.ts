/**
 * The dialog framework's concurrency test (spec/001: its contexts in SQL, Redis, MongoDB and YDB are
 * checked by writers racing on one context), for any `StorageAdapter`: 3 writers × 19 turns on one
 * context, with random delays between load, change and save, every write checked.
 *
 * Each writer stands for one function instance: its own adapter (from `make`, over the one backend)
 * and its own store. For each of its 19 turns it refreshes its copy of the context, waits, adds a turn
 * (request `w<writer>.t<i>`, response `ok w<writer>.t<i>`), waits, saves. On `ContextConflictError`
 * it refreshes (the stored version, loaded fresh) and tries again, as often as it takes: each conflict
 * means another writer's save went through, so the race always ends (at most 56 conflicts per turn).
 * After each save that went through, a separate store reads the turn back (one record, `getTurn`
 * through the store this check loads with) and it must be this writer's. At the end the stored
 * context holds 57 turns, each writer's 19 exactly once, with their responses, ids 1 to 57.
 *
 * Free of any test-framework import: it runs in vitest (Node, Chromium) and inside workerd alike. The
 * delays come from a seeded generator, and a failure message names the seed, so a failing order can
 * be run again with `{ seed }`.
 *
 * @example
 * // A backend every writer reaches (memory: one adapter object; Redis: one client per writer).
 * const shared = memoryStorage()
 * const report = await writersRace(() => shared)
 * // report.conflicts > 0 on a compare-and-set backend; throws when a turn is lost or duplicated.
 */
import { Context } from '../../src/context.js'
import { ContextConflictError } from '../../src/errors.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { createContextStore, type ContextStore } from '../../src/storage/store.js'

/** Options of `writersRace`. */
export interface WritersRaceOptions {
  /** Writers racing (default 3, as the dialog framework's test). */
  writers?: number
  /** Turns each writer adds (default 19). */
  turns?: number
  /** Each delay is 0 to this many ms (default 4): one before the change, one before the save. */
  maxDelayMs?: number
  /** Seed of the delays (default: random; the report and every failure name it). */
  seed?: number
  /** Context id (default `race`). */
  id?: string
  /** Store namespace (default `agentctx`). */
  namespace?: string
  /**
   * `true` (default): throw on the first failed check (a read-back that is not this writer's turn,
   * a lost or duplicated turn at the end). `false`: collect them in the report instead: for an
   * adapter without compare-and-set, whose loss the report then shows.
   */
  strict?: boolean
}

/** What `writersRace` saw. */
export interface WritersRaceReport {
  seed: number
  /** Saves that got a `ContextConflictError` (and were retried). */
  conflicts: number
  /** Saves that went through. */
  saves: number
  /** Turns in the stored context at the end (requests found). */
  stored: number
  /** Turns written and acknowledged by a save but absent at the end (`w<writer>.t<i>`). */
  lost: string[]
  /** Turns present more than once at the end. */
  duplicated: string[]
  /** Read-backs right after a save that did not find this writer's turn (`strict: false` only). */
  misreads: string[]
  /** The stored turn ids, ascending. */
  ids: number[]
  /** Milliseconds the race took. */
  ms: number
}

/** mulberry32: a small seeded generator, so a failing order of delays can be replayed. */
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * Runs the race (see the file comment) against adapters from `make` (called once per writer and
 * once for the checks; every adapter must reach the same backend). Resolves with the report; throws
 * an `Error` naming the seed when a check fails and `strict` is not `false`.
 */
export async function writersRace(make: () => StorageAdapter | Promise<StorageAdapter>, options: WritersRaceOptions = {}): Promise<WritersRaceReport> {
  const writers = options.writers ?? 3
  const turns = options.turns ?? 19
  const maxDelay = options.maxDelayMs ?? 4
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
  const id = options.id ?? 'race'
  const strict = options.strict ?? true
  const storeOf = async () => createContextStore(await make(), { channel: false, namespace: options.namespace, recentTurns: 5 })
  const checker = await storeOf()
  const report: WritersRaceReport = { seed, conflicts: 0, saves: 0, stored: 0, lost: [], duplicated: [], misreads: [], ids: [], ms: 0 }
  const fail = (what: string) => {
    throw new Error(`writersRace (seed ${seed}): ${what}`)
  }
  const started = Date.now()

  async function writer(w: number): Promise<void> {
    const rand = random(seed + w * 7919)
    const delay = () => sleep(Math.floor(rand() * (maxDelay + 1)))
    const store: ContextStore = await storeOf()
    let ctx: Context | undefined
    for (let i = 0; i < turns; i++) {
      const name = `w${w}.t${i}`
      for (;;) {
        // A copy known to the store: one header read; a stale one (or none): the stored version.
        ctx = (ctx && (await store.refresh(ctx))) ?? (await store.open(id))
        await delay()
        ctx.addRequest({ text: name, writer: w, n: i })
        ctx.addResponse(`ok ${name}`)
        const turnId = ctx.currentTurnId
        await delay()
        try {
          await store.save(ctx)
        } catch (error) {
          if (!(error instanceof ContextConflictError)) throw error
          report.conflicts++
          // Dropped: its turn is not stored, and `refresh` of it loads the stored version.
          continue
        }
        report.saves++
        // Every write checked: the turn this save sealed or holds is this writer's, read back fresh.
        const back = await (await checker.load(id))?.getTurn(turnId)
        if (back?.request?.text !== name || back.response?.text !== `ok ${name}`) {
          const seen = `turn ${turnId} read back as ${JSON.stringify(back?.request?.text)} after ${name} was saved`
          if (strict) fail(seen)
          report.misreads.push(seen)
        }
        break
      }
    }
  }

  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)))
  report.ms = Date.now() - started

  const final = await checker.load(id)
  if (!final) fail('the context is gone')
  await final!.loadTurns({ all: true })
  const seen = new Map<string, number>()
  for (const [turnId, request] of final!.requests) {
    report.ids.push(turnId)
    const name = String(request.text)
    seen.set(name, (seen.get(name) ?? 0) + 1)
    if (final!.responses.get(turnId)?.text !== `ok ${name}`) {
      const what = `turn ${turnId} (${name}) has response ${JSON.stringify(final!.responses.get(turnId)?.text)}`
      if (strict) fail(what)
      report.misreads.push(what)
    }
  }
  report.stored = report.ids.length
  for (let w = 0; w < writers; w++) for (let i = 0; i < turns; i++) if (!seen.has(`w${w}.t${i}`)) report.lost.push(`w${w}.t${i}`)
  for (const [name, n] of seen) if (n > 1) report.duplicated.push(name)
  if (strict) {
    if (report.lost.length) fail(`${report.lost.length} of ${writers * turns} turns lost: ${report.lost.slice(0, 10).join(', ')}`)
    if (report.duplicated.length) fail(`turns stored twice: ${report.duplicated.join(', ')}`)
    const expected = Array.from({ length: writers * turns }, (_, i) => i + 1)
    if (JSON.stringify(report.ids) !== JSON.stringify(expected)) fail(`turn ids ${JSON.stringify(report.ids)}, expected 1 to ${writers * turns}`)
  }
  return report
}
