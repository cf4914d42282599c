import type { EventJSON } from '../agent/events.js'
import type { Json, JsonObject } from '../state/json.js'

// The client's data types, apart from client.ts and view.ts so that neither imports the other's types.

/** An event to send: the agent's JSON form (`{ type: 'text', data: { text } }`, or an `AgentEvent`), or a text. */
export type EventInput =
  | string
  | {
      /** The event's type, as the agent's handler tests it: `'text'`, or an `AgentEvent`'s own type. */
      type: string
      /** The event's payload (`{ text }` for a text); absent for an event that carries none. */
      data?: JsonObject
      [key: string]: unknown
    }

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
  label?: {
    /** The dialog flow: the agent's `startLabel.flow` (`'agent'` by default) unless the handler labelled the turn. */
    flow: string
    /** The node within the flow: the event's type unless the handler labelled the turn (`ctx.addLabel`). */
    node: string
  }
  /** The event the user sent. */
  request?: {
    /** The event's type (`'text'` for a message); absent in a request stored by other code than the agent. */
    type?: string
    /** The event's payload (`{ text }` for a text message). */
    data?: JsonObject
    /** The event's `data.text` copied here when it has one, so a history reads without knowing event types. */
    text?: string
    [key: string]: Json | undefined
  }
  /** What the agent answered: its events and text, whether it was interrupted, and its background tasks' events. */
  response?: {
    /** Every output event of the turn, in order (an `error` event when the handler failed). */
    events?: EventJSON[]
    /** The reply's text: the events' `data.text` joined by a space; absent when no event had a text. */
    text?: string
    /** `true` when the reply was cut off (`stop()`, or a new message sent over it); absent otherwise. */
    interrupted?: boolean
    /** Events of background tasks the turn started (tagged `background: { task }`), kept with the turn; absent when none. */
    background?: EventJSON[]
    [key: string]: unknown
  }
}
