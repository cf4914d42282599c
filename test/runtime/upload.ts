import { request as httpRequest } from 'node:http'

const MiB = 1024 * 1024
const CHUNK = 64 * 1024
// Far past anything the limit allows: a client that gets here was never answered.
const CAP = 256 * MiB

/** What `endlessUpload` got. */
export interface Upload {
  status: number
  body: string
  /** Bytes the client had written when the answer came. */
  sent: number
}

/**
 * A client attacking a body limit over real HTTP: POSTs spaces (never parsed: the limit comes
 * first) as a chunked body, 64 KiB a write (respecting backpressure), until the answer arrives:
 * forever (up to CAP bytes: then it rejects), or up to a declared `content-length`.
 */
export function endlessUpload(url: string, headers: Record<string, string> = {}): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let sent = 0
    let answered = false
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } })
    req.on('response', (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), sent })
      })
    })
    req.on('error', (e) => answered || reject(e))
    const chunk = Buffer.alloc(CHUNK, ' ')
    const declared = headers['content-length'] === undefined ? undefined : Number(headers['content-length'])
    const pump = () => {
      while (!answered) {
        if (declared !== undefined && sent + CHUNK > declared) return
        if (sent >= CAP) return reject(new Error(`no answer after ${sent} bytes`))
        sent += CHUNK
        if (!req.write(chunk)) return void req.once('drain', pump)
      }
    }
    pump()
  })
}

