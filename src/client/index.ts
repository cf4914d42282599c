/**
 * `agentctx/client`: the browser side of an agent's HTTP endpoint (`createAgent(...).fetch`). It
 * imports neither the core nor valibot: a page that only talks to an agent pays for this, the
 * errors and eventsource-parser.
 *
 * @module agentctx/client
 */
export { createAgentClient } from './client.js'
export type { AgentClient, AgentClientOptions, EventInput, HeadersLike, RequestOptions, SendRequestOptions, SessionState, TurnJSON } from './client.js'
export type { ChatMessage, SessionSnapshot, SessionStatus, SessionView } from './view.js'
export { toUIMessages } from './ui-messages.js'
export type { UIMessageLike, UIMessagePartLike } from './ui-messages.js'
export { AgentHttpError } from './errors.js'
export type { AgentHttpErrorInit } from './errors.js'
export { AbortedError } from '../abort.js'
export { ContextConflictError, ContextError, ValidationError } from '../errors.js'
export type { ContextErrorCode } from '../errors.js'
export type { EventJSON } from '../agent/events.js'
