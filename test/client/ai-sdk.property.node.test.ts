import { parseJsonEventStream, uiMessageChunkSchema } from 'ai'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createAgent } from '../../src/agent/agent.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { createContextStore } from '../../src/storage/store.js'
import { handler, TOKEN } from './handler.js'

// createAgent({ protocol: 'ai-sdk' }) under hostile chat requests (fast-check): any method, content
// type and body (UI messages cut, mistyped, nested, with "__proto__" keys) gets a well-formed answer:
// a UI message stream the AI SDK's own schema accepts, or the agent's JSON error; no prototype changes.

const store = createContextStore(memoryStorage(), { channel: false })
const agent = createAgent({
  store,
  handler: handler({ aborted: [] }),
  protocol: 'ai-sdk',
  authorize: (request, { sessionId }) => request.headers.get('authorization') === `Bearer ${TOKEN}` && !sessionId.startsWith('forbidden'),
})

const part = fc.oneof(
  fc.record({ type: fc.constant('text'), text: fc.oneof(fc.string(), fc.constantFrom('stream 2', 'custom', 'fail', 'task')) }),
  fc.record({ type: fc.string(), text: fc.anything() }, { requiredKeys: [] }),
  fc.anything(),
)
const message = fc.record(
  { id: fc.string(), role: fc.oneof(fc.constantFrom('user', 'assistant', 'system'), fc.anything()), parts: fc.oneof(fc.array(part, { maxLength: 4 }), fc.anything()) },
  { requiredKeys: ['role'] },
)
const body = fc.oneof(
  fc.record(
    {
      id: fc.oneof(fc.string({ minLength: 1, maxLength: 140 }), fc.constantFrom('forbidden-x', '__proto__', 'a/b', '..'), fc.anything()),
      messages: fc.oneof(fc.array(message, { maxLength: 3 }), fc.anything()),
      message: message,
      trigger: fc.constantFrom('submit-message', 'regenerate-message'),
    },
    { requiredKeys: [] },
  ).map((o) => JSON.stringify(o)),
  fc.constantFrom('{"id":"p","messages":[{"role":"user","parts":[{"type":"text","text":"hi"}]}],"__proto__":{"polluted":1}}', '{', '[]', 'null', '\uFEFF{}', '"x"', '{"type":"text","data":{"text":"an agentctx event"}}'),
  fc.string(),
)
const request = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
  path: fc.constantFrom('/chat', '/api/chat', '/api/chat/', '/api/chat/x/stream', '/chat/%ZZ/stream'),
  contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/json; charset=latin1', undefined),
  auth: fc.boolean(),
  body,
})

describe("the AI SDK route under hostile requests (fast-check)", () => {
  it('answers a UI message stream valid by uiMessageChunkSchema, or the agent’s JSON error; changes no prototype', async () => {
    const statuses: Record<number, number> = {}
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers = new Headers()
        if (r.contentType) headers.set('content-type', r.contentType)
        if (r.auth) headers.set('authorization', `Bearer ${TOKEN}`)
        const hasBody = r.method !== 'GET'
        const response = await agent.fetch(new Request(`https://agent.example${r.path}`, { method: r.method, headers, body: hasBody ? r.body : undefined }))
        statuses[response.status] = (statuses[response.status] ?? 0) + 1
        expect([200, 204, 400, 403, 405, 413, 415]).toContain(response.status)
        if (response.status === 204) return
        if (response.status === 200) {
          expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1')
          const reader = parseJsonEventStream({ stream: response.body!, schema: uiMessageChunkSchema }).getReader()
          const types: string[] = []
          for (let step; !(step = await reader.read()).done; ) {
            expect(step.value.success).toBe(true)
            if (step.value.success) types.push(step.value.value.type)
          }
          expect(types[0]).toBe('start')
          expect(types.at(-1)).toBe('finish')
          return
        }
        const json = await response.json()
        expect(Object.keys(json)).toEqual(['error'])
        expect(typeof json.error.code).toBe('string')
        expect(typeof json.error.message).toBe('string')
        expect(json.error.message).not.toContain(TOKEN)
      }),
      {
        numRuns: 300,
        // A well-formed chat request is always among the runs (random bodies reach one only some of the time).
        examples: [
          [{ method: 'POST', path: '/api/chat', contentType: 'application/json', auth: true, body: '{"id":"ok","messages":[{"id":"m","role":"user","parts":[{"type":"text","text":"stream 2"}]}]}' }],
          [{ method: 'POST', path: '/chat', contentType: 'application/json', auth: true, body: '{"id":"forbidden-x","messages":[{"id":"m","role":"user","parts":[{"type":"text","text":"hi"}]}]}' }],
          [{ method: 'POST', path: '/api/chat/x/stream', contentType: 'application/json', auth: true, body: '{"type":"text","data":{"text":"an agentctx event"}}' }],
        ],
      },
    )
    expect(({} as any).polluted).toBeUndefined()
    // An agentctx event sent to a chat route never reaches the agent's own route (the '-' placeholder session).
    expect(await store.load('-')).toBeUndefined()
    // Every kind of answer was reached, the streamed one included.
    expect(Object.keys(statuses).map(Number).sort()).toEqual(expect.arrayContaining([200, 400, 403, 405, 415]))
  }, 60_000)
})
