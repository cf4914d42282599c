import { expect, test } from '@playwright/test'

// Smoke test of the demo page with the built package in real Chromium: the page loads `/dist/`,
// keeps a conversation in a Context, and gets it back from localStorage after a reload.
test('the demo keeps a conversation across a reload', async ({ page }) => {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()))

  await page.goto('/demo/browser/')
  await page.getByLabel('Message').fill('my name is Ada')
  await page.getByRole('button', { name: 'Send' }).click()
  await expect(page.locator('.turn.agent')).toHaveCount(1)
  await expect(page.locator('.turn.agent').first()).toContainText('Ada')

  await page.getByLabel('Message').fill('and again')
  await page.getByRole('button', { name: 'Send' }).click()
  await expect(page.locator('.turn.agent').nth(1)).toContainText('Message number 2, Ada')

  await page.reload()
  await expect(page.locator('.turn.user')).toHaveCount(2)
  const state = JSON.parse((await page.locator('#state').textContent()) ?? '{}')
  expect(state.version).toBe(1)
  expect(state.turns.map((t: { id: number }) => t.id)).toEqual([0, 1, 2])
  expect(state.data.user_name).toBe('Ada')
  expect(state.testing.outcomes.message_count.value).toBe(2)
  expect(errors).toEqual([])
})
