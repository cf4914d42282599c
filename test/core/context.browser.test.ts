import { afterEach, describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'

// The LLM document's persistence example needs a real localStorage: Chromium only.
describe("the LLM document's localStorage example", () => {
  afterEach(() => localStorage.removeItem('context'))

  it('toJSON → JSON.stringify → localStorage → JSON.parse → fromJSON gives an equal context', () => {
    const ctx = Context.init({ flow: 'main', node: 'start' }, { intent: 'analyze', constraints: { maxTokens: 2000 }, variables: { OPENAI_API_KEY: 'sk-secret' } })
    ctx.addRequest('hello')
    ctx.setData('user_name', 'John')
    ctx.addCompletionMessage({ role: 'user', content: 'hello' })

    const data = ctx.toJSON()
    const jsonStr = JSON.stringify(data)
    localStorage.setItem('context', jsonStr)

    const stored = localStorage.getItem('context')!
    expect(stored).not.toContain('sk-secret')
    const restored = Context.fromJSON(JSON.parse(stored))
    expect(restored.toJSON()).toEqual(data)
    expect(restored.lastRequest).toEqual({ text: 'hello' })
    expect(restored.getData('user_name')).toBe('John')
    // The string form works as well, without the caller parsing it.
    expect(Context.fromJSON(stored).toJSON()).toEqual(data)
  })
})
