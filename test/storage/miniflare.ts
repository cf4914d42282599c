import { build } from 'esbuild'
import { Miniflare } from 'miniflare'

/**
 * Bundles `entry` (a module Worker, TypeScript allowed) with esbuild the way wrangler would, and
 * starts it in workerd through miniflare 3 with the given KV and Durable Object bindings. Returns the running Miniflare;
 * call `dispose()` when done.
 */
export async function startWorker(
  entry: string,
  bindings: { kvNamespaces?: string[]; durableObjects?: Record<string, string | { className: string; useSQLite?: boolean }> },
): Promise<Miniflare> {
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  const mf = new Miniflare({ ...bindings, modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: '2024-09-23' })
  await mf.ready
  return mf
}
