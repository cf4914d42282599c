/**
 * The package's entry points: one list read by the Rollup build, the size check and the
 * package.json consistency test, so an entry added in one place cannot be missed by the others.
 *
 * `budget` is the gzip ceiling in bytes for the entry bundled and minified on its own (core
 * included, since a consumer who imports a subpath also pays for the core it pulls in).
 * `addsToCore` is the ceiling on what the subpath costs on top of the core entry.
 */
export const entries = [
  // 8 KB gzip: issue 2's budget for the core (the openai SDK is ~36 KB, the AI SDK ~220 KB).
  { specifier: 'agentctx', input: 'src/index.ts', output: 'index', budget: 8 * 1024 },
]
