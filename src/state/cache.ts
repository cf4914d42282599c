import * as v from 'valibot'
import { checkKey, invalid } from '../errors.js'
import { cloneJson, toJson, type Json } from './json.js'
import { JsonValue } from './validate.js'

/** An object that knows how to turn itself into cacheable JSON (the voice-agent platform's `CachableEntity`, docs/reference.md#voice-cachable-entity). */
export interface CacheableEntity {
  /** The entity as JSON, as `cacheSet` stores it; `EntityType.fromCache` rebuilds it. */
  toCache(): Json
}

/** A type that can rebuild an entity from its cached JSON, passed to `cacheGet(key, entityType)`. */
export interface EntityType<T> {
  /** Rebuilds the entity from what its `toCache()` returned. */
  fromCache(value: Json): T
}

/** Options of `cacheSet`. */
export interface CacheSetOptions {
  /** Seconds until the entry expires (the reference APIs count time in seconds: docs/reference.md#voice-cache-set). Absent: never. */
  ttl?: number
}

/** Schema of one stored cache entry. `expiresAt` is epoch milliseconds. */
export const CacheEntrySchema = v.strictObject({ value: JsonValue, expiresAt: v.optional(v.number()) })
/** One cache entry as stored. */
export type CacheEntry = v.InferOutput<typeof CacheEntrySchema>

function isEntity(value: unknown): value is CacheableEntity {
  return typeof value === 'object' && value !== null && typeof (value as CacheableEntity).toCache === 'function'
}

/**
 * The session cache: JSON values and entities by key, each with an optional time to live. Kept apart
 * from `data` because entries expire and are rebuilt into entity types on the way out.
 */
export class Cache {
  /** @internal */
  readonly entries: Map<string, CacheEntry>
  readonly #now: () => number

  constructor(entries: Record<string, CacheEntry> = {}, now: () => number = Date.now) {
    this.entries = new Map(Object.entries(entries))
    this.#now = now
  }

  /**
   * Stores a primitive, a plain JSON object or array, or an entity with `toCache()`. Anything else
   * (a Map, a class without `toCache`, a function, a cycle) is a `ValidationError` naming the key.
   */
  set(key: string, value: unknown, options?: CacheSetOptions): void {
    checkKey(key)
    const ttl = options?.ttl
    if (ttl !== undefined && !(typeof ttl === 'number' && ttl > 0 && !Number.isNaN(ttl))) {
      throw invalid('options.ttl', 'must be a positive number of seconds')
    }
    const json = toJson(isEntity(value) ? value.toCache() : value, ['cache', key])
    const entry: CacheEntry = { value: json }
    if (ttl !== undefined && Number.isFinite(ttl)) entry.expiresAt = this.#now() + ttl * 1000
    this.entries.set(key, entry)
  }

  /** The value at `key`, rebuilt with `entityType.fromCache` when given; undefined when absent or expired. */
  get<T = Json>(key: string, entityType?: EntityType<T>): T | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.entries.delete(key)
      return undefined
    }
    // A copy: editing what you read must not change the cache behind your back.
    const value = cloneJson(entry.value)
    return entityType ? entityType.fromCache(value) : (value as T)
  }

  /** Removes `key`; true when it was there. */
  delete(key: string): boolean {
    return this.entries.delete(key)
  }

  /** Entries that have not expired, for serialization. */
  toJSON(): Record<string, CacheEntry> {
    const out: Record<string, CacheEntry> = {}
    const now = this.#now()
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt === undefined || entry.expiresAt > now) out[key] = { ...entry, value: cloneJson(entry.value) }
    }
    return out
  }
}
