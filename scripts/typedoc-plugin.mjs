/**
 * TypeDoc plugin for `npm run docs`: drops one false warning, and only that one.
 *
 * Why: the message and content-part types are inferred from valibot schemas
 * (`v.InferOutput<typeof ContentPartSchema>`), and TypeScript gives a property of such a type
 * (`url`, `data`, a tool call's `arguments`) the same declaration twice. TypeDoc 0.28 then warns
 * "url has multiple declarations with a comment" and lists the one comment twice
 * (`src/state/messages.ts:16` and `src/state/messages.ts:16`): 295 warnings, each for a single comment
 * (the message types appear in many signatures), which `treatWarningsAsErrors` would turn into a failed build. The warning is kept whenever the
 * listed comments are in different places (two real comments competing), so a true conflict still
 * fails the build.
 */

/** @param {import('typedoc').Application} app */
export function load(app) {
  const logger = app.logger
  const warn = logger.warn.bind(logger)
  const info = logger.info.bind(logger)
  /** @type {unknown[] | undefined} */
  let held
  logger.warn = (text, ...args) => {
    if (typeof text === 'string' && text.endsWith('has multiple declarations with a comment. An arbitrary comment will be used')) {
      held = [text, ...args]
      return
    }
    warn(text, ...args)
  }
  logger.info = (text) => {
    if (held) {
      const pending = held
      held = undefined
      // "The comments for url are declared at:\n\t./src/state/messages.ts:16\n\t./src/state/messages.ts:16"
      const places = String(text).split('\n').slice(1).map((l) => l.trim())
      if (places.length > 1 && places.every((p) => p === places[0])) return
      warn(...pending)
    }
    info(text)
  }
}
