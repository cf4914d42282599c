import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { fitMessages, historyBudget, IMAGE_TOKENS, MESSAGE_OVERHEAD, messageTokens, WINDOW_MARGIN } from '../../src/llm/fit.js'
import { estimateTokens } from '../../src/llm/tokens.js'
import { ConstraintError, ValidationError } from '../../src/errors.js'
import type { CompletionMessage } from '../../src/state/messages.js'

const sys = (content: string): CompletionMessage => ({ role: 'system', content })
const user = (content: string): CompletionMessage => ({ role: 'user', content })
const asst = (content: string, ...ids: string[]): CompletionMessage =>
  ids.length ? { role: 'assistant', content, toolCalls: ids.map((id) => ({ id, name: 'lookup', arguments: { q: id } })) } : { role: 'assistant', content }
const tool = (id: string, content = 'result'): CompletionMessage => ({ role: 'tool', toolCallId: id, content })
/** Counts a message as the length of its text: numbers that are easy to reason about. */
const len = (m: CompletionMessage) => (typeof m.content === 'string' ? m.content.length : 0)
const x = (n: number) => 'x'.repeat(n)

describe('messageTokens', () => {
  it('counts the text plus the per-message overhead', () => {
    expect(messageTokens(user('Hello, world!'))).toBe(MESSAGE_OVERHEAD + estimateTokens('Hello, world!'))
    expect(messageTokens(user(''))).toBe(MESSAGE_OVERHEAD)
  })
  it('counts each image as IMAGE_TOKENS, whatever its size', () => {
    const m: CompletionMessage = { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', url: 'https://example.com/a.png' }, { type: 'image', data: 'AAAA', mediaType: 'image/png' }] }
    expect(messageTokens(m)).toBe(MESSAGE_OVERHEAD + estimateTokens('What is this?') + 2 * IMAGE_TOKENS)
  })
  it('counts tool calls (id, name, arguments) and the id a tool result answers', () => {
    const call = asst('', 'call_1')
    expect(messageTokens(call)).toBe(2 * MESSAGE_OVERHEAD + estimateTokens('call_1') + estimateTokens('lookup') + estimateTokens('{"q":"call_1"}'))
    const raw: CompletionMessage = { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f', arguments: '{not json' }] }
    expect(messageTokens(raw)).toBe(2 * MESSAGE_OVERHEAD + 1 + 1 + estimateTokens('{not json'))
    expect(messageTokens(tool('call_1', 'ok'))).toBe(MESSAGE_OVERHEAD + estimateTokens('ok') + estimateTokens('call_1'))
  })
  it('counts a name', () => {
    expect(messageTokens({ role: 'user', content: 'hi', name: 'alice' })).toBe(MESSAGE_OVERHEAD + 1 + 1)
  })
  it('uses the counter given', () => {
    expect(messageTokens(user('abcdef'), (t) => t.length)).toBe(MESSAGE_OVERHEAD + 6)
  })
})

describe('historyBudget', () => {
  it('is the smaller of maxTokens and the window less output and margin', () => {
    // gpt-3.5-turbo's 4,096 tokens, 1,024 asked for, 5% margin (205): 2,867 for the history.
    expect(historyBudget({ contextWindow: 4096, maxOutputTokens: 1024 })).toBe(4096 - 1024 - Math.ceil(4096 * WINDOW_MARGIN))
    expect(historyBudget({ contextWindow: 4096, maxOutputTokens: 1024 })).toBe(2867)
    expect(historyBudget({ maxTokens: 200, contextWindow: 4096, maxOutputTokens: 1024 })).toBe(200)
    expect(historyBudget({ maxTokens: 5000, contextWindow: 4096, maxOutputTokens: 1024 })).toBe(2867)
  })
  it('is Infinity without limits and maxTokens without a window', () => {
    expect(historyBudget()).toBe(Infinity)
    expect(historyBudget({})).toBe(Infinity)
    expect(historyBudget({ maxOutputTokens: 1024 })).toBe(Infinity)
    expect(historyBudget({ maxTokens: 300, maxOutputTokens: 1024 })).toBe(300)
  })
  it('is 0, not negative, when the output takes the whole window', () => {
    expect(historyBudget({ contextWindow: 4096, maxOutputTokens: 4096 })).toBe(0)
  })
  it.each([
    [{ maxTokens: -1 }, 'maxTokens'],
    [{ maxTokens: NaN }, 'maxTokens'],
    [{ contextWindow: '4096' as unknown as number }, 'contextWindow'],
    [{ maxOutputTokens: -5 }, 'maxOutputTokens'],
  ])('refuses %j naming %s', (limits, path) => {
    const e = (() => {
      try {
        historyBudget(limits)
      } catch (e) {
        return e
      }
    })()
    expect(e).toBeInstanceOf(ValidationError)
    expect((e as ValidationError).path).toBe(path)
  })
})

describe('fitMessages', () => {
  it('200 messages to a 4k-window model with constraints.maxTokens 200: the newest that fit, not the whole history', () => {
    // The case: the whole history went to gpt-3.5-turbo (4,096 tokens) with maxTokens 200.
    const history: CompletionMessage[] = [sys('You are a helpful assistant.')]
    for (let i = 0; i < 100; i++) history.push(user(`Question number ${i}: what is the weather like in city ${i}?`), asst(`In city ${i} it is sunny and 20 degrees.`))
    history.push(user('And in Paris?'))
    const maxTokens = historyBudget({ maxTokens: 200, contextWindow: 4096, maxOutputTokens: 1024 })
    const out = fitMessages(history, { maxTokens })
    expect(out.tokens).toBeLessThanOrEqual(200)
    expect(out.tokens).toBe(out.messages.reduce((a, m) => a + messageTokens(m), 0))
    expect(out.messages[0]).toBe(history[0])
    expect(out.messages.at(-1)).toBe(history.at(-1))
    expect(out.messages.slice(1)).toEqual(history.slice(history.length - (out.messages.length - 1)))
    expect(out.omitted).toBe(history.length - out.messages.length)
    expect(out.omitted).toBeGreaterThan(180)
    // The tail starts with a question, and the next older question and answer would not have fit.
    expect(out.messages[1]!.role).toBe('user')
    const k = history.length - (out.messages.length - 1)
    expect(out.tokens + messageTokens(history[k - 1]!) + messageTokens(history[k - 2]!)).toBeGreaterThan(200)
  })

  it('keeps every system message where it is', () => {
    const h = [sys('aaaa'), user(x(50)), sys('bb'), asst(x(50)), user('q')]
    const out = fitMessages(h, { maxTokens: 10, count: len })
    expect(out.messages).toEqual([sys('aaaa'), sys('bb'), user('q')])
    expect(out.omitted).toBe(2)
    expect(out.tokens).toBe(7)
  })

  it('returns the same array when everything fits', () => {
    const h = [sys('s'), user('hello'), asst('hi')]
    const out = fitMessages(h, { maxTokens: Infinity })
    expect(out.messages).toBe(h)
    expect(out.omitted).toBe(0)
  })

  it('drops a tool call together with its results, never one without the other', () => {
    const h = [user('u1'), asst('', 'a', 'b'), tool('a', x(10)), tool('b', x(10)), asst('done'), user('u2')]
    // The tail [tool b, asst, u2] would fit 17 tokens, but it starts inside the tool group: the group goes whole.
    const out = fitMessages(h, { maxTokens: 27, count: len })
    expect(out.messages).toEqual([user('u2')])
    expect(out.omitted).toBe(5)
    expect(fitMessages(h, { maxTokens: 28, count: len }).messages).toBe(h)
  })

  it('does not split a tool group around a user message inside it', () => {
    // A history OpenAI would refuse anyway; the tail from u1 (9 tokens) would fit 10 but holds a result without its call.
    const h = [asst('xxx', 'a'), user('u1'), tool('a', x(5)), user('u2')]
    expect(fitMessages(h, { maxTokens: 10, count: len }).messages).toEqual([user('u2')])
    expect(fitMessages(h, { maxTokens: 12, count: len }).messages).toBe(h)
  })

  it('starts the kept tail with a user message: Anthropic and Gemini refuse a conversation that opens with the assistant', () => {
    const h = [user(x(20)), asst(x(5)), asst(x(5)), user('u')]
    // [asst, asst, u] would fit 11, but would open with the assistant.
    expect(fitMessages(h, { maxTokens: 11, count: len }).messages).toEqual([user('u')])
    expect(fitMessages(h, { maxTokens: 31, count: len }).messages).toBe(h)
    // A history that opens with the assistant is sent as it is when all of it fits.
    const g = [asst('hello'), user('u')]
    expect(fitMessages(g, { maxTokens: 6, count: len }).messages).toBe(g)
  })

  it('keeps a tool loop in progress (the call and its results after the last user message) or refuses', () => {
    const h = [user(x(30)), asst(x(30)), user('u'), asst('', 'a'), tool('a', x(10))]
    expect(fitMessages(h, { maxTokens: 11, count: len }).messages).toEqual(h.slice(2))
    const e = catchError(() => fitMessages(h, { maxTokens: 10, count: len }))
    expect(e).toBeInstanceOf(ConstraintError)
  })

  it('matches a result to the nearest call with its id (ids repeat across a long history)', () => {
    // Gemini gives no ids: a provider may number calls per reply, so "call_0" comes back each turn.
    const h = [user('u1'), asst('', 'call_0'), tool('call_0', x(5)), user('u2'), asst('', 'call_0'), tool('call_0', x(5)), asst('ok')]
    const out = fitMessages(h, { maxTokens: 11, count: len })
    expect(out.messages).toEqual(h.slice(3))
    expect(out.omitted).toBe(3)
  })

  it('leaves an orphan already in the history as a message of its own', () => {
    const h = [tool('nobody', x(5)), user('u')]
    expect(fitMessages(h, { maxTokens: 6, count: len }).messages).toEqual(h)
    expect(fitMessages(h, { maxTokens: 5, count: len }).messages).toEqual([user('u')])
  })

  it('refuses with a ConstraintError naming both numbers when the system messages and last user message do not fit', () => {
    const h = [sys(x(40)), user(x(100)), asst(x(10)), user(x(70))]
    const e = catchError(() => fitMessages(h, { maxTokens: 100, count: len }))
    expect(e).toBeInstanceOf(ConstraintError)
    expect((e as ConstraintError).code).toBe('constraint')
    expect((e as ConstraintError).path).toBe('constraints.maxTokens')
    expect((e as Error).message).toBe(
      'constraints.maxTokens: the history has a budget of 100 tokens, but its system messages and its messages from the last user message on alone take 110',
    )
    const w = catchError(() => fitMessages([sys(x(40))], { maxTokens: 30, count: len, path: 'routing.model' }))
    expect((w as ConstraintError).path).toBe('routing.model')
    expect((w as Error).message).toMatch(/^routing\.model: .* budget of 30 tokens, but its system messages alone take 40$/)
  })

  it('takes the reserve (tool definitions) from the budget', () => {
    const h = [user(x(10)), asst(x(10)), user(x(10))]
    expect(fitMessages(h, { maxTokens: 30, count: len }).omitted).toBe(0)
    expect(fitMessages(h, { maxTokens: 30, reserve: 5, count: len }).omitted).toBe(2)
    expect((catchError(() => fitMessages(h, { maxTokens: 30, reserve: 25, count: len })) as Error).message).toMatch(/budget of 30 tokens less 25 reserved/)
  })

  it('keeps the newest message when there is no user message', () => {
    const h = [asst(x(10)), asst(x(10))]
    expect(fitMessages(h, { maxTokens: 10, count: len }).messages).toEqual([asst(x(10))])
    expect((catchError(() => fitMessages(h, { maxTokens: 9, count: len })) as Error).message).toMatch(/system messages and its newest message alone take 10$/)
    expect(fitMessages([], { maxTokens: 0 })).toEqual({ messages: [], omitted: 0, tokens: 0 })
  })

  it('refuses bad options and a counter that returns nonsense', () => {
    const h = [user('u')]
    expect(catchError(() => fitMessages('no' as unknown as CompletionMessage[], { maxTokens: 1 }))).toBeInstanceOf(ValidationError)
    expect((catchError(() => fitMessages(h, { maxTokens: NaN })) as ValidationError).path).toBe('maxTokens')
    expect((catchError(() => fitMessages(h, {} as { maxTokens: number })) as ValidationError).path).toBe('maxTokens')
    expect((catchError(() => fitMessages(h, { maxTokens: 1, reserve: -1 })) as ValidationError).path).toBe('reserve')
    expect((catchError(() => fitMessages(h, { maxTokens: 9, count: () => NaN })) as ValidationError).path).toBe('count')
    expect((catchError(() => fitMessages(h, { maxTokens: 9, count: () => -1 })) as ValidationError).path).toBe('count')
  })

  it('counts each message at most once, and not the old ones past the budget: O(n) at 100,000 messages', () => {
    const h: CompletionMessage[] = [sys('s')]
    for (let i = 0; i < 50_000; i++) h.push(user(`question ${i}`), asst(`answer ${i}`, `c${i}`), tool(`c${i}`, `value ${i}`))
    let calls = 0
    const count = (m: CompletionMessage) => (calls++, messageTokens(m))
    const small = fitMessages(h, { maxTokens: 1000, count })
    // The system message, the kept tail and the one group that went over (3 messages): 80, not 150,001.
    expect(calls).toBeLessThanOrEqual(small.messages.length + 3)
    expect(calls).toBeLessThan(100)
    expect(small.omitted).toBe(h.length - small.messages.length)
    calls = 0
    const started = performance.now()
    const all = fitMessages(h, { maxTokens: Infinity, count })
    const ms = performance.now() - started
    expect(calls).toBe(h.length)
    expect(all.omitted).toBe(0)
    // 50-70 ms here (estimateTokens over JSON.stringify of the same history: 250 ms); quadratic work (1.1e10 steps) would take minutes.
    expect(ms).toBeLessThan(2000)
  })
})

function catchError(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('did not throw')
}

// ---- Properties over random histories ----

/** Well-formed histories: turns of system, user, plain assistant, and tool groups (a call and all its results). */
const wellFormed = fc
  .array(
    fc.oneof(
      fc.record({ kind: fc.constant('system' as const), n: fc.nat(20) }),
      fc.record({ kind: fc.constant('user' as const), n: fc.nat(40) }),
      fc.record({ kind: fc.constant('assistant' as const), n: fc.nat(40) }),
      // Results may come in any order, and a system message may sit inside a group.
      fc.record({ kind: fc.constant('group' as const), n: fc.nat(20), results: fc.array(fc.nat(30), { minLength: 1, maxLength: 3 }), reverse: fc.boolean(), systemInside: fc.boolean() }),
    ),
    { maxLength: 40 },
  )
  .map((turns) => {
    const out: CompletionMessage[] = []
    for (const t of turns) {
      if (t.kind === 'system') out.push(sys(x(t.n)))
      else if (t.kind === 'user') out.push(user(x(t.n)))
      else if (t.kind === 'assistant') out.push(asst(x(t.n)))
      else {
        // Ids repeat across groups on purpose (call_0, call_1 in each), as per-reply numbering does.
        const ids = t.results.map((_, i) => `call_${i}`)
        out.push(asst(x(t.n), ...ids))
        if (t.systemInside) out.push(sys('inside'))
        const results = t.results.map((n, i) => tool(ids[i]!, x(n)))
        out.push(...(t.reverse ? results.reverse() : results))
      }
    }
    return out
  })

/** Anything: random roles, ids from a pool of 3 (orphans, calls without results, repeats). */
const anyHistory = fc.array(
  fc.oneof(
    fc.nat(30).map((n) => sys(x(n))),
    fc.nat(30).map((n) => user(x(n))),
    fc.tuple(fc.nat(30), fc.subarray(['a', 'b', 'c'])).map(([n, ids]) => asst(x(n), ...ids)),
    fc.tuple(fc.nat(30), fc.constantFrom('a', 'b', 'c')).map(([n, id]) => tool(id, x(n))),
  ),
  { maxLength: 40 },
)

/** The owner of each tool message (the nearest earlier assistant message calling its id), found the slow way. */
function owners(h: CompletionMessage[]): number[] {
  return h.map((m, t) => {
    if (m.role !== 'tool') return -1
    for (let a = t - 1; a >= 0; a--) {
      const c = h[a]!
      if (c.role === 'assistant' && c.toolCalls?.some((k) => k.id === m.toolCallId)) return a
    }
    return -1
  })
}

/** The expected cut, by brute force over every cut: the oldest non-system message kept, or 'refuse'. */
function oracle(h: CompletionMessage[], budget: number): number | 'refuse' {
  const own = owners(h)
  const n = h.length
  const firstNonSystem = firstNonSystemFrom(h, 0)
  const hasUser = h.some((m) => m.role === 'user')
  const starts = (c: number) => {
    const k = firstNonSystemFrom(h, c)
    return k >= h.length || k === firstNonSystem || !hasUser || h[k]!.role === 'user'
  }
  const valid = (c: number) => starts(c) && own.every((a, t) => a < 0 || !(a < c && t >= c))
  const cost = (c: number) => h.reduce((s, m, i) => s + (m.role === 'system' || i >= c ? len(m) : 0), 0)
  let target = -1
  h.forEach((m, i) => m.role !== 'system' && (target = i))
  const lastUser = h.findLastIndex((m) => m.role === 'user')
  if (lastUser >= 0) target = lastUser
  // The cut must keep the target: the newest valid cut at or before it is the least we send.
  let required = n
  if (target >= 0) for (let c = target; c >= 0; c--) if (valid(c)) { required = c; break }
  if (cost(required) > budget) return 'refuse'
  for (let c = 0; c <= n; c++) if (valid(c) && cost(c) <= budget) return firstNonSystemFrom(h, c)
  return 'refuse'
}
/** Cuts that differ only by system messages keep the same messages: normalize to the first non-system index. */
function firstNonSystemFrom(h: CompletionMessage[], c: number): number {
  while (c < h.length && h[c]!.role === 'system') c++
  return c
}

function checkFit(h: CompletionMessage[], budget: number, wellFormedInput: boolean) {
  const expected = oracle(h, budget)
  let out
  try {
    out = fitMessages(h, { maxTokens: budget, count: len })
  } catch (e) {
    expect(e).toBeInstanceOf(ConstraintError)
    expect(expected).toBe('refuse')
    return
  }
  expect(expected).not.toBe('refuse')
  // A subsequence of the same objects, in order.
  const idx = out.messages.map((m) => h.indexOf(m))
  for (let i = 1; i < idx.length; i++) expect(idx[i]!).toBeGreaterThan(idx[i - 1]!)
  expect(idx.every((i) => i >= 0)).toBe(true)
  // Fits, and reports its tokens and what it left out.
  expect(out.tokens).toBe(out.messages.reduce((a, m) => a + len(m), 0))
  expect(out.tokens).toBeLessThanOrEqual(budget)
  expect(out.omitted).toBe(h.length - out.messages.length)
  // Every system message stays.
  expect(h.filter((m) => m.role === 'system').every((m) => out.messages.includes(m))).toBe(true)
  // The kept non-system messages are a suffix of the history's, exactly the brute-force one.
  const kept = h.map((m, i) => i).filter((i) => h[i]!.role !== 'system' && out.messages.includes(h[i]!))
  const nonSystem = h.map((m, i) => i).filter((i) => h[i]!.role !== 'system')
  expect(kept).toEqual(nonSystem.slice(nonSystem.length - kept.length))
  expect(kept.length ? kept[0] : firstNonSystemFrom(h, h.length)).toBe(expected)
  // The last user message stays.
  const lastUser = h.findLast((m) => m.role === 'user')
  if (lastUser) expect(out.messages).toContain(lastUser)
  // No result without its call, and no call without its results, that the history itself had.
  const own = owners(h)
  own.forEach((a, t) => {
    if (a < 0) return
    expect(out.messages.includes(h[t]!)).toBe(out.messages.includes(h[a]!))
  })
  if (wellFormedInput) {
    const seen = new Set<string>()
    for (const m of out.messages) {
      if (m.role === 'assistant') for (const c of m.toolCalls ?? []) seen.add(c.id)
      if (m.role === 'tool') expect(seen.has(m.toolCallId)).toBe(true)
    }
    // Each kept call has all its results kept after it.
    out.messages.forEach((m, i) => {
      if (m.role !== 'assistant' || !m.toolCalls) return
      const after = out.messages.slice(i + 1).filter((r) => r.role === 'tool').map((r) => (r as { toolCallId: string }).toolCallId)
      for (const c of m.toolCalls) expect(after).toContain(c.id)
    })
  }
}

describe('fitMessages properties', () => {
  it('on well-formed histories with tool groups: fits, keeps the systems, a whole-group suffix, no orphans, the brute-force cut', () => {
    fc.assert(
      fc.property(wellFormed, fc.nat(600), (h, budget) => checkFit(h, budget, true)),
      { numRuns: 500 },
    )
  })
  it('on any history (orphans, unanswered calls, repeated ids): the brute-force cut, and never a new orphan', () => {
    fc.assert(
      fc.property(anyHistory, fc.nat(600), (h, budget) => checkFit(h, budget, false)),
      { numRuns: 500 },
    )
  })
  it('with the default counter: the result fits the budget', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('user', 'assistant', 'system'), fc.string({ maxLength: 80 })), { maxLength: 30 }), fc.nat(400), (rows, budget) => {
        const h = rows.map(([role, content]) => ({ role, content }) as CompletionMessage)
        try {
          const out = fitMessages(h, { maxTokens: budget })
          expect(out.tokens).toBeLessThanOrEqual(budget)
          expect(out.tokens).toBe(out.messages.reduce((a, m) => a + messageTokens(m), 0))
        } catch (e) {
          expect(e).toBeInstanceOf(ConstraintError)
        }
      }),
    )
  })
})
