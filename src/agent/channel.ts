/**
 * A one-reader async queue: `push` never blocks (events are small, and a slow reader must not stall
 * the handler that produces them), `close` ends the iteration after what was pushed. A reader that
 * stops early (`break`, a cancelled response) closes it: later pushes are dropped, not buffered.
 */
export interface Channel<T> {
  push(value: T): void
  close(): void
  readonly iterable: AsyncIterable<T>
  /** True once closed, by `close` or by the reader stopping. */
  readonly closed: boolean
  /** Resolves once closed (by either side). */
  readonly whenClosed: Promise<void>
}

/** Creates a `Channel`. */
export function channel<T>(): Channel<T> {
  const buffer: T[] = []
  let closed = false
  let wake: (() => void) | undefined
  let ended!: () => void
  const whenClosed = new Promise<void>((resolve) => (ended = resolve))
  const notify = () => {
    wake?.()
    wake = undefined
  }
  return {
    push(value) {
      if (closed) return
      buffer.push(value)
      notify()
    },
    close() {
      closed = true
      ended()
      notify()
    },
    get closed() {
      return closed
    },
    whenClosed,
    iterable: {
      async *[Symbol.asyncIterator]() {
        try {
          while (true) {
            if (buffer.length) yield buffer.shift()!
            else if (closed) return
            else await new Promise<void>((resolve) => (wake = resolve))
          }
        } finally {
          closed = true
          ended()
          buffer.length = 0
        }
      },
    },
  }
}
