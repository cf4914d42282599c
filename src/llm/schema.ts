import { ContextError, invalid } from '../errors.js'
import { formatPath, toJson, type JsonObject } from '../state/json.js'

/**
 * The part of the Standard Schema interface (https://standardschema.dev, v1) that agentctx calls:
 * valibot, zod (3.24+) and ArkType implement it. Written out here rather than imported from
 * `@standard-schema/spec`, as the spec itself recommends, so users' types need no extra package.
 */
export interface StandardSchema<Output = unknown> {
  /** The Standard Schema's properties, under the one key the spec reserves so they never clash with a library's own. */
  readonly '~standard': {
    /** Version 1 of the Standard Schema spec, the one this interface describes. */
    readonly version: 1
    /** The library that made the schema (`'valibot'`, `'zod'`, `'arktype'`): valibot's schemas are converted to JSON Schema by `@valibot/to-json-schema`. */
    readonly vendor: string
    /** Validates a value: the output, or the issues found. */
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>
    /** For types only (agentctx never reads it at run time): what `InferSchemaOutput` reads the output type from. */
    readonly types?:
      | {
          /** The type the schema accepts (before transforms). */
          readonly input: unknown
          /** The type a successful `validate` gives (after transforms). */
          readonly output: Output
        }
      | undefined
    /** The Standard JSON Schema proposal (zod 4.2+, ArkType 2.1.28+): a converter to JSON Schema. */
    readonly jsonSchema?: {
      /** Converts the schema's input side to a JSON Schema of `target` (`draft-07`, …). */
      readonly input: (options: { target: string }) => Record<string, unknown>
    } | undefined
  }
}

/** What a Standard Schema's `validate` returns: the value, or the issues with their paths. */
export type StandardResult<Output> =
  | {
      /** The validated value (transformed, when the schema transforms). */
      readonly value: Output
      /** Absent on success: its presence is what marks a failure. */
      readonly issues?: undefined
    }
  | {
      /** Why the value failed: one issue per problem the library found. */
      readonly issues: ReadonlyArray<{
        /** What is wrong, in the library's words. */
        readonly message: string
        /** Where: the keys from the value's root down, each a key or `{ key }`; absent for the value itself. */
        readonly path?: ReadonlyArray<
          | PropertyKey
          | {
              /** One key of the path (an object's key or an array's index). */
              readonly key: PropertyKey
            }
        > | undefined
      }>
    }

/** A schema agentctx takes for a model's output or a tool's arguments: a JSON Schema object or a Standard Schema. */
export type Schema = JsonObject | StandardSchema

/**
 * What a value validated by `S` is: a Standard Schema's output type (`v.InferOutput<typeof S>` for
 * valibot, `z.output<typeof S>` for zod), `unknown` for a JSON Schema object (nothing checks it).
 */
export type InferSchemaOutput<S> = S extends {
  /** Matches a Standard Schema: its properties' key. */
  readonly '~standard': {
    /** The types-only property the output type is read from. */
    readonly types?: infer T
  }
}
  ? NonNullable<T> extends {
      /** The output type, as a successful `validate` gives it. */
      readonly output: infer O
    }
    ? O
    : unknown
  : unknown

/** One reason a value failed its schema: `path` as `items[0].name`, absent for the value itself. */
export interface SchemaIssue {
  /** What is wrong. */
  message: string
  /** Where, as `a.b[2].c`; absent for the value itself. */
  path?: string
}

/** Not only objects: ArkType's types are functions. */
export const isStandardSchema = (v: unknown): v is StandardSchema =>
  typeof (v as StandardSchema | undefined)?.['~standard']?.validate === 'function'

const isValibot = (v: unknown): boolean => isStandardSchema(v) && v['~standard'].vendor === 'valibot'

let valibotConverter: typeof import('@valibot/to-json-schema').toJsonSchema | undefined

/**
 * Loads `@valibot/to-json-schema` the first time one of `schemas` is a valibot schema. It is 3.4 KB
 * gzip, a sixth of the core entry, and an app that passes JSON Schemas (or no schema) never needs
 * it: loaded on demand, a bundler that splits code puts it in a chunk of its own, fetched only by
 * the apps that use it. Every async entry of the executor awaits this before `toJsonSchema` runs.
 */
export async function loadSchemaConverter(...schemas: unknown[]): Promise<void> {
  if (!valibotConverter && schemas.some(isValibot)) valibotConverter = (await import('@valibot/to-json-schema')).toJsonSchema
}

/** Whether `toJsonSchema` can convert `schema` now, without `loadSchemaConverter` (for checks made before the first await). */
export const canConvertNow = (schema: unknown): boolean => !isValibot(schema) || valibotConverter !== undefined

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)

/**
 * The JSON Schema a provider is sent for `schema` (a model's output, a tool's arguments), or a
 * `ValidationError` naming `path`:
 * - a JSON Schema (a plain object, not a Standard Schema) passes through, deep-copied as JSON (a
 *   function, a class instance, a cycle or a `__proto__` key in it is refused at its own path);
 * - a valibot schema goes through `@valibot/to-json-schema` (draft-07 without its `$schema`, the input side of a pipe: the
 *   model writes what the schema takes in, before any transform); what it cannot express
 *   (`v.date()`, `v.custom()`, a transform's output…) is refused, the converter's message included;
 * - another Standard Schema that implements the Standard JSON Schema proposal
 *   (`~standard.jsonSchema.input`, zod 4.2+, ArkType 2.1.28+) is converted by its own library;
 * - any other Standard Schema (zod 3, an older ArkType) is refused: the error says to pass a JSON
 *   Schema (`zod-to-json-schema`, `type.toJsonSchema()`) and validate separately. Guessing at a
 *   library's internals would send the model a schema that silently differs from the validator's.
 */
export function toJsonSchema(schema: unknown, path: string): JsonObject {
  let out: unknown = schema
  if (isStandardSchema(schema)) {
    const standard = schema['~standard']
    try {
      if (standard.vendor === 'valibot') {
        if (!valibotConverter) throw new ContextError('invalid_state', `${path}: the valibot converter is not loaded (await loadSchemaConverter first)`, { path })
        // typeMode 'input': stop at the first transform; errorMode 'throw' (the default) refuses what has no JSON Schema.
        out = valibotConverter(schema as never, { typeMode: 'input' })
      } else if (typeof standard.jsonSchema?.input === 'function') {
        out = standard.jsonSchema.input({ target: 'draft-07' })
      } else {
        throw invalid(
          path,
          `a ${standard.vendor} schema that cannot give its JSON Schema (no ~standard.jsonSchema): pass a JSON Schema object instead, e.g. from zod-to-json-schema`,
        )
      }
    } catch (e) {
      if ((e as { path?: unknown }).path === path) throw e
      throw invalid(path, `its ${standard.vendor} schema has no JSON Schema: ${(e as Error)?.message ?? e}`)
    }
  }
  if (!isPlainObject(out)) throw invalid(path, 'must be a JSON Schema object or a Standard Schema (valibot, zod, arktype)')
  const copy = toJson(out, path) as JsonObject
  // A converter's "$schema" names its draft for validators; providers read none, and Gemini's
  // responseJsonSchema lists the keywords it takes ($schema not among them).
  if (out !== schema) delete copy.$schema
  return copy
}

/**
 * Validates `value` against `schema`: a Standard Schema's `~standard.validate` (its output, with any
 * transform applied, or its issues, paths formatted as `items[0].name`). A JSON Schema object is not
 * checked here (a JSON Schema validator would weigh more than the rest of the LLM layer together):
 * the value passes as it is, and the provider's structured-output mode is what holds the model to it.
 */
export async function validateSchema<S>(schema: S, value: unknown): Promise<{ value: InferSchemaOutput<S> } | { issues: SchemaIssue[] }> {
  if (!isStandardSchema(schema)) return { value: value as InferSchemaOutput<S> }
  const verdict = await schema['~standard'].validate(value)
  if (!verdict.issues) return { value: (verdict as { value: InferSchemaOutput<S> }).value }
  return {
    issues: verdict.issues.map((i) => {
      const segments = i.path?.map((p) => {
        const key = typeof p === 'object' && p !== null ? p.key : p
        return typeof key === 'number' ? key : String(key)
      })
      return segments?.length ? { message: i.message, path: formatPath(segments) } : { message: i.message }
    }),
  }
}
