#!/usr/bin/env node
/**
 * Serves the demo on loopback: the repository root as static files, so a page of `demo/` can import
 * the built package from `/dist/` and its dependencies from `/node_modules/` through an import map.
 * `PORT` (default 5173; 0 picks a free one) and `HOST` (default 127.0.0.1) set the address.
 */
import { createReadStream, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { extname, join, normalize, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
}
// Only what a demo page needs is served: never the repository's other files.
const allowed = ['/demo/', '/dist/', '/node_modules/']

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (url.pathname === '/') {
    res.writeHead(302, { location: '/demo/browser/' }).end()
    return
  }
  let path = normalize(decodeURIComponent(url.pathname))
  if (!allowed.some((prefix) => path.startsWith(prefix))) {
    res.writeHead(404).end('not found')
    return
  }
  if (path.endsWith('/')) path += 'index.html'
  const file = join(root, path)
  try {
    if (!statSync(file).isFile()) throw new Error('not a file')
  } catch {
    res.writeHead(404).end('not found')
    return
  }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
  createReadStream(file).pipe(res)
})

server.listen(Number(process.env.PORT ?? 5173), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address()
  console.log(`agentctx demo: http://${address}:${port}/demo/browser/`)
})
