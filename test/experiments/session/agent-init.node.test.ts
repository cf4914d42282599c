import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAgent, type AgentOptions } from '../../../src/agent/agent.js'
import { AgentEvent, TextEvent, TextToSpeechEvent } from '../../../src/agent/events.js'
import type { ContextConfig } from '../../../src/context.js'
import { ValidationError } from '../../../src/errors.js'
import { chooseOption, hashBucket } from '../../../src/experiments/session/hash.js'
import { memoryStorage } from '../../../src/storage/memory.js'
import { createContextStore } from '../../../src/storage/store.js'
import { close, serve } from '../../runtime/serve.js'

const options = { control: 1, treatment: 1 }
/** The option `key` gets in the test "welcome" (computed from the hash, not through the agent). */
const expectedFor = (key: string) => Object.keys(options)[chooseOption(hashBucket('welcome', key), [1, 1])]

/** An agent whose handler says the session's identity and its value of the test "welcome". */
function makeAgent(extra: Partial<AgentOptions> = {}) {
  const store = createContextStore(memoryStorage(), { channel: false })
  const handled: string[] = []
  const agent = createAgent({
    store,
    async *handler(event, ctx) {
      handled.push(event.type)
      const value = ctx.addTest('welcome', options)
      yield new TextToSpeechEvent({ text: `${ctx.agentId ?? '-'} ${ctx.assignmentKey ?? '-'} ${String(ctx.getData('plan', '-'))} ${value}` })
    },
    ...extra,
  })
  return { agent, store, handled }
}

async function collect(events: AsyncIterable<AgentEvent>): Promise<AgentEvent[]> {
  const out: AgentEvent[] = []
  for await (const e of events) out.push(e)
  return out
}
const texts = (events: AgentEvent[]) => events.map((e) => e.data.text).filter(Boolean)

describe('createAgent({ init }) through send', () => {
  it("gives a new session its config (agentId, assignmentKey, data), once; later events and other agents on the store don't call it", async () => {
    const calls: [string, Request | undefined][] = []
    const init = (sessionId: string, request?: Request): ContextConfig => {
      calls.push([sessionId, request])
      return { agentId: 'support', assignmentKey: 'user-42', data: { plan: 'pro' }, environment: 'test' }
    }
    const { agent, store } = makeAgent({ init })
    const first = await collect(agent.send('s-1', new TextEvent({ text: 'hi' })))
    const line = `support user-42 pro ${expectedFor('user-42')}`
    expect(texts(first)).toEqual([line, line]) // the StartEvent's turn, then the text's
    expect(calls).toEqual([['s-1', undefined]])
    await collect(agent.send('s-1', new TextEvent({ text: 'again' })))
    expect(calls).toHaveLength(1)
    const saved = (await store.load('s-1'))!
    expect([saved.agentId, saved.assignmentKey, saved.environment, saved.getData('plan'), saved.sessionId, saved.id]).toEqual(['support', 'user-42', 'test', 'pro', 's-1', 's-1'])
    const other = createAgent({ store, init, handler: async () => {} })
    await collect(other.send('s-1', new TextEvent({ text: 'from another instance' })))
    expect(calls).toHaveLength(1)
  })

  it('an async init is awaited; SendOptions.request reaches it', async () => {
    const seen: (string | null)[] = []
    const { agent } = makeAgent({
      init: async (_id, request) => {
        await new Promise((r) => setTimeout(r, 5))
        seen.push(request?.headers.get('x-user') ?? null)
        return { assignmentKey: request?.headers.get('x-user') ?? undefined }
      },
    })
    const request = new Request('http://local/x', { headers: { 'x-user': 'u-7' } })
    expect(texts(await collect(agent.send('s-2', new TextEvent({ text: 'hi' }), { request })))).toContain(`- u-7 - ${expectedFor('u-7')}`)
    expect(seen).toEqual(['u-7'])
  })

  it('a throwing init: the stream rejects with its error, the handler never runs, nothing is saved, the next event tries again', async () => {
    let fail = true
    const boom = new Error('no such user')
    const { agent, store, handled } = makeAgent({
      init: () => {
        if (fail) throw boom
        return { agentId: 'ok' }
      },
    })
    const seen: AgentEvent[] = []
    await expect(
      (async () => {
        for await (const e of agent.send('s-3', new TextEvent({ text: 'hi' }))) seen.push(e)
      })(),
    ).rejects.toBe(boom)
    expect(seen).toEqual([]) // no ErrorEvent: the error is the caller's, not an event of a session
    expect(handled).toEqual([])
    expect(await store.load('s-3')).toBeUndefined()
    fail = false
    expect(texts(await collect(agent.send('s-3', new TextEvent({ text: 'hi' }))))[0]).toMatch(/^ok /)
    expect((await store.load('s-3'))!.agentId).toBe('ok')
  })

  it('a stream nobody reads does not leave an unhandled rejection behind', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const { agent, store } = makeAgent({
        init: () => {
          throw new Error('x')
        },
      })
      agent.send('s-4', new TextEvent({ text: 'hi' }))
      await new Promise((r) => setTimeout(r, 20))
      expect(await store.load('s-4')).toBeUndefined()
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it.each([
    ['a sessionId of its own', { sessionId: 'other' }, 'init().sessionId', /session id/],
    ['a contextId of its own', { contextId: 'other' }, 'init().contextId', /session id/],
    ['an id', { id: 'other' }, 'init().id', /session id/],
    ['variables (runtime only, lost at the next load)', { variables: { KEY: 'k' } }, 'init().variables', /runtime only/],
    ['an unknown key', { assignment_key: 'u' }, 'config.assignment_key', /did you mean assignmentKey/],
    ['a bad assignmentKey', { assignmentKey: '' }, 'config.assignmentKey', /non-empty/],
    ['not an object', 'user-1', 'init()', /ContextConfig object/],
    ['null', null, 'init()', /ContextConfig object/],
  ])('an init returning %s is a ValidationError naming it; no session', async (_, config, path, message) => {
    const { agent, store } = makeAgent({ init: () => config as ContextConfig })
    const error = await collect(agent.send('s-5', new TextEvent({ text: 'hi' }))).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).path).toBe(path)
    expect((error as ValidationError).message).toMatch(message)
    expect(await store.load('s-5')).toBeUndefined()
  })
})

describe('createAgent({ init }) through fetch, over real HTTP on 127.0.0.1', () => {
  const errors: [unknown, string][] = []
  let url: string
  let server: Awaited<ReturnType<typeof serve>>
  const initCalls: { sessionId: string; user: string | null; path: string; bodyUsed: boolean }[] = []
  const { agent, store } = makeAgent({
    init: (sessionId, request) => {
      const user = request?.headers.get('x-user-id') ?? null
      initCalls.push({ sessionId, user, path: new URL(request!.url).pathname, bodyUsed: request!.bodyUsed })
      if (user === 'banned') throw new Error('user banned: not a session')
      return { agentId: 'web', assignmentKey: user ?? undefined }
    },
    onError: (error, request) => errors.push([error, new URL(request.url).pathname]),
  })

  beforeAll(async () => {
    server = await serve((request) => agent.fetch(request))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => close(server))

  const post = (id: string, user?: string) =>
    fetch(`${url}/sessions/${id}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(user ? { 'x-user-id': user } : {}) },
      body: JSON.stringify({ type: 'text', data: { text: 'hi' } }),
    })

  it('init gets the HTTP request (headers, URL; body already read): the user id header becomes the assignment key', async () => {
    const response = await post('web-1', 'user-9')
    expect(response.status).toBe(200)
    const body = await response.text()
    expect(body).toContain(`web user-9 - ${expectedFor('user-9')}`)
    expect(initCalls.at(-1)).toEqual({ sessionId: 'web-1', user: 'user-9', path: '/sessions/web-1/events', bodyUsed: true })
    const saved = await fetch(`${url}/sessions/web-1`).then((r) => r.json())
    expect(saved.assignmentKey).toBe('user-9')
    // Another session of the same user, over HTTP too: the same option.
    expect(await (await post('web-2', 'user-9')).text()).toContain(`web user-9 - ${expectedFor('user-9')}`)
  })

  it('a throwing init answers a generic 500, the error goes to onError, and no session exists', async () => {
    const before = initCalls.length
    const response = await post('web-banned', 'banned')
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ error: { code: 'internal', message: 'internal error' } })
    expect(initCalls.length).toBe(before + 1)
    expect(errors.map(([e, path]) => [(e as Error).message, path])).toEqual([['user banned: not a session', '/sessions/web-banned/events']])
    expect((await fetch(`${url}/sessions/web-banned`)).status).toBe(404)
    expect(await store.load('web-banned')).toBeUndefined()
  })

  it('GET and DELETE never call init', async () => {
    const before = initCalls.length
    expect((await fetch(`${url}/sessions/nobody`)).status).toBe(404)
    expect((await fetch(`${url}/sessions/nobody`, { method: 'DELETE' })).status).toBe(404)
    expect(initCalls.length).toBe(before)
  })
})
