/**
 * Invalidation by an unsafe method the cache also stores (issue 11): with POST in `methods` a POST takes
 * the cached path (looked up, recorded), and a non-error response to it still invalidates the stored
 * responses for its target URI and its same-origin Location and Content-Location (RFC 9111 §4.4), before
 * the caller sees it.
 */
import assert from 'node:assert/strict'
import type { Dispatcher } from '../helpers/undici.js'
import { cachedAgent, send } from '../helpers/client.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

const METHODS = ['GET', 'HEAD', 'POST']

for (const kind of storeKinds) {
  describe(`invalidation by a cached unsafe method (${kind.name} store)`, () => {
    let n = 0
    const origin = suiteOrigin(kind, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (req.method === 'POST') {
        const headers: Record<string, string> = { 'content-length': '0' }
        const location = url.searchParams.get('location')
        if (location !== null) headers['location'] = location
        const contentLocation = url.searchParams.get('content-location')
        if (contentLocation !== null) headers['content-location'] = contentLocation
        res.writeHead(Number(url.searchParams.get('status') ?? 201), headers)
        return void res.end()
      }
      const body = `${url.pathname} #${++n}`
      // public: a shared cache may store it for a request with Authorization too (RFC 9111 §3.5).
      res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    const isHit = async (dispatcher: Dispatcher, path: string, headers: Record<string, string> = {}): Promise<boolean> =>
      /; hit; /.test((await send(dispatcher, `${origin.url}${path}`, { headers })).cacheStatus ?? '')

    it('with POST in methods, a successful POST drops the stored GET for its target and its Location and Content-Location', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make(), methods: METHODS })
      try {
        for (const path of ['/doc-created', '/doc-content']) {
          await send(dispatcher, `${origin.url}${path}`)
          assert.equal(await isHit(dispatcher, path), true, `${path} is stored`)
        }
        const write = await send(dispatcher, `${origin.url}/doc?location=/doc-created&content-location=/doc-content`, { method: 'POST', body: 'change' })
        assert.equal(write.status, 201)
        assert.match(write.cacheStatus ?? '', /fwd=miss/)
        assert.equal(await isHit(dispatcher, '/doc-created'), false, 'Location')
        assert.equal(await isHit(dispatcher, '/doc-content'), false, 'Content-Location')
      } finally {
        await close()
      }
    })

    it('with POST in methods, a successful POST to a stored URI drops that URI, and an error response drops nothing', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make(), methods: METHODS })
      try {
        await send(dispatcher, `${origin.url}/kept?status=500`)
        await send(dispatcher, `${origin.url}/target`)
        await send(dispatcher, `${origin.url}/kept?status=500`, { method: 'POST', body: 'change' })
        assert.equal(await isHit(dispatcher, '/kept?status=500'), true, 'a 500 changed nothing')
        await send(dispatcher, `${origin.url}/target`, { method: 'POST', body: 'change' })
        assert.equal(await isHit(dispatcher, '/target'), false)
      } finally {
        await close()
      }
    })

    it("with POST in methods and credentials, a user's POST drops that user's own stored GET", async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make(), methods: METHODS, credentials: { secret: 'a secret of sixteen or more' } })
      const alice = { authorization: 'Bearer alice' }
      try {
        await send(dispatcher, `${origin.url}/mine`, { headers: alice })
        assert.equal(await isHit(dispatcher, '/mine', alice), true)
        await send(dispatcher, `${origin.url}/mine`, { method: 'POST', headers: alice, body: 'change' })
        assert.equal(await isHit(dispatcher, '/mine', alice), false)
      } finally {
        await close()
      }
    })
  })
}
