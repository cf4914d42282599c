import { anthropic } from '../../../src/providers/anthropic.js'
import { gemini } from '../../../src/providers/gemini.js'
import { openai } from '../../../src/providers/openai.js'

/**
 * A Worker that makes one provider call, for the redirect test in workerd: `?wire=…&base=…&key=…`.
 * Answers the outcome as JSON: the reply's text, or the error's name, message, status and retryable.
 */
export default {
  async fetch(request: Request): Promise<Response> {
    const q = new URL(request.url).searchParams
    const options = { baseURL: q.get('base')!, apiKey: q.get('key')!, maxRetries: 0 }
    const wire = q.get('wire')
    const provider = wire === 'openai' ? openai({ ...options, baseURL: `${options.baseURL}/v1` }) : wire === 'anthropic' ? anthropic(options) : gemini({ ...options, baseURL: `${options.baseURL}/v1beta` })
    try {
      const r = await provider.chat({ model: 'test-model', messages: [{ role: 'user', content: 'hi' }] })
      return Response.json({ text: r.text })
    } catch (e: any) {
      return Response.json({ name: e?.name, message: e?.message, status: e?.status, retryable: e?.retryable })
    }
  },
}
