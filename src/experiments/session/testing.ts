import { nanoid } from 'nanoid'
import { checkKey, invalid } from '../../errors.js'
import { cloneJson, toJson, type Json, type Widen } from '../../state/json.js'
import { fitsType, newOutcome, outcomeDefault, type OutcomeDefinition, type OutcomeRecord, type OutcomeType, type OutcomeValue } from './outcomes.js'
import { newTest, notFound, testOptions, type StopConditions, type TestDefinition, type TestOptions, type TestRecord } from './tests.js'

/** The testing state as serialized. */
export interface TestingState {
  /** The session's tests by name: each one's options, stop rules and the value this session got. */
  tests: Record<string, TestRecord>
  /** The session's outcomes by name: each one's type, description and current value. */
  outcomes: Record<string, OutcomeRecord>
  /** Free-form testing metadata (`ctx.setTestingMetadata`), by key: any JSON. */
  metadata: Record<string, Json>
}

/** One test of the session as `agentctx/experiments` records it (`Testing#exposures`). */
export interface Exposure {
  /** The test's name. */
  test: string
  /** The value this session got. */
  value: string
  /** The options in order, weights as given. */
  options: {
    /** The option's value (the first option is the control). */
    value: string
    /** Its weight as given, not normalized: the share of sessions is `weight / sum of weights`. */
    weight: number
  }[]
  /** Its stop rules, as defined in the session. */
  stop: StopConditions
  /** The value came from a conclusion (`applyConclusions`), not from the hash: not randomized. */
  concluded: boolean
}

/**
 * The testing and outcomes manager (`ctx.testing`): A/B tests assigned once per session, outcomes
 * tracked for analysis, and free-form testing metadata. Every `ctx.addTest`, `ctx.setOutcome`, …
 * delegates here.
 */
export class Testing {
  readonly #tests: Map<string, TestRecord>
  readonly #outcomes: Map<string, OutcomeRecord>
  readonly #metadata: Map<string, Json>
  readonly #key: string
  #conclusions = new Map<string, string>()

  /**
   * `assignmentKey` is what the assignment hashes (a `Context` passes its `assignmentKey ??
   * sessionId`); without it, a random key per `Testing`, so each instance is one random session.
   */
  constructor(state?: TestingState, assignmentKey: string = nanoid()) {
    this.#tests = new Map(Object.entries(state?.tests ?? {}))
    this.#outcomes = new Map(Object.entries(state?.outcomes ?? {}))
    this.#metadata = new Map(Object.entries(state?.metadata ?? {}))
    this.#key = assignmentKey
  }

  /**
   * Adds a test and returns this session's value for it: the option whose weighted range holds the
   * bucket of the assignment key in this test (GrowthBook's hash v2), so the same key gets the same
   * option in every session, and keys split in proportion to the weights. A concluded test (see
   * `applyConclusions`) gives its concluded value instead. A test already added keeps its value
   * (across turns, save and load): calling `addTest` on every event is safe and consistent.
   */
  addTest(name: string, options: TestOptions, description = '', stop: StopConditions = {}): string {
    const existing = this.#tests.get(name)
    if (existing) return existing.value
    const record = this.#newTest(name, options, description, stop)
    this.#tests.set(name, record)
    return record.value
  }

  /** Adds several tests, all or none: one bad definition adds nothing. Returns the values by name. */
  addTests(tests: TestDefinition[]): Record<string, string> {
    if (!Array.isArray(tests)) throw invalid('tests', 'must be an array')
    const drawn = new Map<string, TestRecord>()
    for (const t of tests) {
      const name = t?.name
      if (this.#tests.has(name) || drawn.has(name)) continue
      // `t?.`: a null entry is a ValidationError naming `name`, not a TypeError.
      drawn.set(name, this.#newTest(name, t?.options, t?.description ?? '', t?.stop ?? {}))
    }
    for (const [name, record] of drawn) this.#tests.set(name, record)
    return Object.fromEntries(tests.map((t) => [t.name, this.#tests.get(t.name)!.value]))
  }

  /**
   * Sets the values of concluded tests, by test name (what `experiments.attach(ctx)` loads): a later
   * `addTest` of a test named here, not yet in this session, gets that value, marked `concluded`,
   * when it is one of the options given then (else it is assigned as usual). A test already in the
   * session keeps its value. Held in memory only, never serialized; each call replaces the last.
   */
  applyConclusions(conclusions: Record<string, string>): void {
    if (typeof conclusions !== 'object' || conclusions === null || Array.isArray(conclusions)) throw invalid('conclusions', 'must be an object of values by test name')
    const map = new Map<string, string>()
    for (const [test, value] of Object.entries(conclusions)) {
      if (typeof value !== 'string') throw invalid(`conclusions.${test}`, 'must be a string')
      map.set(test, value)
    }
    this.#conclusions = map
  }

  /** The tests of this session, in the order they were added: what `agentctx/experiments` records. */
  exposures(): Exposure[] {
    return [...this.#tests].map(([test, t]) => ({
      test,
      value: t.value,
      options: testOptions(t),
      stop: cloneJson(t.stop as Json) as StopConditions,
      concluded: t.concluded === true,
    }))
  }

  /** Every outcome's type and current value, by name. */
  outcomeValues(): Record<
    string,
    {
      /** The outcome's type: `boolean`, `integer`, `float` or `string`. */
      type: OutcomeType
      /** Its current value: the type's default (`false`, 0, 0, `''`) until set or triggered. */
      value: OutcomeValue
    }
  > {
    const out: Record<string, { type: OutcomeType; value: OutcomeValue }> = {}
    // Names were checked by `checkKey` ("__proto__" refused): plain assignment is safe.
    for (const [name, o] of this.#outcomes) out[name] = { type: o.type, value: o.value }
    return out
  }

  /** The value this session got for a test; a `ContextError` (`not_found`) when there is no such test. */
  getTest(name: string): string {
    const test = this.#tests.get(name)
    if (!test) throw notFound('test', name)
    return test.value
  }

  /** Adds an outcome at its type's default. Adding it again with the same type keeps its value. */
  addOutcome(name: string, type: OutcomeType, description = ''): void {
    const existing = this.#outcomes.get(name)
    const record = newOutcome(name, type, description)
    if (existing && existing.type !== type) {
      throw invalid(`outcomes.${name}.type`, `already added as ${existing.type}`)
    }
    if (!existing) this.#outcomes.set(name, record)
  }

  /** Adds several outcomes, all or none. */
  addOutcomes(outcomes: OutcomeDefinition[]): void {
    if (!Array.isArray(outcomes)) throw invalid('outcomes', 'must be an array')
    const staged = new Testing({ tests: {}, outcomes: Object.fromEntries(this.#outcomes), metadata: {} })
    for (const o of outcomes) staged.addOutcome(o?.name, o?.type, o?.description ?? '')
    for (const [name, record] of staged.#outcomes) this.#outcomes.set(name, record)
  }

  /** The current value of an outcome. */
  getOutcome(name: string): OutcomeValue {
    return this.#outcome(name).value
  }

  /** Sets an outcome, checked against its type (an `integer` takes only integers). Returns the previous value. */
  setOutcome(name: string, value: OutcomeValue): OutcomeValue {
    const outcome = this.#outcome(name)
    if (!fitsType(outcome.type, value)) {
      // A number is shown (1.5, NaN, 9007199254740992 say what is wrong); any other value only by its type.
      throw invalid(`outcomes.${name}`, `must be of type ${outcome.type}, not ${typeof value === 'number' ? value : value === null ? 'null' : typeof value}`)
    }
    const previous = outcome.value
    outcome.value = toJson(value) as OutcomeValue // -0 stored as 0, as JSON will read it back
    return previous
  }

  /**
   * Triggers an outcome: a boolean becomes true, an integer or float goes up by 1. A string outcome
   * has no trigger (a `ValidationError`). Returns the new value, so a counter reads in one call.
   */
  triggerOutcome(name: string): OutcomeValue {
    const outcome = this.#outcome(name)
    if (outcome.type === 'string') {
      throw invalid(`outcomes.${name}`, 'a string outcome has no trigger; use setOutcome')
    }
    // Through setOutcome, so an integer counter cannot step past 2^53 - 1 into a value fromJSON refuses.
    this.setOutcome(name, outcome.type === 'boolean' || (outcome.value as number) + 1)
    return outcome.value
  }

  /** Resets an outcome to its type's default. Returns the previous value. */
  resetOutcome(name: string): OutcomeValue {
    const outcome = this.#outcome(name)
    const previous = outcome.value
    outcome.value = outcomeDefault(outcome.type)
    return previous
  }

  /** Sets a testing metadata value (any JSON). */
  setMetadata(key: string, value: unknown): void {
    checkKey(key)
    this.#metadata.set(key, toJson(value, ['testing', 'metadata', key]))
  }

  /**
   * A testing metadata value, or `fallback` when the key was never set (a stored `0`, `false` or `""`
   * is returned as is). Typed as the fallback, widened (see `Widen`).
   */
  getMetadata(key: string): Json | undefined
  getMetadata<T>(key: string, fallback: T): Widen<T>
  getMetadata(key: string, fallback?: unknown): unknown {
    return this.#metadata.has(key) ? cloneJson(this.#metadata.get(key)!) : fallback
  }

  /** The serializable state. */
  toJSON(): TestingState {
    return cloneJson({
      tests: Object.fromEntries(this.#tests),
      outcomes: Object.fromEntries(this.#outcomes),
      metadata: Object.fromEntries(this.#metadata),
    } as unknown as Json) as unknown as TestingState
  }

  #newTest(name: string, options: TestOptions, description: string, stop: StopConditions): TestRecord {
    // `get` of a Map: a test named "toString" finds no conclusion it was not given.
    return newTest(name, options, description, stop, this.#key, this.#conclusions.get(name))
  }

  #outcome(name: string): OutcomeRecord {
    const outcome = this.#outcomes.get(name)
    if (!outcome) throw notFound('outcome', name)
    return outcome
  }
}
