import { invalid } from '../errors.js'
import type { ChatRequest, FinishReason, Usage } from '../llm/types.js'
import type { JsonObject } from '../state/json.js'
import { KINDS, type MockFault } from './faults.js'

/** A tool call a scripted reply makes. `id` defaults to `call_1`, `call_2`… in the order the mock makes them. */
export interface MockToolCall {
  /** The call's id; `call_1`, `call_2`… by default. */
  id?: string
  /** The tool to call. */
  name: string
  /** An object, or a string to script arguments that are not valid JSON, as a model sometimes writes. Default `{}`. */
  arguments?: JsonObject | string
}

/**
 * A scripted answer. Every field is optional: `{}` is an empty text that stops.
 *
 * @example
 * { text: 'Paris' }                                                   // a text, streamed word by word
 * { chunks: ['Par', 'is'], delayMs: 20 }                              // two deltas, 20 ms before each
 * { toolCalls: [{ name: 'weather', arguments: { city: 'Paris' } }] }   // finishReason 'tool_calls'
 * { text: 'Par', hang: true }                                         // streams "Par", then waits for the abort
 * { chunks: ['Par', 'is'], breakAfter: 1 }                            // the connection drops after "Par"
 */
export interface MockMessage {
  /** The reply's text; `''` by default. */
  text?: string
  /** The text as the stream's deltas; joined, they are the text. Default: the text split after each word. */
  chunks?: string[]
  /** Tools the reply asks to call. */
  toolCalls?: MockToolCall[]
  /** Default: estimated as the providers do when not told (4 characters a token), with `estimated: true`. */
  usage?: {
    /** Prompt tokens the reply reports; default: the request's characters (16 more a message) over 4. */
    inputTokens?: number
    /** Completion tokens the reply reports; default: the reply's text and tool calls' characters over 4. */
    outputTokens?: number
  }
  /** Default `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: FinishReason
  /** The model the answer says it came from (a dated alias, say). Default: the one asked for. */
  model?: string
  /** Milliseconds to wait before each delta when streaming, or before the whole answer when not. */
  delayMs?: number
  /**
   * The connection drops after this many deltas: a retryable `ProviderError` (no status), with the
   * deltas so far in `partial` when streaming, as a real stream that breaks off.
   */
  breakAfter?: number
  /** After the deltas, wait until the request's signal aborts, then throw the `AbortedError` a provider throws, with the partial. */
  hang?: boolean
}

/** One call's answer: a text, a `MockMessage`, or a `MockFault`. */
export type MockReply = string | MockMessage | MockFault

/** A reply computed from the request; `callIndex` counts calls from 0 (the request's index in `calls`). */
export type MockReplyFunction = (request: ChatRequest, callIndex: number) => MockReply | Promise<MockReply>

/** A checked reply, ready to play. */
export interface Step extends Omit<MockMessage, 'text' | 'chunks' | 'toolCalls'> {
  text: string
  chunks: string[]
  toolCalls: { id?: string; name: string; arguments: JsonObject | string }[]
  fault?: MockFault
}

const FINISH = ['stop', 'length', 'tool_calls', 'content_filter', 'aborted', 'error', 'other']

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isString = (v: unknown) => typeof v === 'string'
const isName = (v: unknown) => isString(v) && v !== ''
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0
const isBoolean = (v: unknown) => typeof v === 'boolean'

// Every key a script may hold, with its check and what the error says it must be. One table for
// the options, replies, faults, tool calls and usage: a checker per shape would cost 0.3 KB more.
const KEYS: Record<string, [(v: any) => boolean, string]> = {
  name: [isName, 'a non-empty string'],
  models: [(m) => Array.isArray(m) && m.every(isString), 'an array of model ids'],
  replies: [(r) => Array.isArray(r) || typeof r === 'function', 'an array of replies or a function'],
  text: [isString, 'a string'],
  chunks: [(c) => Array.isArray(c) && c.every(isString), 'an array of strings'],
  toolCalls: [Array.isArray, 'an array'],
  usage: [isObject, 'an object'],
  finishReason: [(r) => FINISH.includes(r), `one of ${FINISH.join(', ')}`],
  model: [isName, 'a non-empty string'],
  delayMs: [isCount, 'an integer >= 0'],
  breakAfter: [isCount, 'an integer >= 0'],
  hang: [isBoolean, 'a boolean'],
  error: [(e) => e instanceof Error || Object.hasOwn(KINDS, e), `an Error or one of ${Object.keys(KINDS).join(', ')}`],
  status: [(s) => Number.isInteger(s) && s > 99 && s < 600, 'an HTTP status'],
  retryable: [isBoolean, 'a boolean'],
  message: [isString, 'a string'],
  id: [isName, 'a non-empty string'],
  arguments: [(a) => isString(a) || isObject(a), 'an object or a string'],
  inputTokens: [isCount, 'an integer >= 0'],
  outputTokens: [isCount, 'an integer >= 0'],
}

/**
 * `value` if it is an object of the `keys` (space-separated), each present one passing its check in
 * `KEYS`; else a `ValidationError` naming the path: `replies[2].toolCalls[0].name: must be a non-empty string`.
 */
export function checkKeys(value: unknown, path: string, keys: string): Record<string, any> {
  if (!isObject(value)) throw invalid(path, 'must be an object')
  for (const k in value) {
    const [check, what] = (keys.split(' ').includes(k) && KEYS[k]) || [() => false, `a known key: ${keys.replace(/ /g, ', ')}`]
    if (value[k] !== undefined && !check(value[k])) throw invalid(`${path}.${k}`, `must be ${what}`)
  }
  return value
}

/** Checks one reply of a script (see `checkKeys`) and fills in its defaults. */
export function checkReply(reply: unknown, path: string): Step {
  if (isString(reply)) reply = { text: reply }
  if (isObject(reply) && reply.error !== undefined) return { text: '', chunks: [], toolCalls: [], fault: checkKeys(reply, path, 'error status retryable message delayMs') as MockFault }
  const m = checkKeys(reply, path, 'text chunks toolCalls usage finishReason model delayMs breakAfter hang')
  const text: string = m.text ?? m.chunks?.join('') ?? ''
  // Split after each word, spaces kept: "Hello world" streams as "Hello ", "world".
  const chunks: string[] = m.chunks ?? text.match(/\s*\S+\s*|\s+/g) ?? []
  if (chunks.join('') !== text) throw invalid(`${path}.chunks`, 'joined, must equal text')
  if (m.breakAfter > chunks.length) throw invalid(`${path}.breakAfter`, `must be at most ${chunks.length}, the number of chunks`)
  if (m.hang && m.breakAfter !== undefined) throw invalid(`${path}.hang`, 'a reply either hangs or breaks, not both')
  if (m.usage) checkKeys(m.usage, `${path}.usage`, 'inputTokens outputTokens')
  const toolCalls = (m.toolCalls ?? []).map((c: unknown, i: number) => {
    const at = `${path}.toolCalls[${i}]`
    const { id, name, arguments: args = {} } = checkKeys(c, at, 'id name arguments')
    if (!isName(name)) throw invalid(`${at}.name`, 'must be a non-empty string')
    try {
      // A copy, so that a replayed reply never shares its object with a history that changes it.
      return { id, name, arguments: isString(args) ? args : JSON.parse(JSON.stringify(args)) }
    } catch {
      throw invalid(`${at}.arguments`, 'must be JSON')
    }
  })
  return { ...m, text, chunks, toolCalls } as Step
}

/** Usage as the providers estimate it when not told: 4 characters a token, 16 characters of framing per message. */
export function usageOf(request: ChatRequest, text: string, toolCalls: Step['toolCalls'], scripted?: MockMessage['usage']): Usage {
  const chars = (c: unknown): number =>
    typeof c === 'string' ? c.length : Array.isArray(c) ? c.reduce((n, p) => n + (p?.type === 'text' ? p.text.length : 0), 0) : 0
  const inputTokens = scripted?.inputTokens ?? Math.ceil(request.messages.reduce((n, m) => n + chars(m.content) + 16, 0) / 4)
  const outputTokens = scripted?.outputTokens ?? Math.ceil((text.length + (toolCalls.length ? JSON.stringify(toolCalls).length : 0)) / 4)
  return { inputTokens, outputTokens, ...((scripted?.inputTokens === undefined || scripted.outputTokens === undefined) && { estimated: true }) }
}
