import * as v from 'valibot'
import { checkKey } from '../../errors.js'
import { JsonValue, parse } from '../../state/validate.js'

/** Defaults per outcome type, as the voice-agent platform lists them (docs/reference.md#voice-add-outcome). */
const DEFAULTS = { boolean: false, integer: 0, float: 0, string: '' } as const

/** The four outcome types. */
export type OutcomeType = keyof typeof DEFAULTS
/** The value type of each outcome type. */
export type OutcomeValue = boolean | number | string

const OutcomeTypeSchema = v.picklist(['boolean', 'integer', 'float', 'string'])

/** An outcome as stored. */
export type OutcomeRecord = {
  /** What it holds: `boolean`, `integer`, `float` or `string`; `value` always fits it. */
  type: OutcomeType
  /** What it measures, for people reading the report; `''` when none was given. */
  description: string
  /** The current value: the type's default (`false`, 0, 0, `''`) until set or triggered. */
  value: OutcomeValue
}
/** Schema of an outcome as stored. Declared as giving an `OutcomeRecord`: its check proves `value` fits `type`, which valibot's inferred type (`value: Json`) cannot see. */
export const OutcomeRecordSchema = v.pipe(
  v.strictObject({ type: OutcomeTypeSchema, description: v.string(), value: JsonValue }),
  v.check((o) => fitsType(o.type, o.value), 'value does not match the outcome type'),
) as v.GenericSchema<OutcomeRecord>

/** Arguments of one outcome for `addOutcomes`. */
export interface OutcomeDefinition {
  /** The outcome's name. */
  name: string
  /** What it holds, and so its default and how `triggerOutcome` changes it. */
  type: OutcomeType
  /** What it measures, for people reading the report. */
  description?: string
}

/** True when `value` is a valid value of an outcome of `type`. */
export function fitsType(type: OutcomeType, value: unknown): value is OutcomeValue {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean'
    case 'integer':
      return Number.isSafeInteger(value)
    case 'float':
      return typeof value === 'number' && Number.isFinite(value)
    case 'string':
      return typeof value === 'string'
  }
}

/** The record `addOutcome` stores: the type's default value. An unknown `type` fails the schema's
 * type check (hasOwn: a `type` of "toString" must not find Object.prototype.toString). */
export function newOutcome(name: string, type: OutcomeType, description: string): OutcomeRecord {
  checkKey(name, 'name', true)
  return parse(OutcomeRecordSchema, { type, description, value: Object.hasOwn(DEFAULTS, type) ? DEFAULTS[type] : false }, `outcomes.${name}`) as OutcomeRecord
}

/** The default value of an outcome type. */
export function outcomeDefault(type: OutcomeType): OutcomeValue {
  return DEFAULTS[type]
}
