/**
 * A real node:http origin on a free loopback port, with a log of the requests that reached it, so
 * tests assert what the cache forwarded rather than what it claims.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OriginRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
}

export interface Origin {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly requests: OriginRequest[]
  /** How many requests reached the origin, optionally only those for one path (with query). */
  count(path?: string): number
  close(): Promise<void>
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, index: number) => void

export async function startOrigin(handler: OriginHandler): Promise<Origin> {
  const requests: OriginRequest[] = []
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    // Drain any request body before answering so keep-alive sockets stay usable.
    req.resume()
    handler(req, res, requests.length)
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (path) => (path === undefined ? requests.length : requests.filter((r) => r.url === path).length),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Answers every request with `body` and `headers` (status 200 unless given). */
export function fixed(body: string | Buffer, headers: Record<string, string | string[]> = {}, status = 200): OriginHandler {
  return (_req, res) => {
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers })
    res.end(body)
  }
}

/**
 * Sends `body` with `headers`, honouring `Range: bytes=N-` (RFC 9110 §14.2) when `If-Range` is absent
 * or matches the response's ETag (§13.1.5): a 206 with Content-Range; otherwise the whole body.
 */
export function sendBytes(req: IncomingMessage, res: ServerResponse, body: Buffer, headers: Record<string, string>): void {
  const range = /^bytes=(\d+)-$/.exec(req.headers['range'] ?? '')
  const ifRange = req.headers['if-range']
  if (range !== null && (ifRange === undefined || ifRange === headers['etag']) && Number(range[1]) < body.byteLength) {
    const start = Number(range[1])
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${body.byteLength - 1}/${body.byteLength}`, 'content-length': body.byteLength - start })
    return void res.end(body.subarray(start))
  }
  res.writeHead(200, { ...headers, 'content-length': body.byteLength })
  res.end(body)
}

/** An origin that answers every GET with `body of <url>`, fresh for 60 s: for tests where the body is not the subject. */
export const freshBodyOfUrl: OriginHandler = (req, res) => {
  const text = `body of ${req.url}`
  res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
