/**
 * The `origins` option (issue 13; undici's option of the same name): only the listed origins are
 * looked up and stored. Every host name here is pinned to one loopback origin (pinnedAgent), so a test
 * can use several origins, default ports included; a store spy shows what the cache asked the store.
 */
import assert from 'node:assert/strict'
import type { CacheOptions } from '../../lib/index.js'
import { pinnedAgent, send } from '../helpers/client.js'
import { spyStore, type StoreCalls } from '../helpers/store-spy.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

for (const kind of storeKinds) {
  describe(`origins (${kind.name} store)`, () => {
    let n = 0
    const origin = suiteOrigin(kind, (req, res) => {
      if (req.method !== 'GET') {
        res.writeHead(204)
        return res.end()
      }
      const body = `${req.headers.host ?? ''}${req.url ?? ''} #${++n}`
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    async function withOrigins(origins: CacheOptions['origins'], run: (get: (url: string, method?: 'GET' | 'POST') => ReturnType<typeof send>, calls: StoreCalls) => Promise<void>): Promise<void> {
      const spy = spyStore(await kind.make())
      const { dispatcher, close } = pinnedAgent(origin, { store: spy.store, ...(origins !== undefined ? { origins } : {}) })
      try {
        await run((url, method = 'GET') => send(dispatcher, url, { method }), spy.calls)
      } finally {
        await close()
      }
    }

    it('caches a listed origin and forwards another one untouched: no store read or write, Cache-Status fwd=bypass; detail=origin', async () => {
      await withOrigins(['http://allowed.test'], async (get, calls) => {
        await get('http://allowed.test/a')
        assert.match((await get('http://allowed.test/a')).cacheStatus ?? '', /; hit; /)
        const before = { ...calls }
        const first = await get('http://other.test/a')
        const second = await get('http://other.test/a')
        assert.equal(first.cacheStatus, 'undici-redis-cache; fwd=bypass; fwd-status=200; detail=origin')
        assert.equal(second.cacheStatus, 'undici-redis-cache; fwd=bypass; fwd-status=200; detail=origin')
        assert.notEqual(first.text, second.text, 'both went to the origin')
        assert.deepEqual(calls, before, 'the other origin cost no store call')
      })
    })

    it('matches a string origin case-insensitively, with the default port and a trailing slash spelled out', async () => {
      await withOrigins(['HTTP://Allowed.TEST:80/'], async (get) => {
        await get('http://allowed.test/b')
        assert.match((await get('http://ALLOWED.test:80/b')).cacheStatus ?? '', /; hit; /)
        assert.match((await get('http://allowed.test:8080/b')).cacheStatus ?? '', /detail=origin/, 'another port is another origin')
        assert.match((await get('http://sub.allowed.test/b')).cacheStatus ?? '', /detail=origin/, 'a subdomain is another origin')
      })
    })

    it('tests RegExps against the origin as URL.origin spells it, every time (a g flag does not make them stateful)', async () => {
      await withOrigins([/^http:\/\/[a-z]+\.allowed\.test$/g], async (get) => {
        for (const host of ['api', 'www']) {
          await get(`http://${host}.allowed.test/c`)
          assert.match((await get(`http://${host}.allowed.test/c`)).cacheStatus ?? '', /; hit; /, host)
          assert.match((await get(`http://${host}.allowed.test/c`)).cacheStatus ?? '', /; hit; /, host)
        }
        assert.match((await get('http://allowed.test/c')).cacheStatus ?? '', /detail=origin/)
        assert.match((await get('http://api.allowed.test:81/c')).cacheStatus ?? '', /detail=origin/)
      })
    })

    it('an unsafe method to another origin invalidates nothing: no store call at all', async () => {
      await withOrigins(['http://allowed.test'], async (get, calls) => {
        const before = { ...calls }
        const post = await get('http://other.test/d', 'POST')
        assert.equal(post.status, 204)
        assert.equal(post.cacheStatus, 'undici-redis-cache; fwd=bypass; fwd-status=204; detail=origin')
        assert.deepEqual(calls, before)
      })
    })

    it('an unsafe method to a listed origin still invalidates (RFC 9111 §4.4)', async () => {
      await withOrigins(['http://allowed.test'], async (get) => {
        await get('http://allowed.test/e')
        assert.match((await get('http://allowed.test/e', 'POST')).cacheStatus ?? '', /fwd=method/)
        assert.match((await get('http://allowed.test/e')).cacheStatus ?? '', /fwd=miss/)
      })
    })

    it('[] serves no origin', async () => {
      await withOrigins([], async (get, calls) => {
        await get('http://allowed.test/f')
        assert.match((await get('http://allowed.test/f')).cacheStatus ?? '', /detail=origin/)
        assert.deepEqual(calls, { reads: 0, writes: 0, removes: 0 })
      })
    })
  })
}
