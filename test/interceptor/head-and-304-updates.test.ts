/**
 * Issue 12: what a validation response changes in the stored GET response.
 *
 * RFC 9111 §4.3.5: "When a cache makes an inbound HEAD request for a target URI and receives a 200 (OK)
 * response, the cache SHOULD update or invalidate each of its stored GET responses that could have been
 * chosen for that request. For each of the stored responses that could have been chosen, if the stored
 * response and HEAD response have matching values for any received validator fields (ETag and
 * Last-Modified) and, if the HEAD response has a Content-Length header field, the value of
 * Content-Length matches that of the stored response, the cache SHOULD update the stored response as
 * described below; otherwise, the cache SHOULD invalidate the stored response." (cache-tests:
 * head-writethrough, head-200-retain, head-200-freshness-update, head-200-update.)
 *
 * §4.3.5 speaks of a 200 only. A HEAD 410 says the GET would now be a 410: the stored 200 is dropped,
 * not served for the 410's lifetime. (cache-tests' head-410-update, an informational "check", not a
 * requirement, probes whether a cache updates the stored 200 from it; this one deliberately does not.)
 *
 * §3.2: "the cache MUST NOT update ... Content-Length" from a 304 (cache-tests
 * 304-etag-update-response-Content-Length), and RFC 9110 §8.6 lets a 304 carry the Content-Length
 * of the representation it stands for.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { MemoryStore, type CacheOptions } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'

/** What the origin answers a HEAD with, per path: status and extra headers. */
interface HeadAnswer {
  readonly status?: number
  readonly headers?: Record<string, string>
}

describe('HEAD and 304 responses update the stored GET (RFC 9111 §4.3.5, §3.2)', () => {
  let origin: Origin
  const heads = new Map<string, HeadAnswer>()
  let clock = new ManualClock(Date.now())

  before(async () => {
    origin = await startOrigin((req, res: ServerResponse) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const date = new Date(clock.now()).toUTCString()
      if (req.method === 'HEAD') {
        const answer = heads.get(path) ?? {}
        res.writeHead(answer.status ?? 200, { date, ...answer.headers })
        return res.end()
      }
      if (path.startsWith('/cl304') && req.headers['if-none-match'] === '"cl"') {
        // A different Content-Length than the stored response's: §3.2 says it is not taken.
        res.writeHead(304, { date, etag: '"cl"', 'cache-control': 'max-age=600', 'content-length': '10', 'template-a': '2' })
        return res.end()
      }
      const body = `${path} body`
      const etag = path.startsWith('/cl304') ? { etag: '"cl"' } : {}
      // cache-tests' becomeStale template: fresh for 2 s, a field to watch, no validators.
      res.writeHead(200, { date, 'cache-control': 'max-age=2', 'template-a': '1', 'content-length': Buffer.byteLength(body), ...etag })
      res.end(body)
    })
  })
  after(() => origin.close())
  beforeEach(() => {
    // Half a second past a whole second: Date has whole seconds, so the HEAD's Date makes the
    // stored response 0.5 s old and its ttl exactly 999 (on a whole second it was 1000, 1 run in 1000).
    clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000 + 500)
  })

  /** Stores a GET for `path`, lets it go stale, sends a HEAD (answered as `head` says), then a GET. */
  async function headAfterStale(path: string, head: HeadAnswer, options: CacheOptions = {}) {
    heads.set(path, head)
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore({ ttl: false }), clock, ...options })
    try {
      await send(dispatcher, `${origin.url}${path}`)
      clock.advanceSeconds(5)
      const headReply = await send(dispatcher, `${origin.url}${path}`, { method: 'HEAD' })
      const methods = origin.requests.filter((r) => r.url === path).map((r) => r.method)
      const get = await send(dispatcher, `${origin.url}${path}`)
      return { headReply, get, methodsAfterHead: methods, requests: origin.count(path) }
    } finally {
      await close()
    }
  }

  for (const type of ['shared', 'private'] as const) {
    it(`${type}: a HEAD 200 without validators updates the stored fields and freshness (head-200-update)`, async () => {
      const path = `/head-update-${type}`
      const { headReply, get, methodsAfterHead, requests } = await headAfterStale(path, { headers: { 'template-a': '2', 'cache-control': 'max-age=1000' } }, { type })
      assert.deepEqual(methodsAfterHead, ['GET', 'HEAD'], 'the HEAD of a stale entry is written through (head-writethrough)')
      assert.equal(headReply.status, 200)
      assert.equal(headReply.headers['template-a'], '2')
      assert.equal(get.status, 200)
      assert.equal(get.text, `${path} body`, 'the stored body')
      assert.equal(get.headers['template-a'], '2')
      assert.match(get.cacheStatus ?? '', /; hit; ttl=999$/)
      assert.equal(requests, 2, 'the GET after the HEAD is served from the cache (head-200-freshness-update)')
    })
  }

  it('a HEAD 200 keeps the stored fields it does not carry (head-200-retain)', async () => {
    const { headReply } = await headAfterStale('/head-retain', {})
    assert.equal(headReply.headers['template-a'], '1')
  })

  it('a HEAD 200 with a Content-Length other than the stored one drops the stored GET', async () => {
    const { get, requests } = await headAfterStale('/head-length', { headers: { 'content-length': '999', 'cache-control': 'max-age=1000' } })
    assert.equal(requests, 3)
    assert.match(get.cacheStatus ?? '', /fwd=miss/)
  })

  it('a HEAD 200 with an ETag the stored GET lacks drops it (a validator received, not matching)', async () => {
    const { requests } = await headAfterStale('/head-new-etag', { headers: { etag: '"new"', 'cache-control': 'max-age=1000' } })
    assert.equal(requests, 3)
  })

  it('a HEAD 410 drops the stored GET instead of making it fresh again; the HEAD caller gets the 410', async () => {
    const { headReply, get, requests } = await headAfterStale('/head-gone', { status: 410, headers: { 'template-a': '2', 'cache-control': 'max-age=1000' } })
    assert.equal(headReply.status, 410)
    assert.equal(requests, 3, 'the GET goes to the origin')
    assert.match(get.cacheStatus ?? '', /fwd=miss/)
  })

  for (const type of ['shared', 'private'] as const) {
    it(`${type}: a 304 with another Content-Length: the stored Content-Length and body stand (§3.2)`, async () => {
      const path = `/cl304-${type}`
      const { dispatcher, close } = cachedAgent({ store: new MemoryStore({ ttl: false }), clock, type })
      try {
        const first = await send(dispatcher, `${origin.url}${path}`)
        clock.advanceSeconds(5)
        const validated = await send(dispatcher, `${origin.url}${path}`)
        assert.equal(validated.status, 200)
        assert.equal(validated.text, first.text)
        assert.equal(validated.headers['content-length'], String(first.body.byteLength))
        assert.equal(validated.headers['template-a'], '2', 'the other fields of the 304 are taken')
        assert.match(validated.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        const hit = await send(dispatcher, `${origin.url}${path}`)
        assert.equal(hit.headers['content-length'], String(first.body.byteLength))
        assert.equal(hit.text, first.text)
        assert.match(hit.cacheStatus ?? '', /; hit; /)
      } finally {
        await close()
      }
    })
  }
})
