import { Context } from '../../../src/context.js'
import { Executor } from '../../../src/llm/executor.js'
import { openai } from '../../../src/providers/openai.js'

/**
 * A Worker that streams a chat as the README shows: `?base=…&key=…&type=sse|text&q=…`. With
 * `tools=1`, the model may call `weather` (maxSteps 3). The Response is `toResponse` as is.
 */
export default {
  async fetch(request: Request): Promise<Response> {
    const q = new URL(request.url).searchParams
    const executor = new Executor({ providers: [openai({ baseURL: `${q.get('base')}/v1`, apiKey: q.get('key')!, maxRetries: 0 })] })
    const ctx = new Context({ routing: { model: 'gpt-4o' } }, { executor })
    ctx.addCompletionMessage({ role: 'user', content: q.get('q') ?? 'Hi' })
    const tools = q.get('tools')
      ? { weather: { parameters: { type: 'object', properties: { city: { type: 'string' } } }, execute: (args: { city: string }) => ({ city: args.city, sky: 'sunny' }) } }
      : undefined
    return ctx.streamChatCompletion({ signal: request.signal, tools, maxSteps: 3 }).toResponse({ type: q.get('type') === 'text' ? 'text' : 'sse' })
  },
}
