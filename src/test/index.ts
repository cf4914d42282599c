export { mockProvider } from './mock-provider.js'
export type { MockCall, MockProvider, MockProviderOptions } from './mock-provider.js'
export type { MockFault, MockFaultKind } from './faults.js'
export type { MockMessage, MockReply, MockReplyFunction, MockToolCall } from './script.js'
