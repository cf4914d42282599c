/**
 * The request body of an event, read with a limit that holds while reading: bytes are counted as
 * they arrive, and past the limit the stream is cancelled, so a chunked body with no
 * `Content-Length` (which a client may make endless) costs at most `limit` bytes of memory, not
 * the whole upload. Reading the body whole first (`request.text()`) and measuring after took 300 MB
 * and about 1 GB of memory before a 1 MiB limit answered.
 */

/**
 * The bytes of `stream`, or `undefined` as soon as more than `limit` have arrived (the stream is
 * then cancelled: nothing more is pulled). A missing body is empty.
 */
export async function readLimited(stream: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | undefined> {
  if (!stream) return new Uint8Array(0)
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (let step; !(step = await reader.read()).done; ) {
    size += step.value.byteLength
    if (size > limit) {
      // Not awaited: a platform may only settle the cancel once the connection is done with, and
      // the 413 must not wait for that.
      reader.cancel().catch(() => {})
      return undefined
    }
    chunks.push(step.value)
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}

/**
 * Reads and drops what is left of a body the answer does not need (a refusal before the body was
 * read), up to `limit` bytes, then cancels the rest. A server must consume a request's body before
 * its connection can carry another request; Go's net/http does the same with 256 KiB. In workerd a
 * Durable Object that answers a forwarded request without reading its body makes the runtime log
 * "can't read more data after a previous read didn't complete".
 */
export async function discard(stream: ReadableStream<Uint8Array>, limit: number): Promise<void> {
  try {
    const reader = stream.getReader()
    for (let size = 0, step; !(step = await reader.read()).done; ) {
      if ((size += step.value.byteLength) > limit) return void reader.cancel().catch(() => {})
    }
  } catch {
    // a broken upload: nothing left to drop
  }
}

// `application/json` or a structured `+json` type (`application/vnd.api+json`): neither is one of
// the three types a page may POST cross-site without a CORS preflight (`text/plain`,
// `application/x-www-form-urlencoded`, `multipart/form-data`), so requiring one of them means a
// foreign page cannot send an event without the server's CORS consent.
const JSON_MEDIA = /^application\/(?:[\w!#$&^.-]+\+)?json$/

/**
 * Whether a `Content-Type` header is JSON in UTF-8 (the only encoding of JSON, RFC 8259 § 8.1):
 * the media type case-insensitively, and a `charset` parameter, if any, `utf-8`.
 */
export function isJsonType(header: string | null): boolean {
  if (!header) return false
  const [type, ...params] = header.toLowerCase().split(';')
  if (!JSON_MEDIA.test(type!.trim())) return false
  return params.every((p) => {
    const [name, value = ''] = p.split('=', 2).map((s) => s.trim())
    return name !== 'charset' || value.replace(/^"(.*)"$/, '$1') === 'utf-8'
  })
}
