import { invalid } from '../errors.js'
import type { ChatRequest, ChatResponse, FinishReason, Provider } from '../llm/types.js'
import { aborted, fail } from '../providers/kernel/errors.js'
import { faultError } from './faults.js'
import { checkKeys, checkReply, usageOf, type MockReply, type MockReplyFunction, type Step } from './script.js'

/** Options of `mockProvider`. */
export interface MockProviderOptions {
  /**
   * The provider's name, `mock` by default. The executor finds a model's provider by name: name the
   * mock after the provider your code routes to (`openai` for `gpt-4o-mini`), or route to it with
   * `routing: { model: 'any-id', provider: 'mock' }`.
   */
  name?: string
  /** The model ids it serves; a call for another is an HTTP 404 `model_not_found` that uses no reply. Default: any. */
  models?: string[]
  /**
   * The script: one reply per call, in order (a reply may also be a function of the request), or
   * one function that answers every call. Default `[]`: every call fails.
   */
  replies?: (MockReply | MockReplyFunction)[] | MockReplyFunction
}

/** A request as the mock recorded it: plain JSON, without `apiKey`, `signal`, `onToken` or `onChunk`. */
export type MockCall = Omit<ChatRequest, 'apiKey' | 'signal' | 'onToken' | 'onChunk'> & {
  /** Whether the call streamed (`onToken` was given). */
  stream: boolean
}

/** A provider that answers from a script and records every request. */
export interface MockProvider extends Provider {
  /** Every request received, in order, failed ones included. */
  readonly calls: MockCall[]
  /** The last request received, or undefined before the first. */
  readonly lastRequest: MockCall | undefined
  /** How many scripted replies no call has used yet (0 when the script is a function). */
  readonly pending: number
  /** Throws a `ValidationError` (path `replies`) when scripted replies remain unused: the code under test made fewer calls than the script expects. */
  assertDone(): void
}

const sleep = (ms: number | undefined, signal?: AbortSignal) =>
  ms &&
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => (signal?.removeEventListener('abort', stop), resolve()), ms)
    const stop = () => (clearTimeout(timer), reject(signal!.reason))
    signal?.addEventListener('abort', stop, { once: true })
  })

/**
 * A provider without a network, for your own tests: it answers each call with the next reply of
 * `replies`, streams it to `onToken` delta by delta, makes the tool calls you script, and fails the
 * way real providers fail (rate limits, overloads, context windows, dropped connections, aborts).
 * It implements the same `Provider` contract as `openai()`, so the `Executor`, `ctx.execute`,
 * `ctx.generateChatCompletion`, its streams and tool loops, and `createAgent` run on it unchanged.
 *
 * A reply is a string (the text), a `MockMessage` (`text`, `chunks`, `toolCalls`, `usage`,
 * `finishReason`, `delayMs`, `breakAfter`, `hang`), or a `MockFault` (`{ error: 'rate_limit' }`…).
 * The script is checked at once: a malformed reply is a `ValidationError` naming its path
 * (`replies[1].toolCalls[0].name`). A call past the end of the script is a `ValidationError` naming
 * the call. An abort of the request's signal throws the `AbortedError` a provider throws, with the
 * text streamed so far in `partial`. Faults are what a provider throws after its own retries: the
 * mock does not retry.
 *
 * @example
 * import { Context, Executor } from 'agentctx'
 * import { mockProvider } from 'agentctx/test'
 *
 * const mock = mockProvider({
 *   name: 'openai',
 *   replies: [{ toolCalls: [{ name: 'weather', arguments: { city: 'Paris' } }] }, 'Sunny in Paris.'],
 * })
 * const ctx = new Context({ routing: { model: 'gpt-4o-mini' } }, { executor: new Executor({ providers: [mock] }) })
 * ctx.addCompletionMessage({ role: 'user', content: 'Weather in Paris?' })
 * const first = await ctx.generateChatCompletion({ tools: [{ name: 'weather' }] })
 * ctx.addCompletionMessage({ role: 'tool', toolCallId: first.toolCalls[0].id, content: '21 °C, sunny' })
 * await ctx.generateChatCompletion()
 * mock.lastRequest?.messages.at(-1) // { role: 'tool', toolCallId: 'call_1', content: '21 °C, sunny' }
 * mock.assertDone()
 */
/* @__NO_SIDE_EFFECTS__ */
export function mockProvider(options: MockProviderOptions = {}): MockProvider {
  const { name = 'mock', models, replies = [] } = checkKeys(options, 'options', 'name models replies') as MockProviderOptions
  const script = typeof replies === 'function' ? [] : replies.map((r, i) => (typeof r === 'function' ? r : checkReply(r, `replies[${i}]`)))
  const calls: MockCall[] = []
  let used = 0
  let ids = 0

  async function chat(request: ChatRequest): Promise<ChatResponse> {
    if (!request?.model || !Array.isArray(request.messages)) throw invalid('request', 'needs a model and a messages array')
    const { apiKey, signal, onToken, onChunk, ...rest } = request
    // A JSON copy: what was sent then, whatever happens to the history after.
    const index = calls.push({ ...JSON.parse(JSON.stringify(rest)), stream: !!onToken }) - 1
    if (signal?.aborted) throw aborted(name, signal.reason)
    if (models && !models.includes(request.model)) {
      throw fail(name, `HTTP 404: The model \`${request.model}\` does not exist`, false, { status: 404, providerCode: 'model_not_found' })
    }
    // The reply's path: its place in the script, or the call's index when one function answers all.
    const at = `replies[${typeof replies === 'function' ? index : used}]`
    let next: Step | MockReplyFunction
    if (typeof replies === 'function') next = replies
    else if (used < script.length) next = script[used++]!
    else throw invalid('replies', `call ${index + 1} has no reply: the script has ${script.length}`)
    const step = typeof next === 'function' ? checkReply(await next(request, index), at) : next
    if (step.hang && !signal) throw invalid(`${at}.hang`, `call ${index + 1} hangs until aborted, but its request has no signal`)
    const toolCalls = step.toolCalls.map((c) => ({ id: c.id ?? `call_${++ids}`, name: c.name, arguments: c.arguments }))
    const response = (text: string, finish?: FinishReason): ChatResponse => {
      const made = finish ? [] : toolCalls
      return {
        message: { role: 'assistant', content: text, ...(made[0] && { toolCalls: made }) },
        text,
        toolCalls: made,
        finishReason: finish ?? step.finishReason ?? (made[0] ? 'tool_calls' : 'stop'),
        // A reply cut short has only what arrived: its usage is estimated, as a provider's is.
        usage: usageOf(request, text, made, finish ? undefined : step.usage),
        model: step.model ?? request.model,
        provider: name,
      }
    }
    let text = ''
    try {
      if (step.fault) {
        await sleep(step.fault.delayMs, signal)
        throw faultError(name, step.fault)
      }
      if (!onToken) await sleep(step.delayMs, signal)
      else {
        for (const [i, chunk] of step.chunks.entries()) {
          if (i === step.breakAfter) break
          await sleep(step.delayMs, signal)
          text += chunk
          onToken(chunk)
          // Each chunk is a network chunk: a ChatStream's slow reader holds the next one, as over HTTP.
          await onChunk?.()
          // onToken itself may abort (a caller who has read enough): stop as a stream would.
          if (signal?.aborted) throw signal.reason
        }
      }
      if (step.breakAfter !== undefined) {
        const broken = fail(name, 'connection lost mid-stream', true, { cause: new TypeError('terminated') })
        if (onToken) broken.partial = response(text, 'error')
        throw broken
      }
      if (step.hang) await new Promise((_, reject) => signal!.addEventListener('abort', () => reject(signal!.reason), { once: true }))
    } catch (e) {
      if (signal?.aborted) throw aborted(name, signal.reason, onToken && response(text, 'aborted'))
      throw e
    }
    return response(step.text)
  }

  return {
    name,
    chat,
    calls,
    get lastRequest() {
      return calls.at(-1)
    },
    get pending() {
      return script.length - used
    },
    assertDone() {
      const left = script.length - used
      if (left) throw invalid('replies', `${left} of ${script.length} scripted replies unused (from replies[${used}]): the code made ${calls.length} calls`)
    },
  }
}
