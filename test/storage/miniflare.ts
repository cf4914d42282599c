import { build } from 'esbuild'
import { Miniflare } from 'miniflare'

/** The package conditions wrangler resolves for a Worker, and Vercel for an Edge Function. */
export const CONDITIONS = { workerd: ['workerd', 'worker', 'browser'], edge: ['edge-light', 'worker', 'browser'] }

/**
 * Bundles `entry` (TypeScript allowed) into one script as the platform's bundler would: an ES module
 * for workerd, an IIFE for edge-runtime's VM (which runs scripts, not modules).
 */
export async function bundleWorker(entry: string, platform: keyof typeof CONDITIONS = 'workerd'): Promise<string> {
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: platform === 'workerd' ? 'esm' : 'iife',
    platform: 'browser',
    conditions: CONDITIONS[platform],
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  return bundle.outputFiles[0]!.text
}

/**
 * Bundles `entry` (a module Worker, TypeScript allowed) with esbuild the way wrangler would, and
 * starts it in workerd through miniflare 3 with the given KV, Durable Object and D1 bindings. Returns the running Miniflare;
 * call `dispose()` when done.
 */
export async function startWorker(
  entry: string,
  bindings: { kvNamespaces?: string[]; durableObjects?: Record<string, string | { className: string; useSQLite?: boolean }>; d1Databases?: string[] },
): Promise<Miniflare> {
  const mf = new Miniflare({ ...bindings, modules: true, script: await bundleWorker(entry), compatibilityDate: '2024-09-23' })
  await mf.ready
  return mf
}
