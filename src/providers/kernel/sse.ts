import { createParser } from 'eventsource-parser'
import { fail } from './errors.js'

// One event (its data lines, or a line still without its end) is held up to 16 Mi characters: above
// Gemini's largest events (an inline image, 1-2 MB of base64 for 1024×1024 pixels), below what would
// strain a Worker's 128 MB. A server sending a longer one is refused rather than buffered forever.
const MAX_EVENT = 1 << 24

/**
 * Reads a server-sent-events body, passing each event's `data` to `onData` until the body ends or
 * `onData` returns true. eventsource-parser v3 does the parsing (lines that are not SSE fields are
 * ignored, as the SSE spec says) and bounds what it buffers (`maxBufferSize`, joined once per line,
 * so a long line in many chunks is read in linear time). A callback rather than an async iterator,
 * and a plain streaming `TextDecoder` rather than a `TextDecoderStream`: no promise hop per event or
 * per pipe, which is most of the cost on a 20,000-chunk stream. An error thrown by `onData` ends the
 * read and passes through. `pause`, when given, is awaited after each network chunk's events: the
 * next read waits for it (one promise hop per chunk, not per event, and none without it).
 *
 * The reader is cancelled (closing the connection) when the read stops early, throws, or `signal`
 * aborts, even with a custom `fetch` that does not wire its signal to the body. A read that fails
 * (the server dropped the connection) throws a retryable `ProviderError`; an event or a line over
 * 16 Mi characters a `ProviderError` that is not retried.
 */
export async function readEvents(
  body: ReadableStream<Uint8Array> | null,
  provider: string,
  onData: (data: string) => boolean | void,
  signal?: AbortSignal | null,
  pause?: () => Promise<void> | void,
): Promise<void> {
  if (!body) return
  const reader = body.getReader()
  const cancel = () => reader.cancel().catch(() => {})
  signal?.addEventListener('abort', cancel)
  const decoder = new TextDecoder()
  let stop: boolean | void = false
  let tooLong = false
  // Events after the stopping one in the same chunk are not passed on. The parser reports unknown
  // fields as errors too; the spec ignores them, and so do we.
  const parser = createParser({
    onEvent: (e) => void (stop ||= onData(e.data)),
    onError: (e) => void (tooLong ||= e.type === 'max-buffer-size-exceeded'),
    maxBufferSize: MAX_EVENT,
  })
  // Whether the text so far ends in CR: the parser holds it back for an LF that may follow, but at
  // the end of the body it ends its line (the spec's line ends are CRLF, LF and CR).
  let cr = false
  try {
    while (!stop) {
      const chunk = await reader.read().catch((cause) => {
        throw fail(provider, 'connection lost mid-stream', true, { cause })
      })
      // An event not closed by a blank line when the body ends is dropped, as the SSE spec says.
      if (chunk.done) return void (cr && parser.feed('\n'))
      const text = decoder.decode(chunk.value, { stream: true })
      if (text) cr = text.endsWith('\r')
      parser.feed(text)
      if (tooLong) throw fail(provider, `an event longer than ${MAX_EVENT} characters`)
      // Backpressure: the next network read waits for the consumer (a ChatStream's reader), so a slow
      // reader leaves the reply in the socket and the server's window, not in our memory.
      if (pause && !stop) await pause()
    }
  } finally {
    signal?.removeEventListener('abort', cancel)
    cancel()
  }
}
