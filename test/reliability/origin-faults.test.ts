/**
 * Issue 5: an origin that misbehaves (cuts a body off, resets before headers, sends fewer bytes than
 * its Content-Length, answers more than maxEntrySize) or a caller that gives up mid-body. The caller
 * sees exactly what a plain Agent would show it (status, error class and code, bytes received), and
 * nothing is stored: the store holds no id and the next request reaches the origin again.
 */
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { Agent } from '../helpers/undici.js'
import { cachedAgent } from '../helpers/client.js'
import { comparable, see, sleep, storedIds, watchProcess, type SeeOptions } from '../helpers/faults.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

const MAX_ENTRY_SIZE = 4096

/** A head written straight to the socket, so the origin can then break the framing it promised. */
function rawHead(socket: Socket, headers: string): void {
  socket.write(`HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\n${headers}\r\n`)
}

const fill = (size: number, char: string): Buffer => Buffer.alloc(size, char)

interface Row {
  readonly name: string
  readonly path: string
  readonly options?: SeeOptions
  /** Whether the bytes received before an error are fixed by the origin (not by the caller's timing). */
  readonly exactBytes?: boolean
  readonly expect: 'error' | 'response'
  /** Cache-Status of a whole response. */
  readonly cacheStatus?: RegExp
}

const rows: readonly Row[] = [
  { name: 'a body cut off mid-stream (half sent, then the socket destroyed)', path: '/cut', expect: 'error' },
  { name: 'a socket reset before the response headers', path: '/reset', expect: 'error' },
  { name: 'a Content-Length larger than what is sent (fewer bytes, then the socket ended)', path: '/short', expect: 'error' },
  // Content-Length tells at once that the body will not fit, so Cache-Status does not claim `stored`.
  { name: 'a response larger than maxEntrySize, with Content-Length', path: '/big-length', expect: 'response', cacheStatus: /; fwd=miss; fwd-status=200$/ },
  // Cache-Status goes out with the headers, before the size is known: `stored` reports the decision
  // (DESIGN.md), and the recorder gives up once the body outgrows the bound.
  { name: 'a response larger than maxEntrySize, chunked', path: '/big-chunked', expect: 'response', cacheStatus: /; fwd=miss; fwd-status=200(; stored)?$/ },
  { name: 'a caller that aborts (AbortController) after the first chunk', path: '/slow', options: { abortAfterBytes: 1 }, exactBytes: false, expect: 'error' },
  { name: 'a caller that destroys the body after the first chunk', path: '/slow', options: { destroyAfterBytes: 1 }, exactBytes: false, expect: 'error' },
]

for (const kind of storeKinds) {
  describe(`origin faults (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, (req, res) => {
      const socket = req.socket
      switch (req.url) {
        case '/cut':
          rawHead(socket, 'content-length: 2000\r\n')
          socket.write(fill(1000, 'c'))
          setTimeout(() => socket.destroy(), 30)
          return
        case '/reset':
          socket.destroy()
          return
        case '/short':
          rawHead(socket, 'content-length: 2000\r\n')
          socket.end(fill(600, 's'))
          return
        case '/big-length':
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': MAX_ENTRY_SIZE * 3 })
          res.end(fill(MAX_ENTRY_SIZE * 3, 'L'))
          return
        case '/big-chunked': {
          res.writeHead(200, { 'cache-control': 'max-age=60' })
          let sent = 0
          const next = (): void => {
            if (sent === 6) return void res.end()
            res.write(fill(1024, String(sent++)))
            setImmediate(next)
          }
          return next()
        }
        case '/slow':
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 20_000 })
          res.write(fill(1000, 'a'))
          setTimeout(() => res.end(fill(19_000, 'b')), 100)
          return
        default:
          res.writeHead(404, { 'content-length': 0 })
          res.end()
      }
    })

    for (const row of rows) {
      it(`${row.name}: the caller sees what it would without the cache, and nothing is stored`, async () => {
        const store = await kind.make()
        const { dispatcher, close } = cachedAgent({ store, maxEntrySize: MAX_ENTRY_SIZE })
        const plain = new Agent({ keepAliveTimeout: 500 })
        const watch = watchProcess()
        try {
          const withoutCache = await see(plain, `${origin.url}${row.path}`, row.options)
          const withCache = await see(dispatcher, `${origin.url}${row.path}`, row.options)
          assert.equal(withCache.kind, row.expect, JSON.stringify(comparable(withCache)))
          assert.deepEqual(comparable(withCache, row.exactBytes ?? true), comparable(withoutCache, row.exactBytes ?? true))
          if (withCache.kind === 'response') assert.match(withCache.cacheStatus ?? '', row.cacheStatus ?? /./)

          // Give a wrongly started write time to land before looking.
          await sleep(150)
          assert.deepEqual(await storedIds(store), [])
          const before = origin.count(row.path)
          const again = await see(dispatcher, `${origin.url}${row.path}`, row.options)
          assert.equal(origin.count(row.path), before + 1, 'the next request reached the origin')
          assert.deepEqual(comparable(again, row.exactBytes ?? true), comparable(withoutCache, row.exactBytes ?? true))
          assert.deepEqual(watch.events, [])
        } finally {
          watch.stop()
          await plain.close()
          await close()
        }
      })
    }
  })
}
