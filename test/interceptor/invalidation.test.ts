/**
 * Invalidation by unsafe methods (RFC 9111 §4.4).
 */
import assert from 'node:assert/strict'
import { cachedAgent, send } from '../helpers/client.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

for (const kind of storeKinds) {
  describe(`invalidation (${kind.name} store)`, () => {
    let n = 0
    const origin = suiteOrigin(kind, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (req.method !== 'GET') {
        const status = Number(url.searchParams.get('status') ?? 200)
        const headers: Record<string, string> = { 'content-length': '0' }
        const location = url.searchParams.get('location')
        if (location !== null) headers['location'] = location
        const contentLocation = url.searchParams.get('content-location')
        if (contentLocation !== null) headers['content-location'] = contentLocation
        res.writeHead(status, headers)
        return res.end()
      }
      const body = `${url.pathname} #${++n}`
      const vary = url.pathname.startsWith('/varying') ? { vary: 'accept-language' } : {}
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body), ...vary })
      res.end(body)
    })

    const isHit = async (dispatcher: Parameters<typeof send>[0], path: string, headers: Record<string, string> = {}) =>
      /; hit; /.test((await send(dispatcher, `${origin.url}${path}`, { headers })).cacheStatus ?? '')

    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      it(`a successful ${method} drops the stored GET for its URI`, async () => {
        const { dispatcher, close } = cachedAgent({ store: await kind.make() })
        const path = `/res-${method}`
        try {
          await send(dispatcher, `${origin.url}${path}`)
          assert.equal(await isHit(dispatcher, path), true)
          const write = await send(dispatcher, `${origin.url}${path}`, { method, body: 'x' })
          assert.match(write.cacheStatus ?? '', /fwd=method; fwd-status=200/)
          assert.equal(await isHit(dispatcher, path), false)
        } finally {
          await close()
        }
      })
    }

    it('an error response to a POST does not invalidate', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make() })
      try {
        await send(dispatcher, `${origin.url}/kept-2`)
        await send(dispatcher, `${origin.url}/kept-2?status=500`, { method: 'POST' })
        assert.equal(await isHit(dispatcher, '/kept-2'), true)
      } finally {
        await close()
      }
    })

    it('drops same-origin Location and Content-Location targets, but not other origins', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make() })
      try {
        await send(dispatcher, `${origin.url}/loc`)
        await send(dispatcher, `${origin.url}/cloc`)
        await send(dispatcher, `${origin.url}/other`)
        await send(dispatcher, `${origin.url}/post?location=/loc&content-location=${encodeURIComponent(`${origin.url}/cloc`)}`, { method: 'POST' })
        assert.equal(await isHit(dispatcher, '/loc'), false)
        assert.equal(await isHit(dispatcher, '/cloc'), false)
        await send(dispatcher, `${origin.url}/post2?location=${encodeURIComponent('http://elsewhere.example/other')}`, { method: 'POST' })
        assert.equal(await isHit(dispatcher, '/other'), true)
      } finally {
        await close()
      }
    })

    it('drops every Vary variant of the URI, also for a second agent with a warm memo', async () => {
      const store = await kind.make()
      const a = cachedAgent({ store })
      const b = cachedAgent({ store })
      try {
        for (const lang of ['en', 'fr']) {
          await send(a.dispatcher, `${origin.url}/varying`, { headers: { 'accept-language': lang } })
          assert.equal(await isHit(b.dispatcher, '/varying', { 'accept-language': lang }), true)
        }
        await send(a.dispatcher, `${origin.url}/varying`, { method: 'DELETE' })
        assert.equal(await isHit(b.dispatcher, '/varying', { 'accept-language': 'en' }), false)
        assert.equal(await isHit(a.dispatcher, '/varying', { 'accept-language': 'fr' }), false)
      } finally {
        await a.close()
        await b.close()
      }
    })
  })
}
