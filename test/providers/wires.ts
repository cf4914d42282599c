import { expect } from 'vitest'
import type { ChatRequest, Provider } from '../../src/llm/types.js'
import { anthropic } from '../../src/providers/anthropic.js'
import { gemini } from '../../src/providers/gemini.js'
import { openai } from '../../src/providers/openai.js'
import { anthropicError, anthropicServer, messageEvents, partialEvents } from './servers/anthropic.js'
import { generateChunks, geminiError, geminiServer } from './servers/gemini.js'
import { data, KEY, type Loopback, type Step } from './servers/loopback.js'
import { completionChunks, openaiError, openaiServer, partialChunks } from './servers/openai.js'

/**
 * The three wire formats as the attack tests (redirects, hostile streams, leaks, odd error bodies,
 * retries) need them: how to point a provider at a server, which header carries the key, and the
 * frames of a stream, whole or broken off, and of a tool call at any index.
 */
export interface Wire {
  name: 'openai' | 'anthropic' | 'gemini'
  serve(): Promise<Loopback>
  /** The provider pointed at `url` (a server's root), key `KEY` unless given, 1 ms backoff. */
  make(url: string, options?: Record<string, unknown>): Provider
  /** The path the provider POSTs to (streamed or not). */
  path(streamed: boolean): string
  keyHeader: string
  /** A complete streamed text reply. */
  stream(deltas: string[]): string[]
  /** The frames of a stream broken off after `deltas` (with none: only what comes before the first text). */
  partial(deltas: string[]): string[]
  /** The frames that end a stream after its text: finish reason, usage, terminal event. */
  end(): string[]
  /** An error event inside a 200 stream. */
  streamError(message: string): string
  /** An error body of the provider's shape. */
  error(message: string): unknown
  /** Frames that open a tool call at `index` with `id`, `name` and arguments text (or value, for Gemini). */
  tool(index: unknown, id: unknown, name: unknown, args: unknown): string[]
}

export const MODEL = 'test-model'

export const wires: Wire[] = [
  {
    name: 'openai',
    serve: openaiServer,
    make: (url, o = {}) => openai({ baseURL: `${url}/v1`, apiKey: KEY, retryDelay: 1, ...o }),
    path: () => '/v1/chat/completions',
    keyHeader: 'authorization',
    stream: (deltas) => completionChunks(deltas),
    partial: partialChunks,
    end: () => completionChunks([]).slice(1),
    streamError: (message) => data({ error: { message, type: 'server_error', param: null, code: null } }),
    error: (message) => openaiError(message, 'invalid_request_error'),
    tool: (index, id, name, args) => [data({ choices: [{ index: 0, delta: { tool_calls: [{ index, id, type: 'function', function: { name, arguments: args } }] } }] })],
  },
  {
    name: 'anthropic',
    serve: anthropicServer,
    make: (url, o = {}) => anthropic({ baseURL: url, apiKey: KEY, retryDelay: 1, ...o }),
    path: () => '/v1/messages',
    keyHeader: 'x-api-key',
    stream: (deltas) => messageEvents(deltas),
    partial: (deltas) => partialEvents(deltas),
    end: () => messageEvents([]).slice(1),
    streamError: (message) => data(anthropicError('overloaded_error', message), 'error'),
    error: (message) => anthropicError('invalid_request_error', message),
    tool: (index, id, name, args) => [
      data({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } }, 'content_block_start'),
      data({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } }, 'content_block_delta'),
    ],
  },
  {
    name: 'gemini',
    serve: geminiServer,
    make: (url, o = {}) => gemini({ baseURL: `${url}/v1beta`, apiKey: KEY, retryDelay: 1, ...o }),
    path: (streamed) => `/v1beta/models/${MODEL}:${streamed ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
    keyHeader: 'x-goog-api-key',
    stream: (deltas) => generateChunks(deltas),
    partial: (deltas) => generateChunks(deltas, { finish: null }),
    end: () => generateChunks([]),
    streamError: (message) => data(geminiError(503, message, 'UNAVAILABLE')),
    error: (message) => geminiError(400, message, 'INVALID_ARGUMENT'),
    tool: (_index, id, name, args) => [data({ candidates: [{ content: { role: 'model', parts: [{ functionCall: { name, args }, thoughtSignature: id }] }, index: 0 }] })],
  },
]

export const ask = (extra: Partial<ChatRequest> = {}): ChatRequest => ({ model: MODEL, messages: [{ role: 'user', content: 'Say hello.' }], ...extra })

/** The own property names of the prototypes a hostile response could reach. */
export const prototypes = () =>
  [Object.prototype, Array.prototype, Function.prototype, String.prototype].map((p) => Object.getOwnPropertyNames(p).sort().join(','))

/** Asserts no prototype gained or lost a property since `before`, and none of the usual targets reads through. */
export function expectPrototypesUnchanged(before: string[]) {
  expect(prototypes()).toEqual(before)
  const probe = [] as any
  for (const k of ['id', 'name', 'arguments', 'polluted']) {
    expect(probe[k], `Array.prototype.${k}`).toBeUndefined()
    expect(({} as any)[k], `Object.prototype.${k}`).toBeUndefined()
  }
}

/** Every 8-character piece of `secret`. */
export const pieces = (secret: string) => Array.from({ length: Math.max(0, secret.length - 7) }, (_, i) => secret.slice(i, i + 8))

/** All the text an error shows: message, stack, String, JSON (partial included), its cause chain's message and stack. */
export function errorText(err: any): string {
  let out = `${err?.message}\n${err?.stack}\n${String(err)}\n${JSON.stringify(err)}\n${JSON.stringify(err?.partial)}`
  for (let c = err?.cause, n = 0; c && n < 5; c = c.cause, n++) out += `\n${c.message}\n${c.stack}\n${String(c)}`
  return out
}

/** Asserts no 8 characters of `secret` appear anywhere in `err`. */
export function expectNoPiece(err: unknown, secret: string) {
  const text = errorText(err)
  for (const p of pieces(secret)) expect(text.includes(p), `piece ${p} of the secret in the error`).toBe(false)
}

/** A step answering `status` with raw bytes and headers. */
export const raw =
  (status: number, body: string | Uint8Array, headers: Record<string, string> = {}): Step =>
  (_s, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(body)
  }
