import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { expect, test, type Page } from '@playwright/test'

// Screenshots of the demo's main states for the README, made by the e2e run into
// docs/screenshots/ under fixed names: desktop light and dark, a phone (390 px), and the
// inspector open on the phone. Deterministic: a fixed visitor id (so a fixed greeting), numbered
// simulated visitors (engaged or not by their number), the same conversation each time.

const VISITOR = 'readme-visitor-2' // hashes to the "friendly" greeting

async function conversation(page: Page, simulate: boolean): Promise<void> {
  await page.addInitScript((visitor) => localStorage.setItem('agentctx-demo-visitor', visitor), VISITOR)
  await page.goto('/demo/browser/')
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 15_000 })
  const idle = () => expect(page.locator('body')).not.toHaveClass(/speaking/, { timeout: 10_000 })
  for (const text of ['My name is Ada', 'Where is order 1042?', 'Buy a coffee']) {
    await idle()
    await page.getByLabel('Message').fill(text)
    await page.getByRole('button', { name: 'Send', exact: true }).click()
    await expect(page.locator('#chat > .turn.agent:not(.background)').last()).toHaveAttribute('data-turn', /\d/)
    await idle()
  }
  await expect(page.locator('.turn.background').last()).toHaveText('Your order is ready!', { timeout: 6_000 })
  if (simulate) {
    await page.getByRole('button', { name: '+ 40 simulated visitors' }).click()
    await expect(page.locator('#report-note')).toContainText(/^41 sessions/)
  }
  await page.waitForTimeout(200) // the inspector after the task's save
  await page.evaluate(() => document.getElementById('message')?.blur())
}

/**
 * Writes docs/screenshots/<name>.png unless the file there already shows the same picture: Chromium
 * renders a few anti-aliased pixels differently from run to run (29 of 1,024,000 measured), and a
 * test run should not leave a changed file behind for that. Compared in the page (canvas), so no
 * image library is needed; more than 0.1% of the pixels different (or another size) is a new picture.
 */
async function shot(page: Page, name: string): Promise<void> {
  const path = `docs/screenshots/${name}.png`
  const png = await page.screenshot({ animations: 'disabled' })
  const old = existsSync(path) ? readFileSync(path) : undefined
  const same =
    old &&
    (await page.evaluate(
      async ([a, b]) => {
        const pixels = async (b64: string) => {
          const img = await createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob())
          const canvas = new OffscreenCanvas(img.width, img.height)
          const ctx = canvas.getContext('2d')!
          ctx.drawImage(img, 0, 0)
          return ctx.getImageData(0, 0, img.width, img.height)
        }
        const [x, y] = await Promise.all([pixels(a!), pixels(b!)])
        if (x.width !== y.width || x.height !== y.height) return false
        let differ = 0
        for (let i = 0; i < x.data.length; i += 4) if (x.data[i] !== y.data[i] || x.data[i + 1] !== y.data[i + 1] || x.data[i + 2] !== y.data[i + 2]) differ++
        return differ <= (x.width * x.height) / 1000
      },
      [png.toString('base64'), old.toString('base64')],
    ))
  if (!same) writeFileSync(path, png)
}

// One conversation, four pictures: the viewport and the color scheme change under the same page.
test('the main states', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 })
  await conversation(page, true)
  await shot(page, 'desktop-light')
  await page.emulateMedia({ colorScheme: 'dark' })
  await shot(page, 'desktop-dark')
  await page.emulateMedia({ colorScheme: 'light' })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.evaluate(() => {
    const chat = document.getElementById('chat')!
    chat.scrollTop = chat.scrollHeight
  })
  await shot(page, 'mobile-390')
  await page.getByRole('button', { name: 'Inspector' }).click()
  await shot(page, 'mobile-390-inspector')
})
