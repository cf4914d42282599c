import typescript from '@rollup/plugin-typescript'
import { entries } from './scripts/entries.mjs'

/**
 * One build for every entry: ES modules with `preserveModules`, so a consumer's bundler sees one
 * file per source module and drops what it does not import; `.d.ts` files beside each module.
 */
export default {
  input: Object.fromEntries(entries.map((e) => [e.output, e.input])),
  // Dependencies stay imports: the consumer's bundler dedupes them with its own copies.
  external: (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0'),
  output: {
    dir: 'dist',
    format: 'es',
    preserveModules: true,
    preserveModulesRoot: 'src',
    entryFileNames: '[name].js',
    // Maps point into src/, which the package ships beside dist/ (package.json `files`), so a stack
    // trace or "go to definition" in a consumer's editor lands on the TypeScript line, not the build.
    sourcemap: true,
  },
  plugins: [typescript({ tsconfig: './tsconfig.build.json' })],
  treeshake: { moduleSideEffects: false },
}
