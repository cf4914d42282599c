import { invalid } from '../errors.js'
import { toJson, type Json } from './json.js'
import { CompletionMessageSchema, ContentPartSchema, type CompletionMessage, type ContentPart } from './messages.js'
import { parseJson } from './validate.js'

/**
 * A message as OpenAI's Chat Completions takes it (`ChatCompletionMessageParam`) or answers it
 * (`choices[0].message`). Typed loosely enough that the `openai` SDK's own types are accepted as
 * they are; what we cannot hold (audio, files, `function_call`, the `function` role) is refused at
 * run time with a `ValidationError`.
 */
export interface OpenAIChatMessage {
  /** `developer` is read as `system`; `function` (the deprecated role) is refused. */
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function'
  /** A string or content parts (`text`, `image_url`, `refusal`); an assistant's `null` becomes `""`. */
  content?: string | null | readonly object[]
  /** The participant's name, kept. */
  name?: string
  /** An assistant's tool calls; they become `toolCalls`, arguments parsed. */
  tool_calls?: readonly object[]
  /** A tool message's call id; it becomes `toolCallId`. */
  tool_call_id?: string
  /** An assistant's refusal: its text when there is no content, else dropped. */
  refusal?: string | null
  /** Refused unless `null` (dropped then): agentctx holds no audio. */
  audio?: object | null
  /** The deprecated function call: refused unless `null` (dropped then). */
  function_call?: object | null
  /** Dropped. */
  annotations?: readonly object[]
}

/** A message of Anthropic's Messages API (`MessageParam`): text, image, `tool_use`, `tool_result` and thinking blocks. */
export interface AnthropicMessage {
  /** Anthropic has no system role in messages (the system prompt is a request field). */
  role: 'user' | 'assistant'
  /** A string or blocks: `text`, `image`, `tool_use`, `tool_result` become ours; thinking blocks are dropped. */
  content: string | readonly object[]
}

/** What `addCompletionMessage` and `setCompletionMessages` take: our shape, or either wire's. */
export type MessageInput = CompletionMessage | OpenAIChatMessage | AnthropicMessage

type Obj = Record<string, any>

const fail = (path: string, problem: string): never => {
  throw invalid(path, problem)
}
/** The non-empty string at `key` (dotted) of `o`, or a `ValidationError` at `at.key`. */
function str(o: Obj, key: string, at: string): string {
  const v = key.split('.').reduce((x, k) => x?.[k], o)
  return typeof v === 'string' && v ? v : fail(`${at}.${key}`, 'must be a non-empty string')
}

/**
 * A call's arguments text as the providers read a model's (`parseArgs`): `""` is `{}`, a JSON
 * object or array is parsed, anything else (a number, invalid JSON) stays the raw string. Parsed,
 * it goes through `toJson`: a `"__proto__"` key or nesting past 64 levels is refused here too.
 */
function args(text: unknown, at: string): Json {
  let v
  try {
    v = JSON.parse((text as string) || '{}')
  } catch {}
  return typeof text !== 'string' ? fail(at, 'must be a string of JSON') : v && typeof v === 'object' ? toJson(v, at) : text
}

/** One wire part or block as ours, checked; `undefined` for a thinking block (dropped). */
function part(b: Obj, at: string, role: string): ContentPart | undefined {
  const t = b?.type
  const s = b?.source
  // Anthropic's prompt-caching marker and a reply's citations: request and reply metadata, not content.
  delete b?.cache_control
  delete b?.citations
  if (t === 'thinking' || t === 'redacted_thinking') return
  const p =
    t === 'image_url'
      ? { type: 'image', url: str(b, 'image_url.url', at) }
      : t === 'refusal'
        ? { type: 'text', text: b.refusal }
        : t === 'image' && s
          ? s.type === 'base64'
            ? { type: 'image', data: str(b, 'source.data', at), mediaType: str(b, 'source.media_type', at) }
            : { type: 'image', url: str(b, 'source.url', at) }
          : b
  // A system message's content is a string: only text parts join into it.
  if (p?.type !== 'text' && (p?.type !== 'image' || role === 'system')) fail(at + '.type', `${JSON.stringify(t) ?? 'no type'} is not supported in ${role} messages`)
  return parseJson(ContentPartSchema, p, at)
}

/**
 * One message, given in our shape, OpenAI Chat Completions' or Anthropic Messages', as our
 * messages (several when an Anthropic user message holds tool results), each validated; or a
 * `ValidationError` whose path (after `root`, `message` or `messages[2]`) names the input's own
 * field (`messages[2].tool_calls[0].function.arguments`). What is the same in every shape (a role
 * with string content, text parts) passes as it is, so the shapes need no detection and an
 * already normalized message comes back equal. The rules:
 * - `developer` is `system`; a system message's text parts are joined into its string.
 * - OpenAI: an assistant's `tool_calls` become `toolCalls` (arguments parsed as the providers parse
 *   a model's), a tool message's `tool_call_id` its `toolCallId`, `image_url` parts image parts
 *   (`detail` dropped), an assistant's `refusal` parts text; an assistant's `null` or missing content is `""`, or
 *   its `refusal`; `refusal`, `annotations`, and `audio`, `function_call` and `tool_calls` when
 *   `null`, are dropped (not `null`, the first two are unknown keys).
 * - Anthropic: an assistant's `tool_use` blocks become its `toolCalls`; each `tool_result` block of
 *   a user message becomes a `tool` message in place (`Error: ` before its content when
 *   `is_error`), the blocks between them user messages; `image` sources become image parts;
 *   `thinking` and `redacted_thinking` blocks are dropped, `cache_control` and `citations` too.
 * - A wire key beside our spelling of it (`tool_calls` beside `toolCalls`) is refused as an unknown key.
 */
export function toCompletionMessages(input: unknown, root: string): CompletionMessage[] {
  const m = toJson(input, root) as Obj
  // Not an object: the schema says so. An array reads as an object without a role, and fails as one.
  if (!m || typeof m !== 'object') return [parseJson(CompletionMessageSchema, m, root)]
  const { role, content } = m
  const calls: Obj[] = []
  // Each message with the path its problems are reported under.
  const out: [Obj, string][] = []
  if (role === 'developer') m.role = 'system'
  if (role === 'assistant') {
    m.content ??= m.refusal ?? ''
    delete m.refusal
    delete m.annotations
    // Some compatible servers answer `tool_calls: null`.
    for (const k of ['audio', 'function_call', 'tool_calls']) if (m[k] === null) delete m[k]
    if (!m.toolCalls && m.tool_calls !== undefined) {
      if (!Array.isArray(m.tool_calls)) fail(root + '.tool_calls', 'must be an array')
      m.tool_calls.forEach((c: Obj, i: number) => {
        const at = `${root}.tool_calls[${i}]`
        // A call of another type (`custom`) has no function: its name is missing.
        calls.push({ id: str(c, 'id', at), name: str(c, 'function.name', at), arguments: args(c.function.arguments, at + '.function.arguments') })
      })
      delete m.tool_calls
    }
  }
  if (role === 'tool' && !m.toolCallId && m.tool_call_id !== undefined) {
    m.toolCallId = str(m, 'tool_call_id', root)
    delete m.tool_call_id
  }
  if (Array.isArray(content)) {
    let parts: ContentPart[] | undefined
    content.forEach((b: Obj, i: number) => {
      const at = `${root}.content[${i}]`
      const t = b?.type
      if (t === 'tool_use' && role === 'assistant') calls.push({ id: str(b, 'id', at), name: str(b, 'name', at), arguments: b.input ?? {} })
      else if (t === 'tool_result' && role === 'user') {
        let c = b.content ?? ''
        if (typeof c !== 'string')
          c = Array.isArray(c) ? c.flatMap((p: Obj, j: number) => part(p, `${at}.content[${j}]`, 'tool') ?? []) : fail(at + '.content', 'must be a string or an array of blocks')
        if (b.is_error) c = typeof c === 'string' ? 'Error: ' + c : [{ type: 'text', text: 'Error: ' }, ...c]
        out.push([{ role: 'tool', toolCallId: str(b, 'tool_use_id', at), content: c }, at])
        parts = undefined
      } else {
        if (!parts) out.push([{ ...m, content: (parts = []) }, root])
        const p = part(b, at, m.role)
        if (p) parts.push(p)
      }
    })
  }
  if (!out.length) out.push([Array.isArray(content) ? { ...m, content: [] } : m, root])
  // The calls go on the one assistant message, after any of ours.
  if (calls.length) out[0]![0].toolCalls = [...(m.toolCalls ?? []), ...calls]
  return out.map(([message, at]) => {
    if (message.role === 'system' && Array.isArray(message.content)) message.content = message.content.map((p: Obj) => p.text).join('')
    return parseJson(CompletionMessageSchema, message, at)
  })
}
