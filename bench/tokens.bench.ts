/**
 * Token estimation: mean absolute percentage error (MAPE) of `estimateTokens` against gpt-tokenizer's
 * exact o200k counts, beside the `Math.ceil(chars / 4)` baseline, per corpus category and overall.
 * Issue 4's floor: at most 15% overall.
 *
 * Samples: each file of bench/fixtures (our own text: English prose and Markdown, TypeScript and
 * Python, pretty and compact JSON, Chinese and Japanese, plus European languages and emoji as an
 * extra category) cut at blank lines into pieces of ~300 and ~1,000 characters, plus the whole file.
 * A second table does the same on text the constants were not fitted on: every other README.md,
 * some JavaScript and JSON files in node_modules, and TypeScript's translated diagnostic messages.
 *
 * Run: npx esbuild bench/tokens.bench.ts --bundle --platform=node --format=esm --outfile=/tmp/tokens.bench.mjs && node /tmp/tokens.bench.mjs
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { clearMergeCache, countTokens } from 'gpt-tokenizer/encoding/o200k_base'
import { estimateTokens } from '../src/llm/tokens.js'

type Sample = { category: string; text: string; truth: number }
const root = process.cwd() // run from the repository root (the bundle lives in /tmp)
const fixtures = join(root, 'bench/fixtures')
const FILES: Record<string, string> = {
  'prose-en': 'prose',
  'prose-md': 'prose',
  'code-ts': 'code',
  'code-py': 'code',
  'data-json': 'json',
  'data-json-compact': 'json',
  'cjk-zh': 'cjk',
  'cjk-ja': 'cjk',
  'other-eu': 'other',
}
const REQUIRED = ['prose', 'code', 'json', 'cjk']

/** Pieces of about `size` characters, cut at a blank line, else a line break, else a space. */
function chunk(text: string, size: number): string[] {
  const out: string[] = []
  for (let i = 0; i < text.length; ) {
    let end = Math.min(text.length, i + size)
    if (end < text.length) {
      const win = text.slice(i + (size >> 1), end)
      let k = win.lastIndexOf('\n\n')
      if (k < 0) k = win.lastIndexOf('\n')
      if (k < 0) k = win.lastIndexOf(' ')
      if (k >= 0) end = i + (size >> 1) + k + 1
    }
    out.push(text.slice(i, end))
    i = end
  }
  return out.filter((s) => s.trim().length > 0)
}

const sample = (category: string, text: string): Sample => ({ category, text, truth: countTokens(text) })

function fixtureSamples(): Sample[] {
  const out: Sample[] = []
  for (const [file, category] of Object.entries(FILES)) {
    const text = readFileSync(join(fixtures, `${file}.txt`), 'utf8')
    for (const piece of [...chunk(text, 300), ...chunk(text, 1000), text]) out.push(sample(category, piece))
  }
  return out
}

function walk(dir: string, keep: (p: string) => boolean, acc: string[] = [], depth = 0): string[] {
  if (depth > 6) return acc
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) walk(p, keep, acc, depth + 1)
    else if (keep(p)) acc.push(p)
  }
  return acc
}

/** Text from node_modules the estimator's constants were not fitted on (the other half was). */
function heldOutSamples(): Sample[] {
  const nm = join(root, 'node_modules')
  const out: Sample[] = []
  const add = (category: string, files: string[], max: number) => {
    let n = 0
    for (const f of files) {
      if (n >= max) break
      const text = readFileSync(f, 'utf8')
      if (text.length < 1500) continue
      n++
      for (const piece of chunk(text.slice(0, 6000), 1000)) out.push(sample(category, piece))
    }
  }
  const every = (k: number, r: number) => (_: unknown, i: number) => i % k === r
  add('prose', walk(nm, (p) => /README\.md$/i.test(p)).sort().filter(every(2, 1)), 40)
  add('code', walk(join(nm, 'fast-check/lib'), (p) => p.endsWith('.js')).sort().filter(every(7, 3)), 20)
  add('code', walk(join(nm, 'vitest/dist'), (p) => p.endsWith('.js')).sort().filter(every(5, 2)), 15)
  add('json', walk(nm, (p) => p.endsWith('.json') && !/diagnosticMessages|tsconfig|package-lock/.test(p)).sort().filter(every(23, 11)), 40)
  const messages = (lang: string, from: number, to: number) =>
    Object.values(JSON.parse(readFileSync(join(nm, `typescript/lib/${lang}/diagnosticMessages.generated.json`), 'utf8')) as Record<string, string>)
      .slice(from, to)
      .join('\n')
  for (const lang of ['zh-cn', 'zh-tw', 'ja', 'ko']) for (const piece of chunk(messages(lang, 1000, 1400), 1000)) out.push(sample('cjk', piece))
  for (const lang of ['ru', 'de', 'fr', 'es', 'pl', 'tr', 'cs', 'it', 'pt-br']) {
    for (const piece of chunk(messages(lang, 1000, 1200), 1000)) out.push(sample('other', piece))
  }
  return out
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const ape = (s: Sample, n: number) => Math.abs(n - s.truth) / s.truth

function table(title: string, samples: Sample[]): void {
  console.log(`\n### ${title}\n`)
  console.log('| category | samples | o200k tokens | estimateTokens MAPE | chars / 4 MAPE |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  const row = (name: string, ss: Sample[]) => {
    const ours = mean(ss.map((s) => ape(s, estimateTokens(s.text))))
    const quarter = mean(ss.map((s) => ape(s, Math.ceil(s.text.length / 4))))
    const tokens = ss.reduce((a, s) => a + s.truth, 0)
    console.log(`| ${name} | ${ss.length} | ${tokens.toLocaleString('en')} | ${pct(ours)} | ${pct(quarter)} |`)
  }
  const cats = [...new Set(samples.map((s) => s.category))]
  for (const c of cats) row(c === 'other' ? 'other (European languages, emoji; extra)' : c, samples.filter((s) => s.category === c))
  row('**overall (prose, code, json, cjk)**', samples.filter((s) => REQUIRED.includes(s.category)))
  row('overall, all categories', samples)
}

function throughput(texts: string[]): void {
  const bytes = texts.reduce((a, t) => a + t.length, 0)
  const time = (fn: (t: string) => number, rounds: number) => {
    const runs: number[] = []
    for (let r = 0; r < 7; r++) {
      let ms = 0
      let sink = 0
      for (let k = 0; k < rounds; k++) {
        clearMergeCache() // gpt-tokenizer caches merges: every pass starts cold, as on new text
        const t0 = performance.now()
        for (const t of texts) sink += fn(t)
        ms += performance.now() - t0
      }
      runs.push(ms / rounds)
      if (sink < 0) console.log(sink)
    }
    return runs.sort((a, b) => a - b)[3]!
  }
  time(estimateTokens, 5) // warm up both
  time(countTokens, 1)
  const ours = time(estimateTokens, 20)
  const exact = time(countTokens, 3)
  console.log(`\n### Speed (median of 7 runs over the ${(bytes / 1024).toFixed(0)} K characters of bench/fixtures; o200k's merge cache cleared before each pass)\n`)
  console.log('| counter | ms per pass | M chars / s |')
  console.log('| --- | ---: | ---: |')
  console.log(`| estimateTokens | ${ours.toFixed(2)} | ${(bytes / ours / 1000).toFixed(0)} |`)
  console.log(`| gpt-tokenizer o200k countTokens | ${exact.toFixed(2)} | ${(bytes / exact / 1000).toFixed(0)} |`)
}

console.log(`Node ${process.version}; gpt-tokenizer o200k_base as the reference.`)
const fx = fixtureSamples()
table('bench/fixtures', fx)
table('Held out (node_modules text not used for fitting)', heldOutSamples())
throughput(Object.keys(FILES).map((f) => readFileSync(join(fixtures, `${f}.txt`), 'utf8')))
