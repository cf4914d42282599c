import { existsSync } from 'node:fs'

/**
 * Finds a Chromium to drive: `CHROMIUM_PATH` (or `CHROME_PATH`), then Debian's `/usr/bin/chromium`,
 * then the browser Playwright downloaded on a developer's laptop. Fails with the fix when none exists,
 * instead of Playwright's own "browser not found" deep inside a test run.
 */
export async function findChromium() {
  for (const path of [process.env.CHROMIUM_PATH, process.env.CHROME_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (path && existsSync(path)) return path
  }
  try {
    const { chromium } = await import('playwright')
    const path = chromium.executablePath()
    if (path && existsSync(path)) return path
  } catch {
    // playwright not installed or no browser downloaded: fall through to the message below.
  }
  throw new Error(
    'No Chromium found. Install one (Debian/Ubuntu: `apt-get install -y chromium`; elsewhere: ' +
      '`npx playwright install chromium`) or set CHROMIUM_PATH to its executable.',
  )
}

/**
 * Launch flags. `--no-sandbox` because CI runs as root; the networking flags stop Chromium from
 * flooding a closed network with refused connections at start-up.
 */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]
