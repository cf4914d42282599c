/**
 * The three Redis clients `redisStorage` supports, each on one real redis-server this file's user
 * starts (see `redisClients`): ioredis and node-redis over RESP, @upstash/redis over REST through
 * the loopback Upstash server (upstash-server.ts) that forwards to the same redis-server. Plus a
 * MONITOR log of the writes the server itself executes, for the crash-at-every-prefix store case.
 */
import { Socket } from 'node:net'
import { Redis as UpstashRedis } from '@upstash/redis'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, beforeAll } from 'vitest'
import type { Json } from '../../src/state/json.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { redisStorage, type RedisClientLike, type RedisStorageOptions } from '../../src/storage/redis.js'
import { redisMissing, startRedis, type RedisServer } from './redis.js'
import type { BackendWrite } from './store-helpers.js'
import { startUpstash, type UpstashServer } from './upstash-server.js'

export type ClientName = 'ioredis' | 'node-redis' | 'upstash'
export const CLIENTS: ClientName[] = ['ioredis', 'node-redis', 'upstash']

export interface RedisClients {
  /** Why the tests skip (redis-server absent; never in CI). */
  missing: string | undefined
  server(): RedisServer
  upstash(): UpstashServer
  /** A raw ioredis connection for the test's own checks (FLUSHDB, KEYS, GET). */
  raw(): Redis
  /** The client of that name, connected. */
  client(name: ClientName): RedisClientLike
  /** A fresh adapter over an emptied database, on client `name`. */
  make(name: ClientName, options?: RedisStorageOptions): Promise<StorageAdapter>
  /** An adapter on a new connection of client `name` (closed after the file's tests), over the database as it is: one per writer of a race. */
  fresh(name: ClientName, options?: RedisStorageOptions): Promise<StorageAdapter>
  /** The same, and the log of the writes redis-server itself executes (MONITOR), for the store suite. */
  recorded(name: ClientName, options?: RedisStorageOptions): Promise<{ adapter: StorageAdapter; log: BackendWrite[] }>
}

/** Starts redis-server, the Upstash loopback server and the three clients before the file's tests; stops them after. */
export function redisClients(): RedisClients {
  const missing = redisMissing()
  if (missing) console.warn(`Redis tests skipped: ${missing}`)
  let server: RedisServer | undefined
  let upstash: UpstashServer | undefined
  let raw: Redis | undefined
  let io: Redis | undefined
  let node: ReturnType<typeof createClient> | undefined
  let rest: UpstashRedis | undefined
  let monitor: Monitor | undefined
  const extra: (() => Promise<unknown> | void)[] = []
  beforeAll(async () => {
    if (missing) return
    server = await startRedis()
    upstash = await startUpstash(server.url)
    raw = new Redis(server.url)
    io = new Redis(server.url)
    node = createClient({ url: server.url })
    node.on('error', () => {})
    await node.connect()
    // retry: false, so a refused request fails at once instead of 5 retries with backoff.
    rest = new UpstashRedis({ url: upstash.url, token: upstash.token, retry: false, enableTelemetry: false })
    monitor = await startMonitor(server.url)
  }, 30_000)
  afterAll(async () => {
    for (const close of extra) await close()
    monitor?.close()
    await node?.quit().catch(() => {})
    io?.disconnect()
    raw?.disconnect()
    await upstash?.close()
    await server?.stop()
  })
  const client = (name: ClientName): RedisClientLike => (name === 'ioredis' ? io! : name === 'node-redis' ? node! : rest!)
  const make = async (name: ClientName, options?: RedisStorageOptions) => {
    await raw!.flushdb()
    return redisStorage(client(name), options)
  }
  return {
    missing,
    server: () => server!,
    upstash: () => upstash!,
    raw: () => raw!,
    client,
    make,
    async fresh(name, options) {
      if (name === 'ioredis') {
        const c = new Redis(server!.url)
        extra.push(() => c.disconnect())
        return redisStorage(c, options)
      }
      if (name === 'node-redis') {
        const c = createClient({ url: server!.url })
        c.on('error', () => {})
        await c.connect()
        extra.push(() => c.quit().catch(() => {}))
        return redisStorage(c, options)
      }
      return redisStorage(new UpstashRedis({ url: upstash!.url, token: upstash!.token, retry: false, enableTelemetry: false }), options)
    },
    async recorded(name, options) {
      const inner = await make(name, options)
      const log: BackendWrite[] = []
      const prefix = options?.prefix ?? ''
      const stop = monitor!.listen((args) => {
        const [cmd, key] = args
        if (cmd !== 'SET' && cmd !== 'DEL') return
        // `<prefix>{<tag>}:<key>`: the adapter's key follows the first '}:' after the prefix.
        const ours = key!.slice(key!.indexOf('}:', prefix.length) + 2)
        log.push([ours, cmd === 'SET' ? (JSON.parse(args[2]!) as Json) : undefined])
      })
      // Each write resolves only once MONITOR has shown everything the server ran before it.
      const synced = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A) => {
        try {
          return await f(...a)
        } finally {
          await monitor!.sync()
        }
      }
      const adapter: StorageAdapter = { ...inner, set: synced(inner.set), delete: synced(inner.delete), setMany: synced(inner.setMany!), deleteMany: synced(inner.deleteMany!), compareAndSet: synced(inner.compareAndSet!) }
      afterAll(stop)
      return { adapter, log }
    },
  }
}

interface Monitor {
  /** Calls `listener` with the arguments of each command the server runs from a Lua script; returns the unsubscribe. */
  listen(listener: (args: string[]) => void): () => void
  /** Resolves once every command the server ran before this call has been passed to the listeners. */
  sync(): Promise<void>
  close(): void
}

/**
 * A raw MONITOR connection. Each line is `+<time> [<db> <source>] "ARG" "ARG" …`, the arguments
 * quoted as Redis's sdscatrepr writes them (`\"`, `\\`, `\n`, `\r`, `\t`, `\a`, `\b`, `\xHH` for
 * other bytes), unescaped here to bytes and read as UTF-8. `sync` sends `ECHO <marker>` on another
 * connection and waits for it to come by.
 */
async function startMonitor(url: string): Promise<Monitor> {
  const { port } = new URL(url)
  const socket = new Socket()
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject).connect(Number(port), '127.0.0.1'))
  const pinger = new Redis(url)
  const listeners = new Set<(args: string[]) => void>()
  const waiting = new Map<string, () => void>()
  let buffer = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    buffer += chunk
    for (let end; (end = buffer.indexOf('\r\n')) >= 0; ) {
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const m = /^\+[\d.]+ \[\d+ ([^\]]*)\] (.*)$/.exec(line)
      if (!m) continue
      const args = parseRepr(m[2]!)
      if (args[0]?.toUpperCase() === 'ECHO' && waiting.has(args[1]!)) {
        waiting.get(args[1]!)!()
        waiting.delete(args[1]!)
      } else if (m[1] === 'lua') for (const l of listeners) l(args)
    }
  })
  socket.write('MONITOR\r\n')
  let n = 0
  return {
    listen(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    async sync() {
      const marker = `sync-${++n}`
      const seen = new Promise<void>((resolve) => waiting.set(marker, resolve))
      await pinger.echo(marker)
      await seen
    },
    close() {
      socket.destroy()
      pinger.disconnect()
    },
  }
}

/** The arguments of one MONITOR line (see `startMonitor`), each decoded from its bytes as UTF-8. */
function parseRepr(s: string): string[] {
  const args: string[] = []
  const ESC: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8, '"': 34, '\\': 92 }
  for (let i = 0; i < s.length; ) {
    if (s[i] !== '"') {
      i++
      continue
    }
    const bytes: number[] = []
    for (i++; s[i] !== '"'; i++) {
      if (s[i] !== '\\') bytes.push(s.charCodeAt(i))
      else if (s[i + 1] === 'x') {
        bytes.push(parseInt(s.slice(i + 2, i + 4), 16))
        i += 3
      } else bytes.push(ESC[s[++i]!] ?? s.charCodeAt(i))
    }
    i++
    args.push(Buffer.from(bytes).toString('utf8'))
  }
  return args
}
