import type { EventJSON } from '../agent/events.js'
import type { SessionState } from './types.js'

/** One part of a `UIMessage` of the AI SDK (`ai` 5 and 6), as `toUIMessages` makes them. */
export type UIMessagePartLike =
  | {
      /** A text part: the user's text, or the agent's reply text. */
      type: 'text'
      /** The text: the user's, or the agent's events' `data.text` joined by a space. */
      text: string
    }
  | {
      /** A data part: `data-<event type>`, or `data-background` for a background task's event. */
      type: `data-${string}`
      /** The agent's event, whole, as it was stored. */
      data: EventJSON
    }

/** The AI SDK's `UIMessage` shape (`{ id, role, parts }`), without depending on the `ai` package. */
export interface UIMessageLike {
  /** `t<turn>-user` or `t<turn>-assistant`: stable across reloads, so `useChat` keeps its keys. */
  id: string
  /** Who spoke: the user's request or the agent's reply. */
  role: 'user' | 'assistant'
  /** The message's text part first (when it has text), then its data parts in the order of the events. */
  parts: UIMessagePartLike[]
}

/**
 * A session's history (`client.history(id)`) as the AI SDK's UI messages, for `useChat({ id,
 * messages })` after a reload: each turn's user text, and the agent's reply as the AI SDK route
 * streams it (`protocol: 'ai-sdk'`): its text in one text part (events with `data.text` joined by a
 * space), background events as `data-background` parts, other events as `data-<type>` parts
 * (`text_delta` events left out: the whole text is there). Ids read `t<turn>-user` / `t<turn>-assistant`.
 */
export function toUIMessages(state: SessionState | undefined): UIMessageLike[] {
  const out: UIMessageLike[] = []
  const turns = [...(state?.turns ?? [])].sort((a, b) => a.id - b.id)
  for (const { id, request, response } of turns) {
    const asked = request?.text ?? request?.data?.text
    if (typeof asked === 'string') out.push({ id: `t${id}-user`, role: 'user', parts: [{ type: 'text', text: asked }] })
    if (!response) continue
    const parts: UIMessagePartLike[] = []
    const said: string[] = []
    for (const event of [...(response.events ?? []), ...(Array.isArray(response.background) ? response.background : [])]) {
      if (event.background) parts.push({ type: 'data-background', data: event })
      else if (typeof event.data.text === 'string' && event.data.text) said.push(event.data.text)
      else if (event.type !== 'text_delta' && event.type !== 'error') parts.push({ type: `data-${event.type}`, data: event })
    }
    if (said.length) parts.unshift({ type: 'text', text: said.join(' ') })
    if (parts.length) out.push({ id: `t${id}-assistant`, role: 'assistant', parts })
  }
  return out
}
