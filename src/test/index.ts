/**
 * `mockProvider`, a scripted provider for users' own tests: replies, tool calls, faults and the calls it received.
 *
 * @module agentctx/test
 */
export { mockProvider } from './mock-provider.js'
export type { MockCall, MockProvider, MockProviderOptions } from './mock-provider.js'
export type { MockFault, MockFaultKind } from './faults.js'
export type { MockMessage, MockReply, MockReplyFunction, MockToolCall } from './script.js'
