import { defineConfig } from 'vitest/config'
import { playwright } from '@vitest/browser-playwright'
import { findChromium, chromiumArgs } from './scripts/chromium.mjs'

/**
 * Two projects run the same unit tests: Node, and real Chromium through Playwright.
 * `*.node.test.ts` runs only in Node (loopback servers, redis, workerd);
 * `*.browser.test.ts` only in Chromium (IndexedDB, localStorage, BroadcastChannel).
 */
const executablePath = await findChromium()

export default defineConfig({
  test: {
    // The JSON report feeds the one-line summary .ci/run prints (scripts/summary.mjs).
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.browser.test.ts'],
        },
      },
      {
        test: {
          name: 'chromium',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.node.test.ts'],
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath, args: chromiumArgs } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
})
