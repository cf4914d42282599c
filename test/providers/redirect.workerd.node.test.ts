import type { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWorker } from '../storage/miniflare.js'
import { json, KEY, loopback, type Loopback, type Step } from './servers/loopback.js'
import { wires } from './wires.js'

/**
 * The redirect rule inside workerd (miniflare 3), whose fetch under `redirect: 'manual'` hands back
 * the real 3xx with its Location, as undici does: a cross-origin 307 is refused there too and the
 * other origin sees nothing; a same-origin 307 is followed.
 */

const redirect =
  (status: number, location: string): Step =>
  (_s, res) => {
    res.writeHead(status, { location })
    res.end()
  }

let mf: Miniflare
const servers: Record<string, Loopback> = {}
let other: Loopback

beforeAll(async () => {
  mf = await startWorker(new URL('./workerd/worker.ts', import.meta.url).pathname, {})
  for (const w of wires) servers[w.name] = await w.serve()
  other = await loopback(() => [])
}, 60_000)

afterAll(async () => {
  await mf?.dispose()
  for (const s of Object.values(servers)) await s.close()
  await other?.close()
})

const call = async (wire: string, base: string) =>
  (await (await mf.dispatchFetch(`http://worker.test/?wire=${wire}&base=${encodeURIComponent(base)}&key=${KEY}`)).json()) as Record<string, unknown>

describe.each(wires)('workerd, $name: redirects', (w) => {
  it('a 307 to another origin is refused and the other origin sees nothing', async () => {
    const a = servers[w.name]!
    other.seen.length = 0
    a.queue(redirect(307, `${other.url}${w.path(false)}`))
    other.queue(json({}))
    const out = await call(w.name, a.url)
    expect(out).toMatchObject({ name: 'ProviderError', status: 307, retryable: false })
    expect(out.message).toBe(`${w.name}: HTTP 307: redirect to ${other.url} refused: the API key is only sent to ${a.url}`)
    expect(other.seen).toHaveLength(0)
    // The queued step not taken: take it so it cannot answer a later request.
    await fetch(other.url)
  })

  it('a 307 within the origin is followed with the key', async () => {
    const a = servers[w.name]!
    a.seen.length = 0
    const reply =
      w.name === 'openai'
        ? { choices: [{ index: 0, message: { role: 'assistant', content: 'followed' }, finish_reason: 'stop' }] }
        : w.name === 'anthropic'
          ? { content: [{ type: 'text', text: 'followed' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }
          : { candidates: [{ content: { parts: [{ text: 'followed' }] }, finishReason: 'STOP' }] }
    a.queue(redirect(307, w.path(false)), json(reply))
    expect(await call(w.name, a.url)).toEqual({ text: 'followed' })
    expect(a.seen).toHaveLength(2)
    expect(a.seen[1]!.headers[w.keyHeader]).toContain(KEY)
  })
})
