// A browser app that uses agentctx as a person building one would: the core and IndexedDB storage,
// nothing else. test/bundler/bundlers.node.test.ts bundles it with Vite and with esbuild and opens it
// in Chromium. The first visit saves a context; the page reloaded with #load reads it back from
// IndexedDB (a new store over a new adapter: nothing from the first visit's memory).
import { Context, createContextStore } from 'agentctx'
import { indexedDBStorage } from 'agentctx/storage/indexeddb'

async function main() {
  const store = createContextStore(indexedDBStorage({ dbName: 'bundled-app' }))
  if (location.hash !== '#load') {
    const ctx = await store.open('session-1', { agentId: 'bundled' })
    ctx.setData('user_name', 'Ada')
    ctx.addRequest('Where is my order?')
    ctx.addResponse('On its way.')
    await store.save(ctx)
    return { saved: ctx instanceof Context }
  }
  const ctx = await store.load('session-1')
  return { loaded: ctx instanceof Context, agentId: ctx?.agentId, user: ctx?.getData('user_name'), reply: ctx?.lastResponse?.text }
}

main().then(
  (result) => (document.body.dataset.result = JSON.stringify(result)),
  (error) => (document.body.dataset.result = JSON.stringify({ error: String(error?.stack ?? error) })),
)
