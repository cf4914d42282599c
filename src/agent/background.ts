import { internals, type Context } from '../context.js'
import type { Json, JsonObject } from '../state/json.js'
import type { AgentEvent } from './events.js'

/**
 * Background events kept with their turn: a task started during turn N has the events it yields
 * stored in turn N's response, as `response.background` (event JSONs, tagged `background: { task }`,
 * in arrival order), whichever turn is current when they arrive. The response is a free-form JSON
 * record, so the turn schema is unchanged: states stored before keep loading, and older builds load
 * these. The agent's own record of the turn (`events`, `text`) never includes them.
 *
 * Bounds, per turn: 100 events and 32,768 characters of their JSON. A turn record is one stored
 * value, and the current turn sits in the session's header: Durable Objects' key-value storage
 * takes 128 KiB a value, Workers KV 25 MiB, D1 2 MB a row; 32 KiB of background leaves the header
 * room for the rest of the context. A demo event is ~150 characters, so the bound is ~200 of those;
 * a progress ticker yielding 10,000 events keeps its first 100 and a count of the rest
 * (`response.backgroundDropped`); once a bound is reached, later events of that turn are only
 * counted. Every event still reaches the stream live.
 */
export const MAX_BACKGROUND_EVENTS = 100
/** Characters of JSON of the background events kept per turn (see `MAX_BACKGROUND_EVENTS`). */
export const MAX_BACKGROUND_CHARS = 32_768

/**
 * Adds `event` to turn `turnId`'s `response.background`. Returns `'kept'`, `'dropped'` (over a
 * bound: only `backgroundDropped` counts it) or `'absent'` (that turn is not in memory: not stored).
 */
export function keepBackground(ctx: Context, turnId: number, event: AgentEvent): 'kept' | 'dropped' | 'absent' {
  const turns = internals(ctx).turns
  const record = turns.record(turnId)
  if (!record && turnId !== turns.currentTurnId) return 'absent'
  const response: JsonObject = { ...record?.response }
  const list = Array.isArray(response.background) ? response.background : []
  const json = event.toJSON() as unknown as Json
  // Once a turn's background is full, later events are only counted: measuring the list again for
  // each of 10,000 events would cost 10,000 × 32 KiB of JSON.stringify.
  const kept =
    response.backgroundDropped === undefined &&
    list.length < MAX_BACKGROUND_EVENTS &&
    JSON.stringify(list).length + JSON.stringify(json).length <= MAX_BACKGROUND_CHARS
  if (kept) response.background = [...list, json]
  else response.backgroundDropped = (typeof response.backgroundDropped === 'number' ? response.backgroundDropped : 0) + 1
  turns.setAt(turnId, 'response', response)
  return kept ? 'kept' : 'dropped'
}

/** The turn's own response, with the background events already kept for it carried over. */
export function withBackground(ctx: Context, response: JsonObject): JsonObject {
  const prior = ctx.responses.get(ctx.currentTurnId)
  if (prior?.background !== undefined) response.background = prior.background
  if (prior?.backgroundDropped !== undefined) response.backgroundDropped = prior.backgroundDropped
  return response
}
