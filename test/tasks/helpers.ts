/** Shared by the task tests (Node and Chromium). */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A promise that settles only when `signal` aborts, rejecting with its reason, like a cooperative fetch. */
export const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })

/** Records unhandled promise rejections, with the runtime's own hook (window event or process event). */
export function trackUnhandledRejections(): { seen: unknown[]; stop: () => void } {
  const seen: unknown[] = []
  if (typeof window !== 'undefined') {
    const listener = (e: PromiseRejectionEvent) => seen.push(e.reason)
    window.addEventListener('unhandledrejection', listener)
    return { seen, stop: () => window.removeEventListener('unhandledrejection', listener) }
  }
  const listener = (reason: unknown) => seen.push(reason)
  process.on('unhandledRejection', listener)
  return { seen, stop: () => process.off('unhandledRejection', listener) }
}
