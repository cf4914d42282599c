/**
 * A storage adapter on Redis, through ioredis, node-redis or @upstash/redis. See docs/redis.md.
 *
 * @module agentctx/storage/redis
 */
import { ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'
import { attempt, decode, encode, jsonEqual, pageLimit, showKey, type StorageAdapter } from './adapter.js'
import { LIST, READ, STAGE, WRITE } from './redis-lua.js'

/** ioredis (`new Redis(url)`, `new Cluster(nodes)`): `eval(script, numKeys, ...keys, ...args)`. */
export interface IORedisLike {
  /** Runs a Lua script with `numKeys` keys first, then its arguments. */
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>
  /** Not called: its presence is how the adapter tells ioredis from the other clients. */
  defineCommand(...args: never[]): unknown
}

/** node-redis 4 to 6 (`createClient()`, connected): `eval(script, { keys, arguments })`. */
export interface NodeRedisLike {
  /** Runs a Lua script with its keys and arguments. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  /** Not called: its camelCase spelling is how the adapter tells node-redis from the other clients. */
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/** @upstash/redis (`new Redis({ url, token })`, REST over `fetch`): `eval(script, keys, args)`. */
export interface UpstashRedisLike {
  /** Runs a Lua script with its keys and arguments (one REST request). */
  eval(script: string, keys: string[], args: string[]): Promise<unknown>
  /** Not called: its presence is how the adapter tells Upstash from the other clients. */
  createScript(...args: never[]): unknown
}

/** Any other client: a function running `EVAL script numkeys ...keys ...args` and resolving its reply. */
export type RedisEval = (script: string, keys: string[], args: string[]) => Promise<unknown>

/** A Redis client `redisStorage` can drive: ioredis, node-redis, @upstash/redis, or an `eval` function. */
export type RedisClientLike = IORedisLike | NodeRedisLike | UpstashRedisLike | RedisEval

/** Options of `redisStorage`. */
export interface RedisStorageOptions {
  /** Prepended to every Redis key this adapter makes (`'app:'` → `app:{…}:…`). Default `''`. */
  prefix?: string
  /**
   * Redis Cluster: each hash tag gets its own list index, so every script touches one slot. Then a
   * batch, a compare-and-set and a `getMany` must stay within one hash tag (one context of the store:
   * the store's own calls always do), else the server refuses it (CROSSSLOT, a `StorageError`); a
   * listing must too: `store.list()` (across contexts) is a `ValidationError`. See `hashTag`.
   *
   * Default `false`: one index for all keys. For one server, Upstash, or a cluster behind a prefix
   * holding a hash tag of its own (`'{app}:'` puts every key in one slot, and listing works).
   */
  cluster?: boolean
  /**
   * The hash tag of a key: keys with the same tag share a slot. By default the first and third
   * segments of a key with at least three (`agentctx/h/<id>/` and `agentctx/d/<id>/…` → `agentctx/<id>`):
   * a context's header and records, as the store lays them out under its namespace. Other keys are
   * their own tag.
   */
  hashTag?: (key: string) => string
  /** Largest value accepted, in UTF-8 bytes of its JSON text (Upstash's plans limit requests and records). No limit by default: Redis's own is 512 MB. */
  maxValueBytes?: number
}

/** How `client` runs EVAL, one signature for all. */
function evaluator(client: RedisClientLike): RedisEval {
  const c = (client ?? {}) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
  if (typeof client === 'function') return client
  // node-redis alone spells `evalSha` in camelCase; ioredis alone has `defineCommand`; Upstash `createScript`.
  if (typeof c.evalSha === 'function') return (s, keys, args) => c.eval!(s, { keys, arguments: args })
  // ioredis flattens array arguments: no spreading of a long batch into a call (which overflows the stack).
  if (typeof c.defineCommand === 'function') return (s, keys, args) => c.eval!(s, keys.length, keys, args)
  if (typeof c.createScript === 'function') return (s, keys, args) => c.eval!(s, keys, args)
  throw new ValidationError('invalid_argument', 'redisStorage: client must be an ioredis, node-redis or @upstash/redis client, or an eval function', { path: 'client' })
}

/** A reply string (or bytes, for clients set to return buffers) without the scripts' `~` mark (see redis-lua.ts). */
function text(reply: unknown): string | undefined {
  if (reply == null || reply === false) return undefined
  const s = typeof reply === 'string' ? reply : new TextDecoder().decode(reply as Uint8Array)
  if (s[0] !== '~') throw new Error('bad reply')
  return s.slice(1)
}

/** Entries and characters of text in one request (see `writeAll`). */
const BATCH = 1000
const BYTES = 1 << 20

/** Most rounds of `compareAndSet` against a value equal to `expected` but spelled otherwise, each one lost to a concurrent rewrite. */
const ROUNDS = 16

/**
 * A storage adapter over Redis: ioredis, node-redis and @upstash/redis (REST over `fetch`, so it runs
 * in Workers and Vercel Edge). No client is a dependency: pass yours. Strongly consistent (one
 * primary), atomic batches, compare-and-set. Values are stored as their JSON text.
 *
 * Every write is one Lua script: the value keys and a sorted set indexing them (all members at score
 * 0, so ZRANGEBYLEX lists a prefix in key order, in pages, in O(log n + page)), changed together.
 * Reads are scripts too, so a client's only contract is `eval`.
 *
 * Compare-and-set compares the stored JSON text with the expected value's (`JSON.stringify`) in the
 * script. Equal text is equal JSON; unequal text may still be equal JSON with keys in another order,
 * so then the script returns the stored text, and when `jsonEqual` finds the values equal the write
 * is sent again conditioned on that exact text. A writer that rewrote the key in between makes that
 * round fail the same way (at most 16 rounds). The store always passes the header it wrote, same
 * text: one round trip per save.
 *
 * Key layout: `<prefix>{<tag>}:<key>` for values, `<prefix>#index` for the index (`<prefix>{<tag>}#`
 * per tag with `cluster`). The hash tag keeps a context's header and records in one slot.
 */
/* @__NO_SIDE_EFFECTS__ */
export function redisStorage(client: RedisClientLike, options?: RedisStorageOptions): StorageAdapter {
  const name = 'redis'
  const run = evaluator(client)
  const prefix = options?.prefix ?? ''
  const cluster = options?.cluster ?? false
  const maxValue = options?.maxValueBytes
  const tagOf =
    options?.hashTag ??
    ((key: string) => {
      const s = key.split('/', 4)
      return s.length === 4 ? `${s[0]}/${s[2]}` : key
    })
  // '}' ends a hash tag: inside ours it is escaped (two tags made equal only share a slot).
  const tag = (key: string) => tagOf(key).replace(/[%}]/g, (c) => (c === '%' ? '%25' : '%7D'))
  const valueKey = (key: string) => `${prefix}{${tag(key)}}:${key}`
  const indexOf = (key: string) => (cluster ? `${prefix}{${tag(key)}}#` : `${prefix}#index`)

  const checkKey = (key: string) => {
    // A lone surrogate has no UTF-8 form: clients send U+FFFD instead, which would alias another key.
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key)) {
      throw new ValidationError('invalid_argument', `${name}: key ${showKey(key)} is not well-formed UTF-16 (a lone surrogate)`, { path: key })
    }
  }
  const textOf = (key: string, value: Json) => {
    checkKey(key)
    const t = encode(name, key, value)
    // 3 bytes per UTF-16 unit at most: the exact count only when that bound is over the limit.
    if (maxValue !== undefined && t.length * 3 > maxValue && new TextEncoder().encode(t).length > maxValue) {
      throw new ValidationError('too_large', `${name}: the value for ${showKey(key)} is over ${maxValue} bytes`, { path: key })
    }
    return t
  }
  /**
   * Runs the write script over `entries` (text `undefined` deletes), the compare applying to the
   * last one. Up to 1,000 entries and 1 MB of text go in one request; a larger batch (a first save
   * of a long imported history) is staged in requests of that size, then applied by one script, so
   * no request outgrows a client's argument spreading (node-redis and @upstash/redis spread every
   * argument: a 100,000-turn save overflowed the call stack) or Upstash's request size.
   */
  const writeAll = async (entries: [string, string | undefined][], mode = '', expected = '') => {
    const last = entries[entries.length - 1]![0]
    const head = [indexOf(last), valueKey(last)]
    const chunks: string[][] = [[]]
    let bytes = 0
    for (const [k, t] of entries) {
      bytes += k.length + (t?.length ?? 0)
      let chunk = chunks[chunks.length - 1]!
      if (chunk.length && (chunk.length >= 2 * BATCH || bytes > BYTES)) chunks.push((chunk = [])), (bytes = k.length + (t?.length ?? 0))
      chunk.push(k, t ?? '')
    }
    if (chunks.length === 1) return run(WRITE, [...head, ...entries.map((e) => valueKey(e[0]))], [mode, expected, ...chunks[0]!])
    const stage = `${prefix}{${tag(last)}}~${[...crypto.getRandomValues(new Uint32Array(2))].join('.')}`
    const utf8 = new TextEncoder()
    for (const chunk of chunks) {
      const args: string[] = []
      for (let i = 0; i < chunk.length; i += 2) args.push(valueKey(chunk[i]!), `${utf8.encode(chunk[i]).length}:${chunk[i]}${chunk[i + 1]}`)
      await run(STAGE, [stage], args)
    }
    return run(WRITE, [...head, stage], [mode, expected])
  }
  const getMany = async (keys: string[]) => {
    keys.forEach(checkKey)
    const out: (Json | undefined)[] = []
    // On a cluster, keys of several hash tags are refused by the server (CROSSSLOT): a StorageError.
    // Reads need no atomicity: 1,000 keys a request, in parallel.
    await Promise.all(
      Array.from({ length: Math.ceil(keys.length / BATCH) }, async (_, c) => {
        const part = keys.slice(c * BATCH, (c + 1) * BATCH)
        const replies = (await run(READ, part.map(valueKey), [])) as unknown[]
        part.forEach((k, i) => (out[c * BATCH + i] = decode(name, k, text(replies[i]))))
      }),
    )
    return out
  }
  const setMany = (entries: [string, Json][]) => {
    const texts = entries.map(([k, v]): [string, string] => [k, textOf(k, v)])
    return texts.length ? writeAll(texts).then(() => undefined) : undefined
  }
  const deleteMany = (keys: string[]) => {
    keys.forEach(checkKey)
    return keys.length ? writeAll(keys.map((k) => [k, undefined])).then(() => undefined) : undefined
  }
  const keysOf = (entries: [string, unknown][]) => entries.map((e) => e[0])

  return {
    name,
    capabilities: { atomicBatch: true, compareAndSet: true, consistency: 'strong', ...(maxValue !== undefined && { maxValueBytes: maxValue }) },
    get: (key) => attempt(name, 'get', key, async () => (await getMany([key]))[0]),
    set: (key, value) => attempt(name, 'set', key, () => setMany([[key, value]])),
    delete: (key) => attempt(name, 'delete', key, () => deleteMany([key])),
    list: (start, opts) =>
      attempt(name, 'list', start, async () => {
        checkKey(start)
        const limit = pageLimit(opts?.limit)
        let after = opts?.cursor
        if (after !== undefined) checkKey(after)
        // A cursor from another prefix: before it, list from the start; past it, nothing is left.
        if (after !== undefined && !after.startsWith(start)) {
          if (after > start) return { keys: [] }
          after = undefined
        }
        if (cluster && (options?.hashTag ? false : start.split('/', 4).length < 4)) {
          // The index of one tag holds only its keys: a wider prefix would list a fraction, silently.
          throw new ValidationError('invalid_argument', `${name}: with cluster, ${showKey(start)} spans hash tags`, { path: start })
        }
        // One more than asked: the extra key says whether another page follows.
        const replies = (await run(LIST, [indexOf(start)], [start, after === undefined ? '0' : '1', after ?? '', String(limit + 1)])) as unknown[]
        const keys = replies.map((r) => text(r)!).filter((k) => k.startsWith(start))
        return keys.length > limit ? { keys: keys.slice(0, limit), cursor: keys[limit - 1] } : { keys }
      }),
    getMany: (keys) => attempt(name, 'getMany', keys, () => getMany(keys)),
    setMany: (entries) => attempt(name, 'setMany', keysOf(entries), () => setMany(entries)),
    deleteMany: (keys) => attempt(name, 'deleteMany', keys, () => deleteMany(keys)),
    compareAndSet: (key, expected, value, also = []) =>
      attempt(name, 'compareAndSet', key, async () => {
        // Every value encoded (and refused) before anything is sent.
        const entries: [string, string | undefined][] = [...also.map(([k, v]): [string, string] => [k, textOf(k, v)]), [key, value === undefined ? (checkKey(key), undefined) : textOf(key, value)]]
        let want = expected === undefined ? undefined : encode(name, key, expected)
        for (let round = 0; round < ROUNDS; round++) {
          const reply = await writeAll(entries, want === undefined ? '-' : '=', want)
          if (reply === 1 || reply === '1') return true
          const stored = text(reply === 0 || reply === '0' ? undefined : reply)
          // Absent where a value was expected, or present where none was: not equal.
          if (stored === undefined || want === undefined) return false
          if (!jsonEqual(decode(name, key, stored), expected)) return false
          want = stored
        }
        return false
      }),
  }
}
