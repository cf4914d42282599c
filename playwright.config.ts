import { defineConfig } from '@playwright/test'
import { chromiumArgs, findChromium } from './scripts/chromium.mjs'

// A fixed port keeps `webServer` simple; 5199 stays clear of the demo's default 5173.
const port = Number(process.env.E2E_PORT ?? 5199)

export default defineConfig({
  testDir: 'e2e',
  timeout: 30_000,
  // 10 s, not 5: on a loaded 2-core machine one turn of the demo (a model stream, an IndexedDB save) can take seconds.
  expect: { timeout: 10_000 },
  // Two browsers at once even on a 2-core machine (Playwright's default would be one): the demo's
  // tests mostly wait on streams and timers, so two workers nearly halve the run (measured: 8 demo
  // tests 57 s in one worker).
  workers: process.env.E2E_WORKERS ? Number(process.env.E2E_WORKERS) : 2,
  reporter: [[process.env.CI ? 'list' : 'line'], ['json', { outputFile: '.reports/e2e.json' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    // A failed test keeps its trace (test-results/…/trace.zip: `npx playwright show-trace` it).
    trace: 'retain-on-failure',
    launchOptions: { executablePath: await findChromium(), args: chromiumArgs },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: `node scripts/serve.mjs`,
    env: { PORT: String(port) },
    url: `http://127.0.0.1:${port}/demo/browser/`,
    reuseExistingServer: false,
    timeout: 20_000,
  },
})
