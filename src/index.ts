/**
 * The core entry: the facade (`Context`), the factories and the pieces usable on their own
 * (`Executor`, `Router`, `Pruner`, `TaskManager`, `createContextStore`, `memoryStorage`), the
 * errors and the public types. Internals (key codecs, batch helpers, prompt renderers) are not
 * exported: DESIGN.md § Public surface. test/package/package.node.test.ts holds the list.
 *
 * @module agentctx
 */
export { Context } from './context.js'
export type { ContextConfig, ContextRuntime, FrameworkData } from './context.js'
export { ContextConflictError, ContextError, ConstraintError, StorageError, ValidationError } from './errors.js'
export type { ContextErrorCode } from './errors.js'
export type { CacheableEntity, CacheEntry, CacheSetOptions, EntityType } from './state/cache.js'
export type { Json, JsonObject, Widen } from './state/json.js'
export type { CompletionMessage, ContentPart, ToolCall } from './state/messages.js'
export type { AnthropicMessage, MessageInput, OpenAIChatMessage } from './state/wire.js'
export { FORMAT_VERSION } from './state/schema.js'
export type { ContextState, ParseLimits, RoutingState } from './state/schema.js'
export { getLastIndex, TurnMap } from './state/turns.js'
export type { NodeLabel, TurnMessage, TurnRecord } from './state/turns.js'
export { Testing } from './experiments/session/testing.js'
export type { TestingState } from './experiments/session/testing.js'
export type { OutcomeDefinition, OutcomeRecord, OutcomeType, OutcomeValue } from './experiments/session/outcomes.js'
export type { StopConditions, TestDefinition, TestOptions, TestRecord } from './experiments/session/tests.js'
export type { Exposure } from './experiments/session/testing.js'
export type { ChatRequest, ChatResponse, Constraints, ContextInput, FinishReason, ModelContext, Output, Provider, Routing, TokenCounter, ToolDefinition, Usage } from './llm/types.js'

// LLM: tokens, pruning, routing, execution
export { estimateTokens, countInputTokens } from './llm/tokens.js'
export { Pruner } from './llm/pruner.js'
export { builtinModels, PRICES_READ_ON } from './llm/models.js'
export type { ModelSpec } from './llm/models.js'
export { estimateCost, Router, STRATEGIES } from './llm/router.js'
export type { RouteNeeds, Strategy } from './llm/router.js'
export { Executor, OutputError } from './llm/executor.js'
export type { ChatOptions, ChatResult, ExecutionRequest, ExecutionResponse, ExecutorOptions } from './llm/executor.js'
export { getDefaultExecutor, setDefaultExecutor } from './llm/default.js'
export type { ExecutorLike } from './llm/default.js'
export type { ExecutorHooks, HookCall, ModelErrorEvent, ModelFinishEvent, ModelRequestEvent } from './llm/hooks.js'
export type { UsageTotals } from './llm/usage.js'
export type { ChatStream, StepResult, StreamPart, ToolResult, ToResponseOptions } from './llm/stream.js'
export { tool } from './llm/tools.js'
export type { Tool, ToolArgs, ToolExecuteOptions, Tools } from './llm/tools.js'
export type { ObjectRequest, ObjectResult, ObjectStream } from './llm/object.js'
export type { DeepPartial } from './llm/partial.js'
export type { InferSchemaOutput, Schema, SchemaIssue, StandardResult, StandardSchema } from './llm/schema.js'
export { AbortedError } from './abort.js'
export type { AbortReason } from './abort.js'
export { isContextWindowError, ProviderError } from './providers/kernel/errors.js'
export type { ProviderErrorInit } from './providers/kernel/errors.js'

// Persistence
export type { ListOptions, ListPage, StorageAdapter, StorageCapabilities } from './storage/adapter.js'
export { memoryStorage } from './storage/memory.js'
export { createContextStore } from './storage/store.js'
export type { ContextChange, ContextStore, ContextStoreOptions } from './storage/store.js'

// Background tasks
export { TaskManager } from './tasks/tasks.js'
export type { TaskHandler, TaskInfo, TaskManagerOptions, TaskOptions, TaskSource, TaskStatus } from './tasks/tasks.js'
