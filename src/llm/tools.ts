import { invalid } from '../errors.js'
import { toJson, type Json } from '../state/json.js'
import type { CompletionMessage, ToolCall } from '../state/messages.js'
import { toJsonSchema, validateSchema, type InferSchemaOutput, type StandardSchema } from './schema.js'
import type { ToolResult } from './stream.js'
import type { ModelContext, ToolDefinition } from './types.js'

/** What a tool's `execute` receives beside its arguments. */
export interface ToolExecuteOptions {
  /** Aborts when the call is aborted (caller's signal, `cancel()`, `constraints.maxTime`): stop and return. */
  signal: AbortSignal
  /** The id the model gave this call. */
  toolCallId: string
  /**
   * The plain data of the context the call runs over (its id, constraints, variables…): the tool
   * loop lives in `llm/`, which never holds the `Context` itself. A tool that needs the `Context`
   * closes over it.
   */
  context: ModelContext
  /** The conversation so far, this step's assistant message (with its tool calls) last. */
  messages: readonly CompletionMessage[]
}

/**
 * A tool the model may call. `parameters` is a JSON Schema object or a Standard Schema (valibot,
 * zod 4.2+, arktype), sent to the provider as JSON Schema (see `toJsonSchema`); with a Standard
 * Schema, the model's arguments are validated before `execute` and `execute` gets the schema's
 * output. Without `execute`, a call to the tool ends the loop and is returned to the caller.
 */
export interface Tool<P = any> {
  /** What the tool does, for the model to decide when to call it. */
  description?: string
  /** Its arguments: a JSON Schema or a Standard Schema (valibot, zod…), which also validates them before `execute`. */
  parameters?: P
  /** Runs the call; its return value (JSON, or a string sent as it is) goes back to the model. A throw goes back as an error result. */
  execute?: (args: ToolArgs<P>, options: ToolExecuteOptions) => unknown
}

/** A tool's arguments: the Standard Schema's output type; `any` for a JSON Schema (nothing types it) or a tool not made with `tool()`. */
export type ToolArgs<P> = 0 extends 1 & P ? any : P extends StandardSchema ? InferSchemaOutput<P> : any

/** Tools by name (`{ weather: { parameters, execute } }`), or the older array of definitions (never run). */
export type Tools = Record<string, Tool> | ToolDefinition[]

/**
 * Types a tool's `execute` arguments from its `parameters` (an identity at run time):
 * `weather: tool({ parameters: v.object({ city: v.string() }), execute: ({ city }) => … })`.
 */
export const tool = <P>(t: Tool<P>): Tool<P> => t

/** Tools checked: their definitions for the provider, and the ones that run by name. */
export interface ToolSet {
  definitions: ToolDefinition[]
  byName: Map<string, Tool>
}

// OpenAI's rule for function names (Anthropic's and Gemini's are within it): 1-64 of [A-Za-z0-9_-].
const NAME = /^[\w-]{1,64}$/

/** Checks `tools` (path `tools.<name>`) and converts each schema once, before any request. */
export function toolSet(tools: Tools | undefined): ToolSet | undefined {
  if (tools === undefined) return
  if (typeof tools !== 'object' || tools === null) throw invalid('tools', 'must be an object of tools by name: { weather: { parameters, execute } }')
  const entries: [string, Tool, string][] = Array.isArray(tools)
    ? tools.map((t, i) => [t?.name, t as Tool, `tools[${i}]`])
    : Object.entries(tools).map(([name, t]) => [name, t, `tools.${name}`])
  const set: ToolSet = { definitions: [], byName: new Map() }
  for (const [name, t, path] of entries) {
    if (typeof name !== 'string' || !NAME.test(name)) throw invalid(Array.isArray(tools) ? `${path}.name` : path, 'a tool name is 1-64 letters, digits, _ or -')
    if (typeof t !== 'object' || t === null) throw invalid(path, 'must be an object: { description?, parameters?, execute? }')
    if (set.byName.has(name)) throw invalid(path, `a second tool named "${name}"`)
    if (t.description !== undefined && typeof t.description !== 'string') throw invalid(`${path}.description`, 'must be a string')
    if (t.execute !== undefined && typeof t.execute !== 'function') throw invalid(`${path}.execute`, 'must be a function')
    set.byName.set(name, t)
    set.definitions.push({
      name,
      ...(t.description !== undefined && { description: t.description }),
      ...(t.parameters !== undefined && { parameters: toJsonSchema(t.parameters, `${path}.parameters`) }),
    })
  }
  return set
}

/** Whether the loop can run `calls`: every one names a tool with `execute`, or a tool that does not exist (answered with an error). */
export const runnable = (set: ToolSet | undefined, calls: ToolCall[]): boolean =>
  !!set && calls.every((c) => !set.byName.has(c.name) || typeof set.byName.get(c.name)!.execute === 'function')

/**
 * Runs one call: validates its arguments, then `execute`. Never throws for the model's mistakes or
 * the tool's: an unknown name, invalid arguments or a throwing tool are an error result the model
 * reads and may correct. Only an abort of `signal` propagates (the caller stops the loop).
 */
export async function runTool(set: ToolSet, call: ToolCall, options: Omit<ToolExecuteOptions, 'toolCallId'>): Promise<ToolResult> {
  const base = { toolCallId: call.id, toolName: call.name }
  const fail = (message: string): ToolResult => ({ ...base, result: message, isError: true })
  const t = set.byName.get(call.name)
  if (!t?.execute) return fail(`Error: no tool named "${call.name}"; the tools are ${[...set.byName.keys()].join(', ')}`)
  // A raw string is arguments the provider could not parse as JSON (see parseArgs).
  if (typeof call.arguments === 'string') return fail(`Error: the arguments are not a JSON object: ${call.arguments.slice(0, 200)}`)
  const verdict = await validateSchema(t.parameters, call.arguments)
  if ('issues' in verdict) return fail(`Error: invalid arguments: ${verdict.issues.map((i) => (i.path ? `${i.path}: ` : '') + i.message).join('; ')}`)
  try {
    const value = await t.execute(verdict.value, { ...options, toolCallId: call.id })
    return { ...base, result: typeof value === 'string' ? value : toJson(value ?? null, `tools.${call.name}`) }
  } catch (e) {
    if (options.signal.aborted) throw e
    return fail(`Error: ${(e as Error)?.message ?? String(e)}`)
  }
}

/** A tool result as the `tool` message the model reads. */
export const toolMessage = (r: ToolResult): CompletionMessage => ({
  role: 'tool',
  toolCallId: r.toolCallId,
  // Gemini matches results to calls by name.
  name: r.toolName,
  content: typeof r.result === 'string' ? r.result : JSON.stringify(r.result as Json),
})
