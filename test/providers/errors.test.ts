import { describe, expect, it } from 'vitest'
import { ContextError } from '../../src/errors.js'
import { AbortedError, abortReason } from '../../src/abort.js'
import { aborted, isContextWindowError, ProviderError } from '../../src/providers/kernel/errors.js'

describe('ProviderError', () => {
  it('is a ContextError with code provider and every field, serializable with its message', () => {
    const err = new ProviderError('openai: HTTP 429: slow down', {
      provider: 'openai',
      status: 429,
      providerCode: 'rate_limit_exceeded',
      retryable: true,
      requestId: 'req_1',
      cause: new Error('inner'),
    })
    expect(err).toBeInstanceOf(ContextError)
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({ name: 'ProviderError', code: 'provider', provider: 'openai', status: 429, retryable: true, requestId: 'req_1' })
    expect((err.cause as Error).message).toBe('inner')
    expect(String(err)).toBe('ProviderError: openai: HTTP 429: slow down')
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      name: 'ProviderError',
      code: 'provider',
      provider: 'openai',
      status: 429,
      providerCode: 'rate_limit_exceeded',
      retryable: true,
      requestId: 'req_1',
      message: 'openai: HTTP 429: slow down',
    })
  })

  it('retryable defaults to false', () => {
    expect(new ProviderError('x', { provider: 'p' }).retryable).toBe(false)
  })
})

describe('AbortedError', () => {
  it("a provider's abort: code aborted (reason cancelled) with the signal's reason, or timeout for a TimeoutError reason", () => {
    const e = aborted('anthropic', 'user left')
    expect(e).toBeInstanceOf(ContextError)
    expect(e).toMatchObject({ name: 'AbortedError', code: 'aborted', reason: 'cancelled', signalReason: 'user left', cause: 'user left', message: 'anthropic: aborted' })
    const reason = new DOMException('signal timed out', 'TimeoutError')
    expect(aborted('gemini', reason)).toMatchObject({ code: 'timeout', reason: 'timeout', signalReason: reason, message: 'gemini: timeout' })
    expect(aborted('p', new DOMException('x', 'AbortError')).code).toBe('aborted')
    expect(aborted('p', undefined)).toMatchObject({ code: 'aborted', reason: 'cancelled' })
  })

  it('regression: one abort error, three shapes before (DOMException, AbortedError, ConstraintError timeout): the kind travels with it', () => {
    const interrupted = new AbortedError('interrupted by a new event', { reason: 'interrupted' })
    expect(interrupted).toMatchObject({ name: 'AbortedError', code: 'aborted', reason: 'interrupted' })
    // A provider call whose signal was aborted with an AbortedError keeps its kind (a barge-in stays an interruption).
    expect(aborted('openai', interrupted)).toMatchObject({ code: 'aborted', reason: 'interrupted', signalReason: interrupted })
    expect(aborted('openai', new AbortedError('task "t" timed out after 1 s', { reason: 'timeout' }))).toMatchObject({ code: 'timeout', reason: 'timeout' })
    expect(abortReason(new DOMException('x', 'TimeoutError'), 'interrupted')).toBe('timeout')
    expect(abortReason('bye', 'interrupted')).toBe('interrupted')
  })
})

describe('isContextWindowError', () => {
  const e = (message: string, status = 400, providerCode?: string) => new ProviderError(message, { provider: 'p', status, providerCode })
  it('recognises each provider’s wording', () => {
    expect(isContextWindowError(e("openai: HTTP 400: This model's maximum context length is 8192 tokens.", 400, 'context_length_exceeded'))).toBe(true)
    expect(isContextWindowError(e('anthropic: HTTP 400: prompt is too long: 208310 tokens > 200000 maximum', 400, 'invalid_request_error'))).toBe(true)
    expect(isContextWindowError(e('anthropic: HTTP 413: Request exceeds the maximum allowed number of bytes.', 413, 'request_too_large'))).toBe(true)
    expect(
      isContextWindowError(e('gemini: HTTP 400: The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).', 400, 'INVALID_ARGUMENT')),
    ).toBe(true)
  })
  it('is false for other errors and non-errors', () => {
    expect(isContextWindowError(e('openai: HTTP 400: Invalid temperature', 400, 'invalid_request_error'))).toBe(false)
    expect(isContextWindowError(e('openai: HTTP 429: slow down', 429))).toBe(false)
    expect(isContextWindowError(new Error('context length'))).toBe(false)
    expect(isContextWindowError(undefined)).toBe(false)
  })
})
