import { AbstractChat, DefaultChatTransport, type ChatState, type ChatStatus, type UIMessage } from 'ai'
import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAgentClient } from '../../src/client/index.js'
import { startWorker } from '../storage/miniflare.js'

// The agent as a Cloudflare Worker in workerd (miniflare 3), with `protocol: 'ai-sdk'`: useChat's
// transport and agentctx/client both talk to it, through miniflare's dispatchFetch.

let mf: Miniflare
beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/chat-worker.ts', import.meta.url).pathname, { kvNamespaces: ['KV'] })
}, 60_000)
afterAll(() => mf?.dispose())

const dispatch = ((url: string, init?: RequestInit) => mf.dispatchFetch(url, init as never)) as unknown as typeof fetch

class PlainState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready'
  error: Error | undefined = undefined
  messages: UIMessage[] = []
  pushMessage = (m: UIMessage) => void (this.messages = [...this.messages, m])
  popMessage = () => void (this.messages = this.messages.slice(0, -1))
  replaceMessage = (i: number, m: UIMessage) => void (this.messages = this.messages.map((x, j) => (j === i ? m : x)))
  snapshot = <T>(thing: T): T => structuredClone(thing)
}

describe("workerd: an agentctx Worker with protocol 'ai-sdk'", () => {
  it("useChat's transport (AbstractChat + DefaultChatTransport) sends and reads the streamed reply; the turn is in KV", async () => {
    const chat = new (class extends AbstractChat<UIMessage> {})({
      id: 'worker-chat',
      state: new PlainState(),
      transport: new DefaultChatTransport({ api: 'http://agent.test/api/chat', fetch: dispatch }),
    })
    await chat.sendMessage({ text: 'stream 4' })
    expect(chat.status).toBe('ready')
    expect(chat.messages[1]!.parts.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text)).toEqual(['Hello!', 'w1 w2 w3 w4'])
    await chat.sendMessage({ text: 'task' })
    expect(chat.messages[3]!.parts.find((p) => p.type === 'data-background')).toMatchObject({ data: { background: { task: 'order' } } })
    const history = await createAgentClient({ url: 'http://agent.test', fetch: dispatch }).history('worker-chat')
    expect(history!.turns!.map((t) => t.request?.text ?? null)).toEqual([null, 'stream 4', 'task'])
  })

  it('agentctx/client: the session view streams the reply token by token from the Worker', async () => {
    const view = createAgentClient({ url: 'http://agent.test', fetch: dispatch }).session('worker-view')
    const partials: string[] = []
    view.subscribe((s) => s.streaming && partials.push(s.streaming.text))
    await view.send('stream 3')
    expect(view.getSnapshot().messages.map((m) => m.text)).toEqual(['Hello!', 'stream 3', 'w1 w2 w3'])
    expect(partials).toEqual(expect.arrayContaining(['w1', 'w1 w2', 'w1 w2 w3']))
  })
})
