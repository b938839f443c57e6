/**
 * `readOnly: true` (issue 13; requests-cache's read_only): entries are looked up and served as usual,
 * no response is ever written, and Cache-Status never claims `stored`. Deletes still happen: an
 * unsafe method invalidates what it changed (RFC 9111 §4.4). A store spy counts the writes.
 */
import assert from 'node:assert/strict'
import type { CacheStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { spyStore, type StoreCalls } from '../helpers/store-spy.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

for (const kind of storeKinds) {
  describe(`readOnly (${kind.name} store)`, () => {
    let n = 0
    const origin = suiteOrigin(kind, (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (req.method !== 'GET') {
        res.writeHead(204)
        return res.end()
      }
      // Stored, but validated on every use; a 304 makes it fresh for a minute.
      if (path.startsWith('/validated')) {
        if (req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' })
          return res.end()
        }
        res.writeHead(200, { etag: '"v1"', 'cache-control': 'no-cache', 'content-length': 9 })
        return res.end('validated')
      }
      const body = `${path} #${++n}`
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    /** Runs `run` with a read-only cache over `store` (spied), after a writing cache filled it with `fill`. */
    async function readOnly(fill: readonly string[], run: (get: (path: string, method?: 'GET' | 'POST') => ReturnType<typeof send>, calls: StoreCalls) => Promise<void>): Promise<void> {
      const store: CacheStore = await kind.make()
      const filler = cachedAgent({ store })
      try {
        for (const path of fill) assert.match((await send(filler.dispatcher, `${origin.url}${path}`)).cacheStatus ?? '', /; stored/)
      } finally {
        await filler.close()
      }
      const spy = spyStore(store)
      const { dispatcher, close } = cachedAgent({ store: spy.store, readOnly: true })
      try {
        await run((path, method = 'GET') => send(dispatcher, `${origin.url}${path}`, { method }), spy.calls)
      } finally {
        await close()
      }
    }

    it('serves hits from a store another cache filled', async () => {
      await readOnly(['/filled'], async (get, calls) => {
        const hit = await get('/filled')
        assert.match(hit.cacheStatus ?? '', /^undici-redis-cache; hit; ttl=/)
        assert.equal(hit.text, '/filled #1')
        assert.equal(origin.count('/filled'), 1)
        assert.equal(calls.writes, 0)
      })
    })

    it('forwards a miss without storing it, and Cache-Status does not say stored', async () => {
      await readOnly([], async (get, calls) => {
        const first = await get('/missed')
        const second = await get('/missed')
        assert.equal(first.cacheStatus, 'undici-redis-cache; fwd=miss; fwd-status=200')
        assert.equal(second.cacheStatus, 'undici-redis-cache; fwd=miss; fwd-status=200')
        assert.equal(origin.count('/missed'), 2)
        assert.equal(calls.writes, 0)
        assert.ok(calls.reads >= 2, 'both were looked up')
      })
    })

    it('serves the stored body on a 304 without writing the refreshed entry: the next use revalidates again', async () => {
      await readOnly(['/validated'], async (get, calls) => {
        const first = await get('/validated')
        assert.equal(first.text, 'validated')
        assert.match(first.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        const second = await get('/validated')
        assert.match(second.cacheStatus ?? '', /fwd=stale; fwd-status=304/, 'not a hit: the refresh was not stored')
        const conditional = origin.requests.filter((r) => r.url === '/validated' && r.headers['if-none-match'] === '"v1"')
        assert.equal(conditional.length, 2)
        assert.equal(calls.writes, 0)
      })
    })

    it('still invalidates on an unsafe method, so the read-only cache never serves what it made obsolete', async () => {
      await readOnly(['/changed'], async (get, calls) => {
        assert.match((await get('/changed')).cacheStatus ?? '', /; hit; /)
        assert.match((await get('/changed', 'POST')).cacheStatus ?? '', /fwd=method; fwd-status=204/)
        assert.ok(calls.removes > 0)
        const after = await get('/changed')
        assert.equal(after.cacheStatus, 'undici-redis-cache; fwd=miss; fwd-status=200')
        assert.equal(calls.writes, 0)
      })
    })
  })
}
