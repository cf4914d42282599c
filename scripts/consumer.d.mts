/** See consumer.mjs. */
export interface ConsumerConfig {
  name: string
  compilerOptions: Record<string, unknown>
  files: string[]
}
export interface Result {
  ok: boolean
  output: string
}
export const CONFIGS: ConsumerConfig[]
/** The README's ```js blocks (`lang` 'js') or its ```ts blocks, in order. */
export function readmeBlocks(lang?: 'js' | 'ts'): string[]
export function pack(dir: string): Promise<string>
export function createConsumer(dir: string, tarball: string): Promise<string>
export function typecheck(dir: string, name: string): Promise<Result>
export function typecheckAll(dir: string): Record<string, Promise<Result>>
export function lint(pkgDir: string): Promise<string[]>
export function attw(tarball: string): Promise<Result>
