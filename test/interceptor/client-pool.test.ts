/**
 * Issue #11: `Client.compose(cache())` and `Pool.compose(cache())` used to be silently inert (their
 * dispatch options carry only the path, so nothing was ever cached). undici 8 tells the interceptor its
 * Client's or Pool's origin, and the cache works there; undici 7 does not, and every request fails
 * with a MissingOriginError that says what to do instead. CI runs this file with both majors.
 */
import assert from 'node:assert/strict'
import { cache, CacheError, MemoryStore } from '../../lib/index.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { Client, Pool, undiciMajor, type Dispatcher } from '../helpers/undici.js'

/** A request the way Client and Pool users make one: a path, no origin. */
async function get(dispatcher: Dispatcher, path: string): Promise<{ text: string; cacheStatus: string }> {
  const res = await dispatcher.request({ path, method: 'GET' })
  return { text: await res.body.text(), cacheStatus: String(res.headers['cache-status']) }
}

describe(`cache() composed onto a Client or a Pool (undici ${undiciMajor})`, () => {
  let origin: Origin
  before(async () => {
    origin = await startOrigin((req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(req.url ?? '') })
      res.end(req.url)
    })
  })
  after(() => origin.close())

  for (const make of [(url: string) => new Client(url), (url: string) => new Pool(url)]) {
    const name = make.toString().includes('Pool') ? 'Pool' : 'Client'
    const path = `/${name.toLowerCase()}`
    if (undiciMajor >= 8) {
      it(`${name}.compose(cache()) caches: MISS, then HIT`, async () => {
        const dispatcher = make(origin.url)
        try {
          const composed = dispatcher.compose(cache({ store: new MemoryStore() }))
          assert.match((await get(composed, path)).cacheStatus, /fwd=miss; fwd-status=200; stored/)
          const hit = await get(composed, path)
          assert.match(hit.cacheStatus, /; hit; /)
          assert.equal(hit.text, path)
          assert.equal(origin.count(path), 1)
        } finally {
          await dispatcher.close()
        }
      })
    } else {
      it(`${name}.compose(cache()) fails each request with MissingOriginError instead of silently caching nothing`, async () => {
        const dispatcher = make(origin.url)
        try {
          const composed = dispatcher.compose(cache({ store: new MemoryStore() }))
          await assert.rejects(get(composed, path), (error: unknown) => error instanceof CacheError && error.code === 'URC_ERR_MISSING_ORIGIN' && /compose cache\(\) onto an Agent/.test(error.message))
          assert.equal(origin.count(path), 0)
        } finally {
          await dispatcher.close()
        }
      })
    }
  }
})
