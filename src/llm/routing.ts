import { defined } from '../state/validate.js'
import type { Routing } from './types.js'

/**
 * `top` over `base`, key by key; `undefined` in `top` means "not given". `model`, `provider` and
 * `strategy` are one choice: when `top` sets any of them, `base`'s three are dropped, so that
 * `{ model: 'claude-haiku-4-5' }` over an OpenAI routing does not keep `provider: 'openai'`, and
 * `{ strategy }` picks anew instead of losing to the model an earlier strategy picked.
 */
export function overlayRouting(base: Readonly<Routing>, top?: Routing): Routing {
  const out: Routing = { ...base }
  const choice = ['model', 'provider', 'strategy']
  if (top && choice.some((k) => top[k] !== undefined)) for (const k of choice) delete out[k]
  return { ...out, ...defined(top) }
}
