import { createParser } from 'eventsource-parser'
import { fail } from './errors.js'

/**
 * Reads a server-sent-events body, passing each event's `data` to `onData` until the body ends or
 * `onData` returns true (eventsource-parser v3 does the parsing; lines that are not SSE fields are
 * ignored, as the SSE spec says). A callback rather than an async iterator, and a plain streaming
 * `TextDecoder` rather than a `TextDecoderStream`: no promise hop per event or per pipe, which is
 * most of the cost on a 20,000-chunk stream. An error thrown by `onData` ends the read and passes through.
 *
 * The reader is cancelled (closing the connection) when the read stops early, throws, or `signal`
 * aborts, even with a custom `fetch` that does not wire its signal to the body. A read that fails
 * (the server dropped the connection) throws a retryable `ProviderError`.
 */
export async function readEvents(
  body: ReadableStream<Uint8Array> | null,
  provider: string,
  onData: (data: string) => boolean | void,
  signal?: AbortSignal | null,
): Promise<void> {
  if (!body) return
  const reader = body.getReader()
  const cancel = () => reader.cancel().catch(() => {})
  signal?.addEventListener('abort', cancel)
  const decoder = new TextDecoder()
  let stop: boolean | void = false
  // Events after the stopping one in the same chunk are not passed on.
  const parser = createParser({ onEvent: (e) => void (stop ||= onData(e.data)) })
  try {
    while (!stop) {
      const chunk = await reader.read().catch((cause) => {
        throw fail(provider, 'connection lost mid-stream', true, { cause })
      })
      // An event not closed by a blank line when the body ends is dropped, as the SSE spec says.
      if (chunk.done) return
      parser.feed(decoder.decode(chunk.value, { stream: true }))
    }
  } finally {
    signal?.removeEventListener('abort', cancel)
    cancel()
  }
}
