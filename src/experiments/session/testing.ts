import { checkKey, invalid } from '../../errors.js'
import { cloneJson, toJson, type Json, type Widen } from '../../state/json.js'
import { fitsType, newOutcome, outcomeDefault, type OutcomeDefinition, type OutcomeRecord, type OutcomeType, type OutcomeValue } from './outcomes.js'
import { secureRandom } from './random.js'
import { newTest, notFound, type StopConditions, type TestDefinition, type TestRecord } from './tests.js'

/** The testing state as serialized. */
export interface TestingState {
  tests: Record<string, TestRecord>
  outcomes: Record<string, OutcomeRecord>
  metadata: Record<string, Json>
}

/**
 * The testing and outcomes manager (`ctx.testing`): A/B tests drawn once per session, outcomes
 * tracked for analysis, and free-form testing metadata. Every `ctx.addTest`, `ctx.setOutcome`, …
 * delegates here.
 */
export class Testing {
  readonly #tests: Map<string, TestRecord>
  readonly #outcomes: Map<string, OutcomeRecord>
  readonly #metadata: Map<string, Json>
  readonly #random: () => number

  constructor(state?: TestingState, random: () => number = secureRandom) {
    this.#tests = new Map(Object.entries(state?.tests ?? {}))
    this.#outcomes = new Map(Object.entries(state?.outcomes ?? {}))
    this.#metadata = new Map(Object.entries(state?.metadata ?? {}))
    this.#random = random
  }

  /**
   * Adds a test and returns the value this session drew for it, in proportion to the weights. A test
   * already added keeps its value: calling `addTest` on every event is safe and consistent.
   */
  addTest(name: string, options: Record<string, number>, description = '', stop: StopConditions = {}): string {
    const existing = this.#tests.get(name)
    if (existing) return existing.value
    const record = newTest(name, options, description, stop, this.#random)
    this.#tests.set(name, record)
    return record.value
  }

  /** Adds several tests, all or none: one bad definition adds nothing. Returns the drawn values by name. */
  addTests(tests: TestDefinition[]): Record<string, string> {
    if (!Array.isArray(tests)) throw invalid('tests', 'must be an array')
    const drawn = new Map<string, TestRecord>()
    for (const t of tests) {
      const name = t?.name
      if (this.#tests.has(name) || drawn.has(name)) continue
      // `t?.`: a null entry is a ValidationError naming `name`, not a TypeError.
      drawn.set(name, newTest(name, t?.options, t?.description ?? '', t?.stop ?? {}, this.#random))
    }
    for (const [name, record] of drawn) this.#tests.set(name, record)
    return Object.fromEntries(tests.map((t) => [t.name, this.#tests.get(t.name)!.value]))
  }

  /** The value this session drew for a test; a `ContextError` (`not_found`) when there is no such test. */
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
      throw invalid(`outcomes.${name}`, `must be of type ${outcome.type}`)
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

  #outcome(name: string): OutcomeRecord {
    const outcome = this.#outcomes.get(name)
    if (!outcome) throw notFound('outcome', name)
    return outcome
  }
}
