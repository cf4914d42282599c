import { ContextError } from '../errors.js'
import type { JsonObject } from '../state/json.js'
import type { CompletionMessage } from '../state/messages.js'
import { isStandardSchema, toJsonSchema, validateSchema, type SchemaIssue } from './schema.js'
import type { Output } from './types.js'

/** The model's output did not parse as JSON or failed `output.schema`. `issues` lists why; `text` is the raw output. */
export class OutputError extends ContextError {
  /** Always `'OutputError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'OutputError'
  /** What the schema found wrong, each with its path; empty when the text was not JSON. */
  declare issues: SchemaIssue[]
  /** The model's raw output. */
  declare text: string
  /** `text` is the model's reply as received; `issues` what the schema found wrong in it. */
  constructor(message: string, text: string, issues: SchemaIssue[] = []) {
    super('invalid_argument', message, { path: 'output' })
    Object.assign(this, { text, issues })
  }
}

/**
 * What a call with this `output` asks of the provider: JSON when `format` is `json`, or when a
 * `schema` is given without a format (there is nothing to validate in free text); with the schema
 * as JSON Schema for the provider's structured-output mode. A Standard Schema that cannot give its
 * JSON Schema (zod 3) is still validated, the model then asked for JSON without one; a JSON Schema
 * object that is not plain JSON is a `ValidationError` at `output.schema`.
 */
export function jsonOutput(output: Readonly<Output> | undefined): { json: boolean; jsonSchema?: JsonObject } {
  const { format, schema } = output ?? {}
  const json = format === 'json' || (format === undefined && schema !== undefined)
  if (!json || schema === undefined) return { json }
  if (!isStandardSchema(schema)) return { json, jsonSchema: toJsonSchema(schema, 'output.schema') }
  try {
    return { json, jsonSchema: toJsonSchema(schema, 'output.schema') }
  } catch {
    return { json }
  }
}

/**
 * The value of a model's JSON answer (a ```json fence around it is tolerated: models add one though
 * told not to), then `schema`'s verdict (`validateSchema`): its output, transforms applied. Text
 * that is not JSON, and a value the schema refuses, are an `OutputError` with the raw text and the
 * issues at their paths.
 */
export async function parseOutput(text: string, schema: unknown): Promise<unknown> {
  const body = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text)?.[1] ?? text
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    throw new OutputError('output.format is json, but the model did not answer with JSON', text)
  }
  const verdict = await validateSchema(schema, value)
  if ('value' in verdict) return verdict.value
  const { issues } = verdict
  throw new OutputError(`output.schema rejected the model's answer: ${issues.map((i) => (i.path ? `${i.path}: ` : '') + i.message).join('; ')}`, text, issues)
}

/**
 * `messages` with "Reply with JSON." in the system prompt when none of them says "JSON": OpenAI's
 * JSON mode answers HTTP 400 to a conversation that never does ("'messages' must contain the word
 * 'json'"), and the others follow the line too. A new array when a line is added.
 */
export function askJson(messages: CompletionMessage[]): CompletionMessage[] {
  if (messages.some((m) => /json/i.test(typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? '')))) return messages
  const i = messages.findIndex((m) => m.role === 'system')
  if (i < 0) return [{ role: 'system', content: 'Reply with JSON.' }, ...messages]
  const out = messages.slice()
  const system = messages[i] as Extract<CompletionMessage, { role: 'system' }>
  out[i] = { ...system, content: `${system.content}\n\nReply with JSON.` }
  return out
}
