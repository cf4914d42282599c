import * as v from 'valibot'
import { ContextError } from '../errors.js'
import { deepFreeze, type Json } from './json.js'
import { JsonRecord, nonEmpty, parse } from './validate.js'

const NonEmpty = nonEmpty()

/** Schema of a node label: the flow and the node a turn ended in. */
export const NodeLabelSchema = v.strictObject({
  /** The dialog flow. */
  flow: NonEmpty,
  /** The node within the flow. */
  node: NonEmpty,
})
/** A node label, `{ flow, node }`. */
export type NodeLabel = v.InferOutput<typeof NodeLabelSchema>

/**
 * Schema of a request or response of the dialog history. `text` is the common case; any other JSON
 * field (attachments, annotations, misc) is kept as given.
 */
export const TurnMessageSchema = v.pipe(
  JsonRecord,
  v.check((m) => m.text === undefined || typeof m.text === 'string', 'text must be a string'),
)
/** A request or response: `{ text?, ...any JSON }`. A bare string is shorthand for `{ text }`. */
export type TurnMessage = {
  /** The message's text. */
  text?: string
  [key: string]: Json | undefined
}

/**
 * The largest turn id: a store keys each sealed turn by its id in 10 digits (`t/0000000042/`), and
 * it is far inside the integers a number holds exactly (2^53 ≈ 9.0e15). Past 2^53, `id + 1 === id`
 * and every new turn overwrote the last; past 10 digits the keys no longer sort in turn order.
 * At one turn a second, 317 years of conversation.
 */
export const MAX_TURN_ID = 9_999_999_999

/** Schema of a turn id: an integer from 0 to `MAX_TURN_ID`. */
export const TurnIdSchema = v.pipe(v.number(), v.check((n) => Number.isInteger(n) && n >= 0 && n <= MAX_TURN_ID, `must be an integer from 0 to ${MAX_TURN_ID}`))

/** Schema of one stored turn: what happened at one turn id. */
export const TurnRecordSchema = v.strictObject({
  /** The turn's id (0 for a session's start, then 1, 2, …). */
  id: TurnIdSchema,
  /** The flow and node the turn ended in, when set. */
  label: v.optional(NodeLabelSchema),
  /** What the user sent. */
  request: v.optional(TurnMessageSchema),
  /** What was answered. */
  response: v.optional(TurnMessageSchema),
})
/** One turn: its id and whichever of label, request and response it has. */
export type TurnRecord = v.InferOutput<typeof TurnRecordSchema>

type Field = 'label' | 'request' | 'response'

/**
 * How a store reads the turns of a context it loaded that are not in memory (a store keeps only the
 * most recent ones there). Set on the context by the store (`internals(ctx).setTurnLoader`); every
 * record it returns was checked against `TurnRecordSchema`, and an error names the stored key.
 */
export interface TurnLoader {
  /** The (up to) 100 existing turns just below `before` (gaps in the ids skipped), ascending. */
  older(before: number): Promise<TurnRecord[]>
  /** The stored turns with ids from `from` to `to` - 1, ascending (absent ids skipped); one id is one record read. */
  range(from: number, to: number): Promise<TurnRecord[]>
}

/**
 * A read-only, turn-keyed view of one field of the history (`labels`, `requests`, `responses`):
 * `.get(turnId)`, `.has`, `.size`, and iteration as `[turnId, value]` in ascending turn order,
 * like the dialog framework's `Dict[int, …]` (docs/reference.md#dialog-labels).
 */
export class TurnMap<T> implements Iterable<[number, T]> {
  readonly #turns: () => Turns
  readonly #field: Field
  /** @internal `turns` is a getter: the context swaps its history on restore, and its maps follow. */
  constructor(turns: () => Turns, field: Field) {
    this.#turns = turns
    this.#field = field
  }
  /** The value at `turnId`, or undefined. */
  get(turnId: number): T | undefined {
    return this.#turns().record(turnId)?.[this.#field] as T | undefined
  }
  /** Whether `turnId` has a value in this field. */
  has(turnId: number): boolean {
    return this.get(turnId) !== undefined
  }
  /** How many turns have a value in this field (counted on each read: the history can change). */
  get size(): number {
    let n = 0
    for (const _ of this) n++
    return n
  }
  /** The turn ids that have a value, ascending. */
  *keys(): IterableIterator<number> {
    for (const [id] of this) yield id
  }
  /** The values, in ascending turn order. */
  *values(): IterableIterator<T> {
    for (const [, value] of this) yield value
  }
  /** `[turnId, value]` pairs in ascending turn order, as iterating the map gives. */
  *entries(): IterableIterator<[number, T]> {
    yield* this
  }
  /** `[turnId, value]` pairs in ascending turn order, skipping turns without a value in this field. */
  *[Symbol.iterator](): IterableIterator<[number, T]> {
    for (const record of this.#turns().records()) {
      const value = record[this.#field]
      if (value !== undefined) yield [record.id, value as T]
    }
  }
  /** The highest turn id that has a value, or undefined when empty. */
  lastKey(): number | undefined {
    return this.#turns().lastWith(this.#field)?.id
  }
}

/**
 * Obtains the last (highest) index of a turn-keyed dictionary: a `TurnMap`, a `Map` or a plain
 * object with integer keys. Throws a `ContextError` (code `empty`) when there is none, where the
 * dialog framework raises `ValueError` (docs/reference.md#dialog-get-last-index).
 */
export function getLastIndex(dictionary: TurnMap<unknown> | ReadonlyMap<number, unknown> | Record<number, unknown>): number {
  let last: number | undefined
  if (dictionary instanceof TurnMap) last = dictionary.lastKey()
  else {
    const keys = dictionary instanceof Map ? [...dictionary.keys()] : Object.keys(dictionary).map(Number)
    // `>` is false for NaN: a key that is not a number ("a" in a plain object) is skipped, not returned.
    for (const key of keys) if (key > (last ?? -Infinity)) last = key
  }
  if (last === undefined) throw new ContextError('empty', 'getLastIndex: the dictionary is empty')
  return last
}

/**
 * The turn history. Records live in a map by turn id with a sorted id list beside it, so a store can
 * hold only the recent turns in memory and add older ones on demand. Every change marks its turn
 * dirty; a store saves the dirty turns and then calls `markClean()`.
 */
export class Turns {
  readonly #records = new Map<number, TurnRecord>()
  // The loaded ids, ascending once `#sorted`. A new turn is appended in order; a store's pages of
  // older turns are appended too and the whole list sorted once, at the next read (a sort of a few
  // sorted runs). Inserting each older turn in place (`splice(0, 0, id)`) moved every loaded id
  // each time: `loadTurns({ all: true })` of 100,000 turns took 2-4 s.
  #ids: number[] = []
  #sorted = true
  readonly #dirty = new Set<number>()
  /** Id of the current turn: 0 after `init`, incremented by every request. */
  currentTurnId = 0

  /** The record at `turnId`, if loaded. */
  record(turnId: number): TurnRecord | undefined {
    return this.#records.get(turnId)
  }
  /** Loaded records in ascending turn order. */
  records(): TurnRecord[] {
    return this.#order().map((id) => this.#records.get(id)!)
  }
  /** The lowest loaded turn id, or undefined when none is loaded. */
  first(): number | undefined {
    return this.#order()[0]
  }
  /** The most recent record that has `field`. */
  lastWith(field: Field): TurnRecord | undefined {
    const ids = this.#order()
    for (let i = ids.length - 1; i >= 0; i--) {
      const record = this.#records.get(ids[i]!)!
      if (record[field] !== undefined) return record
    }
    return undefined
  }
  /** Sets `field` of the current turn. */
  set(field: Field, value: NodeLabel | TurnMessage): void {
    const id = this.currentTurnId
    let record = this.#records.get(id)
    if (!record) {
      record = { id }
      this.#insert(record)
    }
    ;(record as Record<Field, unknown>)[field] = deepFreeze(value)
    this.#dirty.add(id)
  }
  /**
   * Sets `field` of the loaded turn `turnId`, current or past, and marks it dirty (a store then
   * writes that turn's record again, see store.ts). For the agent's background events, which belong
   * to the turn that started their task. False, and nothing changed, when that turn is not loaded:
   * a record made here would replace the stored one whole.
   */
  setAt(turnId: number, field: Field, value: NodeLabel | TurnMessage): boolean {
    if (turnId === this.currentTurnId) {
      this.set(field, value)
      return true
    }
    const record = this.#records.get(turnId)
    if (!record) return false
    ;(record as Record<Field, unknown>)[field] = deepFreeze(value)
    this.#dirty.add(turnId)
    return true
  }
  /** Adds records read from storage or JSON without marking them dirty; a record at a loaded id replaces it. */
  load(records: Iterable<TurnRecord>): void {
    for (const record of records) {
      // History is immutable: a label or message read back through `labels.get(1)` cannot be edited
      // in place, which would change the past without marking its turn for saving.
      deepFreeze(record.label)
      deepFreeze(record.request)
      deepFreeze(record.response)
      if (!this.#records.has(record.id)) this.#insert(record)
      else this.#records.set(record.id, record)
    }
  }
  /** Turn ids changed since the last `markClean()`. */
  dirty(): number[] {
    return [...this.#dirty].sort((a, b) => a - b)
  }
  markClean(ids: Iterable<number> = [...this.#dirty]): void {
    for (const id of ids) this.#dirty.delete(id)
  }
  #insert(record: TurnRecord): void {
    this.#records.set(record.id, record)
    if (record.id < this.#ids[this.#ids.length - 1]!) this.#sorted = false
    this.#ids.push(record.id)
  }
  #order(): number[] {
    if (!this.#sorted) this.#ids.sort((a, b) => a - b)
    this.#sorted = true
    return this.#ids
  }
}

/** Normalizes and validates a request or response given to `addRequest` / `addResponse`. */
export function toTurnMessage(message: string | TurnMessage, root: string): TurnMessage {
  return parse(TurnMessageSchema, typeof message === 'string' ? { text: message } : message, root) as TurnMessage
}

/** Validates a label given to `addLabel` / `init`. */
export function toNodeLabel(label: NodeLabel, root: string): NodeLabel {
  return parse(NodeLabelSchema, label, root)
}
