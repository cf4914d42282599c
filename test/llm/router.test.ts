import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Router, STRATEGIES, estimateCost, type RouteNeeds } from '../../src/llm/router.js'
import { builtinModels, type ModelSpec } from '../../src/llm/models.js'
import { ConstraintError, ValidationError } from '../../src/errors.js'

const spec = (id: string, over: Partial<ModelSpec> = {}): ModelSpec => ({
  id,
  provider: 'openai',
  contextWindow: 8000,
  maxOutput: 4000,
  quality: 0.5,
  speed: 0.5,
  inputPricePer1K: 0.001,
  outputPricePer1K: 0.002,
  ...over,
})
const specTable = () =>
  new Router(builtinModels().filter((m) => ['gpt-4', 'gpt-3.5-turbo', 'claude-3-opus', 'claude-3-sonnet'].includes(m.id)))

function expectError(fn: () => unknown, type: typeof ValidationError | typeof ConstraintError, path: string, message?: RegExp) {
  try {
    fn()
    expect.unreachable('should have thrown')
  } catch (e) {
    expect(e).toBeInstanceOf(type)
    expect((e as ValidationError).path).toBe(path)
    if (message) expect((e as Error).message).toMatch(message)
  }
}

describe('estimateCost', () => {
  it('prices input and output tokens per 1K', () => {
    const gpt4 = builtinModels().find((m) => m.id === 'gpt-4')!
    expect(estimateCost(gpt4, 1000, 1000)).toBeCloseTo(0.09, 12)
    expect(estimateCost(gpt4, 2500, 0)).toBeCloseTo(0.075, 12)
    expect(estimateCost(gpt4, 0, 0)).toBe(0)
  })
})

describe('Router registry', () => {
  it('starts with the built-in models', () => {
    const r = new Router()
    expect(r.models().map((m) => m.id)).toEqual(builtinModels().map((m) => m.id))
    expect(r.getModelSpec('gpt-4')).toMatchObject({ provider: 'openai', contextWindow: 8192 })
    expect(r.getModelSpec('nope')).toBeUndefined()
  })
  it('registers a model and replaces one with the same id', () => {
    const r = new Router([])
    r.registerModel(spec('llama3', { provider: 'local' }))
    expect(r.getModelSpec('llama3')?.provider).toBe('local')
    r.registerModel(spec('llama3', { provider: 'ollama' }))
    expect(r.models()).toHaveLength(1)
    expect(r.getModelSpec('llama3')?.provider).toBe('ollama')
  })
  it('stores a frozen copy: changing the given spec later changes nothing', () => {
    const r = new Router([])
    const s = spec('m')
    r.registerModel(s)
    s.quality = 0
    expect(r.getModelSpec('m')?.quality).toBe(0.5)
    expect(Object.isFrozen(r.getModelSpec('m'))).toBe(true)
  })
  it.each([
    [{ id: '' }, 'spec.id'],
    [{ provider: 7 }, 'spec.provider'],
    [{ contextWindow: 0 }, 'spec.contextWindow'],
    [{ contextWindow: 10.5 }, 'spec.contextWindow'],
    [{ maxOutput: -1 }, 'spec.maxOutput'],
    [{ quality: 1.2 }, 'spec.quality'],
    [{ speed: NaN }, 'spec.speed'],
    [{ speed: '0.5' }, 'spec.speed'],
    [{ inputPricePer1K: -0.1 }, 'spec.inputPricePer1K'],
    [{ outputPricePer1K: Infinity }, 'spec.outputPricePer1K'],
  ])('refuses %j at %s', (over, path) => {
    expectError(() => new Router([]).registerModel(spec('m', over as Partial<ModelSpec>)), ValidationError, path)
  })
  it('refuses a bad spec given to the constructor, naming its index', () => {
    expectError(() => new Router([spec('a'), spec('b', { quality: 2 })]), ValidationError, 'models[1].quality')
    expectError(() => new Router('gpt-4' as never), ValidationError, 'models')
    expectError(() => new Router([null as never]), ValidationError, 'models[0]')
  })
})

describe('Router.route', () => {
  it('routes to an explicit model and infers its provider', () => {
    expect(new Router().route({}, 'gpt-4')).toEqual({ model: 'gpt-4', provider: 'openai' })
    expect(new Router().route({}, 'claude-3-opus', 'anthropic')).toEqual({ model: 'claude-3-opus', provider: 'anthropic' })
  })
  it('lets an explicit model win over a strategy, and records the strategy', () => {
    expect(new Router().route({}, 'gpt-4', undefined, 'cost_optimized')).toEqual({ model: 'gpt-4', provider: 'openai', strategy: 'cost_optimized' })
  })
  it('returns a new object, keeps other keys and leaves the current routing alone', () => {
    const current = Object.freeze({ temperature: 0.2, model: 'gpt-3.5-turbo', provider: 'openai' })
    const out = new Router().route(current, 'claude-3-sonnet')
    expect(out).toEqual({ temperature: 0.2, model: 'claude-3-sonnet', provider: 'anthropic' })
    expect(out).not.toBe(current)
    expect(new Router().route(current)).toEqual(current)
    expect(new Router().route(current)).not.toBe(current)
  })
  it('refuses an unknown model, listing the known ones', () => {
    expectError(() => new Router().route({}, 'gpt-9'), ValidationError, 'model', /unknown model "gpt-9"; known: gpt-4, gpt-3.5-turbo, .*registerModel/)
    expectError(() => new Router().route({}, ''), ValidationError, 'model')
  })
  it('refuses a provider that contradicts the model', () => {
    expectError(() => new Router().route({}, 'gpt-4', 'anthropic'), ValidationError, 'provider', /"anthropic" does not serve "gpt-4" \(its provider is "openai"\)/)
  })
  it('sets a provider alone, unless it contradicts the routed model', () => {
    expect(new Router().route({}, undefined, 'local')).toEqual({ provider: 'local' })
    expect(new Router().route({ model: 'my-finetune' }, undefined, 'local')).toEqual({ model: 'my-finetune', provider: 'local' })
    expectError(() => new Router().route({ model: 'gpt-4' }, undefined, 'anthropic'), ValidationError, 'provider', /pass a model or a strategy/)
    expectError(() => new Router().route({ model: 'claude-x' }, undefined, 'openai'), ValidationError, 'provider')
    expectError(() => new Router().route({}, undefined, ''), ValidationError, 'provider')
  })
  it('picks by strategy among the spec table models', () => {
    const r = specTable()
    expect(r.route({}, undefined, undefined, 'cost_optimized')).toEqual({ model: 'gpt-3.5-turbo', provider: 'openai', strategy: 'cost_optimized' })
    // gpt-4 and claude-3-opus tie at 0.95 quality and at $0.09 for 1K input + 1K output tokens:
    // the faster one wins (0.7 > 0.6).
    expect(r.route({}, undefined, undefined, 'quality_optimized').model).toBe('claude-3-opus')
    expect(r.route({}, undefined, undefined, 'speed_optimized').model).toBe('gpt-3.5-turbo')
    expect(r.route({}, undefined, 'anthropic', 'cost_optimized').model).toBe('claude-3-sonnet')
    expect(r.route({}, undefined, 'anthropic', 'speed_optimized').model).toBe('claude-3-sonnet')
  })
  it('filters by context window, output and cost', () => {
    const r = specTable()
    // 6000 input tokens only fit gpt-4's 8192 window.
    expect(r.route({}, undefined, undefined, 'cost_optimized', { inputTokens: 6000 }).model).toBe('gpt-4')
    // 3000 + 1000 fit everywhere; under $0.01 only gpt-3.5-turbo ($0.0065) and claude-3-sonnet ($0.024 no).
    expect(r.route({}, undefined, undefined, 'quality_optimized', { inputTokens: 3000, outputTokens: 1000, maxCost: 0.01 }).model).toBe('gpt-3.5-turbo')
  })
  it('refuses an unknown strategy, listing the known ones', () => {
    expectError(() => new Router().route({}, undefined, undefined, 'balanced'), ValidationError, 'strategy', /cost_optimized, quality_optimized, speed_optimized/)
    expectError(() => new Router().route({}, 'gpt-4', undefined, 'balanced'), ValidationError, 'strategy')
  })
  it('refuses a routing that is not an object', () => {
    expectError(() => new Router().route(null as never, 'gpt-4'), ValidationError, 'routing')
    expectError(() => new Router().route([] as never, 'gpt-4'), ValidationError, 'routing')
  })
})

describe('Router.select', () => {
  it('says the needs and the closest model when nothing fits the window', () => {
    expectError(
      () => specTable().select('cost_optimized', { inputTokens: 9000, outputTokens: 500 }),
      ConstraintError,
      'needs',
      /^no model fits 9000 input \+ 500 output tokens; closest: gpt-4 \(window 8192, max output 8192, \$0\.3\)$/,
    )
  })
  it('says the needs and the cheapest roomy model when nothing fits the cost', () => {
    const e = (() => {
      try {
        specTable().select('quality_optimized', { inputTokens: 2000, outputTokens: 1000, maxCost: 0.001 }, 'anthropic')
      } catch (err) {
        return err as ConstraintError
      }
    })()
    expect(e).toBeInstanceOf(ConstraintError)
    expect(e!.code).toBe('constraint')
    expect(e!.message).toBe(
      'no model of "anthropic" fits 2000 input + 1000 output tokens for at most $0.001; closest: claude-3-sonnet (window 4096, max output 4096, $0.021)',
    )
  })
  it('checks the requested output against maxOutput', () => {
    const r = new Router([spec('small', { maxOutput: 1000 }), spec('big', { maxOutput: 4000, inputPricePer1K: 1 })])
    expect(r.select('cost_optimized').id).toBe('small')
    expect(r.select('cost_optimized', { outputTokens: 2000 }).id).toBe('big')
  })
  it('breaks full ties by id', () => {
    const r = new Router([spec('b'), spec('a'), spec('c')])
    for (const s of STRATEGIES) expect(r.select(s).id).toBe('a')
  })
  it('refuses bad needs and an unknown provider', () => {
    const r = new Router()
    expectError(() => r.select('cost_optimized', { inputTokens: -1 }), ValidationError, 'needs.inputTokens')
    expectError(() => r.select('cost_optimized', { outputTokens: NaN }), ValidationError, 'needs.outputTokens')
    expectError(() => r.select('cost_optimized', { maxCost: -0.5 }), ValidationError, 'needs.maxCost')
    expectError(() => r.select('cost_optimized', null as never), ValidationError, 'needs')
    expectError(() => r.select('cost_optimized', {}, 'mistral'), ValidationError, 'provider', /no registered model of provider "mistral"/)
    expectError(() => new Router([]).select('cost_optimized'), ValidationError, 'provider')
  })
})

// Property tests: random registries (unique ids, values from small sets so ties happen), random needs.
const aSpec = fc.record({
  id: fc.string({ minLength: 1, maxLength: 6 }),
  provider: fc.constantFrom('openai', 'anthropic', 'gemini'),
  contextWindow: fc.constantFrom(4096, 8192, 128000, 1000000),
  maxOutput: fc.constantFrom(1024, 4096, 16384),
  quality: fc.constantFrom(0.5, 0.75, 0.9, 1),
  speed: fc.constantFrom(0.3, 0.6, 0.9),
  inputPricePer1K: fc.constantFrom(0, 0.0001, 0.001, 0.003, 0.03),
  outputPricePer1K: fc.constantFrom(0.0004, 0.002, 0.015, 0.06),
})
const registry = fc.uniqueArray(aSpec, { minLength: 1, maxLength: 12, selector: (s) => s.id })
const needsArb: fc.Arbitrary<RouteNeeds> = fc.record(
  { inputTokens: fc.nat(200000), outputTokens: fc.nat(20000), maxCost: fc.double({ min: 0, max: 5, noNaN: true }) },
  { requiredKeys: [] },
)
const cost = (m: ModelSpec, n: RouteNeeds) =>
  +(n.inputTokens || n.outputTokens ? estimateCost(m, n.inputTokens ?? 0, n.outputTokens ?? 0) : estimateCost(m, 1000, 1000)).toPrecision(12)
const fitsNeeds = (m: ModelSpec, n: RouteNeeds) => {
  const i = n.inputTokens ?? 0
  const o = n.outputTokens ?? 0
  return m.contextWindow >= i + o && m.maxOutput >= o && (n.maxCost === undefined || estimateCost(m, i, o) <= n.maxCost)
}
const keyOf = (s: string, m: ModelSpec, n: RouteNeeds) =>
  s === 'cost_optimized' ? [cost(m, n), -m.quality, -m.speed] : s === 'quality_optimized' ? [-m.quality, cost(m, n), -m.speed] : [-m.speed, cost(m, n), -m.quality]
const lexLess = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!
  return false
}

describe('Router.select properties', () => {
  it('chooses a model that fits, optimal for its strategy, or refuses only when none fits', () => {
    fc.assert(
      fc.property(registry, needsArb, fc.constantFrom(...STRATEGIES), fc.option(fc.constantFrom('openai', 'anthropic'), { nil: undefined }), (models, needs, strategy, provider) => {
        const pool = models.filter((m) => !provider || m.provider === provider)
        const r = new Router(models)
        if (!pool.length) {
          expect(() => r.select(strategy, needs, provider)).toThrow(ValidationError)
          return
        }
        const fitting = pool.filter((m) => fitsNeeds(m, needs))
        if (!fitting.length) {
          expect(() => r.select(strategy, needs, provider)).toThrow(ConstraintError)
          return
        }
        const chosen = r.select(strategy, needs, provider)
        expect(fitsNeeds(chosen, needs)).toBe(true)
        if (provider) expect(chosen.provider).toBe(provider)
        const k = keyOf(strategy, chosen, needs)
        for (const m of fitting) {
          expect(lexLess(keyOf(strategy, m, needs), k)).toBe(false) // nothing strictly better
          if (m.id < chosen.id) expect(keyOf(strategy, m, needs)).not.toEqual(k) // ties go to the smaller id
        }
      }),
      { numRuns: 400 },
    )
  })
  it('is deterministic and independent of registration order', () => {
    fc.assert(
      fc.property(registry, needsArb, fc.constantFrom(...STRATEGIES), fc.nat(), (models, needs, strategy, seed) => {
        const shuffled = [...models].sort((a, b) => ((a.id.charCodeAt(0) * 31 + seed) % 7) - ((b.id.charCodeAt(0) * 31 + seed) % 7))
        const pick = (ms: ModelSpec[]) => {
          try {
            return new Router(ms).select(strategy, needs).id
          } catch (e) {
            return (e as Error).name
          }
        }
        const a = pick(models)
        expect(pick([...models].reverse())).toBe(a)
        expect(pick(shuffled)).toBe(a)
        expect(pick(models)).toBe(a)
      }),
      { numRuns: 300 },
    )
  })
  it('route by strategy agrees with select', () => {
    fc.assert(
      fc.property(fc.constantFrom(...STRATEGIES), needsArb, (strategy, needs) => {
        const r = new Router()
        let chosen: ModelSpec
        try {
          chosen = r.select(strategy, needs)
        } catch {
          expect(() => r.route({}, undefined, undefined, strategy, needs)).toThrow(ConstraintError)
          return
        }
        expect(r.route({ temperature: 1 }, undefined, undefined, strategy, needs)).toEqual({ temperature: 1, model: chosen.id, provider: chosen.provider, strategy })
      }),
    )
  })
})
