import type { EventJSON } from '../agent/events.js'
import type { Json, JsonObject } from '../state/json.js'

// The client's data types, apart from client.ts and view.ts so that neither imports the other's types.

/** An event to send: the agent's JSON form (`{ type: 'text', data: { text } }`, or an `AgentEvent`), or a text. */
export type EventInput = string | { type: string; data?: JsonObject; [key: string]: unknown }

/** A session's stored state as `GET /sessions/:id` answers it: the context's JSON with its most recent turns. */
export interface SessionState {
  /** The context's id. */
  id: string
  /** The session's id. */
  sessionId?: string
  /** The id of the latest turn. */
  currentTurnId?: number
  /** The session's custom data (`ctx.setData`). */
  data?: JsonObject
  /** The most recent turns, oldest first. */
  turns?: TurnJSON[]
  [key: string]: unknown
}

/** One turn of a session's history: the user's event (`request`) and what the agent answered (`response`). */
export interface TurnJSON {
  /** The turn's id: 0 for the session's start, then 1, 2, … */
  id: number
  /** The flow and the node the turn ended in, when the handler set them. */
  label?: { flow: string; node: string }
  /** The event the user sent. */
  request?: { type?: string; data?: JsonObject; text?: string; [key: string]: Json | undefined }
  /** What the agent answered: its events and text, whether it was interrupted, and its background tasks' events. */
  response?: { events?: EventJSON[]; text?: string; interrupted?: boolean; background?: EventJSON[]; [key: string]: unknown }
}
