import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { ContextError } from '../../src/errors.js'
import { Executor } from '../../src/llm/executor.js'
import { canConvertNow, loadSchemaConverter, toJsonSchema } from '../../src/llm/schema.js'
import { mockProvider } from '../../src/test/index.js'

// @valibot/to-json-schema is 3.4 KB gzip, a sixth of the core entry: it is imported on demand, the
// first time a valibot schema reaches the executor, so that an app passing JSON Schemas never loads
// it. (Bug guarded: a static import put it in every bundle holding the Executor, 24.8 KB with openai()
// where 15.7 KB had been.) This file runs in a module graph of its own: nothing has loaded it yet.
describe('the valibot converter, loaded on demand', () => {
  it('is not loaded by a JSON Schema, nor by a call without schemas', async () => {
    await loadSchemaConverter({ type: 'object' }, undefined, 'x')
    expect(canConvertNow(v.object({ a: v.string() }))).toBe(false)
    expect(canConvertNow({ type: 'object' })).toBe(true)
    expect(toJsonSchema({ type: 'object' }, 'schema')).toEqual({ type: 'object' })
  })

  it('converting a valibot schema before it is loaded is a typed error, not a crash', () => {
    const error = (() => {
      try {
        toJsonSchema(v.object({ a: v.string() }), 'tools.weather.parameters')
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ContextError)
    expect(error).toMatchObject({ code: 'invalid_state', path: 'tools.weather.parameters' })
  })

  it('the executor loads it for a valibot tool schema, then converts it for the provider', async () => {
    const mock = mockProvider({ name: 'openai', replies: ['done'] })
    const executor = new Executor({ providers: [mock] })
    const parameters = v.object({ city: v.string() })
    await executor.chat({ contextId: 'c', routing: { model: 'gpt-4o-mini' }, messages: [{ role: 'user', content: 'hi' }] }, { tools: { weather: { parameters } } })
    expect(canConvertNow(parameters)).toBe(true)
    expect(mock.lastRequest?.tools?.[0]?.parameters).toMatchObject({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] })
  })
})
