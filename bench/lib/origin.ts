/**
 * The bench origin, run as its own process (forked by run.ts) so its CPU is not counted in the client
 * being measured. `GET /body?size=N&…` answers N bytes from a buffer allocated once per size, cacheable
 * for an hour; `GET /count` answers how many /body requests arrived so far, so a worker can prove its
 * measured requests were all hits.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { OriginMessage } from './protocol.js'

const MAX_SIZE = 64 * 1024 * 1024
const bodies = new Map<number, Buffer>()
let bodyRequests = 0

function body(size: number): Buffer {
  let buffer = bodies.get(size)
  if (buffer === undefined) {
    // Not zeros: a pattern no layer can shortcut (e.g. by compression), identical on every request.
    buffer = Buffer.alloc(size, 'undici-redis-cache bench ')
    bodies.set(size, buffer)
  }
  return buffer
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://origin')
  if (url.pathname === '/count') {
    const text = String(bodyRequests)
    res.writeHead(200, { 'content-length': text.length, 'cache-control': 'no-store' })
    res.end(text)
    return
  }
  const size = Number(url.searchParams.get('size'))
  if (url.pathname !== '/body' || !Number.isInteger(size) || size < 0 || size > MAX_SIZE) {
    res.writeHead(404, { 'content-length': 0 })
    res.end()
    return
  }
  bodyRequests++
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': size,
    'cache-control': 'max-age=3600',
  })
  res.end(body(size))
})
// Workers hold their keep-alive sockets for a whole measurement.
server.keepAliveTimeout = 60_000
server.headersTimeout = 61_000

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  const message: OriginMessage = { type: 'listening', url: `http://127.0.0.1:${port}` }
  process.send?.(message)
})

// The orchestrator died or let go: leave nothing behind.
process.on('disconnect', () => process.exit(0))
