/**
 * Issue 12: which statuses are stored when `allowableCodes` is unset: RFC 9111 decides.
 *
 * RFC 9111 §3: a cache may store a response whose "status code is final" and that "contains ... an
 * Expires header field, a max-age response directive, a s-maxage response directive [shared cache],
 * a Cache Control Extension that allows it to be cached, a status code that is defined as heuristically
 * cacheable, or a public response directive". RFC 9110 §15.1: "200, 203, 204, 206, 300, 301, 308, 404,
 * 405, 410, 414, and 501 ... are defined as heuristically cacheable".
 *
 * cache-tests: status-<code>-fresh (optimal) for 204, 299, 302, 303, 307, 400, 404, 410, 499, 500,
 * 502, 503, 504, 599; heuristic-<code>-cached (optimal) for 204, 404, 405, 410, 414, 501 and 599 with
 * `public`; heuristic-<code>-not_cached (required) for 201, 202, 403, 502, 503, 504 and 599.
 * A user's `allowableCodes` list stays a gate in front of all that (requests-cache's allowable_codes).
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { MemoryStore, type CacheOptions } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { startOrigin, type Origin } from '../helpers/origin.js'

describe('status codes with allowableCodes unset (RFC 9111 §3, RFC 9110 §15.1)', () => {
  let origin: Origin
  const DAY = 24 * 3600 * 1000

  before(async () => {
    // /<status>/<kind>: `explicit` carries max-age, `heuristic` only a Last-Modified a day old,
    // `public` that plus `public`.
    origin = await startOrigin((req, res: ServerResponse, index) => {
      const [, status, kind] = new URL(req.url ?? '/', 'http://x').pathname.split('/')
      const headers: Record<string, string> = { date: new Date().toUTCString() }
      if (kind === 'explicit') headers['cache-control'] = 'max-age=3600'
      else headers['last-modified'] = new Date(Date.now() - DAY).toUTCString()
      if (kind === 'public') headers['cache-control'] = 'public'
      if (kind === 'must-understand') headers['cache-control'] = 'max-age=3600, no-store, must-understand'
      const body = status === '204' ? '' : `#${index}`
      res.writeHead(Number(status), { ...headers, ...(status === '204' ? {} : { 'content-length': String(Buffer.byteLength(body)) }) })
      res.end(body)
    })
  })
  after(() => origin.close())

  /** Two GETs of `path`: whether the second came from the cache. */
  async function reused(path: string, options: CacheOptions = {}): Promise<boolean> {
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore(), ...options })
    try {
      const before = origin.count(path)
      const first = await send(dispatcher, `${origin.url}${path}`)
      const second = await send(dispatcher, `${origin.url}${path}`)
      assert.equal(second.status, first.status)
      const fromCache = origin.count(path) - before === 1
      if (fromCache) assert.equal(second.text, first.text)
      return fromCache
    } finally {
      await close()
    }
  }

  for (const type of ['shared', 'private'] as const) {
    for (const status of [204, 299, 302, 303, 307, 400, 404, 410, 499, 500, 502, 503, 504, 599]) {
      it(`${type}: a ${status} with max-age is stored and reused (explicit freshness, §3)`, async () => {
        assert.equal(await reused(`/${status}/explicit`, { type }), true)
      })
    }
    for (const status of [204, 404, 405, 410, 414, 501]) {
      it(`${type}: a ${status} with only Last-Modified is reused on heuristic freshness (RFC 9110 §15.1)`, async () => {
        assert.equal(await reused(`/${status}/heuristic`, { type }), true)
      })
    }
  }

  for (const status of [201, 202, 403, 502, 503, 504, 599]) {
    it(`a ${status} with only Last-Modified is not heuristically cacheable: not reused (§4.2.2)`, async () => {
      assert.equal(await reused(`/${status}/heuristic`), false)
    })
  }

  it('a 599 with public and Last-Modified is reused (§3: public; §4.2.2)', async () => {
    assert.equal(await reused('/599/public'), true)
  })

  it('a 599 with no-store, must-understand is not stored: the cache does not know its rules (§5.2.2.3)', async () => {
    assert.equal(await reused('/599/must-understand'), false)
  })

  it('a 200 with no-store, must-understand is stored: the cache knows its rules (§5.2.2.3)', async () => {
    assert.equal(await reused('/200/must-understand'), true)
  })

  it('allowableCodes set: only those statuses, whatever their freshness (requests-cache allowable_codes)', async () => {
    assert.equal(await reused('/404/explicit', { allowableCodes: [200] }), false)
    assert.equal(await reused('/500/explicit', { allowableCodes: [200, 500] }), true)
  })

  it('cacheControl: false with allowableCodes unset stores 200, 203, 300, 301, 308 only: no response freshness to go on', async () => {
    assert.equal(await reused('/200/explicit', { cacheControl: false, expireAfter: 60 }), true)
    assert.equal(await reused('/404/explicit', { cacheControl: false, expireAfter: 60 }), false)
    assert.equal(await reused('/500/explicit', { cacheControl: false, expireAfter: 60 }), false)
  })
})
