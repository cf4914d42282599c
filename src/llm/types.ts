import type { Json, JsonObject } from '../state/json.js'
import type { CompletionMessage, ToolCall } from '../state/messages.js'

/** Hard limits on an execution. Times in seconds, cost in USD, as the LLM-execution reference gives them (docs/reference.md#llm-constraint-keys). */
export interface Constraints {
  maxTokens?: number
  maxTime?: number
  maxCost?: number
  [key: string]: Json | undefined
}

/** Routing hints for `execute`. */
export interface Routing {
  model?: string
  provider?: string
  strategy?: 'cost_optimized' | 'quality_optimized' | 'speed_optimized'
  temperature?: number
  maxOutputTokens?: number
  /** Models tried in order when a call fails with a retryable or context-window error. */
  fallbacks?: string[]
  [key: string]: Json | undefined
}

/** Output shaping. `schema` may be JSON Schema (stored) or any Standard Schema (runtime only, never stored). */
export interface Output {
  format?: 'json' | 'markdown' | 'text' | 'html'
  schema?: unknown
  [key: string]: unknown
}

/**
 * What a model call reads of a context: plain data, built by the `Context` for each call (its
 * `execute` and `generateChatCompletion`), so that the executor never needs the `Context` class and
 * any state can be run without one. The executor returns a result; applying it (appending the reply)
 * is the caller's.
 */
export interface ModelContext {
  /** The context's id, echoed in `ExecutionResponse.contextId`. */
  contextId: string
  intent?: string
  /** The inputs `execute` prunes and renders; none for a chat. */
  inputs?: readonly ContextInput[]
  constraints?: Readonly<Constraints>
  routing?: Readonly<Routing>
  output?: Readonly<Output>
  /** Runtime variables: `<PROVIDER>_API_KEY` is the key when the call gives none. Never stored, never in an error. */
  variables?: Readonly<Record<string, string>>
  /** The completion history a chat runs over. */
  messages?: readonly CompletionMessage[]
  /**
   * Called with each message a chat adds to the history, in order, as each step ends: the
   * assistant's reply (tool calls included), then each tool result of a tool loop. The `Context`
   * appends them to its completion messages; the executor itself never changes `messages`.
   */
  onMessage?: (message: CompletionMessage) => void
  /**
   * Called after each provider call that reported usage (a success, or a failed call's partial),
   * fallbacks and tool-loop steps included: `cost` in USD, undefined for a model without prices.
   * The `Context` sums it into `ctx.usage`. One that throws is reported, not rethrown.
   */
  onUsage?: (usage: Usage, cost: number | undefined, model: string, provider: string) => void
}

/** One input of an LLM context: any JSON data with a relevance in 0..1 and its token count. */
export interface ContextInput {
  data: Json
  relevance: number
  tokens: number
}

/** Counts the tokens of a text. The default estimator needs no vocabulary; pass an exact one (gpt-tokenizer's `countTokens`) where it matters. */
export type TokenCounter = (text: string) => number

/** A tool the model may call: a name, a description and a JSON Schema of its arguments. */
export interface ToolDefinition {
  name: string
  description?: string
  /** JSON Schema of the arguments object. */
  parameters?: JsonObject
}

/** Why a generation ended, normalized across providers. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'aborted' | 'error' | 'other'

/** Token usage. `estimated` is true when the provider did not report it (an aborted stream). */
export interface Usage {
  inputTokens: number
  outputTokens: number
  estimated?: boolean
}

/** What a provider is asked to do: one chat completion. */
export interface ChatRequest {
  model: string
  messages: CompletionMessage[]
  tools?: ToolDefinition[]
  /** `auto` (default when tools are given), `none`, `required`, or the name of one tool. */
  toolChoice?: 'auto' | 'none' | 'required' | { name: string }
  temperature?: number
  maxOutputTokens?: number
  /** Ask for JSON output where the provider supports it; `jsonSchema` narrows it where it can. */
  responseFormat?: 'text' | 'json'
  jsonSchema?: JsonObject
  /** Overrides the provider's configured key for this call only. Never stored, never logged. */
  apiKey?: string
  signal?: AbortSignal
  /** Streams when given: called with each text delta as it arrives. */
  onToken?: (delta: string) => void
  /**
   * With `onToken`: awaited after each network chunk of the stream is handled, before the next read,
   * so that a slow consumer holds the connection (backpressure) instead of the reply piling up in memory.
   */
  onChunk?: () => Promise<void> | void
}

/** A provider's answer, normalized. */
export interface ChatResponse {
  /** The assistant message, ready to append to the completion history. */
  message: Extract<CompletionMessage, { role: 'assistant' }>
  text: string
  toolCalls: ToolCall[]
  finishReason: FinishReason
  usage: Usage
  /** The model the provider says answered (may differ from the one asked, e.g. a dated alias). */
  model: string
  provider: string
  requestId?: string
}

/** A provider executor: the contract `openai()`, `anthropic()` and `gemini()` implement. */
export interface Provider {
  /** `openai`, `anthropic`, `gemini`, or a custom name. */
  readonly name: string
  /** Sends one chat request to the model and resolves to its whole reply (streamed through `request.onToken` when given). */
  chat(request: ChatRequest): Promise<ChatResponse>
}
