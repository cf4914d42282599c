// "Connect" to a real model: builds the provider with the key (held by the executor, in memory
// only), then CHECKS the endpoint with a real one-token completion before the agent uses it. What
// failed is said in words: unreachable or refused by CORS, a key refused, a model or URL not found.
import { Context, Executor } from 'agentctx'

/** Defaults per provider: base URL and a small model. */
export const PROVIDERS = {
  openai: { baseURL: 'https://api.openai.com/v1', model: 'gpt-4o-mini', key: 'sk-…' },
  // The Anthropic provider appends /v1/messages itself.
  anthropic: { baseURL: 'https://api.anthropic.com', model: 'claude-3-5-haiku-latest', key: 'sk-ant-…' },
  gemini: { baseURL: 'https://generativelanguage.googleapis.com/v1beta', model: 'gemini-2.0-flash', key: 'AIza…' },
  compatible: { baseURL: 'http://localhost:11434/v1', model: 'llama3.2', key: 'optional' },
}

/** Loaded on demand: a page that never connects never downloads these providers. */
async function provider(kind, options) {
  if (kind === 'anthropic') return (await import('agentctx/providers/anthropic')).anthropic(options)
  if (kind === 'gemini') return (await import('agentctx/providers/gemini')).gemini(options)
  return (await import('agentctx/providers/openai')).openai({ ...options, name: 'openai' })
}

/** Seconds the check waits for an answer. */
const CHECK_TIMEOUT_S = 15

/**
 * Checks an endpoint with a one-token completion. Resolves to the model (`{ label, routing,
 * executor }`) when it answered; rejects with an Error whose message says what failed.
 * @param {{ provider: string, baseURL: string, apiKey: string, model: string }} form
 */
export async function connect({ provider: kind, baseURL, apiKey, model }) {
  let url
  try {
    url = new URL(baseURL)
  } catch {
    throw new Error(`“${baseURL}” is not a URL.`)
  }
  if (url.username || url.password || [...url.searchParams.keys()].some((k) => /key|token/i.test(k))) throw new Error('Put the key in the API key field, not in the URL.')
  const name = kind === 'compatible' ? 'openai' : kind
  // One try: a check should say at once what is wrong, not retry a 401 or an unreachable host.
  const executor = new Executor({ providers: [await provider(kind, { baseURL: url.href.replace(/\/$/, ''), apiKey: apiKey || undefined, maxRetries: 0 })] })
  const routing = { model, provider: name }
  const ctx = new Context({ routing: { ...routing, maxOutputTokens: 1 } }, { executor })
  ctx.addCompletionMessage({ role: 'user', content: 'Reply with OK.' })
  try {
    await ctx.generateChatCompletion({ signal: AbortSignal.timeout(CHECK_TIMEOUT_S * 1000) })
  } catch (error) {
    throw new Error(explain(error, url))
  }
  return { label: model, routing, executor }
}

/** What failed, for a person. The key is never part of it (the providers scrub it from errors). */
export function explain(error, url) {
  const status = error?.status
  const detail = String(error?.message ?? error).slice(0, 200)
  if (error?.name === 'AbortedError' || error?.name === 'TimeoutError') return `No answer from ${url.host} within ${CHECK_TIMEOUT_S} s.`
  if (status === 401 || status === 403) return `${url.host} refused the key (${status}). ${detail}`
  if (status === 404) return `Not found (404): check the base URL and the model name. ${detail}`
  if (status === 429) return `Rate limited or out of quota (429). ${detail}`
  if (status) return `${url.host} answered ${status}. ${detail}`
  if (!/network error|failed to fetch/i.test(detail)) return `${url.host} answered, but not as the ${error?.provider ?? 'provider'} API expects: ${detail}`
  // fetch's TypeError: the browser does not tell a refused connection from a CORS refusal.
  return `Could not reach ${url.origin}: the server is down or the URL is wrong, or it does not allow requests from this page (CORS). ${detail}`
}
