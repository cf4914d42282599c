import { createParser } from 'eventsource-parser'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProviderError } from '../../src/providers/kernel/errors.js'
import { readEvents } from '../../src/providers/kernel/sse.js'

/**
 * Our SSE reader (eventsource-parser fed from a streaming TextDecoder, with a length bound) against
 * eventsource-parser fed the whole text at once: the same events for any stream, however its bytes
 * are cut (inside a UTF-8 character, between a CR and its LF), in Node and in Chromium.
 */

const encoder = new TextEncoder()

function body(pieces: Uint8Array[]) {
  let cancelled = false
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.shift()
      next ? controller.enqueue(next) : controller.close()
    },
    cancel() {
      cancelled = true
    },
  })
  return { stream, cancelled: () => cancelled }
}

/** `bytes` cut at `cuts` (taken modulo its length). */
function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length || 1)))].sort((a, b) => a - b)
  return [0, ...at].map((start, i) => bytes.slice(start, at[i] ?? bytes.length)).filter((p) => p.length > 0)
}

const oracle = (text: string) => {
  const got: string[] = []
  const parser = createParser({ onEvent: (e) => void got.push(e.data) })
  // eventsource-parser holds a final CR back, waiting for an LF that never comes; the spec (and we)
  // end the line there. An LF after it makes the two agree: CRLF is one line end.
  parser.feed(text.endsWith('\r') ? text + '\n' : text)
  return got
}

const ours = async (pieces: Uint8Array[]) => {
  const got: string[] = []
  await readEvents(body(pieces).stream, 'test', (d) => void got.push(d))
  return got
}

// Lines built from the pieces SSE cares about, each ended by CR, LF or CRLF.
const line = fc.oneof(
  fc.constantFrom('', 'data', 'data:', 'data: ', 'data:  two spaces', ': comment', 'event: x', 'id: 7', 'retry: 10', 'nonsense', 'data : not data', 'DATA: upper'),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => `data: ${s.replace(/[\r\n]/g, '')}`),
  fc.string({ maxLength: 8 }).map((s) => s.replace(/[\r\n]/g, '')),
)
const eol = fc.constantFrom('\n', '\r', '\r\n')
const stream = fc.array(fc.tuple(line, eol), { maxLength: 30 }).map((ls) => ls.map(([l, e]) => l + e).join(''))

describe('readEvents: events of a byte stream, cut anywhere, as eventsource-parser reads the whole text', () => {
  it('property: the same events as eventsource-parser, for any lines, line endings and cuts', async () => {
    await fc.assert(
      fc.asyncProperty(stream, fc.array(fc.nat(), { maxLength: 10 }), async (text, cuts) => {
        expect(await ours(cut(encoder.encode(text), cuts))).toEqual(oracle(text))
      }),
      { numRuns: 500 },
    )
  })

  it('a CR at the end of one chunk and its LF at the start of the next are one line end', async () => {
    expect(await ours([encoder.encode('data: a\r'), encoder.encode('\n\r'), encoder.encode('\ndata: b\r\r')])).toEqual(['a', 'b'])
    // An empty chunk between the CR and its LF: still one line end, so the two data lines make one event.
    expect(await ours([encoder.encode('data: a\r'), new Uint8Array(0), encoder.encode('\ndata: b\n\n')])).toEqual(['a\nb'])
  })

  it('a leading byte-order mark is dropped; bytes that are not UTF-8 read as U+FFFD', async () => {
    expect(await ours([Uint8Array.of(0xef, 0xbb, 0xbf, ...encoder.encode('data: x\n\n'))])).toEqual(['x'])
    expect(await ours([Uint8Array.of(...encoder.encode('data: '), 0xff, 0xc3, 0x28, 10, 10)])).toEqual(['\ufffd\ufffd('])
  })

  it('a line longer than 16 Mi characters, in many chunks, is a ProviderError that is not retried, read in linear time', async () => {
    const piece = encoder.encode('x'.repeat(1 << 16))
    const pieces = [encoder.encode('data: '), ...Array.from({ length: 300 }, () => piece)]
    const b = body(pieces)
    const started = performance.now()
    const err = await readEvents(b.stream, 'test', () => {}).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err).toMatchObject({ retryable: false, message: 'test: an event longer than 16777216 characters' })
    expect(b.cancelled()).toBe(true)
    // 16 MiB in 64 KiB pieces: joined once per piece would be 256 × 8 MiB on average, seconds; joined once, milliseconds.
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('many data lines without a blank line count toward the same limit', async () => {
    const lines = encoder.encode('data: ' + 'y'.repeat(1 << 16) + '\n')
    const err = await readEvents(body(Array.from({ length: 300 }, () => lines)).stream, 'test', () => {}).catch((e) => e)
    expect(err).toBeInstanceOf(ProviderError)
    expect(err.message).toContain('longer than')
  })

  it('an event of 4 MB in one line is read whole', async () => {
    const big = 'z'.repeat(4 << 20)
    const got = await ours(cut(encoder.encode(`data: ${big}\n\ndata: after\n\n`), [1000, 70_000, 3_000_000]))
    expect(got).toHaveLength(2)
    expect(got[0]!.length).toBe(4 << 20)
    expect(got[1]).toBe('after')
  })
})
