/** See chromium.mjs. */
export function findChromium(): Promise<string>
export const chromiumArgs: string[]
