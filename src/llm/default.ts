import { invalid } from '../errors.js'
import type { ChatOptions, ChatResult, ExecutionRequest, ExecutionResponse } from './executor.js'
import type { ModelSpec } from './models.js'
import type { Router } from './router.js'
import type { ModelContext } from './types.js'
import type { ChatStream } from './stream.js'
import type { ObjectRequest, ObjectResult, ObjectStream } from './object.js'
import type { InferSchemaOutput } from './schema.js'

/**
 * What a context needs of an executor: the `Executor` class, or anything with the same two methods.
 * Both take the plain `ModelContext` the context builds for the call, never the `Context` itself.
 */
export interface ExecutorLike {
  /** What `ctx.execute` calls: runs a task over the context's inputs. */
  execute(context: ModelContext, request: ExecutionRequest): Promise<ExecutionResponse>
  /** What `ctx.generateChatCompletion` calls: one reply to the context's history, with tools. */
  chat(context: ModelContext, options?: ChatOptions): Promise<ChatResult>
  /** What `ctx.streamChatCompletion` and `ctx.streamExecute` call; optional for an executor of one's own. */
  streamChat?(context: ModelContext, options?: ChatOptions): ChatStream<ChatResult>
  /** What `ctx.streamExecute` calls; optional for an executor of one's own. */
  streamExecute?(context: ModelContext, request: ExecutionRequest): ChatStream<ExecutionResponse>
  /** What `ctx.generateObject` and `ctx.streamObject` call; optional for an executor of one's own. */
  object?<S>(context: ModelContext, request: ObjectRequest<S>): Promise<ObjectResult<InferSchemaOutput<S>>>
  /** What `ctx.streamObject` calls; optional for an executor of one's own. */
  streamObject?<S>(context: ModelContext, request: ObjectRequest<S>): ObjectStream<InferSchemaOutput<S>>
  /** The models of `router` it can call: when present, `ctx.route({ strategy })` picks among them only. */
  models?(router?: Router): ModelSpec[]
  /** Its model registry: what `ctx.route()` uses when the runtime gives no `router`. */
  router?: Router
}

let current: ExecutorLike | undefined

/**
 * Sets the executor every context uses when its runtime (given to `new Context` or
 * `Context.fromJSON`) names none; set it once, at start-up:
 * `setDefaultExecutor(new Executor({ providers: [openai()] }))`. `undefined` clears it.
 */
export function setDefaultExecutor(executor: ExecutorLike | undefined): void {
  current = checkExecutor(executor)
}

/** The executor set by `setDefaultExecutor`, if any. */
export function getDefaultExecutor(): ExecutorLike | undefined {
  return current
}

/** `executor` if it is undefined or has `execute` and `chat`: a provider (`openai()`) passed by mistake says so at once. */
export function checkExecutor<T extends ExecutorLike | undefined>(executor: T, path = 'executor'): T {
  if (executor !== undefined && (typeof executor?.execute !== 'function' || typeof executor.chat !== 'function')) {
    throw invalid(path, 'must be an Executor, not a provider')
  }
  return executor
}
