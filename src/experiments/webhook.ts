import { ContextError, invalid } from '../errors.js'
import type { Json } from '../state/json.js'

/** Where a conclusion is POSTed (`createExperiments({ webhook })`). */
export interface WebhookOptions {
  /** An `http:` or `https:` URL. Never written into an error or a log: a webhook URL often holds its secret (Slack's do). */
  url: string
  /** Sent with each POST (an `Authorization`, a signature). Never written into an error or a log. */
  headers?: Record<string, string>
  /** Tries in all, the first included: 4 by default. */
  attempts?: number
  /** Wait before the second try, in milliseconds, doubled at each further one with ±50% jitter: 500 by default. */
  backoff?: number
  /** Milliseconds one try may take before it is abandoned and counted as failed: 10,000 by default. */
  timeout?: number
}

/** A conclusion's webhook was not delivered after every try. Names neither the URL nor the headers. */
export class WebhookError extends ContextError {
  /** Always `'WebhookError'`: what `error.name` and stack traces show (an `Error` subclass would otherwise say `Error`). */
  override name = 'WebhookError'
}

/** The options checked, with their defaults; a `ValidationError` naming the field (never quoting the URL). */
export function checkWebhook(hook: WebhookOptions): Required<WebhookOptions> {
  if (typeof hook !== 'object' || hook === null) throw invalid('webhook', 'must be an object { url, headers? }')
  let url: URL | undefined
  try {
    url = new URL(hook.url)
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw invalid('webhook.url', 'must be an absolute http: or https: URL')
  const headers = hook.headers ?? {}
  if (typeof headers !== 'object' || headers === null || Object.values(headers).some((h) => typeof h !== 'string')) {
    throw invalid('webhook.headers', 'must be an object of strings')
  }
  try {
    new Headers(headers)
  } catch {
    throw invalid('webhook.headers', 'holds a name or value that is not a valid HTTP header')
  }
  const { attempts = 4, backoff = 500, timeout = 10_000 } = hook
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) throw invalid('webhook.attempts', 'must be an integer in 1..20')
  if (!(backoff >= 0 && backoff <= 60_000)) throw invalid('webhook.backoff', 'must be in 0..60000 (milliseconds)')
  if (!(timeout > 0 && timeout <= 300_000)) throw invalid('webhook.timeout', 'must be in 1..300000 (milliseconds)')
  return { url: url.href, headers: { ...headers }, attempts, backoff, timeout }
}

/**
 * POSTs `body` as JSON, trying again after a network error, a timeout, a 5xx, a 408 or a 429 (a
 * server that said no for another reason, a 400 or 404, will say it again: no retry). Resolves when a
 * 2xx came back; rejects with a `WebhookError` saying how many tries and the last status, never the
 * URL or the headers (either may hold the secret) nor the response body.
 */
export async function deliver(hook: Required<WebhookOptions>, body: Json, fetcher: typeof fetch = fetch): Promise<void> {
  const text = JSON.stringify(body)
  let last = ''
  let tries = 0
  for (let i = 0; i < hook.attempts; i++, tries++) {
    if (i > 0) await new Promise((r) => setTimeout(r, hook.backoff * 2 ** (i - 1) * (0.5 + Math.random())))
    try {
      const res = await fetcher(hook.url, {
        method: 'POST',
        headers: { ...hook.headers, 'content-type': 'application/json' },
        body: text,
        signal: AbortSignal.timeout(hook.timeout),
      })
      // The body is not read (it could be large, or echo the secret): released so the connection is freed.
      void res.body?.cancel().catch(() => {})
      if (res.ok) return
      last = `HTTP ${res.status}`
      if (res.status < 500 && res.status !== 408 && res.status !== 429) {
        tries++
        break
      }
    } catch (e) {
      // The cause is dropped: a fetch error's message can quote the URL.
      last = (e as Error)?.name === 'TimeoutError' ? 'timed out' : 'network error'
    }
  }
  throw new WebhookError('delivery', `webhook: not delivered after ${tries} ${tries === 1 ? 'try' : 'tries'} (last: ${last})`)
}
