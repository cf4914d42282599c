/**
 * A provider for Anthropic's Messages API.
 *
 * @module agentctx/providers/anthropic
 */
import type { ChatRequest, FinishReason, Provider } from '../llm/types.js'
import type { CompletionMessage } from '../state/messages.js'
import { checkIndex, checkString, count, lookup, TEXT } from './kernel/check.js'
import { asObject, base, chat, inlineImage, textOf, type ProviderOptions, type Reply } from './kernel/chat.js'
export type { ProviderOptions } from './kernel/chat.js'

/** Options of `anthropic()`. */
export interface AnthropicOptions extends ProviderOptions {
  /** `anthropic-version` header. Default `2023-06-01`, the current (and only stable) version. */
  version?: string
  /**
   * Sends `anthropic-dangerous-direct-browser-access: true`, without which Anthropic refuses CORS
   * requests from a page. Default: true where `window` exists (a browser page), false elsewhere.
   * It exposes the key to anyone who can open the page: use it with a per-user key or a proxy.
   */
  dangerouslyAllowBrowser?: boolean
  /** `max_tokens` (required by the API) when the request sets no `maxOutputTokens`. Default 4096. */
  maxTokens?: number
}

const STOP: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
}

/** Takes a stop reason and usage, from a whole message or a stream's message_start or message_delta. */
function update(reply: Reply, stop: unknown, u: any) {
  if (stop) reply.finish = lookup(STOP, stop)
  if (u?.input_tokens != null) reply.input = count(u.input_tokens + (count(u.cache_creation_input_tokens) ?? 0) + (count(u.cache_read_input_tokens) ?? 0))
  if (u?.output_tokens != null) reply.output = count(u.output_tokens)
}

/** A `tool_use` block as a call: id and name checked (see `checkString`). */
const use = (b: any, args: any) => ({ id: checkString(b.id, 'tool_use.id'), name: checkString(b.name, 'tool_use.name'), arguments: args })

const blocks = (content: CompletionMessage['content']) =>
  typeof content === 'string'
    ? content
    : content.map((p) => {
        if (p.type === 'text') return p
        const inline = inlineImage(p)
        return { type: 'image', source: inline ? { type: 'base64', media_type: inline[0], data: inline[1] } : { type: 'url', url: p.url } }
      })

/**
 * Our messages as Messages API `system` and `messages`: system messages joined into `system`;
 * assistant tool calls as `tool_use` blocks; tool results as `tool_result` blocks in a user
 * message, consecutive results sharing one (the API wants every result of a turn in the next message).
 */
function wire(messages: CompletionMessage[]) {
  const system: string[] = []
  const out: object[] = []
  let results: object[] | undefined
  for (const m of messages) {
    if (m.role === 'tool') {
      const block = { type: 'tool_result', tool_use_id: m.toolCallId, content: blocks(m.content) }
      if (results) results.push(block)
      else out.push({ role: 'user', content: (results = [block]) })
      continue
    }
    results = undefined
    if (m.role === 'system') system.push(m.content)
    else if (m.role === 'user') out.push({ role: 'user', content: blocks(m.content) })
    else {
      const text = textOf(m.content)
      const calls = (m.toolCalls ?? []).map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: asObject(c.arguments) }))
      // The API refuses empty text blocks: text goes in only when there is some.
      out.push({ role: 'assistant', content: calls.length ? [...(text ? [{ type: 'text', text }] : []), ...calls] : text })
    }
  }
  return { system, messages: out }
}

/**
 * Anthropic Messages API (`POST {baseURL}/v1/messages`, `x-api-key`, `anthropic-version`). Streams
 * when the request has `onToken`. The API has no JSON mode, so `responseFormat: 'json'` appends an
 * instruction to `system` (with the `jsonSchema`, when given) asking for a bare JSON value; prefilling
 * the reply with `{` would be stronger but newer models refuse prefill.
 */
/* @__NO_SIDE_EFFECTS__ */
export function anthropic(options: AnthropicOptions = {}): Provider {
  const name = options.name ?? 'anthropic'
  const url = base(options.baseURL ?? 'https://api.anthropic.com') + '/v1/messages'
  // A whole answer, or the message a stream's message_start opens with (no content, no stop reason yet).
  const whole = (json: any, reply: Reply) => {
    const content = json.content ?? []
    if (!Array.isArray(content)) throw new TypeError('content must be an array')
    for (const b of content) {
      if (b?.type === 'text') reply.text += checkString(b.text, 'text', TEXT)
      else if (b?.type === 'tool_use') reply.calls[checkIndex(reply.calls.length, 'tool_use count')] = use(b, b.input)
    }
    if (typeof json.model === 'string') reply.model = json.model
    update(reply, json.stop_reason, json.usage)
  }
  const onEvent = (json: any, reply: Reply) => {
    const { type, delta, index } = json
    if (type === 'message_start') whole(json.message ?? {}, reply)
    else if (type === 'content_block_start') {
      const b = json.content_block
      // Blocks are indexed across text and tool_use alike: the holes this leaves in `calls` are skipped.
      if (b?.type === 'tool_use') reply.calls[checkIndex(index, 'index')] = use(b, '')
    } else if (type === 'content_block_delta') {
      if (delta?.type === 'text_delta') reply.emit(delta.text)
      else if (delta?.type === 'input_json_delta') {
        const call = reply.calls[checkIndex(index, 'index')]
        if (call) call.arguments += checkString(delta.partial_json, 'partial_json', TEXT)
      }
    } else if (type === 'message_delta') update(reply, delta?.stop_reason, json.usage)
    else if (type === 'message_stop') reply.done = true
  }
  const browser = options.dangerouslyAllowBrowser ?? typeof window !== 'undefined'
  return {
    name,
    chat: (request: ChatRequest) =>
      chat(name, options, request, (key) => {
        const { tools, toolChoice: choice, jsonSchema } = request
        const { system, messages } = wire(request.messages)
        if (request.responseFormat === 'json')
          system.push(`Reply with one JSON value and nothing else: no prose, no code fences.${jsonSchema ? ` It must match this JSON Schema: ${JSON.stringify(jsonSchema)}` : ''}`)
        return {
          url,
          read: request.onToken ? onEvent : whole,
          headers: {
            'x-api-key': key,
            'anthropic-version': options.version ?? '2023-06-01',
            'anthropic-dangerous-direct-browser-access': browser && 'true',
          },
          body: {
            model: request.model,
            max_tokens: request.maxOutputTokens ?? options.maxTokens ?? 4096,
            system: system.join('\n\n') || undefined,
            messages,
            ...(tools?.length && {
              tools: tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters ?? { type: 'object', properties: {} } })),
            }),
            ...(choice && {
              tool_choice: typeof choice === 'string' ? { type: choice === 'required' ? 'any' : choice } : { type: 'tool', name: choice.name },
            }),
            temperature: request.temperature,
            stream: !!request.onToken || undefined,
          },
        }
      }),
  }
}
