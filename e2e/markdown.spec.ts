import fc from 'fast-check'
import { expect, test } from '@playwright/test'

// demo/browser/markdown.js, the renderer of model text, attacked in Chromium: whatever the text,
// it becomes only the elements chat markdown needs, links only to http(s), and every character of
// markup a model writes stays visible text. Runs on the demo's origin without starting the demo.

test.describe.configure({ mode: 'parallel' })

const ALLOWED = new Set(['P', 'H3', 'H4', 'H5', 'H6', 'UL', 'OL', 'LI', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD', 'PRE', 'CODE', 'STRONG', 'EM', 'A'])

/** Renders each text in the page: the elements made, the links' hrefs, the text shown. */
async function render(page: import('@playwright/test').Page, texts: string[]) {
  await page.goto('/demo/browser/style.css') // any page of the demo's origin, without the app
  return page.evaluate(async (texts) => {
    const { markdown } = await import('/demo/browser/markdown.js' as string)
    return texts.map((text) => {
      const div = document.createElement('div')
      div.append(markdown(text))
      const elements = [...div.querySelectorAll('*')]
      return {
        tags: [...new Set(elements.map((e) => e.tagName))],
        attributes: [...new Set(elements.flatMap((e) => [...e.attributes].map((a) => `${e.tagName} ${a.name}`)))],
        hrefs: [...div.querySelectorAll('a')].map((a) => a.getAttribute('href')!),
        text: div.textContent ?? '',
      }
    })
  }, texts)
}

test('hostile markup and links stay text', async ({ page }) => {
  // Each attack, and what of it must be shown as text.
  const attacks: [string, string][] = [
    ['<script>window.pwned = 1</script>', '<script>window.pwned = 1</script>'],
    ['<img src=x onerror="window.pwned = 1">', '<img src=x onerror="window.pwned = 1">'],
    ['**<img src=x onerror=alert(1)>**', '<img src=x onerror=alert(1)>'],
    ['[click](javascript:window.pwned=1)', '[click](javascript:window.pwned=1)'],
    ['[click](JaVaScRiPt:window.pwned=1)', '[click](JaVaScRiPt:window.pwned=1)'],
    ['[click](data:text/html,<script>alert(1)</script>)', '[click](data:text/html,<script>alert(1)</script>)'],
    ['[click](//evil.example/x)', '[click](//evil.example/x)'],
    ['| <b>a</b> | b |\n| --- | --- |\n| <svg onload=alert(1)> | 2 |', '<svg onload=alert(1)>'],
    ['```\n<iframe src="javascript:alert(1)"></iframe>\n```', '<iframe src="javascript:alert(1)"></iframe>'],
    ['# <style>body{display:none}</style>', '<style>body{display:none}</style>'],
    ['- <a href="javascript:alert(1)">x</a>', '<a href="javascript:alert(1)">x</a>'],
    ['`<script>`', '<script>'],
  ]
  const out = await render(page, attacks.map(([a]) => a))
  out.forEach((r, i) => {
    const [attack, shown] = attacks[i]!
    expect(r.tags.every((t) => ALLOWED.has(t)), `${attack} made ${r.tags}`).toBe(true)
    expect(r.attributes.every((a) => ['A href', 'A rel', 'A target'].includes(a)), `${attack}: ${r.attributes}`).toBe(true)
    expect(r.hrefs).toEqual([])
    expect(r.text).toContain(shown)
  })
  expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined()
})

test('what it renders: headings, lists, tables, code, emphasis, http(s) links', async ({ page }) => {
  const [r] = await render(page, ['## Title\n\nSome **bold**, *em*, `code` and [a link](https://example.com/a?b=1).\n\n1. one\n2. two\n\n| a | b |\n| - | - |\n| 1 | 2 |'])
  expect(r!.tags.sort()).toEqual(['A', 'CODE', 'EM', 'H4', 'LI', 'OL', 'P', 'STRONG', 'TABLE', 'TBODY', 'TD', 'TH', 'THEAD', 'TR'])
  expect(r!.hrefs).toEqual(['https://example.com/a?b=1'])
  expect(r!.text).toBe('TitleSome bold, em, code and a link.onetwoab12')
})

test('any text: only the allowed elements, only http(s) links, and no character of markup lost', async ({ page }) => {
  // Texts of markdown and HTML pieces, and arbitrary strings.
  const piece = fc.constantFrom('<', '>', '"', "'", '&', '*', '**', '`', '#', '- ', '1. ', '|', '[', ']', '(', ')', '\n', '\n\n', '```', 'javascript:', 'https://x.y/', 'data:', ' ', 'a', 'onerror=', '<script>', '<img src=x onerror=alert(1)>')
  const texts = fc.sample(fc.oneof(fc.array(piece, { maxLength: 30 }).map((p) => p.join('')), fc.string({ unit: 'grapheme', maxLength: 60 })), { numRuns: 300, seed: 12 })
  const out = await render(page, texts)
  out.forEach((r, i) => {
    const text = texts[i]!
    expect(r.tags.filter((t) => !ALLOWED.has(t)), JSON.stringify(text)).toEqual([])
    for (const href of r.hrefs) expect(href, JSON.stringify(text)).toMatch(/^https?:\/\//)
    // Every < and > of the source is shown: none was taken as markup.
    const count = (s: string, c: string) => s.split(c).length - 1
    expect(count(r.text, '<'), JSON.stringify(text)).toBe(count(text, '<'))
  })
  expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined()
})
