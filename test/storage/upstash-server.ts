import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { Redis } from 'ioredis'

/** A loopback server speaking Upstash's REST protocol in front of a real redis-server. */
export interface UpstashServer {
  /** `http://127.0.0.1:<port>`: pass as `url` to `new Redis({ url, token })` of @upstash/redis. */
  url: string
  token: string
  /** Every command received, in order (`/pipeline` and `/multi-exec` bodies flattened), as sent. */
  commands: (string | number)[][]
  /** Every request's path and whether it asked for base64 (`Upstash-Encoding: base64`). */
  requests: { path: string; base64: boolean }[]
  close(): Promise<void>
}

type Reply = Buffer | number | null | Reply[]

/**
 * Starts the server on a free port of 127.0.0.1, forwarding each command to `redisUrl`. What it
 * speaks, as @upstash/redis 1.x (pkg/http.ts) and Upstash's REST API docs describe it:
 *
 * - `POST /` with a JSON array (`["SET","k","v"]`) runs one command: `200 {"result":…}`, or
 *   `400 {"error":"ERR …"}` when Redis refuses it;
 * - `POST /pipeline` with an array of commands runs them in order: `200 [{"result":…}|{"error":…}, …]`;
 * - `POST /multi-exec`, the same inside MULTI/EXEC on a connection of its own;
 * - `Authorization: Bearer <token>` required, else `401 {"error":"Unauthorized"}`;
 * - with `Upstash-Encoding: base64`, every string in a result is the base64 of its bytes (the
 *   client's default: it decodes them with TextDecoder), numbers and nulls as they are.
 */
export async function startUpstash(redisUrl: string, token = 'upstash-test-token-3c9d'): Promise<UpstashServer> {
  const redis = new Redis(redisUrl)
  // MULTI/EXEC needs a connection nothing else writes to in between: one, used one request at a time.
  const tx = new Redis(redisUrl)
  let txQueue: Promise<unknown> = Promise.resolve()
  const commands: (string | number)[][] = []
  const requests: { path: string; base64: boolean }[] = []

  const toJson = (reply: Reply, base64: boolean): unknown =>
    Buffer.isBuffer(reply) ? reply.toString(base64 ? 'base64' : 'utf8') : Array.isArray(reply) ? reply.map((r) => toJson(r, base64)) : reply
  const checkCommand = (c: unknown): (string | number)[] => {
    if (!Array.isArray(c) || !c.length || !c.every((a) => typeof a === 'string' || typeof a === 'number')) throw new Error('ERR a command is a non-empty array of strings and numbers')
    return c as (string | number)[]
  }
  const call = async (conn: Redis, c: (string | number)[]) => (await conn.callBuffer(String(c[0]), c.slice(1))) as Reply

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const base64 = req.headers['upstash-encoding'] === 'base64'
    requests.push({ path, base64 })
    if (req.method !== 'POST') return send(405, { error: 'Method not allowed' })
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'Unauthorized' })
    let body: unknown
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      return send(400, { error: 'ERR failed to parse the request body' })
    }
    const error = (e: unknown) => ({ error: (e as Error).message })
    if (path === '/') {
      try {
        const c = checkCommand(body)
        commands.push(c)
        return send(200, { result: toJson(await call(redis, c), base64) })
      } catch (e) {
        return send(400, error(e))
      }
    }
    if (path !== '/pipeline' && path !== '/multi-exec') return send(404, { error: `ERR unknown path ${path}` })
    if (!Array.isArray(body) || !body.length) return send(400, { error: 'ERR a pipeline is a non-empty array of commands' })
    let list: (string | number)[][]
    try {
      list = body.map(checkCommand)
    } catch (e) {
      return send(400, error(e))
    }
    commands.push(...list)
    if (path === '/pipeline') {
      const out = []
      for (const c of list) out.push(await call(redis, c).then((r) => ({ result: toJson(r, base64) }), error))
      return send(200, out)
    }
    const done = txQueue.then(async () => {
      await tx.call('MULTI')
      const queued = []
      for (const c of list) queued.push(await call(tx, c).then(() => undefined, error))
      const failed = queued.find(Boolean)
      if (failed) {
        await tx.call('DISCARD')
        return send(400, failed)
      }
      const results = (await tx.callBuffer('EXEC')) as Reply[]
      // EXEC returns each command's reply, or an error object for one that failed at run time.
      send(200, results.map((r) => (r instanceof Error ? error(r) : { result: toJson(r, base64) })))
    })
    txQueue = done.catch(() => {})
    await done
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: String(e) }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    commands,
    requests,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      redis.disconnect()
      tx.disconnect()
    },
  }
}
