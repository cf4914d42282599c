import { createServer, type IncomingMessage, type Server } from 'node:http'

/**
 * The request body as a web `ReadableStream`, pulled from Node's stream as the handler reads it
 * (paused in between, so an unread body stays in the socket, not in memory). Cancelling stops the
 * reading without destroying the socket, so the answer (a 413) can still be written; Node then
 * discards the rest of the upload once the answer has been sent.
 */
function bodyOf(req: IncomingMessage): ReadableStream<Uint8Array> {
  let cancelled = false
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.pause()
        req.on('data', (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
          if ((controller.desiredSize ?? 0) <= 0) req.pause()
        })
        // Not after a cancel: closing a cancelled stream's controller throws "already closed" from
        // inside Node's event emitter, an uncaught exception (seen when a handler cancelled a body).
        req.on('end', () => cancelled || controller.close())
        req.on('error', (e) => cancelled || controller.error(e))
      },
      pull() {
        req.resume()
      },
      cancel() {
        cancelled = true
        req.pause()
        req.removeAllListeners('data')
      },
    },
    // Up to 64 KiB buffered ahead of the reader.
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  )
}

/**
 * Serves `fetchHandler` on Node's http server: the request becomes a standard `Request` whose body
 * streams (a handler that stops reading an oversized upload gets no more of it) and whose signal
 * aborts when the client goes away before the response is complete; the `Response` is streamed
 * back chunk by chunk. The adapter a Node app needs, in 40 lines.
 */
export function serve(fetchHandler: (request: Request) => Promise<Response>): Promise<Server> {
  const server = createServer(async (req, res) => {
    const controller = new AbortController()
    res.on('close', () => res.writableFinished || controller.abort())
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value)
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
    const init = { method: req.method, headers, body: hasBody ? bodyOf(req) : undefined, signal: controller.signal, duplex: 'half' }
    const response = await fetchHandler(new Request(`http://${req.headers.host}${req.url}`, init as RequestInit))
    // An upload the handler did not read to its end: answer, then close the connection (not reused).
    if (hasBody && !req.complete) res.setHeader('connection', 'close')
    res.writeHead(response.status, Object.fromEntries(response.headers))
    const reader = response.body?.getReader()
    for (let step; reader && !(step = await reader.read()).done; ) res.write(step.value)
    res.end()
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

/** Closes `server` and every connection it holds. */
export const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
