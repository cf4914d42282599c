import { ConstraintError, invalid } from '../errors.js'
import type { CompletionMessage } from '../state/messages.js'
import { estimateTokens } from './tokens.js'
import type { TokenCounter } from './types.js'

/**
 * Tokens a message costs beyond its text: its role and the separators around it. OpenAI's own
 * counting recipe (the cookbook's `num_tokens_from_messages`) adds 3 per message, 1 per name and
 * 3 to prime the reply; 4 rounds the first up and absorbs the last over any history of 3 or more.
 */
export const MESSAGE_OVERHEAD = 4

/**
 * What one image counts, whatever its size: we never decode it to know. 1,600 is the most an
 * Anthropic image costs (it resizes to ~1.15 megapixels, then width × height / 750 tokens); a
 * 1024×1024 high-detail image is 765 for OpenAI (85 + 4 tiles × 170) and any image is 258 for
 * Gemini. The highest, so that a fitted history with images stays inside the window.
 */
export const IMAGE_TOKENS = 1600

/**
 * Part of the context window left free for the estimate's error: `estimateTokens` is off by 4.5%
 * on average (bench/tokens.bench.ts), so 5% keeps a typical history inside the window, e.g.
 * 205 of gpt-3.5-turbo's 4,096 tokens. Pass an exact `count` where the last tokens matter.
 */
export const WINDOW_MARGIN = 0.05

/**
 * Tokens of one message as sent: its text parts, `IMAGE_TOKENS` per image, its name, its tool calls
 * (id, name and arguments as JSON) or the id of the call it answers, plus `MESSAGE_OVERHEAD`.
 */
export function messageTokens(message: CompletionMessage, counter: TokenCounter = estimateTokens): number {
  const { content } = message
  let t = MESSAGE_OVERHEAD
  if (typeof content === 'string') t += counter(content)
  else for (const part of content) t += part.type === 'text' ? counter(part.text) : IMAGE_TOKENS
  if ('name' in message && message.name) t += counter(message.name)
  if (message.role === 'tool') t += counter(message.toolCallId)
  if (message.role === 'assistant' && message.toolCalls) {
    for (const c of message.toolCalls) {
      t += MESSAGE_OVERHEAD + counter(c.id) + counter(c.name) + counter(typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments))
    }
  }
  return t
}

/**
 * The tokens a history may take: the smaller of `maxTokens` (`constraints.maxTokens`) and the
 * model's `contextWindow` less the `maxOutputTokens` asked for and a `WINDOW_MARGIN`; never below 0,
 * `Infinity` when neither limit is given. gpt-3.5-turbo (4,096) with 1,024 output tokens and
 * `maxTokens: 200`: min(200, 4096 − 1024 − 205) = 200.
 */
export function historyBudget(limits: { maxTokens?: number; contextWindow?: number; maxOutputTokens?: number } = {}): number {
  const maxTokens = amount(limits.maxTokens ?? Infinity, 'maxTokens')
  const contextWindow = amount(limits.contextWindow ?? Infinity, 'contextWindow')
  const maxOutputTokens = amount(limits.maxOutputTokens ?? 0, 'maxOutputTokens')
  const room = contextWindow === Infinity ? Infinity : contextWindow - maxOutputTokens - Math.ceil(contextWindow * WINDOW_MARGIN)
  return Math.max(0, Math.min(maxTokens, room))
}

/** Options of `fitMessages`. */
export interface FitOptions {
  /** Tokens the kept messages may take together (see `historyBudget`). `Infinity`: keep all. */
  maxTokens: number
  /** Tokens of one message; `messageTokens` with `estimateTokens` by default. */
  count?: (message: CompletionMessage) => number
  /** Tokens taken from the budget by what goes beside the messages (tool definitions). Default 0. */
  reserve?: number
  /** The path a `ConstraintError` names. Default `constraints.maxTokens`; `routing.model` when the window bound. */
  path?: string
}

/** What `fitMessages` returns. */
export interface FitResult {
  /** The messages to send, in their order: the same array when none was left out. */
  messages: CompletionMessage[]
  /** How many messages were left out. */
  omitted: number
  /** Tokens of the kept messages, by `count`. */
  tokens: number
}

/**
 * The messages of a history that fit `maxTokens − reserve`, in O(n) (each message counted at most
 * once, the oldest not at all once the budget is spent):
 * - every system message stays, where it is;
 * - the other messages are kept newest first, and the oldest go first: the kept ones are the
 *   history's tail, and it starts with a user message (as Anthropic and Gemini require of a
 *   conversation) unless nothing was left out or the history has no user message;
 * - an assistant message with tool calls and the tool messages answering it (matched by
 *   `toolCallId`) go or stay together: the tail never starts between them, so no provider sees a
 *   result without its call or a call without its results;
 * - the last user message and everything after it always stay (the newest message when there is no
 *   user message). When even those and the system messages do not fit, a `ConstraintError` names
 *   both numbers: sending the question without the system prompt, or cut in half, would answer
 *   something else, and a provider refusing it would only say so later and less clearly.
 * A tool message whose call is nowhere before it (an orphan already in the history) counts as a
 * message of its own: history that was broken is not repaired here.
 */
export function fitMessages(messages: CompletionMessage[], options: FitOptions): FitResult {
  if (!Array.isArray(messages)) throw invalid('messages', 'must be an array')
  const { maxTokens, reserve = 0, path = 'constraints.maxTokens' } = options ?? {}
  const count = options?.count ?? ((m: CompletionMessage) => messageTokens(m))
  const cost = (m: CompletionMessage) => amount(count(m), 'count', true)
  const n = messages.length
  const budget = amount(maxTokens, 'maxTokens') - amount(reserve, 'reserve', true)

  // Forward: system tokens, the last user message, and each tool result's call. `owner[i]` is the
  // index of the assistant message whose call tool message i answers (the nearest one before it:
  // ids may repeat across a long history), `answers[a]` how many tool messages answer message a.
  let system = 0
  let target = -1 // the oldest message that must stay: the last user message, else the last non-system one
  let lastUser = -1
  let first = -1 // the oldest non-system message: a cut there leaves nothing out
  const calls = new Map<string, number>()
  const owner = new Int32Array(n).fill(-1)
  const answers = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const m = messages[i]!
    if (m.role === 'system') {
      system += cost(m)
      continue
    }
    target = i
    if (first < 0) first = i
    if (m.role === 'user') lastUser = i
    else if (m.role === 'assistant') for (const c of m.toolCalls ?? []) calls.set(c.id, i)
    else if (m.role === 'tool') {
      const a = calls.get(m.toolCallId)
      if (a !== undefined) (owner[i] = a), answers[a]!++
    }
  }
  if (lastUser >= 0) target = lastUser
  const over = (need: number) =>
    new ConstraintError(
      `${path}: the history has a budget of ${maxTokens} tokens${reserve ? ` less ${reserve} reserved` : ''}, but its system messages${target < 0 ? '' : lastUser < 0 ? ' and its newest message' : ' and its messages from the last user message on'} alone take ${need}`,
      { path },
    )
  if (system > budget) throw over(system)

  // Backward: grow the tail one message at a time. Index i is a place to cut (keep i..n-1) when no
  // tool message of the tail waits for its assistant message (`pending` 0) and the tail starts with
  // a user message: Anthropic and Gemini refuse a conversation that opens with the assistant, and an
  // answer without its question misleads. Histories without a user message cut anywhere.
  let keep = n // the oldest non-system message kept
  let kept = 0 // tokens of the tail from `keep`
  let tokens = 0 // tokens of the tail from i
  let pending = 0
  for (let i = n - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m.role === 'system') continue
    tokens += cost(m)
    if (owner[i]! >= 0) pending++
    pending -= answers[i]!
    const fits = system + tokens <= budget
    // Over the budget with what must stay already kept: an older cut only adds, so stop counting.
    if (!fits && keep <= target) break
    if (pending || (m.role !== 'user' && lastUser >= 0 && i !== first)) continue
    if (fits) (keep = i), (kept = tokens)
    else if (i <= target) throw over(system + tokens)
  }
  let omitted = 0
  for (let i = 0; i < keep; i++) if (messages[i]!.role !== 'system') omitted++
  return {
    messages: omitted ? messages.filter((m, i) => i >= keep || m.role === 'system') : messages,
    omitted,
    tokens: system + kept,
  }
}

/** `value` if it is a number >= 0 (and finite when `finite`), else a `ValidationError` at `path`. */
function amount(value: unknown, path: string, finite?: boolean): number {
  if (typeof value !== 'number' || !(value >= 0) || (finite && value === Infinity)) throw invalid(path, `must be a ${finite ? 'finite ' : ''}number >= 0`)
  return value
}
