/**
 * Helpers of the context-store suite (store-cases.ts), free of any test-framework import so they
 * run inside workerd too: a counting adapter wrapper, a tiny assert kit, and sample contexts.
 */
import { Context, type ContextRuntime } from '../../src/context.js'
import { ContextError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'
import type { CompletionMessage } from '../../src/state/messages.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'

/** A write a backend itself received, as the adapter's key and value (`undefined`: a delete). */
export type BackendWrite = [key: string, value: Json | undefined]

/**
 * `inner` logging each entry of its `set`, `delete`, `setMany` and `deleteMany` calls into `log`, in
 * order: what its backend receives when each call applies synchronously in entry order (memory).
 */
export function recordingCalls(inner: StorageAdapter, log: BackendWrite[]): StorageAdapter {
  const self = { ...inner }
  self.set = (k, v) => (log.push([k, v]), inner.set(k, v))
  self.delete = (k) => (log.push([k, undefined]), inner.delete(k))
  if (inner.setMany) self.setMany = (entries) => (log.push(...entries), inner.setMany!(entries))
  if (inner.deleteMany) self.deleteMany = (keys) => (log.push(...keys.map((k): BackendWrite => [k, undefined])), inner.deleteMany!(keys))
  return self
}

/** What a `counting` adapter saw since its last `reset()`. */
export interface Counts {
  /** Records read: 1 per `get`, 1 per key of `getMany`. */
  reads: number
  /** Records written or deleted: 1 per `set`/`delete`, 1 per entry of a batch, 1 + `also.length` per `compareAndSet`. */
  writes: number
  /** Sum of the JSON lengths of the values written (the bytes a text backend stores, for ASCII). */
  bytes: number
  /** Keys written, in order (deletes as `-key`). */
  keys: string[]
  /** `list` calls. */
  lists: number
}

/** A `StorageAdapter` that counts what goes through it; `hold` (when set) runs before each write resolves. */
export interface CountingAdapter extends StorageAdapter {
  counts: Counts
  reset(): void
  hold?: () => Promise<void>
}

/** Wraps `inner` to count reads, writes and bytes written (see `Counts`). */
export function counting(inner: StorageAdapter): CountingAdapter {
  const self = { name: inner.name, capabilities: inner.capabilities } as CountingAdapter
  self.reset = () => (self.counts = { reads: 0, writes: 0, bytes: 0, keys: [], lists: 0 })
  self.reset()
  const wrote = async (entries: [string, Json | undefined][]) => {
    for (const [k, v] of entries) {
      self.counts.writes++
      self.counts.keys.push(v === undefined ? `-${k}` : k)
      if (v !== undefined) self.counts.bytes += JSON.stringify(v).length
    }
    await self.hold?.()
  }
  self.get = async (key) => (self.counts.reads++, inner.get(key))
  self.set = async (key, value) => (await wrote([[key, value]]), inner.set(key, value))
  self.delete = async (key) => (await wrote([[key, undefined]]), inner.delete(key))
  self.list = async (prefix, options) => (self.counts.lists++, inner.list(prefix, options))
  if (inner.getMany) self.getMany = async (keys) => ((self.counts.reads += keys.length), inner.getMany!(keys))
  if (inner.setMany) self.setMany = async (entries) => (await wrote(entries), inner.setMany!(entries))
  if (inner.deleteMany) self.deleteMany = async (keys) => (await wrote(keys.map((k) => [k, undefined])), inner.deleteMany!(keys))
  if (inner.compareAndSet) {
    self.compareAndSet = async (key, expected, value, also = []) => {
      await wrote([[key, value], ...also])
      return inner.compareAndSet!(key, expected, value, also)
    }
  }
  return self
}

/**
 * `inner` without compare-and-set (the method gone, the capability false): the store's path for
 * Workers KV and unstorage, on a backend that is fast and strongly consistent.
 */
export function withoutCas(inner: StorageAdapter): StorageAdapter {
  const { compareAndSet: _, ...rest } = inner
  return { ...rest, capabilities: { ...inner.capabilities, compareAndSet: false } }
}

/** A `StorageAdapter` that can hold a save right before it writes its header. */
export interface GatedAdapter extends StorageAdapter {
  /** Arms the gate; resolves when the next header write (a `set` of `<namespace>/h/…`) is held. */
  pause(): Promise<void>
  /** Lets the held header write go on. */
  release(): void
}

/** Wraps `inner` (without compare-and-set: the store writes its header with `set` then) in a gate, see `GatedAdapter`. */
export function gated(inner: StorageAdapter): GatedAdapter {
  let held: (() => void) | undefined
  let go: (() => void) | undefined
  const self = { ...inner } as GatedAdapter
  self.pause = () => new Promise<void>((r) => (held = r))
  self.release = () => go?.()
  self.set = async (key, value) => {
    if (held && /^[^/]*\/h\//.test(key)) {
      const gate = new Promise<void>((r) => (go = r))
      held()
      held = undefined
      await gate
    }
    return inner.set(key, value)
  }
  return self
}

// ---- assert kit -----------------------------------------------------------------------------

/** JSON with sorted keys, to compare values independently of key order. */
export function canon(value: unknown): string {
  if (value === undefined) return 'undefined'
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  )
}
const cut = (s: string) => (s.length > 400 ? s.slice(0, 400) + '…' : s)

export function ok(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(what)
}
export function same(actual: unknown, expected: unknown, what: string): void {
  const a = canon(actual)
  const e = canon(expected)
  if (a !== e) throw new Error(`${what}: expected ${cut(e)}, got ${cut(a)}`)
}
/** Awaits `promise`, expects a `ContextError` (or subclass) rejection and returns it. */
export async function rejects(promise: Promise<unknown> | (() => unknown), what: string): Promise<ContextError> {
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (e) {
    ok(e instanceof ContextError, `${what}: rejected with ${String(e)}, not a ContextError`)
    return e
  }
  throw new Error(`${what}: resolved, expected a rejection`)
}

// ---- sample contexts ------------------------------------------------------------------------

/** A fixed clock, so cache expiries compare equal across a round trip. */
export const runtime: ContextRuntime = { now: () => 1_700_000_000_000 }

/** A message of the completion history, number `i` (user and assistant alternate, some with extra fields). */
export function message(i: number, tag = ''): CompletionMessage {
  if (i % 7 === 3) return { role: 'assistant', content: `answer ${i}${tag}`, toolCalls: [{ id: `call_${i}`, name: 'lookup', arguments: { q: i } }] }
  if (i % 7 === 4) return { role: 'tool', content: `{"result":${i}}`, toolCallId: `call_${i - 1}` }
  return i % 2 ? { role: 'assistant', content: `answer ${i}${tag}` } : { role: 'user', content: `question ${i}${tag}`, name: 'ann' }
}

/** Adds `n` turns (request, response, and a label every third turn) to `ctx`. */
export function addTurns(ctx: Context, n: number, tag = ''): void {
  for (let i = 0; i < n; i++) {
    const t = ctx.currentTurnId + 1
    ctx.addRequest({ text: `q${t}${tag}`, lang: 'en' })
    ctx.addResponse(`a${t}${tag}`)
    if (t % 3 === 0) ctx.addLabel({ flow: 'main', node: `n${t}${tag}` })
  }
}

/** A context holding a bit of everything: data, cache, tests, outcomes, inputs, `turns` turns, `messages` messages. */
export function sample(id: string, turns = 5, messages = 70): Context {
  const ctx = Context.init(
    { flow: 'main', node: 'start' },
    { id, agentId: 'bot', intent: 'support', metadata: { tier: 'gold' }, constraints: { maxTokens: 1000 }, routing: { model: 'gpt-4o-mini' } },
    runtime,
  )
  ctx.setData('user', { name: 'Ann', tags: ['a', 'b'], n: 0 })
  ctx.setData('ünï/%', true)
  ctx.cacheSet('profile', { plan: 'pro' }, { ttl: 60 })
  ctx.cacheSet('forever', 1)
  ctx.addTest('color', { red: 0.5, blue: 0.5 }, 'button color')
  ctx.addOutcome('won', 'boolean')
  ctx.addOutcome('score', 'integer')
  ctx.setOutcome('won', true)
  ctx.triggerOutcome('score')
  ctx.setTestingMetadata('cohort', 7)
  ctx.addInput('some document', { relevance: 0.5 })
  addTurns(ctx, turns)
  for (let i = 0; i < messages; i++) ctx.addCompletionMessage(message(i))
  return ctx
}
