/**
 * What is stored at all (requests-cache `filter_fn`, `allowable_codes`, `allowable_methods`), end to end.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Dispatcher } from '../helpers/undici.js'
import type { CacheError, CacheRequest, CacheResponse, CacheStore } from '../../lib/index.js'
import { cacheRunner, send } from '../helpers/client.js'
import { storedIds } from '../helpers/faults.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

/** `/status/<code>/…` answers that status; `/cookie/…` sets a cookie; everything carries max-age=60. */
function handler(req: IncomingMessage, res: ServerResponse, index: number): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname
  const status = /^\/status\/(\d{3})\//.exec(path)?.[1]
  const body = `#${index} ${path}`
  const headers: Record<string, string> = { 'cache-control': 'max-age=60', 'content-length': String(Buffer.byteLength(body)), 'x-kind': 'test' }
  if (status === '206') headers['content-range'] = `bytes 0-${Buffer.byteLength(body) - 1}/1000`
  if (path.startsWith('/cookie/')) headers['set-cookie'] = 'session=abc; HttpOnly'
  res.writeHead(status === undefined ? 200 : Number(status), headers)
  res.end(body)
}

for (const kind of storeKinds) {
  describe(`filters: filter, allowableCodes, methods (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, handler)

    const withCache = cacheRunner(kind)

    /** Two requests to `path`: asserts both reached the origin and nothing was stored. */
    async function assertNotStored(dispatcher: Dispatcher, store: CacheStore, path: string, init: { method?: Dispatcher.HttpMethod } = {}): Promise<void> {
      const first = await send(dispatcher, `${origin.url}${path}`, init)
      const second = await send(dispatcher, `${origin.url}${path}`, init)
      assert.doesNotMatch(first.cacheStatus ?? '', /stored/)
      assert.doesNotMatch(second.cacheStatus ?? '', /; hit/)
      assert.notEqual(second.text, first.text)
      assert.equal(origin.count(path), 2)
      assert.deepEqual(await storedIds(store), [])
    }

    it('filter(response, request) returning false: not stored; it sees the response and the request', async () => {
      const seen: Array<{ res: CacheResponse; req: CacheRequest }> = []
      await withCache(
        {
          filter: (res, req) => {
            seen.push({ res, req })
            return !req.url.pathname.startsWith('/filtered/')
          },
        },
        async (dispatcher, store) => {
          await assertNotStored(dispatcher, store, '/filtered/a')
          await send(dispatcher, `${origin.url}/kept/a`)
          assert.match((await send(dispatcher, `${origin.url}/kept/a`)).cacheStatus ?? '', /; hit; /)
        },
      )
      const first = seen[0]!
      assert.equal(first.res.status, 200)
      assert.equal(first.res.headers['x-kind'], 'test')
      assert.equal(first.req.method, 'GET')
      assert.equal(first.req.url.pathname, '/filtered/a')
    })

    it('a filter that throws: not stored, the request succeeds, onError gets the error', async () => {
      const errors: CacheError[] = []
      const boom = new Error('filter broke')
      await withCache(
        {
          filter: () => {
            throw boom
          },
          onError: (error) => errors.push(error),
        },
        (dispatcher, store) => assertNotStored(dispatcher, store, '/filter-throws/a'),
      )
      assert.ok(errors.length >= 1)
      assert.equal(errors[0]!.cause, boom)
      assert.match(errors[0]!.message, /filter broke/)
    })

    it('allowableCodes: [200, 404] stores a 404 with max-age and replays it', () =>
      withCache({ allowableCodes: [200, 404] }, async (dispatcher) => {
        const first = await send(dispatcher, `${origin.url}/status/404/a`)
        const second = await send(dispatcher, `${origin.url}/status/404/a`)
        assert.equal(first.status, 404)
        assert.equal(first.cacheStatus, 'undici-redis-cache; fwd=miss; fwd-status=404; stored')
        assert.equal(second.status, 404)
        assert.equal(second.text, first.text)
        assert.match(second.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/status/404/a'), 1)
      }))

    // Unset, RFC 9111 §3 decides and a 404 or 500 with max-age is stored (status-codes.test.ts).
    for (const status of [404, 500]) {
      it(`allowableCodes [200, 203, 300, 301, 308] do not store a ${status}, even with max-age`, () =>
        withCache({ allowableCodes: [200, 203, 300, 301, 308] }, (dispatcher, store) => assertNotStored(dispatcher, store, `/status/${status}/default`)))
    }

    it('a 206 to a request without Range is never stored, even when allowableCodes lists it (RFC 9111 §3.3)', () =>
      withCache({ allowableCodes: [200, 206] }, (dispatcher, store) => assertNotStored(dispatcher, store, '/status/206/partial')))

    it("methods: ['GET']: HEAD is not answered from the stored GET; it bypasses with fwd=method", () =>
      withCache({ methods: ['GET'] }, async (dispatcher) => {
        await send(dispatcher, `${origin.url}/head-get-only`)
        assert.match((await send(dispatcher, `${origin.url}/head-get-only`)).cacheStatus ?? '', /; hit; /)
        const head = await send(dispatcher, `${origin.url}/head-get-only`, { method: 'HEAD' })
        assert.equal(head.status, 200)
        assert.equal(head.cacheStatus, 'undici-redis-cache; fwd=method; fwd-status=200')
        assert.equal(origin.count('/head-get-only'), 2)
      }))

    it('default methods: HEAD is answered from the stored GET (RFC 9110 §9.3.2)', () =>
      withCache({}, async (dispatcher) => {
        const get = await send(dispatcher, `${origin.url}/head-default`)
        const head = await send(dispatcher, `${origin.url}/head-default`, { method: 'HEAD' })
        assert.equal(head.status, 200)
        assert.equal(head.body.byteLength, 0)
        assert.equal(head.headers['content-length'], String(get.body.byteLength))
        assert.match(head.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/head-default'), 1)
      }))

    it("methods: ['HEAD'] implies GET: the GET is stored and the HEAD is a hit", () =>
      withCache({ methods: ['head'] }, async (dispatcher) => {
        await send(dispatcher, `${origin.url}/head-implies-get`)
        const head = await send(dispatcher, `${origin.url}/head-implies-get`, { method: 'HEAD' })
        assert.match(head.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/head-implies-get'), 1)
      }))

    // Issue 12: stored, but never with its Set-Cookie (set-cookie.test.ts).
    for (const options of [{}, { cacheControl: false, expireAfter: 60 }]) {
      it(`a response with Set-Cookie is stored without it (${JSON.stringify(options)})`, () =>
        withCache(options, async (dispatcher) => {
          const path = `/cookie/${Object.keys(options).length}`
          const first = await send(dispatcher, `${origin.url}${path}`)
          const hit = await send(dispatcher, `${origin.url}${path}`)
          assert.equal(first.headers['set-cookie'], 'session=abc; HttpOnly')
          assert.match(hit.cacheStatus ?? '', /; hit; /)
          assert.equal(hit.headers['set-cookie'], undefined)
          assert.equal(origin.count(path), 1)
        }))
    }
  })
}
