import type { Context } from '../context.js'
import type { ChatOptions, ChatResult, ExecutionRequest, ExecutionResponse } from './executor.js'

/** What a context needs of an executor: the `Executor` class, or anything with the same two methods. */
export interface ExecutorLike {
  execute(ctx: Context, request: ExecutionRequest): Promise<ExecutionResponse>
  chat(ctx: Context, options?: ChatOptions): Promise<ChatResult>
}

let current: ExecutorLike | undefined

/**
 * Sets the executor every context uses when its runtime names none (once, at start-up):
 * `setDefaultExecutor(new Executor({ providers: [openai()] }))`. `undefined` clears it.
 */
export function setDefaultExecutor(executor: ExecutorLike | undefined): void {
  current = executor
}

/** The executor set by `setDefaultExecutor`, if any. */
export function getDefaultExecutor(): ExecutorLike | undefined {
  return current
}
