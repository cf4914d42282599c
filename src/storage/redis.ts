import { ValidationError } from '../errors.js'
import type { Json } from '../state/json.js'
import { attempt, decode, encode, jsonEqual, pageLimit, showKey, type StorageAdapter } from './adapter.js'
import { LIST, READ, WRITE } from './redis-lua.js'

/** ioredis (`new Redis(url)`, `new Cluster(nodes)`): `eval(script, numKeys, ...keys, ...args)`. */
export interface IORedisLike {
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>
  defineCommand(...args: never[]): unknown
}

/** node-redis 4 to 6 (`createClient()`, connected): `eval(script, { keys, arguments })`. */
export interface NodeRedisLike {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/** @upstash/redis (`new Redis({ url, token })`, REST over `fetch`): `eval(script, keys, args)`. */
export interface UpstashRedisLike {
  eval(script: string, keys: string[], args: string[]): Promise<unknown>
  evalsha(sha: string, keys: string[], args: string[]): Promise<unknown>
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
   * batch, a compare-and-set and a listing must stay within one hash tag (one context of the store),
   * and `store.list()` (across contexts) is refused; see `hashTag`. Default `false`: one index for
   * all keys (one server, Upstash, or a cluster behind a prefix holding a hash tag such as `'{app}:'`,
   * which puts every key in one slot).
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

/** A run of one script with its keys and arguments, however the client spells it. */
type Run = (script: string, sha: () => Promise<string>, keys: string[], args: string[]) => Promise<unknown>

const isFn = (f: unknown): boolean => typeof f === 'function'

/**
 * How to run a script on `client`: EVALSHA first (40 bytes on the wire, not the script), then EVAL
 * when the server answers NOSCRIPT (a restart or SCRIPT FLUSH emptied its cache; EVAL caches it again).
 */
function runner(client: RedisClientLike): Run {
  type Call = (script: string, keys: string[], args: string[]) => Promise<unknown>
  let byText: Call
  let bySha: Call | undefined
  const c = (client ?? {}) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
  if (typeof client === 'function') byText = client
  else if (isFn(c.evalSha)) {
    // node-redis: `evalSha` in camelCase is its own spelling.
    byText = (s, keys, args) => c.eval!(s, { keys, arguments: args })
    bySha = (s, keys, args) => c.evalSha!(s, { keys, arguments: args })
  } else if (isFn(c.defineCommand)) {
    byText = (s, keys, args) => c.eval!(s, keys.length, ...keys, ...args)
    bySha = (s, keys, args) => c.evalsha!(s, keys.length, ...keys, ...args)
  } else if (isFn(c.createScript) && isFn(c.evalsha)) {
    byText = (s, keys, args) => c.eval!(s, keys, args)
    bySha = (s, keys, args) => c.evalsha!(s, keys, args)
  } else {
    throw new ValidationError('invalid_argument', 'redisStorage: client must be an ioredis, node-redis or @upstash/redis client, or an eval function', { path: 'client' })
  }
  if (!bySha) return (script, _sha, keys, args) => byText(script, keys, args)
  const sha = bySha
  return async (script, hash, keys, args) => {
    try {
      return await sha(await hash(), keys, args)
    } catch (error) {
      if (!/NOSCRIPT/.test(String((error as Error | undefined)?.message))) throw error
      return byText(script, keys, args)
    }
  }
}

/** SHA-1 of a script in hex, as EVALSHA names it (Web Crypto: every runtime this package runs in has it). */
function sha1(script: string): () => Promise<string> {
  let hex: Promise<string> | undefined
  return () =>
    (hex ??= crypto.subtle.digest('SHA-1', new TextEncoder().encode(script)).then((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('')))
}

/** A reply string (or bytes, for clients set to return buffers) without the scripts' `~` mark (see redis-lua.ts). */
function text(reply: unknown): string | undefined {
  if (reply == null || reply === false) return undefined
  const s = typeof reply === 'string' ? reply : new TextDecoder().decode(reply as Uint8Array)
  if (s[0] !== '~') throw new Error('unexpected reply from the Lua script')
  return s.slice(1)
}

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
  const run = runner(client)
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
  const script = (s: string) => [s, sha1(s)] as const
  const write = script(WRITE)
  const read = script(READ)
  const list = script(LIST)

  const checkKey = (key: string) => {
    if (typeof key !== 'string') throw new ValidationError('invalid_argument', `${name}: a key must be a string`, { path: 'key' })
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
  /** On a cluster, every key of one script must share a tag: a `ValidationError` naming the first that does not. */
  const oneSlot = (keys: string[]) => {
    if (!cluster) return
    const t = tag(keys[0]!)
    const other = keys.find((k) => tag(k) !== t)
    if (other !== undefined) {
      throw new ValidationError('invalid_argument', `${name}: with cluster, the keys of one call must share a hash tag; ${showKey(other)} is not in ${showKey(keys[0]!)}'s`, { path: other })
    }
  }
  /** Runs the write script over `entries` (value `undefined` deletes), the compare applying to the last one. */
  const writeAll = (entries: [string, string | undefined][], mode = '', expected = '') => {
    const keys = entries.map((e) => e[0])
    oneSlot(keys)
    const args = [mode, expected]
    for (const [k, t] of entries) args.push(k, t ?? '')
    return run(write[0], write[1], [indexOf(keys[0]!), ...keys.map(valueKey)], args)
  }
  const getMany = async (keys: string[]) => {
    keys.forEach(checkKey)
    if (!keys.length) return []
    // On a cluster, one script per hash tag (the store reads one context's records: one script).
    const groups = new Map<string, number[]>()
    keys.forEach((k, i) => {
      const g = cluster ? tag(k) : ''
      const at = groups.get(g)
      at ? at.push(i) : groups.set(g, [i])
    })
    const out: (Json | undefined)[] = []
    await Promise.all(
      [...groups.values()].map(async (at) => {
        const replies = (await run(read[0], read[1], at.map((i) => valueKey(keys[i]!)), [])) as unknown[]
        at.forEach((i, j) => (out[i] = decode(name, keys[i]!, text(replies[j]))))
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
        const after = opts?.cursor
        if (after !== undefined) checkKey(after)
        if (cluster && (options?.hashTag ? false : start.split('/', 4).length < 4)) {
          throw new ValidationError('invalid_argument', `${name}: with cluster, list needs a prefix within one hash tag (three segments, one context); ${showKey(start)} spans many`, { path: start })
        }
        // One more than asked: the extra key says whether another page follows.
        const replies = (await run(list[0], list[1], [indexOf(start)], [start, after === undefined ? '0' : '1', after ?? '', String(limit + 1)])) as unknown[]
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
