import { data, expectHeader, loopback, unknownKeys, type Loopback, type Seen } from './loopback.js'

/**
 * A fake Anthropic Messages API (https://docs.anthropic.com/en/api/messages): checks what the
 * reference requires of `POST /v1/messages` and answers in its JSON and streaming formats.
 */

const BODY_FIELDS = ['model', 'max_tokens', 'system', 'messages', 'tools', 'tool_choice', 'temperature', 'stream']

/** What is wrong with a request by the Messages API reference. */
export function checkAnthropic(seen: Seen): string[] {
  const p: string[] = []
  const b = seen.body
  if (seen.method !== 'POST') p.push(`method ${seen.method}`)
  if (seen.path !== '/v1/messages') p.push(`path ${seen.path}`)
  p.push(...expectHeader(seen, 'content-type', (v) => !!v?.startsWith('application/json'), 'application/json'))
  p.push(...expectHeader(seen, 'anthropic-version', (v) => v === '2023-06-01', '2023-06-01'))
  p.push(...expectHeader(seen, 'x-api-key', (v) => !!v, 'the API key'))
  if (seen.headers.authorization !== undefined) p.push('authorization header sent (Anthropic takes x-api-key)')
  if (typeof b !== 'object' || b === null) return [...p, 'body is not a JSON object']
  p.push(...unknownKeys(b, BODY_FIELDS, 'body'))
  if (typeof b.model !== 'string' || !b.model) p.push('model missing')
  if (!Number.isInteger(b.max_tokens) || b.max_tokens < 1) p.push('max_tokens must be a positive integer')
  if (b.system !== undefined && typeof b.system !== 'string') p.push('system must be a string')
  if (!Array.isArray(b.messages) || b.messages.length === 0) return [...p, 'messages must be a non-empty array']
  if (b.messages[0].role !== 'user') p.push('the first message must be a user message')
  let toolUses = new Set<string>()
  b.messages.forEach((m: any, i: number) => {
    const at = `messages[${i}]`
    p.push(...unknownKeys(m, ['role', 'content'], at))
    if (m.role !== 'user' && m.role !== 'assistant') return p.push(`${at}.role ${m.role} (only user and assistant)`)
    if (typeof m.content === 'string') {
      if (m.role === 'user' && !m.content) p.push(`${at}: empty content`)
      return
    }
    if (!Array.isArray(m.content) || m.content.length === 0) return p.push(`${at}.content must be a string or a non-empty array`)
    let seenOther = false
    const answered = new Set<string>()
    m.content.forEach((c: any, j: number) => {
      const where = `${at}.content[${j}]`
      switch (c.type) {
        case 'text':
          if (typeof c.text !== 'string' || !c.text) p.push(`${where}: text blocks must be non-empty`)
          seenOther = true
          break
        case 'image':
          if (m.role !== 'user') p.push(`${where}: image outside a user message`)
          if (!(c.source?.type === 'base64' && c.source.media_type && c.source.data) && !(c.source?.type === 'url' && c.source.url))
            p.push(`${where}: bad image source`)
          seenOther = true
          break
        case 'tool_use':
          if (m.role !== 'assistant') p.push(`${where}: tool_use outside an assistant message`)
          if (typeof c.id !== 'string' || typeof c.name !== 'string' || typeof c.input !== 'object' || Array.isArray(c.input)) p.push(`${where}: bad tool_use`)
          toolUses.add(c.id)
          break
        case 'tool_result':
          if (m.role !== 'user') p.push(`${where}: tool_result outside a user message`)
          // The docs: tool_result blocks come first in the user message, each answering a tool_use of the previous assistant turn.
          if (seenOther) p.push(`${where}: tool_result after other content`)
          if (!toolUses.has(c.tool_use_id)) p.push(`${where}: tool_use_id answers no tool_use of the previous message`)
          answered.add(c.tool_use_id)
          break
        default:
          p.push(`${where}: unknown block type ${c.type}`)
      }
    })
    if (m.role === 'user') {
      // Every tool_use of the previous assistant message must be answered in this very message.
      for (const id of toolUses) if (!answered.has(id)) p.push(`${at}: tool_use ${id} not answered`)
      toolUses = new Set()
    }
  })
  for (const t of b.tools ?? []) {
    if (typeof t.name !== 'string' || typeof t.input_schema !== 'object' || t.input_schema?.type !== 'object') p.push('tools: each needs name and an object input_schema')
    p.push(...unknownKeys(t, ['name', 'description', 'input_schema'], 'tools[]'))
  }
  const tc = b.tool_choice
  if (tc !== undefined && !['auto', 'any', 'none'].includes(tc.type) && !(tc.type === 'tool' && typeof tc.name === 'string')) p.push('tool_choice invalid')
  if (b.stream !== undefined && typeof b.stream !== 'boolean') p.push('stream must be a boolean')
  return p
}

/** Starts a fake Messages API server; its base URL for `anthropic()` is `url`. */
export const anthropicServer = (): Promise<Loopback> => loopback(checkAnthropic)

export interface ToolUseSpec {
  id: string
  name: string
  input: object
}

/** A whole `message` object. */
export function message(o: { text?: string; toolUses?: ToolUseSpec[]; stop?: string; usage?: [number, number]; model?: string }) {
  const [input, output] = o.usage ?? [13, 9]
  return {
    id: 'msg_test',
    type: 'message',
    role: 'assistant',
    model: o.model ?? 'claude-test-20250101',
    content: [
      ...(o.text !== undefined ? [{ type: 'text', text: o.text }] : []),
      ...(o.toolUses ?? []).map((t) => ({ type: 'tool_use', id: t.id, name: t.name, input: t.input })),
    ],
    stop_reason: o.stop ?? (o.toolUses ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: { input_tokens: input, output_tokens: output },
  }
}

const start = (input: number) =>
  data(
    {
      type: 'message_start',
      message: {
        id: 'msg_test', type: 'message', role: 'assistant', content: [], model: 'claude-test-20250101',
        stop_reason: null, stop_sequence: null, usage: { input_tokens: input, output_tokens: 1 },
      },
    },
    'message_start',
  )

/**
 * The SSE frames of a streamed message as documented: message_start, a text block (start, ping,
 * text_delta per delta, stop), tool_use blocks with input_json_delta in three fragments,
 * message_delta (stop_reason, output_tokens) and message_stop.
 */
export function messageEvents(deltas: string[], o: { toolUses?: ToolUseSpec[]; stop?: string; usage?: [number, number] } = {}): string[] {
  const [input, output] = o.usage ?? [13, 9]
  const frames = [start(input)]
  let index = 0
  if (deltas.length) {
    frames.push(data({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }, 'content_block_start'))
    frames.push(data({ type: 'ping' }, 'ping'))
    for (const text of deltas) frames.push(data({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }, 'content_block_delta'))
    frames.push(data({ type: 'content_block_stop', index }, 'content_block_stop'))
    index++
  }
  for (const t of o.toolUses ?? []) {
    frames.push(data({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} } }, 'content_block_start'))
    const a = JSON.stringify(t.input)
    const cut = [0, Math.floor(a.length / 3), Math.floor((2 * a.length) / 3), a.length]
    for (let i = 0; i < 3; i++)
      frames.push(data({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: a.slice(cut[i], cut[i + 1]) } }, 'content_block_delta'))
    frames.push(data({ type: 'content_block_stop', index }, 'content_block_stop'))
    index++
  }
  const stop = o.stop ?? (o.toolUses ? 'tool_use' : 'end_turn')
  frames.push(data({ type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: output } }, 'message_delta'))
  frames.push(data({ type: 'message_stop' }, 'message_stop'))
  return frames
}

/** The frames of a stream that breaks off after some text deltas. */
export function partialEvents(deltas: string[], input = 13): string[] {
  return [
    start(input),
    data({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
    ...deltas.map((text) => data({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta')),
  ]
}

/** An API error body: `{ type: 'error', error: { type, message } }`. */
export const anthropicError = (type: string, message: string) => ({ type: 'error', error: { type, message } })
