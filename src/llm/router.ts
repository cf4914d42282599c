import { ConstraintError, invalid } from '../errors.js'
import type { Json } from '../state/json.js'
import { builtinModels, inferProvider, type ModelSpec } from './models.js'

/** The routing strategies of the LLM-execution reference (docs/reference.md#llm-strategy), in the order error messages list them. */
export const STRATEGIES = ['cost_optimized', 'quality_optimized', 'speed_optimized'] as const
/** One of `STRATEGIES`. */
export type Strategy = (typeof STRATEGIES)[number]

/** What a request needs from a model: its (pruned) input, the output it asks for, a cost ceiling in USD. */
export interface RouteNeeds {
  /** Tokens of the (pruned) input: the model's window must hold them with the output. */
  inputTokens?: number
  /** Output tokens the request asks for. */
  outputTokens?: number
  /** Most the call may cost, in USD, at the model's prices. */
  maxCost?: number
  /** The models to pick among (default: every registered one): `ctx.route` passes its executor's. */
  among?: readonly ModelSpec[]
}

const isNum = (v: unknown, min: number, max = Infinity): v is number => typeof v === 'number' && v >= min && v <= max
const usd = (n: number) => `$${+n.toPrecision(3)}`

/** Estimated USD cost of one request: input tokens at the input price, output tokens at the output price. */
export function estimateCost(spec: ModelSpec, inputTokens: number, outputTokens: number): number {
  return (inputTokens * spec.inputPricePer1K) / 1000 + (outputTokens * spec.outputPricePer1K) / 1000
}

function checkSpec(spec: ModelSpec, path: string): ModelSpec {
  if (spec === null || typeof spec !== 'object') throw invalid(path, 'must be a ModelSpec object')
  const check = (keys: (keyof ModelSpec)[], ok: (v: unknown) => boolean, what: string) => {
    for (const k of keys) if (!ok(spec[k])) throw invalid(`${path}.${k}`, `must be ${what}`)
  }
  check(['id', 'provider'], (v) => typeof v === 'string' && v !== '', 'a non-empty string')
  check(['contextWindow', 'maxOutput'], (v) => Number.isInteger(v) && (v as number) >= 1, 'an integer >= 1')
  check(['quality', 'speed'], (v) => isNum(v, 0, 1), 'a number in 0..1')
  check(['inputPricePer1K', 'outputPricePer1K'], (v) => isNum(v, 0, Number.MAX_VALUE), 'a finite number >= 0')
  return Object.freeze({ ...spec })
}

/**
 * The reference's `Router` (docs/reference.md#llm-router): a model registry (the built-in one unless `models` is given) and the choice
 * of a model by name or by strategy. Specs are validated and stored frozen.
 */
export class Router {
  readonly #models = new Map<string, ModelSpec>()

  /** A router over `models` (the built-in registry by default), each spec validated and stored frozen. */
  constructor(models: readonly ModelSpec[] = builtinModels()) {
    if (!Array.isArray(models)) throw invalid('models', 'must be an array of ModelSpec')
    models.forEach((m, i) => this.#add(m, `models[${i}]`))
  }

  #add(spec: ModelSpec, path: string): void {
    const s = checkSpec(spec, path)
    this.#models.set(s.id, s)
  }

  /** Adds a model, or replaces the one with the same id. Throws a `ValidationError` naming a bad field. */
  registerModel(spec: ModelSpec): void {
    this.#add(spec, 'spec')
  }

  /** The spec of a registered model, or `undefined`. */
  getModelSpec(model: string): ModelSpec | undefined {
    return this.#models.get(model)
  }

  /** Every registered model, in registration order. */
  models(): ModelSpec[] {
    return [...this.#models.values()]
  }

  /**
   * A new routing object from `currentRouting` and what is asked:
   * - `model`: wins over `strategy`; must be registered (the error lists the known ones); its
   *   provider is set from the registry, and a `provider` that contradicts it is an error;
   * - else `strategy`: `select(strategy, needs, provider)` picks the model;
   * - else `provider` alone: set, unless it contradicts the model already routed to.
   * A given `strategy` is recorded in the routing; `needs` only matter to a strategy. Nothing given
   * returns a copy.
   */
  route(
    currentRouting: Record<string, Json>,
    model?: string,
    provider?: string,
    strategy?: string,
    needs?: RouteNeeds,
  ): Record<string, Json> {
    if (currentRouting === null || typeof currentRouting !== 'object' || Array.isArray(currentRouting)) throw invalid('routing', 'must be an object')
    if (provider !== undefined && (typeof provider !== 'string' || !provider)) throw invalid('provider', 'must be a non-empty string')
    const out: Record<string, Json> = { ...currentRouting }
    let spec: ModelSpec | undefined
    if (model !== undefined) {
      if (typeof model !== 'string' || !model) throw invalid('model', 'must be a non-empty string')
      spec = this.#models.get(model)
      if (!spec) throw invalid('model', `unknown model "${model}"; known: ${[...this.#models.keys()].join(', ')} (add one with registerModel)`)
      if (provider !== undefined && provider !== spec.provider) throw invalid('provider', `"${provider}" does not serve "${model}" (its provider is "${spec.provider}")`)
      if (strategy !== undefined) checkStrategy(strategy)
    } else if (strategy !== undefined) {
      spec = this.select(strategy, needs, provider)
    } else if (provider !== undefined) {
      const current = out.model
      const known = typeof current === 'string' ? (this.#models.get(current)?.provider ?? inferProvider(current)) : undefined
      if (known !== undefined && known !== provider) {
        throw invalid('provider', `"${provider}" does not serve the routed model "${current}" (its provider is "${known}"); pass a model or a strategy too`)
      }
      out.provider = provider
    }
    if (spec) (out.model = spec.id), (out.provider = spec.provider)
    if (strategy !== undefined) out.strategy = strategy
    return out
  }

  /**
   * The best model for `strategy` among those (of `provider`, when given) whose context window holds
   * `inputTokens + outputTokens`, whose `maxOutput` holds `outputTokens`, and whose estimated cost is
   * at most `maxCost`. Ranking, each criterion breaking the previous one's ties, then the id:
   * - `cost_optimized`: lowest cost, highest quality, highest speed;
   * - `quality_optimized`: highest quality, lowest cost, highest speed;
   * - `speed_optimized`: highest speed, lowest cost, highest quality.
   * "Cost" is the estimated cost of the needs, or of 1K input + 1K output tokens when no token count
   * is given; costs equal to 12 significant digits tie. When no model fits, a `ConstraintError`
   * names the needs and the closest model: the cheapest with room enough, else the largest window.
   */
  select(strategy: string, needs: RouteNeeds = {}, provider?: string): ModelSpec {
    const s = STRATEGIES.indexOf(checkStrategy(strategy))
    if (needs === null || typeof needs !== 'object') throw invalid('needs', 'must be an object')
    for (const k of ['inputTokens', 'outputTokens', 'maxCost'] as const) {
      if (needs[k] !== undefined && !isNum(needs[k], 0)) throw invalid(`needs.${k}`, 'must be a number >= 0')
    }
    if (needs.among !== undefined && !Array.isArray(needs.among)) throw invalid('needs.among', 'must be an array of ModelSpec')
    const { inputTokens: inT = 0, outputTokens: outT = 0, maxCost = Infinity } = needs
    const pool = (needs.among ?? this.models()).filter((m) => provider === undefined || m.provider === provider)
    if (!pool.length) throw invalid('provider', `no registered model of provider "${provider}"`)

    // Rounded to 12 significant digits so that float noise (0.1 + 0.2) cannot break a real tie.
    const cost = (m: ModelSpec) => +(inT || outT ? estimateCost(m, inT, outT) : estimateCost(m, 1000, 1000)).toPrecision(12)
    const roomy = (m: ModelSpec) => m.contextWindow >= inT + outT && m.maxOutput >= outT
    const fits = pool.filter((m) => roomy(m) && estimateCost(m, inT, outT) <= maxCost)
    if (!fits.length) {
      const c = best(pool, (m) => (roomy(m) ? [0, cost(m)] : [1, -m.contextWindow, -m.maxOutput]))
      throw new ConstraintError(
        `no model${provider ? ` of "${provider}"` : ''} fits ${inT} input + ${outT} output tokens` +
          `${maxCost < Infinity ? ` for at most ${usd(maxCost)}` : ''}; closest: ${c.id} ` +
          `(window ${c.contextWindow}, max output ${c.maxOutput}, ${usd(estimateCost(c, inT, outT))})`,
        { path: 'needs' },
      )
    }
    return best(fits, (m) => {
      const k = [cost(m), -m.quality, -m.speed]
      return s ? [k[s]!, k[0]!, k[3 - s]!] : k
    })
  }
}

function checkStrategy(strategy: string): Strategy {
  if (!(STRATEGIES as readonly string[]).includes(strategy)) throw invalid('strategy', `unknown strategy "${strategy}"; use one of ${STRATEGIES.join(', ')}`)
  return strategy as Strategy
}

/** The model with the smallest key (compared element by element), ties broken by the smaller id. */
function best(models: ModelSpec[], key: (m: ModelSpec) => number[]): ModelSpec {
  let top = models[0]!
  let topKey = key(top)
  for (const m of models.slice(1)) {
    const k = key(m)
    let d = 0
    for (let i = 0; i < k.length && !d; i++) d = k[i]! - topKey[i]!
    if (d < 0 || (d === 0 && m.id < top.id)) (top = m), (topKey = k)
  }
  return top
}
