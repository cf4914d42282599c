// A simulated model behind a real HTTP endpoint: this service worker answers
// `POST <scope>sim/v1/chat/completions` in OpenAI's Chat Completions wire format (streamed
// `data:` chunks with `delta.content`, `delta.tool_calls`, `finish_reason`, then `usage`, then
// `data: [DONE]`), so the page runs the real provider path (`openai({ baseURL })` and the
// Executor) with no network and no key. Every other request goes to the network untouched.
//
// What it says is rules over the last message, not a language model:
//   a tool result                  a markdown summary of it
//   "order 1042", "where is my…"   calls lookup_order
//   "buy …", "place an order"      calls place_order (the page's tool starts a background task)
//   "story", "long"                a long markdown answer (to try Stop on)
//   "fail"                         a 503 with OpenAI's error body (the provider error path)
//   anything else                  a short markdown answer using the context the page sent

/** Milliseconds between two streamed chunks: about 50 tokens a second, a fast model's pace. */
const MS_PER_CHUNK = 20

self.addEventListener('install', () => self.skipWaiting())
// Controls the open page at once: the page waits for this before its first model call.
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (url.origin !== self.location.origin || !url.pathname.includes('/sim/v1/')) return
  event.respondWith(answer(event.request, url))
})

/** @param {Request} request @param {URL} url */
async function answer(request, url) {
  if (url.pathname.endsWith('/models')) return Response.json({ object: 'list', data: [{ id: 'agentctx-sim', object: 'model', owned_by: 'agentctx' }] })
  if (!url.pathname.endsWith('/chat/completions') || request.method !== 'POST') return error(404, 'not_found', `Unknown route ${url.pathname}`)
  let body
  try {
    body = await request.json()
  } catch {
    return error(400, 'invalid_request_error', 'The body is not JSON')
  }
  if (!Array.isArray(body?.messages) || !body.messages.length) return error(400, 'invalid_request_error', 'messages must be a non-empty array')
  const reply = respond(body.messages, new Set((body.tools ?? []).map((t) => t?.function?.name)))
  if (reply.status) return error(reply.status, reply.type, reply.message)
  const chunks = toChunks(reply, body)
  if (!body.stream) return Response.json(whole(reply, body))
  // The page may ask for another pace (its `?pace=`): 0 to 200 ms.
  const ms = Math.min(200, Math.max(0, Number(request.headers.get('x-sim-pace') ?? MS_PER_CHUNK) || 0))
  let timer
  const encoder = new TextEncoder()
  const stream = new ReadableStream({
    start(controller) {
      let i = 0
      const next = () => {
        if (i === chunks.length) {
          controller.enqueue(encoder.encode('data: [DONE]\n\n'))
          controller.close()
          return
        }
        controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunks[i++])}\n\n`))
        timer = setTimeout(next, ms)
      }
      next()
    },
    // The page stopped reading (Stop, a new message, a closed tab): stop generating.
    cancel: () => clearTimeout(timer),
  })
  return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' } })
}

const error = (status, type, message) => Response.json({ error: { message, type, code: null } }, { status })

const textOf = (content) => (typeof content === 'string' ? content : Array.isArray(content) ? content.map((p) => p?.text ?? '').join('') : '')
/** Rough o200k-like count: a token is about 4 characters of English. */
const tokens = (text) => Math.max(1, Math.ceil(text.length / 4))

/** The reply to a conversation: `{ content }`, `{ toolCalls: [{ name, arguments }] }` or an error `{ status, type, message }`. */
function respond(messages, tools) {
  const last = messages.at(-1)
  const system = messages.filter((m) => m.role === 'system').map((m) => textOf(m.content)).join('\n')
  const name = /"user_name":"([^"]+)"/.exec(system)?.[1]
  if (last.role === 'tool') return { content: afterTool(messages, last) }
  const text = textOf(last.content)
  if (/\bfail\b/i.test(text)) return { status: 503, type: 'server_error', message: 'The simulated model is unavailable (you asked it to fail).' }
  const order = /\border\s*#?\s*(\d{3,6})\b/i.exec(text)?.[1] ?? (/where is my order|track/i.test(text) ? '1042' : undefined)
  if (order && tools.has('lookup_order')) return { toolCalls: [{ name: 'lookup_order', arguments: { orderId: order } }] }
  const item = /\b(?:buy|place an order for|order)\s+(?:an?\s+|some\s+|the\s+)?([\p{L} ]{2,30}?)\s*[.!?]*$/iu.exec(text)?.[1]
  if ((item || /place (an )?order/i.test(text)) && tools.has('place_order')) return { toolCalls: [{ name: 'place_order', arguments: { item: item?.trim() || 'a coffee' } }] }
  if (/\b(story|long|explain)\b/i.test(text)) return { content: STORY }
  const named = /my name is (\p{L}+)/iu.exec(text)?.[1]
  if (named) return { content: `Nice to meet you, **${named}**! I'll keep your name in this session's context.` }
  if (/^(hi|hello|hey)\b/i.test(text)) return { content: `Hello${name ? `, **${name}**` : ''}! Ask me about an order, or to tell a story.` }
  return {
    content:
      `You said “${text.slice(0, 160)}”${name ? `, ${name}` : ''}. I am a **simulated model** in a service worker, so I only know a few tricks:\n\n` +
      '- *where is order 1042?* calls a tool\n- *buy a coffee* starts a background task\n- *tell me a story* streams long enough to **Stop**\n- *fail* makes me answer with an error',
  }
}

function afterTool(messages, last) {
  const call = messages.flatMap((m) => m.tool_calls ?? []).find((c) => c.id === last.tool_call_id)
  let result
  try {
    result = JSON.parse(textOf(last.content))
  } catch {
    result = textOf(last.content)
  }
  if (call?.function?.name === 'place_order') return `Done: order **#${result.orderId}** for *${result.item}* is placed. I'm preparing it in the background — keep chatting, I'll tell you when it's ready.`
  if (result?.error || typeof result === 'string') return `The lookup failed: ${result?.error ?? result}`
  const rows = result.items.map((i) => `| ${i.name} | ${i.qty} |`).join('\n')
  return `Order **#${result.orderId}** is *${result.status}* (${result.carrier}, expected ${result.eta}).\n\n| item | qty |\n| --- | --- |\n${rows}`
}

const STORY = [
  '## The context that came back',
  '',
  'Once upon a time, a **context** lived in a browser tab. Every turn it took was written to IndexedDB, one record at a time.',
  '',
  'One day the tab was *reloaded*, and the context was not afraid:',
  '',
  '1. it came back from storage with every turn it had,',
  '2. its background task had left a note of where it stopped,',
  '3. and its A/B test still knew which greeting this visitor gets.',
  '',
  'The model that spoke for it streamed one token at a time, so the user could read along — or press `Stop` whenever the story went on too long, which stories in demos always do.',
  '',
  'And the user, who had been typing all along, was never kept waiting.',
].join('\n')

/** Splits text into chunks of about one token: a word with its leading space, long words cut at 6 characters. */
const pieces = (text) => text.match(/\s*[^\s]{1,6}|\s+/g) ?? []

function toChunks(reply, body) {
  const base = { id: 'chatcmpl-sim', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: body.model }
  const chunk = (delta, finish = null) => ({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })
  const out = [chunk({ role: 'assistant', content: '' })]
  if (reply.content) for (const p of pieces(reply.content)) out.push(chunk({ content: p }))
  reply.toolCalls?.forEach((call, index) => {
    const args = JSON.stringify(call.arguments)
    const id = `call_${Math.random().toString(36).slice(2, 10)}`
    out.push(chunk({ tool_calls: [{ index, id, type: 'function', function: { name: call.name, arguments: '' } }] }))
    // Arguments arrive in fragments, as OpenAI streams them.
    for (let i = 0; i < args.length; i += 8) out.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(i, i + 8) } }] }))
  })
  out.push(chunk({}, reply.toolCalls ? 'tool_calls' : 'stop'))
  const prompt = body.messages.reduce((n, m) => n + tokens(textOf(m.content) + JSON.stringify(m.tool_calls ?? '')), 0)
  const completion = reply.content ? pieces(reply.content).length : 12
  if (body.stream_options?.include_usage !== false) out.push({ ...base, choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } })
  return out
}

function whole(reply, body) {
  return {
    id: 'chatcmpl-sim',
    object: 'chat.completion',
    model: body.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.content ?? null,
          ...(reply.toolCalls && { tool_calls: reply.toolCalls.map((c, i) => ({ id: `call_${i}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })) }),
        },
        finish_reason: reply.toolCalls ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  }
}
