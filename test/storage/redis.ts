import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { Socket } from 'node:net'
import { Redis } from 'ioredis'
import { createStorage, type Storage } from 'unstorage'
import redisDriver from 'unstorage/drivers/redis'
import { afterAll, beforeAll } from 'vitest'
import { freePort } from './free-port.js'

/** A redis-server this test started: its URL, and `stop()` to end it. */
export interface RedisServer {
  url: string
  stop(): Promise<void>
}

/**
 * `undefined` when `redis-server` runs here, else why it does not (for the skip message). In CI
 * (`CI` set) an absent server is an error, not a skip: CI must run every backend.
 */
export function redisMissing(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  let why: string | undefined
  if (probe.error) why = `redis-server is not on PATH (${(probe.error as NodeJS.ErrnoException).code}); install it (Debian: apt-get install -y redis-server)`
  else if (probe.status !== 0) why = `redis-server --version exited with ${probe.status}: ${probe.stderr.trim()}`
  if (why && process.env.CI) throw new Error(`CI must run the Redis tests, but ${why}`)
  return why
}

/**
 * Starts `redis-server` on a free loopback port with persistence off (`--save ''`,
 * `--appendonly no`: nothing is written to disk), and waits until it accepts connections.
 * `extraArgs` go after those (`['--cluster-enabled', 'yes', …]`).
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d))
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  // Up to 10 s (100 tries 100 ms apart): a cold start takes a few milliseconds.
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${output}`)
    const up = await new Promise<boolean>((resolve) => {
      const socket = new Socket()
      socket.once('connect', () => (socket.destroy(), resolve(true)))
      socket.once('error', () => resolve(false))
      socket.connect(port, '127.0.0.1')
    })
    if (up) return { url: `redis://127.0.0.1:${port}`, stop }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await stop()
  throw new Error(`redis-server did not listen on 127.0.0.1:${port} within 10 s: ${output}`)
}

/**
 * For a test file on unstorage's Redis driver: starts a redis-server before the file's tests and
 * stops it after, with an unstorage instance (keys under `base`) and a raw ioredis client on it.
 * `missing` says why the tests must skip (never in CI: `redisMissing` throws there).
 */
export function redisFixture(base: string): { missing: string | undefined; storage: () => Storage; client: () => Redis } {
  const missing = redisMissing()
  if (missing) console.warn(`Redis tests skipped: ${missing}`)
  let server: RedisServer | undefined
  let storage: Storage | undefined
  let client: Redis | undefined
  beforeAll(async () => {
    if (missing) return
    server = await startRedis()
    client = new Redis(server.url, { lazyConnect: true })
    storage = createStorage({ driver: redisDriver({ url: server.url, base }) })
  }, 20_000)
  afterAll(async () => {
    await storage?.dispose()
    client?.disconnect()
    await server?.stop()
  })
  return { missing, storage: () => storage!, client: () => client! }
}
