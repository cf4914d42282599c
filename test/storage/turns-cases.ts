/**
 * Store-suite cases for turns on demand (`ctx.getTurn`, `ctx.loadTurns({ from, to })`) and the
 * writers' race, appended to `storeCases` (store-cases.ts), so they run wherever that suite runs:
 * memory and unstorage in Node and Chromium, IndexedDB and localStorage in Chromium, Workers KV and
 * Durable Objects in workerd, and every backend a later runner adds (Redis, SQL). Free of any
 * test-framework import, like the rest of the suite.
 */
import type { Case } from './conformance.js'
import type { StorageAdapter } from '../../src/storage/adapter.js'
import { createContextStore } from '../../src/storage/store.js'
import { counting, ok, rejects, runtime, same, sample } from './store-helpers.js'
import { writersRace } from './writers-race.js'

/** The part of the store suite's harness these cases use. */
interface Harness {
  make(): Promise<StorageAdapter>
}

const storeOn = (a: StorageAdapter, recentTurns = 20) => createContextStore(a, { channel: false, runtime, recentTurns })

export const turnsCases: Case<Harness>[] = [
  {
    name: 'ctx.getTurn reads an old turn in one record read (no listing), -1 is the current turn, an absent turn is undefined',
    async run(h) {
      const a = await h.make()
      const ctx = sample('gt', 250, 0)
      await storeOn(a).save(ctx)
      const c = counting(a)
      const loaded = (await storeOn(c).load('gt'))!
      const inMemory = [...loaded.requests.keys()]
      for (const id of [0, 1, 5, 120, 229]) {
        c.reset()
        const turn = await loaded.getTurn(id)
        same([c.counts.reads, c.counts.lists], [1, 0], `getTurn(${id}): one record read`)
        same(turn, { id, label: ctx.labels.get(id), request: ctx.requests.get(id), response: ctx.responses.get(id) }, `getTurn(${id})`)
        ok(Object.isFrozen(turn), `getTurn(${id}) is frozen`)
      }
      c.reset()
      same((await loaded.getTurn(-1))?.request, { text: 'q250', lang: 'en' }, 'getTurn(-1): the current turn')
      same((await loaded.getTurn(-2))?.id, 249, 'getTurn(-2)')
      same((await loaded.getTurn(240))?.response, { text: 'a240' }, 'getTurn(240), in memory')
      same([await loaded.getTurn(251), await loaded.getTurn(-252), await loaded.getTurn(9_999_999_999)], [undefined, undefined, undefined], 'turns that do not exist')
      same(c.counts.reads, 0, 'turns in memory, or past either end, read nothing')
      same((await loaded.getTurn(-251))?.label, { flow: 'main', node: 'start' }, 'getTurn(-251): turn 0, the start label')
      same([...loaded.requests.keys()], inMemory, 'a turn read by getTurn is not kept in memory: the maps are unchanged')
      for (const bad of [1.5, Number.NaN, 2 ** 53, '3' as unknown as number]) {
        const e = await rejects(loaded.getTurn(bad), `getTurn(${String(bad)})`)
        ok(e.code === 'invalid_argument' && e.path === 'turnId', `getTurn(${String(bad)}) names turnId: ${e.message}`)
      }
      // A save after reads writes nothing: getTurn changed nothing.
      c.reset()
      await storeOn(c).save(loaded)
      same(c.counts.writes, 0, 'save after getTurn')
    },
  },
  {
    name: 'ctx.loadTurns({ from, to }) loads [from, to) in order, leaves loadTurns() and the save as they were, and refuses bad bounds',
    async run(h) {
      const a = await h.make()
      const ctx = sample('lr', 250, 0)
      await storeOn(a).save(ctx)
      const c = counting(a)
      const s = storeOn(c)
      const loaded = (await s.load('lr'))!
      c.reset()
      same(await loaded.loadTurns({ from: 10, to: 20 }), 10, 'turns 10..19 loaded')
      same(c.counts.reads, 10, 'ten records read')
      const keys = [...loaded.requests.keys()]
      same(keys, [...keys].sort((x, y) => x - y), 'requests iterate in turn order')
      same(keys.slice(0, 11), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 230], 'the range, then the recent turns')
      c.reset()
      same(await loaded.getTurn(15), { id: 15, request: ctx.requests.get(15), response: ctx.responses.get(15), label: ctx.labels.get(15) }, 'getTurn(15) from memory')
      same(c.counts.reads, 0, 'a loaded range is read from memory')
      same(await loaded.loadTurns({ from: -5 }), 0, 'the last 5 turns are in memory already')
      same(c.counts.reads, 0, 'and are not read')
      // loadTurns() continues below the recent turns (130..229), not below the range.
      same(await loaded.loadTurns(), 100, 'loadTurns() after a range')
      same([...loaded.requests.keys()].slice(10, 12), [130, 131], 'the next 100 below the recent turns')
      same(await loaded.loadTurns({ from: 0, to: 130 }), 120, 'the rest (10..19 were in memory)')
      same(loaded.toJSON(), ctx.toJSON(), 'whole context')
      same(await loaded.loadTurns(), 0, 'nothing older')
      c.reset()
      await s.save(loaded)
      same(c.counts.writes, 0, 'save after loading ranges writes nothing')
      loaded.addRequest('one more')
      await s.save(loaded)
      same(c.counts.writes, 2, 'one more turn: its record and the header, as ever')

      const fresh = (await storeOn(a).load('lr'))!
      for (const [options, path] of [
        [{ from: 1.5 }, 'from'],
        [{ from: 20, to: 10 }, 'to'],
        [{ to: 253 }, 'to'],
        [{ from: -253 }, 'from'],
        [{ from: 0, to: Number.POSITIVE_INFINITY }, 'to'],
        [{ all: true, from: 0 }, 'options.all'],
        [{ all: 'yes' }, 'options.all'],
        [{ form: 1 }, 'options.form'],
      ] as const) {
        const e = await rejects(fresh.loadTurns(options as never), `loadTurns(${JSON.stringify(options)})`)
        ok(e.code === 'invalid_argument' && e.path === path, `loadTurns(${JSON.stringify(options)}) names ${path}: ${e.path} ${e.message}`)
      }
      same(await fresh.loadTurns({ from: 0, to: 0 }), 0, 'an empty range')
      same(await fresh.loadTurns({ from: -251 }), 230, 'from -251: turn 0 on, every turn not in memory')
    },
  },
  {
    name: '3 writers × 19 turns with random delays, every write checked: no turn lost or duplicated (compare-and-set)',
    async run(h) {
      const a = await h.make()
      if (!a.capabilities.compareAndSet) return 'no compare-and-set: the last header written wins (writers-race.test.ts shows the loss)'
      const report = await writersRace(() => a, { maxDelayMs: 3 })
      same([report.stored, report.saves, report.lost, report.duplicated], [57, 57, [], []], `race (seed ${report.seed})`)
    },
  },
]
