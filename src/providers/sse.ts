import { fail } from './errors.js'

// One event (its data lines, or a line still without its end) is held up to 16 Mi characters: above
// Gemini's largest events (an inline image, 1-2 MB of base64 for 1024×1024 pixels), below what would
// strain a Worker's 128 MB. A server sending a longer line is refused rather than buffered forever.
const MAX_EVENT = 1 << 24

// A line ends at CRLF, LF or CR (https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream).
const EOL = /\r\n?|\n/g

/**
 * Reads a server-sent-events body, passing each event's `data` to `onData` until the body ends or
 * `onData` returns true. Parsed as the SSE spec says, for the one field providers use: `data` lines
 * (one space after the colon dropped, several joined by LF) make an event, a blank line dispatches
 * it, comments and other fields (`event`, `id`, `retry`) are ignored, an event not closed by a blank
 * line when the body ends is dropped, a leading BOM is dropped (by `TextDecoder`) and bytes that
 * are not UTF-8 read as U+FFFD. A callback rather than an async iterator, and a plain streaming
 * `TextDecoder` rather than a `TextDecoderStream`: no promise hop per event or per pipe, which is
 * most of the cost on a 20,000-chunk stream. An error thrown by `onData` ends the read and passes
 * through.
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
): Promise<void> {
  if (!body) return
  const reader = body.getReader()
  const cancel = () => reader.cancel().catch(() => {})
  signal?.addEventListener('abort', cancel)
  const decoder = new TextDecoder()
  let stop: boolean | void = false
  // The event's data so far (undefined before its first data line); the unended line, in pieces so
  // that a long line arriving in many chunks is joined once, not copied per chunk; whether the last
  // chunk ended in CR, whose LF may open the next one.
  let data: string | undefined
  let tail: string[] = []
  let size = 0
  let cr = false
  try {
    while (!stop) {
      const chunk = await reader.read().catch((cause) => {
        throw fail(provider, 'connection lost mid-stream', true, { cause })
      })
      if (chunk.done) return
      let text = decoder.decode(chunk.value, { stream: true })
      // (A chunk holding only part of a UTF-8 character decodes to "": the CR waits for the next.)
      if (text) {
        if (cr && text[0] === '\n') text = text.slice(1)
        cr = false
      }
      tail.push(text)
      size += text.length
      if (/[\r\n]/.test(text)) {
        const all = tail.length > 1 ? tail.join('') : text
        // Most streams end lines with LF alone: indexOf then, the regex only where a CR is.
        const lf = !all.includes('\r')
        let start = 0
        while (!stop) {
          let end: number
          let next: number
          if (lf) {
            if ((end = all.indexOf('\n', start)) < 0) break
            next = end + 1
          } else {
            EOL.lastIndex = start
            const m = EOL.exec(all)
            if (!m) break
            end = m.index
            next = EOL.lastIndex
            // A lone CR that ends the chunk (a CRLF match ends in LF): its LF may open the next one.
            cr = next === all.length && all[next - 1] === '\r'
          }
          if (end === start) {
            if (data !== undefined) stop = onData(data)
            data = undefined
          } else if (all.startsWith('data', start) && (all[start + 4] === ':' || end === start + 4)) {
            const value = all.slice(Math.min(end, start + (all[start + 5] === ' ' ? 6 : 5)), end)
            data = data === undefined ? value : `${data}\n${value}`
          }
          start = next
        }
        tail = [all.slice(start)]
        size = tail[0]!.length
      }
      if (size + (data?.length ?? 0) > MAX_EVENT) throw fail(provider, `an event longer than ${MAX_EVENT} characters`)
    }
  } finally {
    signal?.removeEventListener('abort', cancel)
    cancel()
  }
}
