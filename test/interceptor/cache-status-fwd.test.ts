/**
 * Issue 12: the `fwd` parameter of Cache-Status names why a stored response was not used as it was.
 * RFC 9211 §2.2: "stale: The cache was able to select a response for the request, but it was stale" and
 * "request: The cache was able to select a fresh response for the request, but the request's semantics
 * (e.g., Cache-Control request directives) did not allow its use". A stored `no-cache` response (RFC
 * 9111 §5.2.2.4) is one the cache may not use without validation, whatever the request said: fwd=stale.
 */
import assert from 'node:assert/strict'
import { MemoryStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'

describe('Cache-Status fwd for revalidations (RFC 9211 §2.2)', () => {
  let origin: Origin

  before(async () => {
    origin = await startOrigin((req, res) => {
      const cc = req.url === '/no-cache' ? 'no-cache' : 'max-age=600'
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': cc })
        return res.end()
      }
      res.writeHead(200, { etag: '"v1"', 'cache-control': cc, 'content-length': 4 })
      res.end('body')
    })
  })
  after(() => origin.close())

  for (const type of ['shared', 'private'] as const) {
    it(`${type}: a stored no-cache response, revalidated: fwd=stale`, async () => {
      // A clock that stays put: on the system clock a second boundary crossed between the two requests
      // made the stored response a second old (ttl=-1).
      const clock = new ManualClock(Date.now())
      const { dispatcher, close } = cachedAgent({ store: new MemoryStore({ clock }), type, clock })
      try {
        await send(dispatcher, `${origin.url}/no-cache`)
        const reply = await send(dispatcher, `${origin.url}/no-cache`)
        assert.equal(reply.text, 'body')
        assert.equal(reply.cacheStatus, 'undici-redis-cache; fwd=stale; fwd-status=304; ttl=0')
      } finally {
        await close()
      }
    })
  }

  it("a fresh response the request's own no-cache sends for validation: fwd=request", async () => {
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore() })
    try {
      await send(dispatcher, `${origin.url}/fresh`)
      const reply = await send(dispatcher, `${origin.url}/fresh`, { headers: { 'cache-control': 'no-cache' } })
      assert.match(reply.cacheStatus ?? '', /^undici-redis-cache; fwd=request; fwd-status=304; /)
    } finally {
      await close()
    }
  })
})
