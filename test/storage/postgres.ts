/**
 * A throwaway PostgreSQL server for tests and benches: `initdb` into a temporary folder, `pg_ctl`
 * start on a free loopback port, stop and remove at the end (as redis.ts does for redis-server).
 * PostgreSQL refuses to run as root; as root (here and in CI) the server runs as the `postgres`
 * user Debian's package creates, through `runuser`, in a folder given to that user.
 * Free of any test-framework import (the bench uses it too).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.js'

/** A server this process started: where to connect, and `stop()`. */
export interface PostgresServer {
  host: string
  port: number
  user: string
  database: string
  /** `postgres://agentctx@127.0.0.1:<port>/postgres` (trust authentication: loopback only). */
  url: string
  stop(): Promise<void>
}

/**
 * The folder of `initdb` and `pg_ctl`: Debian's `/usr/lib/postgresql/<newest>/bin` first (they are
 * not on PATH there), else PATH. `undefined` when neither has them.
 */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions.length) return join(root, versions[0]!, 'bin')
  }
  const which = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' })
  const pgCtl = which.stdout.trim()
  if (which.status === 0 && pgCtl && existsSync(join(pgCtl, '..', 'initdb'))) return join(pgCtl, '..')
  return undefined
}

const isRoot = () => process.getuid?.() === 0

/** uid and gid of the `postgres` user, for running the server when we are root. */
function postgresUser(): { uid: number; gid: number } | undefined {
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
  if (id.status !== 0 || gid.status !== 0) return undefined
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

/**
 * `undefined` when a PostgreSQL server can be started here, else why not (for the skip message).
 * In CI (`CI` set) that is an error, not a skip: CI must run every backend.
 */
export function postgresMissing(): string | undefined {
  let why: string | undefined
  if (!postgresBin()) why = 'initdb and pg_ctl are neither in /usr/lib/postgresql/*/bin nor on PATH; install them (Debian: apt-get install -y postgresql)'
  else if (isRoot() && !postgresUser()) why = 'running as root and there is no `postgres` user to run the server as (PostgreSQL refuses root)'
  else if (isRoot() && spawnSync('runuser', ['--version']).error) why = 'running as root without `runuser` to run the server as `postgres`'
  if (why && process.env.CI) throw new Error(`CI must run the PostgreSQL tests, but ${why}`)
  return why
}

/** Server settings (`-c name=value`): e.g. `{ fsync: 'off' }` for tests that need no durability. */
export type PostgresSettings = Record<string, string>

/**
 * Starts PostgreSQL on a free 127.0.0.1 port with a fresh cluster (UTF8, locale C, trust
 * authentication for the `agentctx` superuser; no Unix socket outside its folder). Resolves once it
 * accepts connections (`pg_ctl start -w`). A few seconds.
 */
export async function startPostgres(settings: PostgresSettings = {}): Promise<PostgresServer> {
  const bin = postgresBin()
  if (!bin) throw new Error(postgresMissing() ?? 'no PostgreSQL binaries')
  const dir = mkdtempSync(join(tmpdir(), 'agentctx-pg-'))
  const data = join(dir, 'data')
  const owner = isRoot() ? postgresUser() : undefined
  if (isRoot() && !owner) throw new Error('running as root and there is no `postgres` user')
  if (owner) chownSync(dir, owner.uid, owner.gid)
  chmodSync(dir, 0o700)
  // As root, each command runs as `postgres` (runuser keeps no root privilege).
  const exec = (tool: string, args: string[]) => {
    const [cmd, argv] = owner ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args]
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
  }
  const port = await freePort()
  try {
    exec('initdb', ['-D', data, '-U', 'agentctx', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'])
    const options = [`-p ${port}`, '-h 127.0.0.1', `-k ${dir}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ')
    exec('pg_ctl', ['start', '-w', '-t', '30', '-D', data, '-l', join(dir, 'log'), '-o', options])
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? ''
    let log = ''
    try {
      log = execFileSync('cat', [join(dir, 'log')], { encoding: 'utf8' })
    } catch {
      // No log yet: initdb failed.
    }
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`PostgreSQL did not start: ${String(e)} ${stderr} ${log}`)
  }
  let stopped = false
  const stopNow = () => {
    if (stopped) return
    stopped = true
    process.off('exit', stopNow)
    try {
      exec('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  // pg_ctl leaves the server running on its own: a process ending without stop() (a crash, a
  // timeout) must not leave it behind. Synchronous, as an 'exit' listener has to be.
  process.on('exit', stopNow)
  const stop = async () => stopNow()
  return { host: '127.0.0.1', port, user: 'agentctx', database: 'postgres', url: `postgres://agentctx@127.0.0.1:${port}/postgres`, stop }
}
