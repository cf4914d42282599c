import { describe, expect, it, vi } from 'vitest'
import { Context } from '../../src/context.js'
import { ContextError, ValidationError } from '../../src/errors.js'
import { createExperiments, type Experiments } from '../../src/experiments/index.js'
import { keys } from '../../src/experiments/keys.js'
import type { StopConditions } from '../../src/experiments/session/tests.js'
import { encodeKey, namespaced } from '../../src/storage/adapter.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { converter, session, slow } from './tracker-helpers.js'

const NS = encodeKey(['agentctx-exp'])

/** Runs sessions s-0, s-1, … until `stop(i)` (evaluating after each), at most `max`. Returns the index of the first session after the conclusion. */
async function runUntilConcluded(x: Experiments, test: { name: string; options: Record<string, number>; stop: StopConditions }, converts: (v: string) => boolean, max = 3000) {
  for (let i = 0; i < max; i++) {
    await session(x, `s-${i}`, test, converts)
    const e = await x.evaluate(test.name)
    if (e.concluded) return { after: i + 1, evaluation: e }
  }
  throw new Error(`not concluded after ${max} sessions`)
}

describe('stop rules end to end (record → evaluate → attach)', () => {
  it('maxIterations only: 30 sessions with maxIterations 5, sessions 6 to 30 get the default', async () => {
    const x = createExperiments(memoryStorage())
    const test = { name: 'greeting', options: { formal: 1, casual: 1 }, stop: { maxIterations: 5, default: 'casual' } }
    const got: { value: string; concluded: boolean }[] = []
    for (let i = 0; i < 30; i++) {
      got.push(await session(x, `s-${i}`, test))
      const e = await x.evaluate('greeting')
      expect(e.concluded).toBe(i >= 4)
    }
    // The first five drew by the hash (both options appear over many ids; here whatever they drew).
    expect(got.slice(0, 5).every((g) => !g.concluded)).toBe(true)
    expect(got.slice(5).every((g) => g.value === 'casual' && g.concluded)).toBe(true)
    expect(await x.evaluate('greeting')).toEqual({ concluded: true, value: 'casual', reason: 'maxIterations', confidence: 0, iterations: 5 })
  })

  it('maxIterations without a default: the first option (no option shown better)', async () => {
    const x = createExperiments(memoryStorage())
    const test = { name: 't', options: { a: 1, b: 1 }, stop: { maxIterations: 3 } }
    for (let i = 0; i < 3; i++) await session(x, `s-${i}`, test)
    expect((await x.evaluate('t')).value).toBe('a')
    expect((await session(x, 'later', test)).value).toBe('a')
  })

  it('maxConfidence only: a clear winner (30% vs 10%) concludes after minSamples, and new sessions get it', async () => {
    const onConclude = vi.fn()
    const x = createExperiments(memoryStorage(), { onConclude })
    const test = { name: 'cta', options: { control: 1, bold: 1 }, stop: { maxConfidence: 95, targetOutcome: 'converted' } }
    const { after, evaluation } = await runUntilConcluded(x, test, converter({ control: 0.1, bold: 0.3 }))
    expect(evaluation).toMatchObject({ concluded: true, value: 'bold', reason: 'maxConfidence' })
    expect(evaluation.confidence).toBeGreaterThanOrEqual(95)
    // No stop on confidence before minSamples (100) per option.
    const report = await x.report('cta')
    expect(Math.min(...report.options.map((o) => o.n))).toBeGreaterThanOrEqual(100)
    expect(after).toBe(evaluation.iterations)
    for (let i = 0; i < 20; i++) expect(await session(x, `new-${i}`, test)).toMatchObject({ value: 'bold', concluded: true })
    await x.flush()
    expect(onConclude).toHaveBeenCalledTimes(1)
    expect(onConclude.mock.calls[0]![0]).toMatchObject({ test: 'cta', value: 'bold', reason: 'maxConfidence', iterations: after })
  })

  it('minSamples: the same clear winner stops later when every option must first reach minSamples', async () => {
    const test = { name: 'm', options: { a: 1, b: 1 }, stop: { maxConfidence: 90, targetOutcome: 'converted' } }
    const early = createExperiments(memoryStorage(), { minSamples: 5 })
    const late = createExperiments(memoryStorage(), { minSamples: 150 })
    const e = await runUntilConcluded(early, test, converter({ a: 0, b: 1 }))
    const l = await runUntilConcluded(late, test, converter({ a: 0, b: 1 }))
    const fewest = async (x: Experiments) => Math.min(...(await x.report('m')).options.map((o) => o.n))
    expect(e.after).toBeLessThan(l.after)
    expect(await fewest(early)).toBeLessThan(150)
    expect(await fewest(late)).toBeGreaterThanOrEqual(150)
    expect(e.evaluation.value).toBe('b')
    expect(l.evaluation.value).toBe('b')
  })

  it('stopOn 1: either condition (iterations reached first here)', async () => {
    const x = createExperiments(memoryStorage())
    const test = { name: 'or', options: { a: 1, b: 1 }, stop: { maxIterations: 50, maxConfidence: 95, targetOutcome: 'converted', stopOn: 1 as const } }
    const r = await runUntilConcluded(x, test, converter({ a: 0.1, b: 0.3 }))
    expect(r.after).toBe(50)
    expect(r.evaluation.reason).toBe('maxIterations')
  })

  it('stopOn 2: both conditions (iterations alone does not stop it; confidence then does)', async () => {
    const x = createExperiments(memoryStorage())
    const test = { name: 'and', options: { a: 1, b: 1 }, stop: { maxIterations: 50, maxConfidence: 95, targetOutcome: 'converted', stopOn: 2 as const } }
    const r = await runUntilConcluded(x, test, converter({ a: 0.1, b: 0.3 }))
    expect(r.after).toBeGreaterThan(200)
    expect(r.evaluation).toMatchObject({ reason: 'both', value: 'b' })
  })

  it('once concluded, evaluate returns the stored conclusion whatever is recorded later', async () => {
    const store = memoryStorage()
    const x = createExperiments(store)
    const test = { name: 'fixed', options: { a: 1, b: 1 }, stop: { maxIterations: 2 } }
    for (let i = 0; i < 2; i++) await session(x, `s-${i}`, test)
    const first = await x.evaluate('fixed')
    // A session that drew before the conclusion still records; the conclusion does not move.
    const ctx = new Context({ sessionId: 'straggler' })
    ctx.addTest('fixed', { a: 1, b: 1 }, '', { maxIterations: 2 })
    expect((await x.record(ctx)).recorded).toEqual(['fixed'])
    expect(await x.evaluate('fixed')).toEqual(first)
    // A fresh tracker (another isolate) reads the stored conclusion.
    expect(await createExperiments(store).evaluate('fixed')).toEqual(first)
  })
})

describe('cost', () => {
  it('evaluate reads the same records at 20 and at 2,000 sessions: the definition, the state, the conclusion and the 8 shards', async () => {
    const reads = async (sessions: number) => {
      const memory = memoryStorage()
      const x = createExperiments(memory)
      for (let i = 0; i < sessions; i++) {
        const ctx = new Context({ sessionId: `s-${i}` })
        ctx.addTest('t', { a: 1, b: 1 }, '', { maxConfidence: 99.99, targetOutcome: 'won' })
        ctx.addOutcome('won', 'boolean')
        await x.record(ctx)
      }
      const read: string[] = []
      const counting = { ...memory, get: (k: string) => (read.push(k), memory.get(k)), getMany: (ks: string[]) => (read.push(...ks), memory.getMany!(ks)) }
      const e = await createExperiments(counting).evaluate('t')
      expect(e.iterations).toBe(sessions)
      return read.sort()
    }
    const small = await reads(20)
    expect(small).toHaveLength(11)
    expect(await reads(2000)).toEqual(small)
  })
})

describe('idempotent recording', () => {
  it('the same session recorded 3 times counts once; a changed outcome replaces its contribution', async () => {
    const x = createExperiments(memoryStorage())
    const ctx = new Context({ sessionId: 'once' })
    const value = ctx.addTest('t', { a: 1, b: 1 })
    ctx.addOutcome('converted', 'boolean')
    ctx.addOutcome('turns', 'integer')
    ctx.setOutcome('turns', 3)
    for (let i = 0; i < 3; i++) expect(await x.record(ctx)).toEqual({ recorded: ['t'], skipped: [] })
    const option = (r: Awaited<ReturnType<Experiments['report']>>) => r.options.find((o) => o.value === value)!
    let report = await x.report('t')
    expect(report.options.map((o) => o.n).reduce((s, n) => s + n)).toBe(1)
    expect(option(report).outcomes.turns).toMatchObject({ n: 1, mean: 3 })
    ctx.setOutcome('converted', true)
    ctx.setOutcome('turns', 5)
    await x.record(ctx)
    report = await x.report('t')
    expect(option(report).n).toBe(1)
    expect(option(report).outcomes.turns).toMatchObject({ n: 1, mean: 5 })
    expect(option(report).outcomes.converted).toMatchObject({ n: 1, mean: 1 })
    expect((await x.evaluate('t')).iterations).toBe(1)
  })

  it('string outcomes are not aggregated', async () => {
    const x = createExperiments(memoryStorage())
    const ctx = new Context({ sessionId: 's' })
    ctx.addTest('t', { a: 1 })
    ctx.addOutcome('mood', 'string')
    ctx.setOutcome('mood', 'happy')
    await x.record(ctx)
    expect(Object.keys((await x.report('t')).options[0]!.outcomes)).toEqual([])
  })

  it('a session whose test definition differs from the stored one is not counted (the first definition stays)', async () => {
    const store = memoryStorage()
    const x = createExperiments(store)
    const a = new Context({ sessionId: 'a' })
    a.addTest('t', { x: 1, y: 1 })
    await x.record(a)
    const b = new Context({ sessionId: 'b' })
    b.addTest('t', { x: 1, y: 3 })
    expect(await x.record(b)).toEqual({ recorded: [], skipped: [{ test: 't', reason: 'definition' }] })
    // Same weights relative to their sum: the same test.
    const c = new Context({ sessionId: 'c' })
    c.addTest('t', [
      ['x', 0.5],
      ['y', 0.5],
    ])
    expect((await x.record(c)).recorded).toEqual(['t'])
    // Who to notify is not how the test runs: a new address does not make another test.
    const e = new Context({ sessionId: 'e' })
    e.addTest('t', { x: 1, y: 1 }, '', { notify: ['ops@example.com'] })
    expect((await x.record(e)).recorded).toEqual(['t'])
    // Another tracker (another isolate) reads the stored definition too.
    const d = new Context({ sessionId: 'd' })
    d.addTest('t', { x: 1, y: 1 }, '', { maxIterations: 9 })
    expect((await createExperiments(store).record(d)).skipped).toEqual([{ test: 't', reason: 'definition' }])
  })

  it('concluded sessions (given the conclusion, not randomized) are not counted', async () => {
    const store = memoryStorage()
    const x = createExperiments(store)
    const test = { name: 't', options: { a: 1, b: 1 }, stop: { maxIterations: 1, default: 'b' } }
    await session(x, 's-0', test)
    await x.evaluate('t')
    const ctx = new Context({ sessionId: 's-1' })
    await x.attach(ctx)
    ctx.addTest('t', { a: 1, b: 1 }, '', test.stop)
    expect(await x.record(ctx)).toEqual({ recorded: [], skipped: [{ test: 't', reason: 'concluded' }] })
  })
})

describe('concurrency (memory adapter, calls delayed 0-2 ms so they interleave)', () => {
  it('16 parallel recorders of 20 sessions each lose no count', async () => {
    const store = slow(memoryStorage())
    const x = createExperiments(store)
    await Promise.all(
      Array.from({ length: 16 }, async (_, r) => {
        for (let i = 0; i < 20; i++) await session(createExperiments(store), `r${r}-s${i}`, { name: 't', options: { a: 1, b: 1 } }, () => i % 2 === 0)
      }),
    )
    const report = await x.report('t')
    expect(report.options.reduce((s, o) => s + o.n, 0)).toBe(320)
    expect(report.options.reduce((s, o) => s + o.outcomes.converted!.n, 0)).toBe(320)
    expect(report.options.reduce((s, o) => s + o.outcomes.converted!.n * o.outcomes.converted!.mean!, 0)).toBeCloseTo(160, 9)
  })

  it('the same session recorded by 8 recorders at once, with different outcomes, counts once with one of them', async () => {
    const store = slow(memoryStorage())
    await Promise.all(
      Array.from({ length: 8 }, async (_, r) => {
        const ctx = new Context({ sessionId: 'shared' })
        ctx.addTest('t', { a: 1, b: 1 })
        ctx.addOutcome('score', 'integer')
        ctx.setOutcome('score', r)
        await createExperiments(store).record(ctx)
      }),
    )
    const report = await createExperiments(store).report('t')
    const counted = report.options.filter((o) => o.n > 0)
    expect(counted).toHaveLength(1)
    expect(counted[0]!.n).toBe(1)
    expect(counted[0]!.outcomes.score!.n).toBe(1)
    expect([0, 1, 2, 3, 4, 5, 6, 7]).toContain(counted[0]!.outcomes.score!.mean)
  })

  it('without compare-and-set, concurrent recorders of one shard lose counts (the documented limit)', async () => {
    const store = slow(memoryStorage(), 2, false)
    await Promise.all(
      Array.from({ length: 16 }, (_, r) => session(createExperiments(store, { shards: 1 }), `r${r}`, { name: 't', options: { a: 1, b: 1 } })),
    )
    const report = await createExperiments(store).report('t')
    expect(report.options.reduce((s, o) => s + o.n, 0)).toBeLessThan(16)
  })

  it('exactly-once conclusion: 8 evaluators at once, onConclude called once, all answer the same conclusion', async () => {
    const store = slow(memoryStorage())
    const test = { name: 't', options: { a: 1, b: 1 }, stop: { maxIterations: 10 } }
    const seed = createExperiments(store)
    for (let i = 0; i < 10; i++) await session(seed, `s-${i}`, test)
    const onConclude = vi.fn()
    const trackers = Array.from({ length: 8 }, () => createExperiments(store, { onConclude }))
    const answers = await Promise.all(trackers.map((t) => t.evaluate('t')))
    await Promise.all(trackers.map((t) => t.flush()))
    expect(onConclude).toHaveBeenCalledTimes(1)
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1)
    expect(answers[0]).toMatchObject({ concluded: true, iterations: 10, reason: 'maxIterations' })
  })

  it('concurrent evaluators keep the running minimum p-value (a minimum of minima)', async () => {
    const store = memoryStorage()
    const x = createExperiments(store)
    const test = { name: 't', options: { a: 1, b: 1 }, stop: { maxConfidence: 99.9999, targetOutcome: 'converted' } }
    const converts = converter({ a: 0.1, b: 0.2 })
    for (let i = 0; i < 300; i++) await session(x, `s-${i}`, test, converts)
    await Promise.all(Array.from({ length: 4 }, () => createExperiments(slow(store)).evaluate('t')))
    const state = (await namespaced(store, 'agentctx-exp').get(keys.state('t'))) as { pValues: number[] }
    expect(state.pValues[0]).toBe(1)
    expect(state.pValues[1]).toBeLessThan(1)
  })
})

describe('attach', () => {
  it('gives every concluded test its value; a test the session already has keeps its draw', async () => {
    const x = createExperiments(memoryStorage())
    for (const name of ['one', 'two']) {
      const test = { name, options: { a: 1, b: 1 }, stop: { maxIterations: 1, default: 'b' } }
      await session(x, `first-${name}`, test)
      await x.evaluate(name)
    }
    const ctx = new Context({ sessionId: 'late' })
    const drew = ctx.addTest('one', { a: 1, b: 1 }, '', { maxIterations: 1, default: 'b' })
    expect(await x.attach(ctx)).toEqual({ one: 'b', two: 'b' })
    expect(ctx.getTest('one')).toBe(drew)
    expect(ctx.addTest('two', { a: 1, b: 1 }, '', { maxIterations: 1, default: 'b' })).toBe('b')
  })
})

describe('hostile storage and bad arguments', () => {
  async function seeded() {
    const store = memoryStorage()
    const x = createExperiments(store)
    await session(x, 's-0', { name: 't', options: { a: 1, b: 1 } })
    return { store, x, ns: namespaced(store, 'agentctx-exp') }
  }

  it.each([
    ['a shard', (t: string) => keys.shard(t, 0)],
    ['the definition', (t: string) => keys.definition(t)],
    ['the evaluation state', (t: string) => keys.state(t)],
  ])('a bad %s is a ValidationError naming its key, never NaN', async (_, key) => {
    for (const bad of [{ rev: 'x' }, 42, { pValues: [Number.NaN] }, []]) {
      const { store, ns } = await seeded()
      await ns.set(key('t'), bad as never)
      // A fresh tracker (another isolate): the seeding one keeps the definition it read.
      const x = createExperiments(store)
      const error = await x.evaluate('t').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).path).toBe(NS + key('t'))
      await expect(x.report('t')).rejects.toThrow(ValidationError)
    }
  })

  it('recording into a bad shard fails and writes nothing (the session record stays as it was)', async () => {
    const { store, ns } = await seeded()
    for (let i = 0; i < 8; i++) await ns.set(keys.shard('t', i), { rev: 1, sessions: [Number.MAX_VALUE, 0], outcomes: {} })
    const ctx = new Context({ sessionId: 'new' })
    ctx.addTest('t', { a: 1, b: 1 })
    await expect(createExperiments(store).record(ctx)).rejects.toThrow(ValidationError)
    expect(await ns.get(keys.session('t', 'new'))).toBeUndefined()
  })

  it('a session record the shard does not hold (restored apart from it) is refused, not driven below 0', async () => {
    const { store, ns } = await seeded()
    const ctx = new Context({ sessionId: 'restored' })
    ctx.addTest('t', { a: 1, b: 1 })
    await ns.set(keys.session('t', 'restored'), { option: 0, outcomes: { ghost: 5 } })
    const error = await createExperiments(store).record(ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).path).toBe(NS + keys.session('t', 'restored'))
    expect((await createExperiments(store).evaluate('t')).iterations).toBe(1)
  })

  it('a bad conclusion record is refused by evaluate and attach', async () => {
    const { store, ns } = await seeded()
    await ns.set(keys.conclusion('t'), { test: 'other', value: 'a', reason: 'maxIterations', confidence: 0, iterations: 1, concludedAt: 'x' })
    await expect(createExperiments(store).evaluate('t')).rejects.toThrow(/names another test/)
    await expect(createExperiments(store).attach(new Context())).rejects.toThrow(ValidationError)
  })

  it('bad arguments are typed errors naming the argument', async () => {
    const store = memoryStorage()
    const cases: [() => unknown, string][] = [
      [() => createExperiments(null as never), 'adapter'],
      [() => createExperiments(store, { minSamples: 0 }), 'minSamples'],
      [() => createExperiments(store, { shards: 1000 }), 'shards'],
      [() => createExperiments(store, { namespace: '' }), 'namespace'],
      [() => createExperiments(store, { onConclude: 'x' as never }), 'onConclude'],
      [() => createExperiments(store, { min_samples: 5 } as never), 'options.min_samples'],
      [() => createExperiments(store, { webhook: { url: 'nope' } }), 'webhook.url'],
    ]
    for (const [fn, path] of cases) {
      let error: unknown
      try {
        fn()
      } catch (e) {
        error = e
      }
      expect(error, path).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).path).toBe(path)
    }
    const x = createExperiments(store)
    await expect(x.evaluate('' as never)).rejects.toMatchObject({ path: 'test' })
    await expect(x.evaluate(42 as never)).rejects.toMatchObject({ path: 'test' })
    await expect(x.report('__proto__')).rejects.toMatchObject({ path: 'test' })
    await expect(x.evaluate('never-recorded')).rejects.toMatchObject({ code: 'not_found' })
    await expect(x.record({} as never)).rejects.toMatchObject({ path: 'ctx' })
    await expect(x.attach(null as never)).rejects.toMatchObject({ path: 'ctx' })
    const err = await x.evaluate('never-recorded').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ContextError)
  })

  it('a value too large to aggregate is refused before anything is written', async () => {
    const store = memoryStorage()
    const ctx = new Context({ sessionId: 's' })
    ctx.addTest('t1', { a: 1 })
    ctx.addTest('t2', { a: 1 })
    ctx.addOutcome('big', 'float')
    ctx.setOutcome('big', 1e300)
    await expect(createExperiments(store).record(ctx)).rejects.toThrow(/outcomes\.big/)
    expect((await store.list('')).keys).toEqual([])
  })
})
