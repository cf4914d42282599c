import type { ChatRequest, ChatResponse, Provider } from '../../src/llm/types.js'
import { aborted, ProviderError } from '../../src/providers/kernel/errors.js'

/** What a scripted provider does with one request: a reply (text or a whole response), or an error to throw. */
export type Script = string | Partial<ChatResponse> | Error | ((request: ChatRequest) => Promise<ChatResponse> | ChatResponse)

/** A provider without HTTP that answers from a queue and records every request. */
export interface FakeProvider extends Provider {
  requests: ChatRequest[]
  queue(...steps: Script[]): void
}

/** A `ChatResponse` with `text`, usage [10, 5], for `model`. */
export function reply(text: string, request: ChatRequest, name: string, extra: Partial<ChatResponse> = {}): ChatResponse {
  return {
    message: { role: 'assistant', content: text },
    text,
    toolCalls: [],
    finishReason: 'stop',
    usage: { inputTokens: 10, outputTokens: 5 },
    model: request.model,
    provider: name,
    ...extra,
  }
}

/** A scripted provider named `name`. Streams the text word by word to `onToken` when given. */
export function fakeProvider(name: string): FakeProvider {
  const steps: Script[] = []
  const requests: ChatRequest[] = []
  return {
    name,
    requests,
    queue: (...more) => void steps.push(...more),
    async chat(request) {
      requests.push(request)
      const step = steps.shift()
      if (step === undefined) throw new Error(`${name}: no step queued`)
      if (step instanceof Error) throw step
      if (typeof step === 'function') return step(request)
      const r = typeof step === 'string' ? reply(step, request, name) : reply(step.text ?? '', request, name, step)
      if (request.onToken) for (const word of r.text.split(/(?<= )/)) request.onToken(word)
      return r
    },
  }
}

/** A provider step that waits until the request's signal aborts, then throws as a provider does. */
export const waitForAbort =
  (name: string) =>
  (request: ChatRequest): Promise<ChatResponse> =>
    new Promise((_, reject) => {
      const signal = request.signal
      if (!signal) return reject(new Error('no signal given'))
      const fail = () => reject(aborted(name, signal.reason))
      if (signal.aborted) fail()
      else signal.addEventListener('abort', fail)
    })

/** A `ProviderError` as the providers make them after their own retries. */
export const providerError = (name: string, status: number, message = `HTTP ${status}`, providerCode?: string) =>
  new ProviderError(`${name}: HTTP ${status}: ${message}`, {
    provider: name,
    status,
    providerCode,
    retryable: status === 408 || status === 409 || status === 429 || status > 499,
  })
