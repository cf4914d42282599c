import type { Context } from '../context.js'
import { checkKey, ContextError, invalid } from '../errors.js'
import type { Json } from '../state/json.js'
import { checkOptions } from '../state/validate.js'
import { batchGet, decodeKey, encodeKey, jsonEqual, namespaced, type StorageAdapter } from '../storage/adapter.js'
import { applyContribution, contributionOf, emptyShard, sumShards, type Contribution } from './aggregates.js'
import { DEFAULT_SHARDS, keys, shardOf } from './keys.js'
import { badRecord, readConclusion, readContribution, readDefinition, readShard, readState, type Conclusion, type Definition } from './records.js'
import { buildReport, type ExperimentReport } from './report.js'
import { evaluateRules, type RuleInput } from './rules.js'
import { update } from './update.js'
import { checkWebhook, deliver, type WebhookOptions } from './webhook.js'

/** Options of `createExperiments`. */
export interface ExperimentsOptions {
  /** Prefix of every key this tracker writes, apart from the context store's: `'agentctx-exp'` by default. */
  namespace?: string
  /** Sessions each option needs before a test may stop on confidence: 100 by default. */
  minSamples?: number
  /** Shards of the aggregates of a test first recorded by this tracker (1–256, 8 by default); a test keeps the count it was first recorded with. */
  shards?: number
  /** Called once per conclusion, by the evaluator that wrote it, never blocking `evaluate`; a throw or rejection goes to `onError`. */
  onConclude?: (conclusion: Conclusion) => unknown
  /** POSTs `{ test, conclusion, notify, report }` as JSON once per conclusion, with retries, never blocking `evaluate`. */
  webhook?: WebhookOptions
  /** Told of background failures: a webhook not delivered after its tries (`WebhookError`), an `onConclude` that threw. */
  onError?: (error: unknown) => void
}

/** `evaluate`'s answer. `value` and `reason` are set once the test has concluded. */
export interface Evaluation {
  /** Whether the test has concluded (now or before). */
  concluded: boolean
  /** The option concluded on, once concluded. */
  value?: string
  /** Which stop rule concluded it, once concluded. */
  reason?: Conclusion['reason']
  /** Sequential confidence, 0–100 (Bonferroni-adjusted with more than two options). */
  confidence: number
  /** Sessions recorded for the test. */
  iterations: number
}

/** `record`'s answer: the tests this session counts in, and the ones it did not, with why. */
export interface RecordResult {
  /** The tests this session was counted in. */
  recorded: string[]
  /**
   * `concluded`: the session got the concluded value, it was not randomized. `definition`: the test's
   * options, weights or stop conditions differ from the definition first recorded under its name
   * (rename the test to run a changed one).
   */
  skipped: {
    /** The test's name. */
    test: string
    /** Why this session was not counted in it (see above). */
    reason: 'concluded' | 'definition'
  }[]
}

/** The cross-session tracker `createExperiments` returns. */
export interface Experiments {
  /**
   * Counts this session in the aggregates of each test it was exposed to, with its outcome values as
   * they are now. Recording it again replaces its contribution. Resolves when the aggregates are
   * written; webhooks never hold it up.
   */
  record(ctx: Context): Promise<RecordResult>
  /** Loads every concluded test's value into the context (`ctx.testing.applyConclusions`); resolves to them, by test. */
  attach(ctx: Context): Promise<Record<string, string>>
  /** Applies the stop rules to a test's aggregates; once concluded, the stored conclusion, unchanged. A `ContextError` (`not_found`) for a test never recorded. */
  evaluate(test: string): Promise<Evaluation>
  /** The statistics of a test (per option n, means, lift with its interval, confidence, chance to be best, sample-ratio check). */
  report(test: string): Promise<ExperimentReport>
  /** Resolves when every webhook and `onConclude` started so far has settled: for tests, and for a Worker's `waitUntil`. */
  flush(): Promise<void>
}

/** True when two definitions describe the same test: options in the same order with the same weights relative to their sum, and equal stop conditions but for `notify`. */
function sameTest(a: Definition, b: Definition): boolean {
  const total = (d: Definition) => d.options.reduce((s, [, w]) => s + w, 0)
  const [ta, tb] = [total(a), total(b)]
  return (
    a.options.length === b.options.length &&
    // 1e-12 relative: { a: 1, b: 1 } and { a: 0.5, b: 0.5 } are one test; float rounding of the sum must not split it.
    a.options.every(([v, w], i) => v === b.options[i]![0] && Math.abs(w / ta - b.options[i]![1] / tb) <= 1e-12) &&
    // `notify` is who to tell, not how the test runs: adding an address does not make another test
    // (the first definition's list is the one the webhook sends).
    jsonEqual({ ...a.stop, notify: [] }, { ...b.stop, notify: [] })
  )
}

/**
 * Tracks A/B tests across sessions on `adapter` (your own storage): running aggregates per test,
 * option and outcome, stop rules, a conclusion recorded once, and the value every later session gets.
 *
 * Design notes:
 * - Cost: `record` writes one shard and one per-session record per test (3 round trips with
 *   compare-and-set); `evaluate` reads the test's shards in one batch: neither grows with the number
 *   of sessions.
 * - Idempotent: each session's last contribution is kept under its own key and replaced (subtracted,
 *   then the new one added) in the same compare-and-set as the shard. The shard is the session id's
 *   hash modulo the shard count, so re-recordings of one session meet on one record and serialize.
 * - Concurrency: with compare-and-set (memory, IndexedDB, Durable Objects, Redis, SQL) no count is
 *   lost and a conclusion is written once, by one evaluator, which alone calls `onConclude` and the
 *   webhook. Without it (Workers KV, unstorage) concurrent recordings of one shard can drop a count,
 *   and two evaluators concluding at once can both notify.
 * - Outcomes: booleans count as 0/1, integers and floats as they are; string outcomes are not
 *   aggregated. An outcome a session never added is not counted for that session: add outcomes at
 *   the start of a session, so a session that never converts counts as `false`.
 * - Definitions: a test's options, weights and stop conditions are stored the first time it is
 *   recorded; later sessions whose definition differs are not counted (`skipped`, reason `definition`).
 */
/* @__NO_SIDE_EFFECTS__ */
export function createExperiments(adapter: StorageAdapter, options?: ExperimentsOptions): Experiments {
  if (!adapter || typeof adapter.get !== 'function' || typeof adapter.list !== 'function') throw invalid('adapter', 'must be a storage adapter (memoryStorage(), indexedDBStorage(), …)')
  const { namespace = 'agentctx-exp', minSamples = 100, shards = DEFAULT_SHARDS, onConclude, onError, webhook } = checkOptions(
    options,
    'namespace minSamples shards onConclude onError webhook',
  )
  checkKey(namespace, 'namespace', true)
  if (!Number.isInteger(minSamples) || minSamples < 1) throw invalid('minSamples', 'must be an integer >= 1')
  if (!Number.isInteger(shards) || shards < 1 || shards > 256) throw invalid('shards', 'must be an integer in 1..256')
  for (const [name, fn] of [['onConclude', onConclude], ['onError', onError]] as const) {
    if (fn !== undefined && typeof fn !== 'function') throw invalid(name, 'must be a function')
  }
  const hook = webhook === undefined ? undefined : checkWebhook(webhook)
  const store = namespaced(adapter, namespace)
  // The full backend key, for error messages (`namespaced` strips the prefix).
  const full = (key: string) => encodeKey([namespace]) + key
  // Stored definitions and conclusions never change once written: each is read once per tracker.
  const definitions = new Map<string, Definition>()
  const conclusions = new Map<string, Conclusion>()
  const pending = new Set<Promise<unknown>>()
  const chains = new Map<string, Promise<void>>()

  /** Runs `work` in the background: `flush` waits for it, a failure goes to `onError`. */
  function background(work: () => unknown): void {
    const p = Promise.resolve()
      .then(work)
      .catch((e) => {
        try {
          onError?.(e)
        } catch {
          // a throwing onError must not become an unhandled rejection
        }
      })
      .finally(() => pending.delete(p))
    pending.add(p)
  }

  /** The stored definition of `test`, storing `mine` when there is none yet (the first recorder's wins). */
  async function definition(test: string, mine: Definition): Promise<Definition> {
    const cached = definitions.get(test)
    if (cached) return cached
    const key = keys.definition(test)
    let stored = readDefinition(await store.get(key), full(key))
    if (!stored) {
      const won = store.compareAndSet ? await store.compareAndSet(key, undefined, mine as unknown as Json) : (await store.set(key, mine as unknown as Json), true)
      stored = won ? mine : readDefinition(await store.get(key), full(key))
      if (!stored) throw badRecord(full(key), 'deleted while being written')
    }
    definitions.set(test, stored)
    return stored
  }

  /** Writes `contribution` as the session's, replacing its previous one in the same shard write. */
  async function contribute(test: string, def: Definition, session: string, contribution: Contribution): Promise<void> {
    const k = def.options.length
    const shardKey = keys.shard(test, shardOf(session, def.shards))
    const sessionKey = keys.session(test, session)
    await update(store, shardKey, async () => {
      // The shard first, then the session's record: both change together in one compare-and-set, so
      // a contribution newer than the shard read means the shard changed too, and the write fails.
      const expected = await store.get(shardKey)
      const previous = readContribution(await store.get(sessionKey), full(sessionKey), k)
      if (previous && jsonEqual(previous as unknown as Json, contribution as unknown as Json)) return { expected, next: undefined, result: undefined }
      const shard = readShard(expected, full(shardKey), k) ?? emptyShard(k)
      const updated = applyContribution(shard, previous, contribution)
      // A previous contribution the shard does not hold (a record edited or restored apart from its
      // shard) would drive a count below 0: refused before anything is written.
      if (updated.sessions.some((n) => n < 0) || Object.values(updated.outcomes).some((per) => per.some(([n]) => n < 0))) {
        throw badRecord(full(sessionKey), 'the shard does not hold this contribution (a count would fall below 0)')
      }
      const next = updated as unknown as Json
      return { expected, next, also: [[sessionKey, contribution as unknown as Json]], result: undefined }
    })
  }

  async function record(ctx: Context): Promise<RecordResult> {
    const testing = (ctx as Partial<Context> | undefined)?.testing
    if (typeof testing?.exposures !== 'function') throw invalid('ctx', 'must be a Context')
    // Read now, before the first await: the session's values at the moment of the call, whatever a
    // handler or task changes while the writes are in flight.
    const session = ctx.sessionId
    const exposures = testing.exposures()
    const values = testing.outcomeValues()
    const result: RecordResult = { recorded: [], skipped: [] }
    const work: { test: string; mine: Definition; value: string }[] = []
    for (const e of exposures) {
      if (e.concluded) result.skipped.push({ test: e.test, reason: 'concluded' })
      else work.push({ test: e.test, value: e.value, mine: { options: e.options.map((o) => [o.value, o.weight]), stop: e.stop, shards } })
    }
    // Every contribution is built (and its values checked) before the first write: all tests or none fail on a bad value.
    const numeric = contributionOf(0, values).outcomes
    // Recordings of one session through this tracker apply in call order: a turn's recording that
    // retried its compare-and-set must not land after the next turn's and put back older values.
    const before = chains.get(session)
    const run = (before ?? Promise.resolve()).then(() => write(result, session, work, numeric, exposures.map((e) => e.test)))
    const tail = run.then(
      () => {},
      () => {},
    )
    chains.set(session, tail)
    void tail.then(() => chains.get(session) === tail && chains.delete(session))
    return run
  }

  async function write(result: RecordResult, session: string, work: { test: string; mine: Definition; value: string }[], numeric: Record<string, number>, order: string[]): Promise<RecordResult> {
    await Promise.all(
      work.map(async ({ test, mine, value }) => {
        const def = await definition(test, mine)
        const option = def.options.findIndex(([v]) => v === value)
        if (!sameTest(def, mine) || option < 0) return result.skipped.push({ test, reason: 'definition' })
        await contribute(test, def, session, { option, outcomes: numeric })
        result.recorded.push(test)
      }),
    )
    // In exposure order, whatever order the writes finished in.
    result.recorded.sort((a, b) => order.indexOf(a) - order.indexOf(b))
    return result
  }

  /** What the rules and the report read: the test's definition and its shards summed. */
  async function inputOf(test: string): Promise<{ def: Definition; input: RuleInput; stateJson: Json | undefined }> {
    checkKey(test, 'test', true)
    const defKey = keys.definition(test)
    const stateKey = keys.state(test)
    const [defJson, stateJson] = await batchGet(store, [defKey, stateKey])
    const def = definitions.get(test) ?? readDefinition(defJson, full(defKey))
    if (!def) throw new ContextError('not_found', `experiments: no test named ${JSON.stringify(test)} was recorded`, { path: 'test' })
    definitions.set(test, def)
    const k = def.options.length
    const shardKeys = Array.from({ length: def.shards }, (_, i) => keys.shard(test, i))
    const shardJson = await batchGet(store, shardKeys)
    const { sessions, outcomes } = sumShards(
      shardJson.map((j, i) => readShard(j, full(shardKeys[i]!), k) ?? emptyShard(k)),
      k,
    )
    const state = readState(stateJson, full(stateKey))
    if (state && state.pValues.length !== k) throw badRecord(full(stateKey), `record.pValues: must hold ${k} values, one per option`)
    const input: RuleInput = {
      options: def.options.map(([value, weight]) => ({ value, weight })),
      sessions,
      outcomes,
      stop: def.stop,
      minSamples,
      previousPValues: state?.pValues,
    }
    return { def, input, stateJson }
  }

  const evaluationOf = (c: Conclusion): Evaluation => ({ concluded: true, value: c.value, reason: c.reason, confidence: c.confidence, iterations: c.iterations })

  /** The stored conclusion of `test`, if any (cached once read). */
  async function storedConclusion(test: string): Promise<Conclusion | undefined> {
    const cached = conclusions.get(test)
    if (cached) return cached
    const key = keys.conclusion(test)
    const c = readConclusion(await store.get(key), full(key), test)
    if (c) conclusions.set(test, c)
    return c
  }

  async function evaluate(test: string): Promise<Evaluation> {
    checkKey(test, 'test', true)
    const done = await storedConclusion(test)
    if (done) return evaluationOf(done)
    const { def, input, stateJson } = await inputOf(test)
    const rules = evaluateRules(input)
    // Keep the running minima: merged with what concurrent evaluators stored (a minimum of minima).
    // The first try compares against the state read with the shards; a retry reads it again.
    const stateKey = keys.state(test)
    let first = true
    await update(store, stateKey, async () => {
      const expected = first ? stateJson : await store.get(stateKey)
      first = false
      const stored = readState(expected, full(stateKey))?.pValues
      const pValues = rules.pValues.map((p, i) => Math.min(p, stored?.[i] ?? 1))
      return { expected, next: stored && jsonEqual(stored, pValues) ? undefined : ({ pValues } as Json), result: undefined }
    })
    if (!rules.concluded) return { concluded: false, confidence: rules.confidence, iterations: rules.iterations }
    const conclusion: Conclusion = {
      test,
      value: rules.value!,
      reason: rules.reason!,
      confidence: rules.confidence,
      iterations: rules.iterations,
      concludedAt: new Date().toISOString(),
    }
    const key = keys.conclusion(test)
    // Written once: only the evaluator whose compare-and-set finds no conclusion notifies.
    const won = store.compareAndSet
      ? await store.compareAndSet(key, undefined, conclusion as unknown as Json)
      : (await store.get(key)) === undefined && (await store.set(key, conclusion as unknown as Json), true)
    if (!won) {
      const stored = await storedConclusion(test)
      if (!stored) throw badRecord(full(key), 'deleted while being written')
      return evaluationOf(stored)
    }
    conclusions.set(test, conclusion)
    if (onConclude) background(() => onConclude(conclusion))
    if (hook) {
      background(() =>
        deliver(hook, {
          test,
          conclusion: conclusion as unknown as Json,
          notify: def.stop.notify ?? [],
          // With this evaluation's running minima, as `report(test)` would read them now.
          report: buildReport({ ...input, previousPValues: rules.pValues, test }) as unknown as Json,
        }),
      )
    }
    return evaluationOf(conclusion)
  }

  async function attach(ctx: Context): Promise<Record<string, string>> {
    const testing = (ctx as Partial<Context> | undefined)?.testing
    if (typeof testing?.applyConclusions !== 'function') throw invalid('ctx', 'must be a Context')
    // One listing (a page per 1,000 concluded tests); only conclusions not seen before are read.
    const fresh: string[] = []
    for (let cursor: string | undefined, page; !page || cursor; cursor = page.cursor) {
      page = await store.list(keys.conclusions, { cursor })
      for (const key of page.keys) {
        const test = decodeKey(key)[1]
        if (test === undefined || decodeKey(key).length !== 2) throw badRecord(full(key), 'not a conclusion key')
        if (!conclusions.has(test)) fresh.push(key)
      }
    }
    const read = await batchGet(store, fresh)
    fresh.forEach((key, i) => {
      const test = decodeKey(key)[1]!
      const c = readConclusion(read[i], full(key), test)
      if (c) conclusions.set(test, c)
    })
    const values: Record<string, string> = Object.create(null) as Record<string, string>
    for (const [test, c] of conclusions) values[test] = c.value
    testing.applyConclusions({ ...values })
    return values
  }

  async function report(test: string): Promise<ExperimentReport> {
    const { input } = await inputOf(test)
    return buildReport({ ...input, test })
  }

  async function flush(): Promise<void> {
    while (pending.size) await Promise.all([...pending])
  }

  return { record, attach, evaluate, report, flush }
}
