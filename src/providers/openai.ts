/**
 * A provider for OpenAI's Chat Completions API and any OpenAI-compatible endpoint.
 *
 * @module agentctx/providers/openai
 */
import type { ChatRequest, FinishReason, Provider } from '../llm/types.js'
import type { CompletionMessage, ContentPart } from '../state/messages.js'
import { checkIndex, checkString, count, lookup, TEXT } from './kernel/check.js'
import { argsText, base, chat, textOf, type ProviderOptions, type Reply } from './kernel/chat.js'
export type { ProviderOptions } from './kernel/chat.js'

/** Options of `openai()`. */
export interface OpenAIOptions extends ProviderOptions {
  /** Sent as `OpenAI-Organization`. */
  organization?: string
  /** Sent as `OpenAI-Project`. */
  project?: string
  /**
   * Body field of `maxOutputTokens`. OpenAI deprecated `max_tokens` for `max_completion_tokens`
   * (the only one its reasoning models accept), the default; some compatible servers only know
   * `max_tokens`.
   */
  maxTokensField?: 'max_completion_tokens' | 'max_tokens'
}

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
}
const finishReason = (r: unknown): FinishReason | undefined => (r ? lookup(FINISH, r) : undefined)

const part = (p: ContentPart) =>
  p.type === 'text' ? p : { type: 'image_url', image_url: { url: p.url ?? `data:${p.mediaType ?? 'image/png'};base64,${p.data}` } }

/** One of our messages as a Chat Completions message. */
function wire(m: CompletionMessage): object {
  const { role, content } = m
  if (role === 'tool') return { role, tool_call_id: m.toolCallId, content: textOf(content) }
  if (role !== 'assistant') return { ...m, content: typeof content === 'string' ? content : content.map(part) }
  const calls = m.toolCalls?.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: argsText(c.arguments) } }))
  const text = textOf(content)
  // Chat Completions wants content null, not "", beside tool calls.
  return { role, content: text || (calls?.length ? null : ''), name: m.name, ...(calls?.length && { tool_calls: calls }) }
}

/**
 * OpenAI Chat Completions (`POST {baseURL}/chat/completions`) and any server that speaks it:
 * Ollama (`http://localhost:11434/v1`), vLLM, LM Studio, OpenRouter, Groq (rename with `name`).
 * Streams when the request has `onToken` (with `stream_options.include_usage`, so a streamed reply
 * reports real usage). `responseFormat: 'json'` sends `response_format` `json_object`, or
 * `json_schema` (non-strict, named `output`) when a `jsonSchema` is given.
 */
/* @__NO_SIDE_EFFECTS__ */
export function openai(options: OpenAIOptions = {}): Provider {
  const name = options.name ?? 'openai'
  const url = base(options.baseURL ?? 'https://api.openai.com/v1') + '/chat/completions'
  // A whole answer's `message` reads as one streamed `delta` holding everything (its tool calls have no `index`).
  const read = (json: any, reply: Reply) => {
    const choice = json.choices?.[0]
    const delta = choice?.delta ?? choice?.message
    const text = delta?.content ?? delta?.refusal
    if (text) reply.emit(text)
    // Streamed tool calls arrive by index: id and name in the first fragment, arguments spread over many.
    const calls = delta?.tool_calls ?? []
    if (!Array.isArray(calls)) throw new TypeError('tool_calls must be an array')
    calls.forEach((t: any, i: number) => {
      const at = `tool_calls[${i}]`
      const call = (reply.calls[checkIndex(t?.index ?? i, at + '.index')] ??= { id: '', name: '', arguments: '' })
      const f = t.function
      if (t.id) call.id = checkString(t.id, at + '.id')
      if (f?.name) call.name = checkString(f.name, at + '.function.name')
      if (f?.arguments) call.arguments += checkString(f.arguments, at + '.function.arguments', TEXT)
    })
    reply.finish = finishReason(choice?.finish_reason) ?? reply.finish
    if (typeof json.model === 'string') reply.model = json.model
    const u = json.usage
    if (u) {
      reply.input = count(u.prompt_tokens)
      reply.output = count(u.completion_tokens)
    }
  }
  return {
    name,
    chat: (request: ChatRequest) =>
      chat(name, options, request, (key) => {
        const { tools, toolChoice: choice, responseFormat, jsonSchema } = request
        return {
          url,
          read,
          headers: { authorization: key && `Bearer ${key}`, 'openai-organization': options.organization, 'openai-project': options.project },
          body: {
            model: request.model,
            messages: request.messages.map(wire),
            ...(tools?.length && {
              tools: tools.map((t) => ({
                type: 'function',
                function: { name: t.name, description: t.description, parameters: t.parameters ?? { type: 'object', properties: {} } },
              })),
            }),
            ...(choice && { tool_choice: typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } } }),
            temperature: request.temperature,
            [options.maxTokensField ?? 'max_completion_tokens']: request.maxOutputTokens,
            ...(responseFormat === 'json' && {
              response_format: jsonSchema ? { type: 'json_schema', json_schema: { name: 'output', schema: jsonSchema } } : { type: 'json_object' },
            }),
            ...(request.onToken && { stream: true, stream_options: { include_usage: true } }),
          },
        }
      }),
  }
}
