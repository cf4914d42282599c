import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** The fake API key every provider test uses; no message or error JSON may ever contain it. */
export const KEY = 'sk-test-Zq8vKc2Lr5Wn0Xy7Tb4M'

/** One request as the server saw it. */
export interface Seen {
  method: string
  path: string
  query: URLSearchParams
  headers: IncomingHttpHeaders
  body: any
  /** Resolves when the client closed the connection before the response was complete. */
  clientClosed: Promise<void>
}

/** What the server does with one request. */
export type Step = (seen: Seen, res: ServerResponse) => unknown

/** A node:http server on 127.0.0.1 answering queued steps and checking every request. */
export interface Loopback {
  url: string
  seen: Seen[]
  /** Requests that broke the provider's documented format, one line each. */
  problems: string[]
  /** Answers for the next requests, in order (the default answers 599 to flag a missing step). */
  queue(...steps: Step[]): void
  close(): Promise<void>
}

/**
 * Starts a loopback server. `check` returns what is wrong with a request by the provider's
 * documentation; a request with problems gets a 418 whose body lists them (so the client's error
 * says what broke) and the problems are recorded for the test to assert on.
 */
export async function loopback(check: (seen: Seen) => string[]): Promise<Loopback> {
  const steps: Step[] = []
  const seen: Seen[] = []
  const problems: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const clientClosed = new Promise<void>((resolve) => res.on('close', () => !res.writableFinished && resolve()))
    const s: Seen = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body, clientClosed }
    seen.push(s)
    const wrong = check(s)
    if (wrong.length > 0) {
      problems.push(...wrong)
      res.writeHead(418, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `request check failed: ${wrong.join('; ')}` } }))
      return
    }
    const step = steps.shift()
    if (!step) {
      res.writeHead(599, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'no step queued for this request' } }))
      return
    }
    await step(s, res)
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    problems,
    queue: (...more) => void steps.push(...more),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Answers JSON with `status` and extra headers. */
export const json =
  (body: unknown, status = 200, headers: Record<string, string> = {}): Step =>
  (_seen, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
  }

/** How an SSE answer ends: normally, by destroying the socket, or by staying open until the client leaves. */
export type Ending = 'end' | 'drop' | 'hold'

/** Answers `text/event-stream` with `frames` (each a complete SSE event, blank line included), one write each. */
export const sse =
  (frames: string[], ending: Ending = 'end', headers: Record<string, string> = {}): Step =>
  async (seen, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers })
    res.flushHeaders()
    for (const f of frames) {
      // One write per event, each flushed, so the client really receives them as separate chunks.
      await new Promise<void>((resolve) => res.write(f, () => resolve()))
    }
    if (ending === 'end') res.end()
    else if (ending === 'drop') res.socket?.destroy()
    else await seen.clientClosed
  }

/** Never answers: the request hangs until the client gives up. */
export const hang: Step = (seen) => seen.clientClosed

/** `data: <json>` as one SSE event. */
export const data = (value: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(value)}\n\n`

/** Checks a header value, returning a problem line when it differs. */
export function expectHeader(seen: Seen, name: string, test: (v: string | undefined) => boolean, what: string): string[] {
  const v = seen.headers[name]
  return test(typeof v === 'string' ? v : undefined) ? [] : [`header ${name}: ${what} (got ${v === undefined ? 'none' : 'a different value'})`]
}

/** Problem lines for keys of `obj` outside `known`. */
export function unknownKeys(obj: object, known: string[], where: string): string[] {
  return Object.keys(obj).filter((k) => !known.includes(k)).map((k) => `${where}: unknown field ${k}`)
}
