import { data, expectHeader, loopback, unknownKeys, type Loopback, type Seen } from './loopback.js'

/**
 * A fake Chat Completions server (https://platform.openai.com/docs/api-reference/chat). It checks
 * what the API reference requires of `POST /v1/chat/completions` and answers in its formats.
 */

const BODY_FIELDS = [
  'model', 'messages', 'tools', 'tool_choice', 'temperature', 'max_completion_tokens', 'max_tokens',
  'response_format', 'stream', 'stream_options',
]

/** What is wrong with a request by the Chat Completions reference. */
export function checkOpenAI(seen: Seen): string[] {
  const p: string[] = []
  const b = seen.body
  if (seen.method !== 'POST') p.push(`method ${seen.method}`)
  if (seen.path !== '/v1/chat/completions') p.push(`path ${seen.path}`)
  p.push(...expectHeader(seen, 'content-type', (v) => !!v?.startsWith('application/json'), 'application/json'))
  if (seen.headers.authorization !== undefined)
    p.push(...expectHeader(seen, 'authorization', (v) => /^Bearer \S+$/.test(v ?? ''), 'Bearer <key>'))
  if (typeof b !== 'object' || b === null) return [...p, 'body is not a JSON object']
  p.push(...unknownKeys(b, BODY_FIELDS, 'body'))
  if (typeof b.model !== 'string' || !b.model) p.push('model missing')
  if (!Array.isArray(b.messages) || b.messages.length === 0) return [...p, 'messages must be a non-empty array']
  const callIds = new Set<string>()
  b.messages.forEach((m: any, i: number) => {
    const at = `messages[${i}]`
    switch (m.role) {
      case 'system':
        if (typeof m.content !== 'string') p.push(`${at}.content must be a string`)
        p.push(...unknownKeys(m, ['role', 'content', 'name'], at))
        break
      case 'user':
        if (Array.isArray(m.content)) {
          m.content.forEach((c: any, j: number) => {
            if (c.type === 'text' && typeof c.text === 'string') return
            if (c.type === 'image_url' && typeof c.image_url?.url === 'string') return
            p.push(`${at}.content[${j}] is not a text or image_url part`)
          })
        } else if (typeof m.content !== 'string') p.push(`${at}.content must be a string or parts`)
        p.push(...unknownKeys(m, ['role', 'content', 'name'], at))
        break
      case 'assistant':
        if (m.content !== null && typeof m.content !== 'string') p.push(`${at}.content must be a string or null`)
        if (m.content === null && !m.tool_calls) p.push(`${at}: content null without tool_calls`)
        for (const c of m.tool_calls ?? []) {
          if (typeof c.id !== 'string' || c.type !== 'function' || typeof c.function?.name !== 'string') p.push(`${at}.tool_calls: bad call`)
          if (typeof c.function?.arguments !== 'string') p.push(`${at}.tool_calls: arguments must be a JSON string`)
          callIds.add(c.id)
        }
        p.push(...unknownKeys(m, ['role', 'content', 'name', 'tool_calls'], at))
        break
      case 'tool':
        if (!callIds.has(m.tool_call_id)) p.push(`${at}.tool_call_id does not answer a preceding tool call`)
        if (typeof m.content !== 'string') p.push(`${at}.content must be a string`)
        p.push(...unknownKeys(m, ['role', 'content', 'tool_call_id'], at))
        break
      default:
        p.push(`${at}.role ${m.role}`)
    }
  })
  for (const t of b.tools ?? []) {
    if (t.type !== 'function' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.function?.name ?? '')) p.push('tools: bad tool')
    if (t.function?.parameters !== undefined && typeof t.function.parameters !== 'object') p.push('tools: parameters must be an object')
  }
  const tc = b.tool_choice
  if (tc !== undefined && !['none', 'auto', 'required'].includes(tc) && !(tc?.type === 'function' && typeof tc.function?.name === 'string'))
    p.push('tool_choice invalid')
  if (b.stream !== undefined && b.stream !== true) p.push('stream must be true when present')
  if (b.stream_options !== undefined && !b.stream) p.push('stream_options without stream')
  const rf = b.response_format
  if (rf !== undefined) {
    if (!['text', 'json_object', 'json_schema'].includes(rf.type)) p.push('response_format.type invalid')
    if (rf.type === 'json_schema' && (typeof rf.json_schema?.name !== 'string' || typeof rf.json_schema?.schema !== 'object'))
      p.push('response_format.json_schema needs name and schema')
    if (rf.type === 'json_schema' && !/^[a-zA-Z0-9_-]{1,64}$/.test(rf.json_schema?.name ?? '')) p.push('response_format.json_schema.name must match ^[a-zA-Z0-9_-]{1,64}$')
    // The API's own 400: "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."
    if (rf.type === 'json_object' && !b.messages.some((m: any) => /json/i.test(JSON.stringify(m.content ?? ''))))
      p.push("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'")
  }
  for (const f of ['max_completion_tokens', 'max_tokens'])
    if (b[f] !== undefined && !Number.isInteger(b[f])) p.push(`${f} must be an integer`)
  return p
}

/** Starts a fake Chat Completions server; its base URL for `openai()` is `url + '/v1'`. */
export const openaiServer = (): Promise<Loopback> => loopback(checkOpenAI)

export interface ToolCallSpec {
  id: string
  name: string
  arguments: string
}

/** A whole `chat.completion` object. */
export function completion(o: { content?: string | null; toolCalls?: ToolCallSpec[]; finish?: string; usage?: [number, number]; model?: string }) {
  const [input, output] = o.usage ?? [11, 7]
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: o.model ?? 'gpt-test-2025-01-01',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: o.content ?? null,
          refusal: null,
          ...(o.toolCalls && { tool_calls: o.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }),
        },
        logprobs: null,
        finish_reason: o.finish ?? (o.toolCalls ? 'tool_calls' : 'stop'),
      },
    ],
    usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
  }
}

const chunk = (delta: object, finish: string | null = null) => ({
  id: 'chatcmpl-test',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'gpt-test-2025-01-01',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
})

/**
 * The SSE frames of a streamed completion as the API sends them: a role chunk, one chunk per text
 * delta, tool calls by index (id and name first, arguments in three fragments), a finish chunk, the
 * usage chunk (`choices: []`, from `stream_options.include_usage`) and `[DONE]`.
 */
export function completionChunks(
  deltas: string[],
  o: { toolCalls?: ToolCallSpec[]; finish?: string; usage?: [number, number] | null; done?: boolean } = {},
): string[] {
  const frames = [data(chunk({ role: 'assistant', content: '' }))]
  for (const d of deltas) frames.push(data(chunk({ content: d })))
  o.toolCalls?.forEach((c, index) => {
    frames.push(data(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] })))
    const a = c.arguments
    const cut = [0, Math.floor(a.length / 3), Math.floor((2 * a.length) / 3), a.length]
    for (let i = 0; i < 3; i++) frames.push(data(chunk({ tool_calls: [{ index, function: { arguments: a.slice(cut[i], cut[i + 1]) } }] })))
  })
  frames.push(data(chunk({}, o.finish ?? (o.toolCalls ? 'tool_calls' : 'stop'))))
  if (o.usage !== null) {
    const [input, output] = o.usage ?? [11, 7]
    frames.push(data({ ...chunk({}), choices: [], usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } }))
  }
  if (o.done !== false) frames.push('data: [DONE]\n\n')
  return frames
}

/** The frames of a stream that breaks off after `deltas` (no finish, no `[DONE]`). */
export const partialChunks = (deltas: string[]): string[] => [data(chunk({ role: 'assistant', content: '' })), ...deltas.map((d) => data(chunk({ content: d })))]

/** An API error body: `{ error: { message, type, param, code } }`. */
export const openaiError = (message: string, type: string, code: string | null = null) => ({ error: { message, type, param: null, code } })
