import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Context, type Constraints, type Routing } from '../../src/context.js'
import { overlayRouting } from '../../src/llm/routing.js'
import type { JsonObject } from '../../src/state/json.js'

/** Property tests of `merge` and `extend` over generated contexts (inputs, constraints, routing, metadata). */

const num = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map((x) => x + 0) // no -0: JSON has none
// Few distinct values, so both sides often share inputs.
const data = fc.oneof(fc.constantFrom('a', 'b', 'c'), fc.record({ k: fc.constantFrom(1, 2) }), fc.array(fc.constantFrom(1, 2), { maxLength: 2 }))
const inputs = fc.array(fc.record({ data, relevance: num(0, 1) }), { maxLength: 8 })
const constraints = fc.record({ maxTokens: fc.integer({ min: 1, max: 1e6 }), maxTime: num(0.001, 1e4), maxCost: num(0, 100) }, { requiredKeys: [] })
const routing = fc.record(
  {
    model: fc.constantFrom('gpt-4o', 'claude-haiku-4-5', 'gemini-2.5-flash'),
    provider: fc.constantFrom('openai', 'anthropic', 'gemini'),
    strategy: fc.constantFrom('cost_optimized', 'quality_optimized', 'speed_optimized' as const),
    temperature: num(0, 2),
    maxOutputTokens: fc.integer({ min: 1, max: 1e5 }),
    fallbacks: fc.array(fc.constantFrom('gpt-4o-mini', 'claude-sonnet-4-5'), { maxLength: 2 }),
  },
  { requiredKeys: [] },
)
const metadata = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.boolean()))
const context = fc.record({ inputs, constraints, routing, metadata }).map(({ inputs, ...config }) => {
  const ctx = new Context(config as never)
  for (const i of inputs) ctx.addInput(i.data, { relevance: i.relevance })
  return ctx
})

const LIMITS = ['maxTokens', 'maxTime', 'maxCost'] as const
const CHOICE = ['model', 'provider', 'strategy']

describe('merge (properties)', () => {
  it('inputs: the union deduped by data, each at its highest relevance, in first-seen order', () => {
    fc.assert(
      fc.property(context, context, (a, b) => {
        const expected = new Map<string, number>()
        for (const i of [...a.inputs, ...b.inputs]) {
          const key = JSON.stringify(i.data)
          expected.set(key, Math.max(expected.get(key) ?? -1, i.relevance))
        }
        const merged = a.merge(b).inputs
        expect(merged.map((i) => [JSON.stringify(i.data), i.relevance])).toEqual([...expected])
      }),
    )
  })

  it('constraints: each limit is the min where both have it, the one value where one has it, absent otherwise', () => {
    fc.assert(
      fc.property(context, context, (a, b) => {
        const m = a.merge(b).constraints
        for (const k of LIMITS) {
          const [x, y] = [a.constraints[k], b.constraints[k]]
          const want = x !== undefined && y !== undefined ? Math.min(x, y) : (x ?? y)
          expect(m[k]).toBe(want)
        }
        expect(Object.keys(m).every((k) => (LIMITS as readonly string[]).includes(k))).toBe(true)
      }),
    )
  })

  it("routing: every key the other sets wins; this one's other keys stay, its model/provider/strategy only when the other sets none", () => {
    fc.assert(
      fc.property(context, context, (a, b) => {
        const m = a.merge(b).routing
        const [ra, rb] = [a.routing, b.routing]
        for (const k in rb) expect(m[k]).toEqual(rb[k])
        const otherChooses = CHOICE.some((k) => rb[k] !== undefined)
        for (const k in ra) if (!(k in rb)) expect(m[k]).toEqual(CHOICE.includes(k) && otherChooses ? undefined : ra[k])
        expect(m).toEqual(overlayRouting(ra, rb))
      }),
    )
  })

  it("metadata: merged, the other's values winning; a new id; neither side changed", () => {
    fc.assert(
      fc.property(context, context, (a, b) => {
        const [ja, jb] = [JSON.stringify(a), JSON.stringify(b)]
        const m = a.merge(b)
        expect(m.metadata).toEqual({ ...a.metadata, ...b.metadata })
        expect(m.id).not.toBe(a.id)
        expect(m.id).not.toBe(b.id)
        expect([JSON.stringify(a), JSON.stringify(b)]).toEqual([ja, jb])
        // The merged state is valid: it survives a round trip.
        expect(Context.fromJSON(JSON.stringify(m)).toJSON()).toEqual(m.toJSON())
      }),
    )
  })
})

describe('extend (properties)', () => {
  const override = fc.record({ constraints, routing, metadata, intent: fc.string({ maxLength: 5 }) }, { requiredKeys: [] })

  it('inherits inputs, constraints, routing and metadata; sets parentId; overrides apply; the parent is unchanged', () => {
    fc.assert(
      fc.property(context, override, (parent, config) => {
        const before = JSON.stringify(parent)
        const child = parent.extend(config as never)
        expect(child.inputs).toEqual(parent.inputs)
        expect(child.parentId).toBe(parent.id)
        expect(child.id).not.toBe(parent.id)
        expect(child.sessionId).toBe(parent.sessionId)
        expect(child.constraints).toEqual({ ...parent.constraints, ...(config.constraints as Constraints) })
        expect(child.routing).toEqual(overlayRouting(parent.routing, config.routing as Routing))
        for (const k in config.routing ?? {}) expect(child.routing[k]).toEqual((config.routing as Routing)[k])
        expect(child.metadata).toEqual({ ...parent.metadata, ...(config.metadata as JsonObject) })
        expect(child.intent).toBe(config.intent ?? parent.intent)
        expect(JSON.stringify(parent)).toBe(before)
        // Adding to the child leaves the parent alone.
        child.addInput('child only')
        expect(JSON.stringify(parent)).toBe(before)
      }),
    )
  })
})
