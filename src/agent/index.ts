/**
 * The agent runtime: `createAgent` wraps a handler in an HTTP endpoint (SSE, sessions, background tasks) and defines the events it streams.
 *
 * @module agentctx/agent
 */
export { createAgent } from './agent.js'
export type { Agent, AgentExperiments, AgentHandler, AgentOptions, HandlerOutput, SendOptions, TurnInfo } from './agent.js'
export { AgentEvent, defineEvent, ErrorEvent, eventFromJSON, StartEvent, StopEvent, TextEvent, TextToSpeechEvent } from './events.js'
export type { BackgroundTag, EventClass, EventJSON, EventMeta } from './events.js'
export type { CorsOptions } from './cors.js'
export type { Authorize, ExecutionContextLike } from './http.js'
