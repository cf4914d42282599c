// A consumer's code against the installed package: compiled (never run) by scripts/consumer.mjs
// under strict TypeScript, in a project of its own, with each moduleResolution. Kept out of this
// repository's tsconfig: `agentctx` here is the packed tarball, not the sources.
// Only globals that both the DOM lib and @types/node declare (fetch, AbortController, console).
import { Context, ContextError, createContextStore, Executor, getLastIndex, memoryStorage, ValidationError } from 'agentctx'
import type { CompletionMessage, ContextState, Json, JsonObject, StorageAdapter, Widen } from 'agentctx'
import { createAgent, TextEvent, TextToSpeechEvent, type AgentHandler } from 'agentctx/agent'
import { anthropic } from 'agentctx/providers/anthropic'
import { gemini } from 'agentctx/providers/gemini'
import { openai } from 'agentctx/providers/openai'
import { cloudflareKVStorage, type KVNamespaceLike } from 'agentctx/storage/cloudflare-kv'
import { durableObjectStorage, type DurableObjectStorageLike } from 'agentctx/storage/durable-object'
import { indexedDBStorage } from 'agentctx/storage/indexeddb'
import { sqlStorage, type SqlDatabase } from 'agentctx/storage/sql'
import { unstorageStorage, type UnstorageLike } from 'agentctx/storage/unstorage'

type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false
function expectType<T extends true>(): T | void {}

export async function usage(kv: KVNamespaceLike, durable: DurableObjectStorageLike, unstorage: UnstorageLike): Promise<void> {
  const ctx = new Context({ agentId: 'support-bot', constraints: { maxTokens: 2000 }, routing: { model: 'gpt-4o-mini' } })

  // getData / getTestingMetadata: without a fallback, any JSON or undefined; with one, its type widened.
  ctx.setData('user_name', 'John')
  const name = ctx.getData('user_name', 'Guest')
  const count = ctx.getData('count', 0) + 1
  const flag = ctx.getData('flag', false)
  const tags = ctx.getData('tags', [])
  const prefs = ctx.getData('prefs', { theme: 'dark' })
  const anything = ctx.getData('x')
  const nullable = ctx.getData('x', null)
  const meta = ctx.getTestingMetadata('variant', 'control')
  const fromTesting = ctx.testing.getMetadata('n', 1)
  expectType<Equal<typeof name, string>>()
  expectType<Equal<typeof count, number>>()
  expectType<Equal<typeof flag, boolean>>()
  expectType<Equal<typeof tags, Json[]>>()
  expectType<Equal<typeof prefs, { theme: string }>>()
  expectType<Equal<typeof anything, Json | undefined>>()
  expectType<Equal<typeof nullable, Json>>()
  expectType<Equal<typeof meta, string>>()
  expectType<Equal<typeof fromTesting, number>>()
  expectType<Equal<Widen<0 | 1>, number>>()
  // @ts-expect-error: without a fallback the value may be any JSON, or absent
  const notString: string = ctx.getData('user_name')
  void notString

  // State as plain JSON, and back.
  const state: ContextState = ctx.toJSON()
  const copy = Context.fromJSON(JSON.stringify(state))
  const turn: number = state.currentTurnId
  const data: JsonObject = state.data
  const messages: CompletionMessage[] = state.messages
  void [copy, turn, data, messages]

  // Turns, labels, errors.
  const dialog = Context.init({ flow: 'greeting', node: 'start' })
  dialog.addRequest('Hi!')
  dialog.addResponse({ text: 'Hello!' })
  const last: number = getLastIndex(dialog.labels)
  const text: string | undefined = dialog.lastResponse?.text
  void [last, text]
  try {
    Context.fromJSON('{"version": 1}')
  } catch (error) {
    if (error instanceof ValidationError) console.log(error.code)
    else if (error instanceof ContextError) console.log(error.path)
  }

  // Persistence on every adapter.
  const adapters: StorageAdapter[] = [memoryStorage(), indexedDBStorage({ dbName: 'app' }), cloudflareKVStorage(kv), durableObjectStorage(durable), unstorageStorage(unstorage)]
  // SQL: any client seen through two calls, sync (better-sqlite3) or async (D1, pg).
  const db: SqlDatabase = { query: (sql, params) => ({ rows: [{ sql, n: params.length }] }), batch: async (statements) => statements.map(() => ({ changes: 1 })) }
  adapters.push(sqlStorage(db, { dialect: 'sqlite', table: 'contexts' }), sqlStorage(db, { dialect: 'postgres', maxValueBytes: 1_000_000 }))
  const store = createContextStore(adapters[0]!, { namespace: 'app' })
  const opened = await store.open('session-1', { agentId: 'bot' })
  await store.save(opened)
  const loaded: Context | undefined = await store.load('session-1')
  void loaded

  // Providers and execution.
  const executor = new Executor({ providers: [openai({ apiKey: 'sk-test' }), anthropic({ apiKey: 'key' }), gemini({ apiKey: 'key' })] })
  const llm = new Context({ intent: 'answer' }, { executor })
  llm.addInput({ city: 'Paris' }, { relevance: 0.9 })
  const controller = new AbortController()
  const response = await llm.execute({ task: 'Which city?', signal: controller.signal, onToken: (delta) => console.log(delta) })
  const model: string = response.modelUsed
  const cost: number | undefined = response.cost
  void [model, cost]

  // The agent runtime, and its fetch entry point.
  const handler: AgentHandler = async function* (event, session, { signal }) {
    if (signal.aborted) return
    if (event instanceof TextEvent) {
      const n = session.getData('count', 0) + 1
      session.setData('count', n)
      yield new TextToSpeechEvent({ text: `Message ${n}: ${event.data.text}` })
    }
  }
  const agent = createAgent({ handler, store: createContextStore(memoryStorage()), authorize: (request) => request.headers.get('authorization') === 'Bearer token' })
  for await (const out of agent.send('session-1', new TextEvent({ text: 'hello' }))) console.log(out.type, out.data)
  const reply: Response = await agent.fetch(new Request('http://localhost/sessions/s1', { method: 'GET' }))
  void reply
}
