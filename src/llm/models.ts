/** What the router knows about a model. Prices are USD per 1,000 tokens. */
export interface ModelSpec {
  /** The model id as the provider's API takes it (`gpt-4o`, `claude-sonnet-4-5`). */
  id: string
  /** `openai`, `anthropic`, `gemini`, or a custom provider name. */
  provider: string
  /** Input plus output tokens one request may use. */
  contextWindow: number
  /** Most output tokens one request may ask for. */
  maxOutput: number
  /** Our own rating in 0..1 (not a benchmark score): what `quality_optimized` maximizes. */
  quality: number
  /** Our own rating in 0..1 (not a measurement): what `speed_optimized` maximizes. */
  speed: number
  /** USD per 1,000 input tokens. */
  inputPricePer1K: number
  /** USD per 1,000 output tokens. */
  outputPricePer1K: number
}

/** The day the built-in prices below were read. Prices change: check before relying on them. */
export const PRICES_READ_ON = '2026-11-21'

const PROVIDERS = ['openai', 'anthropic', 'gemini']

// [id, provider index, context window, max output, quality, speed, input $/1M, output $/1M].
// Tuples with prices per 1M tokens, as providers publish them: 516 bytes gzipped against 545 for
// the same 21 models as object literals (gzip absorbs most of the repeated keys, not all), inside
// the core's 8 KB budget. Quality and speed are our own ratings, not benchmark results.
type Row = [string, number, number, number, number, number, number, number]
const ROWS: Row[] = [
  // The LLM-execution reference's table (docs/reference.md#llm-model-table), quality, speed and input price as it gives them; output prices
  // are the ones the providers published for these models (OpenAI's and Anthropic's launch pricing).
  // Its "Max Tokens" of 4096 for the Claude 3 models is kept as documented, although
  // their real context window is 200K (4096 was their maximum output).
  ['gpt-4', 0, 8192, 8192, 0.95, 0.6, 30, 60],
  ['gpt-3.5-turbo', 0, 4096, 4096, 0.75, 0.9, 1.5, 2],
  ['claude-3-opus', 1, 4096, 4096, 0.95, 0.7, 15, 75],
  ['claude-3-sonnet', 1, 4096, 4096, 0.85, 0.85, 3, 15],
  // OpenAI, platform.openai.com/docs/pricing (standard tier) as tabulated by deploybase.ai in
  // March 2026 and aimodelcalc in May 2026; windows from gpt-tokenizer 4.0's model data.
  ['gpt-4o', 0, 128000, 16384, 0.88, 0.8, 2.5, 10],
  ['gpt-4o-mini', 0, 128000, 16384, 0.78, 0.9, 0.15, 0.6],
  ['gpt-4.1', 0, 1047576, 32768, 0.9, 0.8, 2, 8],
  ['gpt-4.1-mini', 0, 1047576, 32768, 0.84, 0.88, 0.4, 1.6],
  ['gpt-4.1-nano', 0, 1047576, 32768, 0.72, 0.95, 0.1, 0.4],
  ['o3-mini', 0, 200000, 100000, 0.9, 0.55, 1.1, 4.4],
  ['o4-mini', 0, 200000, 100000, 0.92, 0.6, 1.1, 4.4],
  ['gpt-5', 0, 400000, 128000, 0.97, 0.5, 1.25, 10],
  ['gpt-5-mini', 0, 400000, 128000, 0.9, 0.75, 0.25, 2],
  // Anthropic, docs.anthropic.com/en/docs/about-claude/pricing ("Base Input Tokens" and "Output
  // Tokens"); Opus 4.5's $5/$25 from platform.claude.com's model overview.
  ['claude-sonnet-4-5', 1, 200000, 64000, 0.95, 0.75, 3, 15],
  ['claude-sonnet-4-20250514', 1, 200000, 64000, 0.92, 0.75, 3, 15],
  ['claude-opus-4-1', 1, 200000, 32000, 0.96, 0.5, 15, 75],
  ['claude-opus-4-5', 1, 200000, 64000, 0.97, 0.55, 5, 25],
  ['claude-haiku-4-5', 1, 200000, 64000, 0.86, 0.9, 1, 5],
  // Google, ai.google.dev/gemini-api/docs/pricing (paid tier; 2.5 Pro at its <= 200K-prompt rate,
  // $2.50/$15 above) as tabulated by morphllm.com. gemini-2.0-flash is left out: shut down 2026-06-01.
  ['gemini-2.5-pro', 2, 1048576, 65536, 0.94, 0.6, 1.25, 10],
  ['gemini-2.5-flash', 2, 1048576, 65536, 0.86, 0.88, 0.3, 2.5],
  ['gemini-2.5-flash-lite', 2, 1048576, 65536, 0.76, 0.95, 0.1, 0.4],
]

/** The built-in model registry, as new objects on each call (callers may change them freely). */
/* @__NO_SIDE_EFFECTS__ */
export function builtinModels(): ModelSpec[] {
  return ROWS.map(([id, p, contextWindow, maxOutput, quality, speed, input, output]) => ({
    id,
    provider: PROVIDERS[p]!,
    contextWindow,
    maxOutput,
    quality,
    speed,
    inputPricePer1K: input / 1000,
    outputPricePer1K: output / 1000,
  }))
}

/**
 * The provider of a model: the built-in registry's first, then the id's prefix: `gpt-`, `chatgpt-`,
 * `o1`, `o3`, `o4` → `openai`; `claude-` → `anthropic`; `gemini-` → `gemini`. `undefined` otherwise.
 */
export function inferProvider(model: string): string | undefined {
  const row = ROWS.find((r) => r[0] === model)
  if (row) return PROVIDERS[row[1]]
  if (/^(gpt-|chatgpt-|o[134](-|$))/.test(model)) return 'openai'
  if (model.startsWith('claude-')) return 'anthropic'
  if (model.startsWith('gemini-')) return 'gemini'
  return undefined
}
