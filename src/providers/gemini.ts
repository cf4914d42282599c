/**
 * A provider for Google's Gemini API (`generateContent`).
 *
 * @module agentctx/providers/gemini
 */
import type { ChatRequest, FinishReason, Provider } from '../llm/types.js'
import type { CompletionMessage } from '../state/messages.js'
import { checkIndex, checkString, count, lookup, TEXT } from './kernel/check.js'
import { asObject, base, chat, inlineImage, parseArgs, textOf, type ProviderOptions, type Reply } from './kernel/chat.js'
export type { ProviderOptions } from './kernel/chat.js'

const FINISH: Record<string, FinishReason> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
}

/**
 * Gemini's function calls have no ids, so we make them: `call_<n>_<name>`, n counting the calls of
 * one reply (stable: the same reply gives the same ids). Gemini 3 returns a `thoughtSignature` beside a
 * call that must come back with it on the next request (else HTTP 400), and a `ToolCall` has no
 * field for it: it rides in the id after a `~` (not a base64 character) and is restored from there.
 */
const callId = (n: number, name: string, signature?: string) => `call_${n}_${name}${signature ? `~${signature}` : ''}`

const parts = (content: CompletionMessage['content']) =>
  typeof content === 'string'
    ? [{ text: content }]
    : content.map((p) => {
        if (p.type === 'text') return { text: p.text }
        const inline = inlineImage(p)
        return inline ? { inlineData: { mimeType: inline[0], data: inline[1] } } : { fileData: { mimeType: p.mediaType, fileUri: p.url } }
      })

/**
 * Our messages as `systemInstruction` and `contents` (roles `user` and `model`). A tool result
 * becomes a `functionResponse` part named after its call (Gemini matches results to calls by name
 * and order, not id): the tool message's `name`, else the name of the call with its `toolCallId`.
 * Consecutive results share one `user` content. A result that is a JSON object is sent as the
 * response; anything else as `{ output }`, the key Gemini's documentation names for a function's output.
 */
function wire(messages: CompletionMessage[]) {
  const system: string[] = []
  const contents: object[] = []
  // A Map: a call id like "constructor" must not find Object.prototype's.
  const names = new Map<string, string>()
  let results: object[] | undefined
  for (const m of messages) {
    if (m.role === 'tool') {
      const v = parseArgs(textOf(m.content))
      const part = {
        functionResponse: { name: m.name ?? names.get(m.toolCallId) ?? m.toolCallId, response: typeof v !== 'object' || Array.isArray(v) ? { output: v } : v },
      }
      if (results) results.push(part)
      else contents.push({ role: 'user', parts: (results = [part]) })
      continue
    }
    results = undefined
    if (m.role === 'system') system.push(m.content)
    else if (m.role === 'user') contents.push({ role: 'user', parts: parts(m.content) })
    else {
      const text = textOf(m.content)
      const calls = (m.toolCalls ?? []).map((c) => {
        names.set(c.id, c.name)
        const signature = c.id.split('~')[1]
        return { functionCall: { name: c.name, args: asObject(c.arguments) }, ...(signature && { thoughtSignature: signature }) }
      })
      contents.push({ role: 'model', parts: [...(text || !calls.length ? [{ text }] : []), ...calls] })
    }
  }
  return { system, contents }
}

/**
 * Google's Generative Language API: `POST {baseURL}/models/{model}:generateContent`, or
 * `:streamGenerateContent?alt=sse` when the request has `onToken`. The key goes in the
 * `x-goog-api-key` header, never in the URL (where it would land in logs). Tool parameters and
 * `jsonSchema` are sent as `parametersJsonSchema` / `responseJsonSchema` (plain JSON Schema), not
 * the OpenAPI-subset `parameters` / `responseSchema`. Output tokens include thinking tokens
 * (`thoughtsTokenCount`), which are billed as output.
 */
/* @__NO_SIDE_EFFECTS__ */
export function gemini(options: ProviderOptions = {}): Provider {
  const name = options.name ?? 'gemini'
  const root = base(options.baseURL ?? 'https://generativelanguage.googleapis.com/v1beta')
  // A whole answer and a streamed chunk have the same shape: one reader serves both.
  const read = (json: any, reply: Reply) => {
    const candidate = json.candidates?.[0]
    const parts = candidate?.content?.parts ?? []
    if (!Array.isArray(parts)) throw new TypeError('parts must be an array')
    for (const p of parts) {
      const call = p?.functionCall
      if (call) {
        const n = checkIndex(reply.calls.length, 'functionCall count')
        const name = checkString(call.name, 'functionCall.name')
        const signature = p.thoughtSignature && checkString(p.thoughtSignature, 'thoughtSignature', TEXT)
        reply.calls[n] = { id: callId(n, name, signature), name, arguments: call.args ?? {} }
      } else if (p?.text && !p.thought) reply.emit(p.text)
    }
    const reason = candidate?.finishReason
    if (reason) reply.finish = reason === 'STOP' && reply.calls.length ? 'tool_calls' : lookup(FINISH, reason)
    if (json.promptFeedback?.blockReason) reply.finish = 'content_filter'
    const u = json.usageMetadata
    if (u) {
      reply.input = count(u.promptTokenCount ?? 0)
      reply.output = count((u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0))
    }
    if (typeof json.modelVersion === 'string') reply.model = json.modelVersion
  }
  return {
    name,
    chat: (request: ChatRequest) =>
      chat(name, options, request, (key) => {
        const { tools, toolChoice: choice, jsonSchema } = request
        const { system, contents } = wire(request.messages)
        return {
          url: `${root}/models/${request.model.replace(/^models\//, '')}:${request.onToken ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
          read,
          headers: { 'x-goog-api-key': key },
          body: {
            contents,
            ...(system.length && { systemInstruction: { parts: [{ text: system.join('\n\n') }] } }),
            ...(tools?.length && {
              tools: [{ functionDeclarations: tools.map((t) => ({ name: t.name, description: t.description, parametersJsonSchema: t.parameters })) }],
            }),
            ...(choice && {
              toolConfig: {
                functionCallingConfig:
                  typeof choice === 'string'
                    ? { mode: choice === 'required' ? 'ANY' : choice.toUpperCase() }
                    : { mode: 'ANY', allowedFunctionNames: [choice.name] },
              },
            }),
            generationConfig: {
              temperature: request.temperature,
              maxOutputTokens: request.maxOutputTokens,
              ...(request.responseFormat === 'json' && { responseMimeType: 'application/json', responseJsonSchema: jsonSchema }),
            },
          },
        }
      }),
  }
}
