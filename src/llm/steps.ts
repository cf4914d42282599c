import { AbortedError, abortReason } from '../abort.js'
import { ConstraintError, invalid } from '../errors.js'
import type { CompletionMessage } from '../state/messages.js'
import type { StepResult, StreamSink, ToolResult } from './stream.js'
import { runnable, runTool, toolMessage, type ToolSet } from './tools.js'
import type { ChatRequest, ChatResponse, ModelContext, Usage } from './types.js'

/** What one provider call of the loop returns (the executor's `#call`). */
export interface StepCall {
  response: ChatResponse
  model: string
  cost: number | undefined
  omitted: number
}

/** How a step calls the provider: over `messages`, with the step's constraints in `context`. */
export type CallStep = (
  step: number,
  messages: CompletionMessage[],
  context: ModelContext,
  call: { signal: AbortSignal | undefined; onToken: ((delta: string) => void) | undefined; onChunk: ChatRequest['onChunk'] },
) => Promise<StepCall>

/** The loop's options, as `ChatOptions` and `ExecutionRequest` give them. */
export interface StepOptions {
  tools?: ToolSet
  /** Provider calls at most, default 1 (the tool calls are returned, not run). */
  maxSteps?: number
  onStepFinish?: (step: StepResult) => unknown
  signal?: AbortSignal
  onToken?: (delta: string) => void
}

/** The loop's outcome: the last call, the steps, the totals, the conversation as it grew. */
export interface StepsResult {
  last: StepCall
  steps: StepResult[]
  usage: Usage
  cost: number | undefined
}

/** Checks `maxSteps`: a whole number from 1 to 100 (a loop that needs more is a bug or a runaway bill). */
export function checkMaxSteps(maxSteps: unknown): number {
  if (maxSteps === undefined) return 1
  if (!Number.isInteger(maxSteps) || (maxSteps as number) < 1 || (maxSteps as number) > 100) throw invalid('maxSteps', 'must be a whole number from 1 to 100')
  return maxSteps as number
}

const sum = (a: Usage, b: Usage): Usage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  ...((a.estimated || b.estimated) && { estimated: true }),
})
const addCost = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : a + b)

/**
 * The step loop: call the model over `messages`; when it asks for tools that all have `execute` (or
 * names no tool: an error result) and steps remain, run the calls concurrently, append the
 * assistant message and the results, and call again. Each message added goes to
 * `context.onMessage` as its step ends. `constraints.maxTime` bounds the whole loop (tools
 * included); `constraints.maxCost` is checked before each step against what the steps so far cost.
 * An abort stops at once: running tools see their signal abort, and the error's `partial` carries
 * the usage of every step so far.
 */
export async function runSteps(messages: CompletionMessage[], context: ModelContext, options: StepOptions, callStep: CallStep, sink?: StreamSink): Promise<StepsResult> {
  const maxSteps = checkMaxSteps(options.maxSteps)
  const { onStepFinish, onToken, tools } = options
  if (onStepFinish !== undefined && typeof onStepFinish !== 'function') throw invalid('onStepFinish', 'must be a function')
  if (onToken !== undefined && typeof onToken !== 'function') throw invalid('onToken', 'must be a function')
  const { maxTime, maxCost } = context.constraints ?? {}
  // One provider call keeps the executor's own per-call timer (its error says so); a loop gets one deadline over all its steps.
  const timer = maxSteps > 1 && maxTime !== undefined ? AbortSignal.timeout(Math.min(Math.ceil(maxTime * 1000), 2 ** 31 - 1)) : undefined
  const signals = [options.signal, sink?.signal, timer].filter((s): s is AbortSignal => !!s)
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0]
  const started = Date.now()
  const steps: StepResult[] = []
  let usage: Usage = { inputTokens: 0, outputTokens: 0 }
  let cost: number | undefined
  const add = (m: CompletionMessage) => (messages.push(m), context.onMessage?.(m))
  // An abort's error, carrying the usage of every step so far in its partial.
  const stopped = (e: unknown, partial?: ChatResponse): unknown => {
    if (timer?.aborted && !options.signal?.aborted && !sink?.signal.aborted) {
      e = new AbortedError(`constraints.maxTime: the tool loop did not finish within ${maxTime} s (${steps.length} steps)`, {
        reason: 'timeout',
        signalReason: timer.reason,
        partial: (e as { partial?: ChatResponse }).partial ?? partial,
        path: 'constraints.maxTime',
        cause: e,
      })
    } else if (!(e instanceof AbortedError) && signal?.aborted) {
      e = new AbortedError('the tool loop was aborted', { signalReason: signal.reason, reason: abortReason(signal.reason), partial, cause: e })
    }
    const p = (e as { partial?: ChatResponse }).partial
    if (steps.length && p && p !== partial) (e as { partial?: ChatResponse }).partial = { ...p, usage: sum(usage, p.usage) }
    return e
  }
  for (let n = 0; ; n++) {
    let stepContext = context
    if (n) {
      // What the loop has left: the next step is priced against it (the executor refuses a step it cannot afford).
      const left = maxCost === undefined ? undefined : maxCost - (cost ?? 0)
      if (left !== undefined && left <= 0) {
        throw new ConstraintError(`constraints.maxCost $${maxCost}: the tool loop has spent $${+(cost ?? 0).toPrecision(4)} in ${n} steps`, { path: 'constraints.maxCost' })
      }
      const time = maxTime === undefined ? undefined : maxTime - (Date.now() - started) / 1000
      stepContext = { ...context, constraints: { ...context.constraints, ...(left !== undefined && { maxCost: left }), ...(time !== undefined && { maxTime: Math.max(time, 0.001) }) } }
    }
    let call: StepCall
    try {
      const streaming = sink || onToken
      call = await callStep(n, messages, stepContext, {
        signal,
        onToken: streaming && ((text) => (onToken?.(text), sink?.push({ type: 'text-delta', text }))),
        onChunk: sink?.ready,
      })
    } catch (e) {
      throw stopped(e)
    }
    const { response } = call
    usage = sum(usage, response.usage)
    cost = addCost(cost, call.cost)
    add(response.message)
    for (const c of response.toolCalls) sink?.push({ type: 'tool-call', toolCallId: c.id, toolName: c.name, args: c.arguments })
    const run = response.toolCalls.length > 0 && n + 1 < maxSteps && runnable(tools, response.toolCalls)
    let toolResults: ToolResult[] = []
    if (run) {
      const partial = { ...response, usage }
      if (signal?.aborted) throw stopped(signal.reason, partial)
      const history = [...messages]
      let onAbort: (() => void) | undefined
      try {
        toolResults = await Promise.race([
          Promise.all(response.toolCalls.map((c) => runTool(tools!, c, { signal: signal ?? new AbortController().signal, context, messages: history }))),
          // An abort stops the loop at once, whether or not a tool honours its signal.
          new Promise<never>((_, reject) => signal?.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true })),
        ])
      } catch (e) {
        throw stopped(e, partial)
      } finally {
        if (onAbort) signal?.removeEventListener('abort', onAbort)
      }
      for (const r of toolResults) {
        sink?.push({ type: 'tool-result', ...r })
        add(toolMessage(r))
      }
    }
    const step: StepResult = {
      stepNumber: n,
      text: response.text,
      toolCalls: response.toolCalls,
      toolResults,
      finishReason: response.finishReason,
      usage: response.usage,
      cost: call.cost,
      model: call.model,
      provider: response.provider,
    }
    steps.push(step)
    sink?.push({ type: 'step-finish', step })
    await onStepFinish?.(step)
    if (!run) {
      sink?.push({ type: 'finish', finishReason: response.finishReason, usage, cost })
      return { last: call, steps, usage, cost }
    }
  }
}
