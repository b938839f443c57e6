/**
 * Vary (RFC 9111 §4.1): one stored variant per distinct set of varying request header values.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CacheStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

/** `store` with its `get` calls (one store round trip each) counted. */
function countingGets(store: CacheStore): { store: CacheStore; gets: () => number } {
  let gets = 0
  const proxy = new Proxy(store, {
    get(target, name) {
      if (name === 'get') {
        return (ids: readonly string[]) => {
          gets++
          return target.get(ids)
        }
      }
      // Stores keep private fields: their methods run on the store itself.
      const value: unknown = Reflect.get(target, name)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { store: proxy, gets: () => gets }
}

for (const kind of storeKinds) {
  describe(`Vary (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (path === '/star') {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: '*', 'content-length': 4 })
        return res.end('star')
      }
      const lang = req.headers['accept-language'] ?? 'none'
      const body = `${path} in ${lang}`
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    it('keeps two Accept-Language variants of one URL side by side', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make() })
      try {
        const en = await send(dispatcher, `${origin.url}/page`, { headers: { 'accept-language': 'en' } })
        const fr = await send(dispatcher, `${origin.url}/page`, { headers: { 'accept-language': 'fr' } })
        assert.equal(en.text, '/page in en')
        assert.equal(fr.text, '/page in fr')
        assert.match(fr.cacheStatus ?? '', /fwd=vary-miss; fwd-status=200; stored/)
        const en2 = await send(dispatcher, `${origin.url}/page`, { headers: { 'accept-language': 'en' } })
        const fr2 = await send(dispatcher, `${origin.url}/page`, { headers: { 'accept-language': 'fr' } })
        assert.equal(en2.text, '/page in en')
        assert.equal(fr2.text, '/page in fr')
        assert.match(en2.cacheStatus ?? '', /; hit; /)
        assert.match(fr2.cacheStatus ?? '', /; hit; /)
        const none = await send(dispatcher, `${origin.url}/page`)
        assert.equal(none.text, '/page in none')
        assert.equal(origin.count('/page'), 3)
      } finally {
        await close()
      }
    })

    it('normalises varying values: case of Accept-Language and spacing of lists', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make() })
      try {
        await send(dispatcher, `${origin.url}/norm`, { headers: { 'accept-language': 'en-US,fr' } })
        const same = await send(dispatcher, `${origin.url}/norm`, { headers: { 'accept-language': 'EN-us, fr' } })
        assert.match(same.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/norm'), 1)
      } finally {
        await close()
      }
    })

    it('a fresh agent (cold Vary memo) finds the stored variant too', async () => {
      const store = await kind.make()
      const a = cachedAgent({ store })
      const b = cachedAgent({ store })
      try {
        await send(a.dispatcher, `${origin.url}/cold`, { headers: { 'accept-language': 'de' } })
        const hit = await send(b.dispatcher, `${origin.url}/cold`, { headers: { 'accept-language': 'de' } })
        assert.equal(hit.text, '/cold in de')
        assert.match(hit.cacheStatus ?? '', /; hit; /)
      } finally {
        await a.close()
        await b.close()
      }
    })

    it('a warm hit on a varying URL is one store round trip, for each of its variants', async () => {
      const { store, gets } = countingGets(await kind.make())
      const { dispatcher, close } = cachedAgent({ store })
      try {
        for (const lang of ['en', 'fr']) await send(dispatcher, `${origin.url}/warm`, { headers: { 'accept-language': lang } })
        // The writes are not awaited by the requests: let them land before counting.
        await sleep(50)
        for (const lang of ['en', 'fr', 'en']) {
          const before = gets()
          const hit = await send(dispatcher, `${origin.url}/warm`, { headers: { 'accept-language': lang } })
          assert.equal(hit.text, `/warm in ${lang}`)
          assert.match(hit.cacheStatus ?? '', /; hit; /)
          assert.equal(gets() - before, 1, `store reads for a warm hit on ${lang}`)
        }
      } finally {
        await close()
      }
    })

    it('never stores a Vary: * response', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make() })
      try {
        await send(dispatcher, `${origin.url}/star`)
        const second = await send(dispatcher, `${origin.url}/star`)
        assert.equal(second.cacheStatus, 'undici-redis-cache; fwd=miss; fwd-status=200')
        assert.equal(origin.count('/star'), 2)
      } finally {
        await close()
      }
    })
  })
}
