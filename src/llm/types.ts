import type { Json, JsonObject } from '../state/json.js'
import type { CompletionMessage, ToolCall } from '../state/messages.js'

/** Hard limits on an execution. Times in seconds, cost in USD, as the LLM-execution reference gives them (docs/reference.md#llm-constraint-keys). */
export interface Constraints {
  /** The token budget of the inputs (`prune`) and of the whole prompt (`execute`). */
  maxTokens?: number
  /** Longest time for a call, in seconds: one deadline over every retry and fallback. */
  maxTime?: number
  /** Most a call may cost, in USD, checked before any request against an estimate. */
  maxCost?: number
  [key: string]: Json | undefined
}

/** Routing hints for `execute`. */
export interface Routing {
  /** The model to call, by its registry id. */
  model?: string
  /** The provider that serves it; inferred from the model when absent. */
  provider?: string
  /** Picks the model by cost, quality or speed among those that fit (`STRATEGIES`). */
  strategy?: 'cost_optimized' | 'quality_optimized' | 'speed_optimized'
  /** Sampling temperature, 0 to 2. */
  temperature?: number
  /** Most output tokens to ask for; 1024 when absent, as routing and the cost estimate assume. */
  maxOutputTokens?: number
  /** Models tried in order when a call fails with a retryable or context-window error. */
  fallbacks?: string[]
  [key: string]: Json | undefined
}

/** Output shaping. `schema` may be JSON Schema (stored) or any Standard Schema (runtime only, never stored). */
export interface Output {
  /** `json` is asked of each provider in its own way and parsed; the others reach the model as a line of its system prompt. */
  format?: 'json' | 'markdown' | 'text' | 'html'
  /** The shape of structured output: a JSON Schema (stored, sent to the provider) or a Standard Schema (runtime only, validates the answer). */
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
  /** What the call is for; echoed in `ExecutionResponse.metadata.intent`. */
  intent?: string
  /** The inputs `execute` prunes and renders; none for a chat. */
  inputs?: readonly ContextInput[]
  /** The context's hard limits. */
  constraints?: Readonly<Constraints>
  /** The context's routing hints, with any per-call override applied. */
  routing?: Readonly<Routing>
  /** The context's output shaping. */
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
  /** The input itself, any JSON. */
  data: Json
  /** How relevant it is, 0 to 1: `prune` keeps the most relevant first. */
  relevance: number
  /** Its size in tokens: given to `addInput`, or counted with the context's counter when added. */
  tokens: number
}

/** Counts the tokens of a text. The default estimator needs no vocabulary; pass an exact one (gpt-tokenizer's `countTokens`) where it matters. */
export type TokenCounter = (text: string) => number

/** A tool the model may call: a name, a description and a JSON Schema of its arguments. */
export interface ToolDefinition {
  /** The name the model calls it by. */
  name: string
  /** What the tool does, for the model to decide when to call it. */
  description?: string
  /** JSON Schema of the arguments object. */
  parameters?: JsonObject
}

/** Why a generation ended, normalized across providers. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'aborted' | 'error' | 'other'

/** Token usage. `estimated` is true when the provider did not report it (an aborted stream). */
export interface Usage {
  /** Tokens of the prompt. */
  inputTokens: number
  /** Tokens of the reply. */
  outputTokens: number
  /** True when counted locally because the provider did not report usage. */
  estimated?: boolean
}

/** What a provider is asked to do: one chat completion. */
export interface ChatRequest {
  /** The provider's model id. */
  model: string
  /** The history to answer, in the provider-neutral shape. */
  messages: CompletionMessage[]
  /** Tools the model may call. */
  tools?: ToolDefinition[]
  /** `auto` (default when tools are given), `none`, `required`, or the name of one tool. */
  toolChoice?:
    | 'auto'
    | 'none'
    | 'required'
    | {
        /** The name of the tool the model must call: one of `tools`. */
        name: string
      }
  /** Sampling temperature, 0 to 2. */
  temperature?: number
  /** Most output tokens to generate. */
  maxOutputTokens?: number
  /** Ask for JSON output where the provider supports it; `jsonSchema` narrows it where it can. */
  responseFormat?: 'text' | 'json'
  /** The JSON Schema the reply must match, with `responseFormat: 'json'`. */
  jsonSchema?: JsonObject
  /** Overrides the provider's configured key for this call only. Never stored, never logged. */
  apiKey?: string
  /** Aborts the request; the error is an `AbortedError` holding the partial reply. */
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
  /** The reply's text (the message's text parts joined). */
  text: string
  /** The tools the model asked to call, in order. */
  toolCalls: ToolCall[]
  /** Why the generation ended. */
  finishReason: FinishReason
  /** Tokens used, as reported (or estimated when not). */
  usage: Usage
  /** The model the provider says answered (may differ from the one asked, e.g. a dated alias). */
  model: string
  /** The name of the provider that answered. */
  provider: string
  /** The provider's request id, for its support. */
  requestId?: string
}

/** A provider executor: the contract `openai()`, `anthropic()` and `gemini()` implement. */
export interface Provider {
  /** `openai`, `anthropic`, `gemini`, or a custom name. */
  readonly name: string
  /** Sends one chat request to the model and resolves to its whole reply (streamed through `request.onToken` when given). */
  chat(request: ChatRequest): Promise<ChatResponse>
}
