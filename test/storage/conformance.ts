/**
 * The storage-adapter conformance suite: plain cases with no test-framework import, so the same
 * cases run from vitest (Node, Chromium) and inside workerd (bundled into a Worker and a Durable
 * Object, see workerd/worker.ts). A case throws on failure and returns a string to report a skip
 * (with the reason) when the adapter declares it cannot do what the case checks.
 */
import { ContextError } from '../../src/errors.js'
import type { Json } from '../../src/state/json.js'
import { batchDelete, batchGet, batchSet, decodeKey, encodeKey, namespaced, type StorageAdapter } from '../../src/storage/adapter.js'

/** How a runner provides adapters to the cases. */
export interface Harness {
  /** A fresh adapter over an empty backend (the runner clears or creates it). */
  make(): Promise<StorageAdapter>
  /** An adapter whose backend fails every call with an error whose message contains `SECRET`; absent when the backend cannot be made to fail. */
  broken?(): Promise<StorageAdapter>
}

/** One case: throws on failure, resolves a string to be reported as skipped for that reason. */
export interface Case<H = Harness> {
  name: string
  run(h: H): Promise<string | void>
}

/** What a case did, as JSON (the workerd runner returns an array of these). */
export interface CaseResult {
  name: string
  status: 'passed' | 'failed' | 'skipped'
  message?: string
}

/** A value that must never appear in an error message. */
export const SECRET = 'sk-never-in-messages-7f3a'

// ---- a tiny assert kit ----------------------------------------------------------------------

/** JSON with sorted keys (and `undefined` spelled out), to compare values independently of key order. */
function canon(value: unknown): string {
  if (value === undefined) return 'undefined'
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  )
}
const cut = (s: string) => (s.length > 300 ? s.slice(0, 300) + '…' : s)

function ok(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(what)
}
function same(actual: unknown, expected: unknown, what: string): void {
  const a = canon(actual)
  const e = canon(expected)
  if (a !== e) throw new Error(`${what}: expected ${cut(e)}, got ${cut(a)}`)
}
async function rejects(promise: Promise<unknown>, what: string): Promise<ContextError> {
  try {
    await promise
  } catch (e) {
    ok(e instanceof ContextError, `${what}: rejected with ${String(e)}, not a ContextError`)
    return e
  }
  throw new Error(`${what}: resolved, expected a rejection`)
}
async function listAll(a: StorageAdapter, prefix: string, limit?: number): Promise<string[]> {
  const keys: string[] = []
  let cursor: string | undefined
  for (let page = 0; page < 1000; page++) {
    const r = await a.list(prefix, { cursor, limit })
    ok(limit === undefined || r.keys.length <= limit, `list page of ${r.keys.length} keys is over limit ${limit}`)
    keys.push(...r.keys)
    cursor = r.cursor
    if (!cursor) return keys
  }
  throw new Error('list never ended')
}
const sorted = (keys: string[]) => [...keys].sort()

/** Every JSON kind, plus strings and numbers that lossy decoders (destr, raw/base64 prefixes) get wrong. */
const KINDS: Record<string, Json> = {
  null: null,
  true: true,
  false: false,
  zero: 0,
  int: 42,
  negative: -1.5,
  huge: 1e300,
  tiny: 5e-324,
  maxSafe: 2 ** 53 - 1,
  seventeenDigits: 12345678901234567000,
  empty: '',
  text: 'hello',
  textTrue: 'true',
  textNumber: '123',
  textNull: 'null',
  textQuoted: '"quoted"',
  textBase64: 'base64:AAAA',
  textPadded: '  padded  ',
  unicode: 'héllo 日本語 🙂 \u2028',
  loneSurrogate: '\ud800',
  control: '\u0000\n\t',
  emptyArray: [],
  nested: [1, [2, [3, []]], { a: null }],
  emptyObject: {},
  integerKeys: { b: 1, '2': 0, '1': 'x', a: [true] },
  constructorKey: { constructor: { prototype: 1 } },
  deep: JSON.parse('['.repeat(40) + '1' + ']'.repeat(40)) as Json,
}

// ---- the cases ------------------------------------------------------------------------------

export const cases: Case[] = [
  {
    name: 'get of an absent key resolves undefined',
    async run(h) {
      const a = await h.make()
      same(await a.get('absent'), undefined, 'get')
      same(await batchGet(a, ['absent', 'also/absent']), [undefined, undefined], 'batchGet')
    },
  },
  {
    name: 'set then get round-trips every JSON kind',
    async run(h) {
      const a = await h.make()
      const entries = Object.entries(KINDS)
      for (const [k, v] of entries) await a.set(`kind/${k}`, v)
      for (const [k, v] of entries) same(await a.get(`kind/${k}`), v, `get kind/${k}`)
      same(await batchGet(a, entries.map(([k]) => `kind/${k}`)), Object.values(KINDS), 'batchGet of every kind')
    },
  },
  {
    name: 'stored values are copies of what was set and got',
    async run(h) {
      const a = await h.make()
      const value = { list: [1], inner: { n: 1 } }
      await a.set('copy', value)
      value.list.push(2)
      value.inner.n = 2
      same(await a.get('copy'), { list: [1], inner: { n: 1 } }, 'after mutating the value set')
      const got = (await a.get('copy')) as { list: number[] }
      got.list.push(3)
      same(await a.get('copy'), { list: [1], inner: { n: 1 } }, 'after mutating the value got')
      const [many] = (await batchGet(a, ['copy'])) as [{ list: number[] }]
      many.list.push(4)
      same(await a.get('copy'), { list: [1], inner: { n: 1 } }, 'after mutating the value of getMany')
    },
  },
  {
    name: 'set replaces a value, delete removes it, deleting an absent key is fine',
    async run(h) {
      const a = await h.make()
      await a.set('k', 1)
      await a.set('k', { two: 2 })
      same(await a.get('k'), { two: 2 }, 'after the second set')
      await a.delete('k')
      same(await a.get('k'), undefined, 'after delete')
      await a.delete('k')
      await a.delete('never/written')
      same((await a.list('')).keys, [], 'list after deleting everything')
    },
  },
  {
    name: 'list returns the keys under a prefix, sorted',
    async run(h) {
      const a = await h.make()
      for (const k of ['p/b', 'p/a', 'p/c/d', 'q/a', 'p', 'pa']) await a.set(k, k)
      same((await a.list('p/')).keys, ['p/a', 'p/b', 'p/c/d'], "list('p/')")
      same((await a.list('p')).keys, ['p', 'p/a', 'p/b', 'p/c/d', 'pa'], "list('p')")
      same((await a.list('')).keys, ['p', 'p/a', 'p/b', 'p/c/d', 'pa', 'q/a'], "list('')")
      same(await a.list('zzz'), { keys: [] }, "list('zzz')")
    },
  },
  {
    name: 'list pages through 250 keys with limit and cursor',
    async run(h) {
      const a = await h.make()
      const expected = Array.from({ length: 250 }, (_, i) => `page/${String(i).padStart(3, '0')}`)
      // Written in a scrambled order (i * 7 mod 250 visits every index once), with neighbours that must not show.
      const entries: [string, Json][] = expected.map((_, i) => [expected[(i * 7) % 250]!, i])
      await batchSet(a, [...entries, ['pagf/0', 0], ['pag', 0], ['page', 0]])
      same(await listAll(a, 'page/', 100), expected, 'pages of 100')
      same(await listAll(a, 'page/', 7), expected, 'pages of 7')
      const whole = await a.list('page/')
      same(whole.keys, expected, 'one page by default')
      ok(!whole.cursor, 'no cursor after the last page')
      same((await a.list('page/', { limit: 5000 })).keys, expected, 'a limit over 1000 is capped, not refused')
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        const e = await rejects(a.list('page/', { limit }), `list with limit ${limit}`)
        same(e.code, 'invalid_argument', `code of limit ${limit}`)
      }
    },
  },
  {
    name: 'namespaces are isolated: a, a:b, a/b, a%2Fb, the empty one and a nested one',
    async run(h) {
      const raw = await h.make()
      const spaces: Record<string, StorageAdapter> = {
        a: namespaced(raw, 'a'),
        'a:b': namespaced(raw, 'a:b'),
        'a/b': namespaced(raw, 'a/b'),
        'a%2Fb': namespaced(raw, 'a%2Fb'),
        '': namespaced(raw, ''),
        'a>b': namespaced(namespaced(raw, 'a'), 'b'),
      }
      for (const [n, s] of Object.entries(spaces)) await batchSet(s, [['k', n], ['x/1', n], ['x/2', n]])
      for (const [n, s] of Object.entries(spaces)) {
        same(await s.get('k'), n, `get k in namespace ${JSON.stringify(n)}`)
        const expected = n === 'a' ? ['b/k', 'b/x/1', 'b/x/2', 'k', 'x/1', 'x/2'] : ['k', 'x/1', 'x/2']
        same(await listAll(s, '', 2), expected, `list in namespace ${JSON.stringify(n)} (the nested one lives inside 'a')`)
        same(await listAll(s, 'x/', 1), ['x/1', 'x/2'], `list x/ in namespace ${JSON.stringify(n)}`)
      }
      same((await raw.list('')).keys.length, 18, 'keys in the backend')
      await spaces['a:b']!.delete('k')
      await batchDelete(spaces['a/b']!, ['x/1', 'x/2'])
      same(await spaces.a!.get('k'), 'a', "namespace 'a' after deletes in 'a:b' and 'a/b'")
      same(await listAll(spaces['a%2Fb']!, ''), ['k', 'x/1', 'x/2'], "namespace 'a%2Fb' after deletes in 'a/b'")
      same(await listAll(spaces['a/b']!, ''), ['k'], "namespace 'a/b' after its delete")
      if (raw.compareAndSet) {
        ok(await spaces.a!.compareAndSet!('k', 'a', 'a2', [['x/3', 3]]), 'compareAndSet through a namespace')
        same(await spaces['a>b']!.get('x/3'), undefined, 'compareAndSet wrote only its own namespace')
        same(await spaces.a!.get('x/3'), 3, 'compareAndSet wrote `also` in the namespace')
      }
    },
  },
  {
    name: "listing and deleting context '1' never touches '10' (or '1/0', '1%2F0', '')",
    async run(h) {
      const store = namespaced(await h.make(), 'agentctx')
      const ids = ['1', '10', '1/0', '1%2F0', '', '11']
      const recordsOf = (id: string) => [encodeKey(['ctx', id, 'h']), encodeKey(['ctx', id, 't', '000001']), encodeKey(['ctx', id, 't', '000002'])]
      await batchSet(
        store,
        ids.flatMap((id) => recordsOf(id).map((k): [string, Json] => [k, id])),
      )
      for (const id of ids) {
        const keys = await listAll(store, encodeKey(['ctx', id]))
        same(keys, sorted(recordsOf(id)), `records of context ${JSON.stringify(id)}`)
        for (const k of keys) same(decodeKey(k).slice(0, 2), ['ctx', id], `segments of ${k}`)
      }
      await batchDelete(store, await listAll(store, encodeKey(['ctx', '1'])))
      same(await listAll(store, encodeKey(['ctx', '1'])), [], "context '1' after its deletion")
      for (const id of ids.filter((i) => i !== '1')) {
        same(await listAll(store, encodeKey(['ctx', id])), sorted(recordsOf(id)), `context ${JSON.stringify(id)} after deleting '1'`)
      }
    },
  },
  {
    name: 'getMany, setMany and deleteMany, and their fallbacks, with missing keys',
    async run(h) {
      const a = await h.make()
      const plain: StorageAdapter = { name: a.name, capabilities: a.capabilities, get: a.get, set: a.set, delete: a.delete, list: a.list }
      for (const [label, s] of [
        ['adapter', a],
        ['fallback', plain],
      ] as const) {
        const p = `${label}/`
        await batchSet(s, [
          [p + 'a', 1],
          [p + 'b', { b: [2] }],
          [p + 'c', 'c'],
        ])
        same(await batchGet(s, [p + 'a', p + 'missing', p + 'c', p + 'b']), [1, undefined, 'c', { b: [2] }], `${label}: getMany`)
        same(await batchGet(s, []), [], `${label}: getMany of nothing`)
        await batchSet(s, [])
        await batchDelete(s, [])
        await batchDelete(s, [p + 'a', p + 'missing'])
        same(await batchGet(s, [p + 'a', p + 'b']), [undefined, { b: [2] }], `${label}: after deleteMany`)
      }
      if (a.getMany) same(await a.getMany(['adapter/b', 'nope']), [{ b: [2] }, undefined], 'getMany itself')
    },
  },
  {
    name: 'a batch with one value that is not JSON writes nothing',
    async run(h) {
      const a = await h.make()
      if (!a.setMany) return 'no setMany: batchSet falls back to parallel sets, which promise no atomicity'
      await a.set('b/1', 'old')
      const bad = { n: 1n } as unknown as Json
      const e = await rejects(
        a.setMany([
          ['b/1', 'new'],
          ['b/2', bad],
          ['b/3', 'x'],
        ]),
        'setMany with a BigInt',
      )
      same(e.code, 'invalid_argument', 'code')
      same(e.path, 'b/2', 'path names the bad entry')
      same(await batchGet(a, ['b/1', 'b/2', 'b/3']), ['old', undefined, undefined], 'after the refused batch')
    },
  },
  {
    name: 'compareAndSet: absent, stale and current expectations, `also`, deletion, races',
    async run(h) {
      const a = await h.make()
      if (!a.capabilities.compareAndSet) {
        ok(a.compareAndSet === undefined, 'capabilities.compareAndSet is false but compareAndSet exists')
        return `not supported by ${a.name} (capabilities.compareAndSet is false, and the method is absent as declared)`
      }
      const cas = a.compareAndSet
      ok(cas, 'capabilities.compareAndSet is true but compareAndSet is missing')
      ok(await cas('c', undefined, { v: 1 }, [['c/t1', 't1']]), 'absent expected on an absent key succeeds')
      same(await batchGet(a, ['c', 'c/t1']), [{ v: 1 }, 't1'], 'written with `also`')
      ok(!(await cas('c', undefined, { v: 2 }, [['c/t2', 't2']])), 'absent expected on a present key fails')
      ok(!(await cas('c', { v: 0 }, { v: 2 }, [['c/t2', 't2']])), 'a stale expected value fails')
      ok(!(await cas('c', '{"v":1}', { v: 2 }, [['c/t2', 't2']])), 'the JSON text of the value is not the value')
      same(await batchGet(a, ['c', 'c/t2']), [{ v: 1 }, undefined], 'a failed compareAndSet writes nothing, `also` included')
      ok(await cas('c', { v: 1 }, { v: 2 }, [['c/t2', 't2']]), 'the current value succeeds')
      same(await batchGet(a, ['c', 'c/t2']), [{ v: 2 }, 't2'], 'written')
      await a.set('h', { b: 1, '2': 0, a: [1, { y: 2, x: 1 }] })
      ok(await cas('h', { a: [1, { x: 1, y: 2 }], '2': 0, b: 1 }, 'next'), 'object key order does not matter')
      ok(!(await cas('h', 'nexT', 'x')), 'a different string fails')
      ok(await cas('h', 'next', undefined), 'value undefined deletes')
      same(await a.get('h'), undefined, 'deleted')
      ok(!(await cas('absent', { v: 1 }, 1)), 'a value expected on an absent key fails')
      same(await a.get('absent'), undefined, 'still absent')
      const e = await rejects(cas('c', { v: 2 }, { v: 3 }, [['c/bad', { n: 1n } as unknown as Json]]), 'a BigInt in `also`')
      same(e.code, 'invalid_argument', 'code of a bad `also`')
      same(await batchGet(a, ['c', 'c/bad']), [{ v: 2 }, undefined], 'a refused compareAndSet writes nothing')
      // Eight writers read the same version and race: exactly one may win.
      await a.set('race', 0)
      const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => cas('race', 0, i + 1, [[`race/${i}`, i]])))
      same(wins.filter(Boolean).length, 1, 'winners of eight racing writers')
      const winner = wins.indexOf(true)
      same(await a.get('race'), winner + 1, 'the winner’s value')
      same((await a.list('race/')).keys, [`race/${winner}`], 'only the winner’s `also`')
    },
  },
  {
    name: 'unicode and punctuation in keys and values',
    async run(h) {
      const a = await h.make()
      // No character in U+E000–U+FFFF: with one there, UTF-8 and UTF-16 orders could differ (see the contract).
      const names = ['ключ', '日本語', '🙂', 'é', 'a b', 'a:b', 'a::b', 'a?b', 'a#b', 'a*b', 'a[b]', 'a\\b', 'a%2Fb', 'a%', 'end$', '__proto__', 'constructor']
      const more = ['hasOwnProperty', 'a//b', '/lead', 'trail/', ':', '.', '..', 'x.y', '-', '_', '~', "it's", 'a+b', 'a&b=c']
      const keys = [...names, ...more].map((n) => `u/${n}`)
      await batchSet(
        a,
        keys.map((k): [string, Json] => [k, { key: k, text: `ünïcødé 🙂 ${k}` }]),
      )
      for (const k of keys) same(await a.get(k), { key: k, text: `ünïcødé 🙂 ${k}` }, `get ${JSON.stringify(k)}`)
      same(await listAll(a, 'u/'), sorted(keys), 'list sorted')
      same(await listAll(a, 'u/a'), sorted(keys.filter((k) => k.startsWith('u/a'))), "list 'u/a'")
      same(await listAll(a, 'u/🙂'), ['u/🙂'], "list 'u/🙂'")
      await batchDelete(a, keys.slice(0, 10))
      same(await listAll(a, 'u/'), sorted(keys.slice(10)), 'after deleting ten')
    },
  },
  {
    name: 'a large value round-trips',
    async run(h) {
      const a = await h.make()
      const max = a.capabilities.maxValueBytes
      // 1 MiB, or just under the declared limit; ASCII, so bytes are characters in every encoding.
      const size = Math.min(1 << 20, max ?? Infinity) - 64
      const value = { text: 'x'.repeat(size), n: size }
      await a.set('large', value)
      const got = (await a.get('large')) as { text: string; n: number }
      ok(got.n === size && got.text === value.text, `the ${size}-character value came back changed`)
    },
  },
  {
    name: 'declared key and value limits are refused before any write',
    async run(h) {
      const a = await h.make()
      const { maxKeyBytes, maxValueBytes } = a.capabilities
      if (!maxKeyBytes && !maxValueBytes) return `${a.name} declares no key or value size limit`
      if (maxKeyBytes) {
        const longest = 'k/' + 'é'.repeat((maxKeyBytes - 2) >> 1) + 'a'.repeat((maxKeyBytes - 2) & 1)
        await a.set(longest, 'fits')
        same(await a.get(longest), 'fits', `a key of exactly ${maxKeyBytes} bytes`)
        const over = longest + 'a'
        const e = await rejects(a.set(over, 'no'), `a key of ${maxKeyBytes + 1} bytes`)
        ok(e.message.includes(a.name) && e.path === over, `the error names the adapter and the key: ${e.message}`)
        if (a.setMany) {
          await rejects(
            a.setMany([
              ['k/first', 1],
              [over, 2],
            ]),
            'a batch with a long key',
          )
          same(await a.get('k/first'), undefined, 'a batch with one long key writes nothing')
        }
      }
      if (maxValueBytes) {
        await a.set('v', 'previous')
        const e = await rejects(a.set('v', 'x'.repeat(maxValueBytes)), `a value of ${maxValueBytes + 2} bytes`)
        ok(e.message.includes(a.name) && e.path === 'v', `the error names the adapter and the key: ${e.message}`)
        ok(!e.message.includes('xxxxxxxx'), 'the message does not contain the value')
        same(await a.get('v'), 'previous', 'the previous value is intact')
      }
    },
  },
  {
    name: 'a value that is not JSON is refused naming the adapter and key, never the value',
    async run(h) {
      const a = await h.make()
      for (const [label, bad] of [
        ['a BigInt', { secret: SECRET, n: 1n }],
        ['undefined', undefined],
        ['a function', () => SECRET],
      ] as const) {
        const e = await rejects(a.set('e/1', bad as unknown as Json), `set of ${label}`)
        same(e.code, 'invalid_argument', `code for ${label}`)
        same(e.path, 'e/1', `path for ${label}`)
        ok(e.message.includes(a.name) && e.message.includes('e/1'), `message names the adapter and key: ${e.message}`)
        ok(!e.message.includes(SECRET), `message leaks the value: ${e.message}`)
      }
      same(await a.get('e/1'), undefined, 'nothing written')
    },
  },
  {
    name: 'backend failures are StorageErrors naming the adapter and key, never the value',
    async run(h) {
      if (!h.broken) return 'this backend cannot be made to fail on demand'
      const b = await h.broken()
      const calls: [string, string, () => Promise<unknown>][] = [
        ['get', 'e/k', () => b.get('e/k')],
        ['set', 'e/k', () => b.set('e/k', { secret: SECRET })],
        ['delete', 'e/k', () => b.delete('e/k')],
        ['list', 'e/', () => b.list('e/')],
      ]
      if (b.getMany) calls.push(['getMany', 'e/m', () => b.getMany!(['e/m', 'e/n'])])
      if (b.setMany) calls.push(['setMany', 'e/m', () => b.setMany!([['e/m', SECRET], ['e/n', { SECRET }]])])
      if (b.deleteMany) calls.push(['deleteMany', 'e/m', () => b.deleteMany!(['e/m', 'e/n'])])
      if (b.compareAndSet) calls.push(['compareAndSet', 'e/c', () => b.compareAndSet!('e/c', SECRET, { SECRET }, [['e/d', SECRET]])])
      for (const [op, key, call] of calls) {
        const e = await rejects(call(), op)
        same(e.code, 'storage', `${op}: code`)
        same(e.path, key, `${op}: path`)
        ok(e.message.includes(b.name) && e.message.includes(key), `${op}: message names the adapter and key: ${e.message}`)
        ok(!e.message.includes(SECRET), `${op}: message leaks the value: ${e.message}`)
        ok(e.cause !== undefined, `${op}: the backend error is kept as cause`)
      }
    },
  },
  // ---- list: prefixes, cursors, limits and writes between pages (issue 8: list costs what it returns) ----
  {
    name: 'list: keys that share a prefix stop exactly at its boundary',
    async run(h) {
      const a = await h.make()
      // Neighbours on both sides of 'p/a/': the prefix itself, shorter and longer look-alikes, the
      // next code unit after '/' ('0'), one before it ('.'), and '~' past every letter.
      const keys = ['p/a', 'p/a/', 'p/a/0', 'p/a/b', 'p/a/b/c', 'p/a/~', 'p/a.', 'p/a0', 'p/a0/x', 'p/b', 'p/', 'p', 'o/a/b', 'q/a/b']
      await batchSet(a, keys.map((k, i): [string, Json] => [k, i]))
      const under = (prefix: string) => sorted(keys.filter((k) => k.startsWith(prefix)))
      for (const prefix of ['p/a/', 'p/a', 'p/a/b', 'p/', 'p', 'o/', 'q/a/b', 'p/a/b/c/', 'p/a/~']) {
        same(await listAll(a, prefix), under(prefix), `list(${JSON.stringify(prefix)})`)
        same(await listAll(a, prefix, 1), under(prefix), `list(${JSON.stringify(prefix)}) one key a page`)
      }
      same(await listAll(a, '', 3), sorted(keys), "list('') in pages of 3")
    },
  },
  {
    name: 'list: each page holds at most limit keys, the cursor continues after it, the last page has none',
    async run(h) {
      const a = await h.make()
      const keys = Array.from({ length: 1003 }, (_, i) => `lim/${String(i).padStart(4, '0')}`)
      await batchSet(a, [...keys.map((k, i): [string, Json] => [k, i]), ['lil', 0], ['lin', 0]])
      for (const limit of [1, 2, 500, 1000, 1001]) {
        const first = await a.list('lim/', { limit })
        ok(first.keys.length <= Math.min(limit, 1000), `limit ${limit}: a page of ${first.keys.length} keys`)
        ok(first.keys.length > 0 && first.cursor, `limit ${limit}: a first page with a cursor`)
        same(first.keys, keys.slice(0, first.keys.length), `limit ${limit}: first page`)
        // Whole walks only with big pages: localStorage and unstorage scan every key per page (see their docs).
        if (limit >= 500) same(await listAll(a, 'lim/', limit), keys, `limit ${limit}: every key once, in order`)
      }
      const exact = await listAll(a, 'lim/0', 1000)
      same(exact, keys.slice(0, 1000), 'a prefix holding exactly one full page')
    },
  },
  {
    name: 'list: deleting each page before asking for the next deletes everything (the store deletes a context this way)',
    async run(h) {
      const a = await h.make()
      const keys = Array.from({ length: 300 }, (_, i) => `sweep/${String(i).padStart(3, '0')}`)
      const others = ['swee', 'sweep', 'sweep0', 'sweeq/1']
      await batchSet(a, [...keys, ...others].map((k): [string, Json] => [k, 1]))
      const seen: string[] = []
      for (let cursor: string | undefined, page, n = 0; (!page || cursor) && n < 100; cursor = page.cursor, n++) {
        page = await a.list('sweep/', { cursor, limit: 70 })
        seen.push(...page.keys)
        await batchDelete(a, page.keys)
      }
      if (a.capabilities.consistency === 'eventual') return 'an eventually consistent listing may lag behind the deletes it follows'
      same(seen, keys, 'every key listed once, in order')
      same(await listAll(a, 'sweep/'), [], 'nothing left under the prefix')
      same(await listAll(a, 'swe'), sorted(others), 'the neighbours are kept')
      await a.set('sweep/150', 2)
      same(await listAll(a, 'sweep/'), ['sweep/150'], 'a key written again after its deletion is listed again')
    },
  },
  {
    name: 'list: keys written or deleted between pages; the rest come once, in order',
    async run(h) {
      const a = await h.make()
      const keys = Array.from({ length: 20 }, (_, i) => `mid/${String(i).padStart(2, '0')}`)
      await batchSet(a, keys.map((k, i): [string, Json] => [k, i]))
      const first = await a.list('mid/', { limit: 5 })
      same(first.keys, keys.slice(0, 5), 'first page')
      // Between pages: one key deleted and one added on each side of the cursor ('mid/04').
      await a.delete('mid/02')
      await a.delete('mid/10')
      await a.set('mid/015', 'before the cursor')
      await a.set('mid/105', 'after the cursor')
      const rest: string[] = []
      for (let cursor = first.cursor, page, n = 0; cursor && n < 100; cursor = page.cursor, n++) {
        page = await a.list('mid/', { cursor, limit: 5 })
        rest.push(...page.keys)
      }
      const untouched = keys.slice(5).filter((k) => k !== 'mid/10')
      same(
        rest.filter((k) => untouched.includes(k)),
        untouched,
        'keys untouched during the listing: each once, in order',
      )
      ok(!rest.some((k) => k <= first.cursor!), `no key at or before the cursor comes again: ${rest.join(', ')}`)
      same(rest, sorted(rest), 'the pages after the writes are in order')
      if (a.capabilities.consistency === 'eventual') return 'an eventually consistent listing may or may not show writes made during it'
      same(rest, sorted([...untouched, 'mid/105']), 'a strongly consistent listing shows the key added after the cursor, not the deleted one')
    },
  },
]

/**
 * Runs `list` (or the cases named in `only`) against `h` one after another and reports each, for
 * runtimes without vitest (workerd): the conformance cases by default, or any other suite's.
 */
export async function runCases<H = Harness>(h: H, only?: string[], list: Case<H>[] = cases as unknown as Case<H>[]): Promise<CaseResult[]> {
  const results: CaseResult[] = []
  for (const c of list) {
    if (only && !only.includes(c.name)) continue
    try {
      const skip = await c.run(h)
      results.push(skip ? { name: c.name, status: 'skipped', message: skip } : { name: c.name, status: 'passed' })
    } catch (e) {
      results.push({ name: c.name, status: 'failed', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) })
    }
  }
  return results
}
