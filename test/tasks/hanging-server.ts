import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'

/**
 * A loopback server that reads each request and never answers, started before the file's tests and
 * stopped after. `nextRequest()` resolves when the next request arrives, with a promise of its
 * connection closing: the proof that an abort reached the socket.
 */
export function hangingServer(): { url: () => string; nextRequest(): Promise<{ req: IncomingMessage; closed: Promise<void> }> } {
  let server: Server
  let url = ''
  const arrivals: ((req: IncomingMessage) => void)[] = []
  beforeAll(async () => {
    server = createServer((req) => {
      req.resume()
      arrivals.shift()?.(req)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hang`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return {
    url: () => url,
    nextRequest: () =>
      new Promise((resolve) => arrivals.push((req) => resolve({ req, closed: new Promise<void>((done) => req.socket.once('close', () => done())) }))),
  }
}
