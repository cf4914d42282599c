import type { EventJSON } from '../agent/events.js'
import type { Json, JsonObject } from '../state/json.js'

// The client's data types, apart from client.ts and view.ts so that neither imports the other's types.

/** An event to send: the agent's JSON form (`{ type: 'text', data: { text } }`, or an `AgentEvent`), or a text. */
export type EventInput = string | { type: string; data?: JsonObject; [key: string]: unknown }

/** A session's stored state as `GET /sessions/:id` answers it: the context's JSON with its most recent turns. */
export interface SessionState {
  id: string
  sessionId?: string
  currentTurnId?: number
  data?: JsonObject
  turns?: TurnJSON[]
  [key: string]: unknown
}

/** One turn of a session's history: the user's event (`request`) and what the agent answered (`response`). */
export interface TurnJSON {
  id: number
  label?: { flow: string; node: string }
  request?: { type?: string; data?: JsonObject; text?: string; [key: string]: Json | undefined }
  response?: { events?: EventJSON[]; text?: string; interrupted?: boolean; background?: EventJSON[]; [key: string]: unknown }
}
