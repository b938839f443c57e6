/**
 * Request identity end to end (requests-cache `create_key`, `match_headers`, `key_fn`): which requests
 * share one stored response, counted at the origin.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { fetch, request, type Dispatcher } from '../helpers/undici.js'
import type { CacheError, CacheOptions, CacheRequest } from '../../lib/index.js'
import { KeyFunctionError } from '../../lib/errors.js'
import { cacheRunner, pinnedAgent, send } from '../helpers/client.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

/** Answers with a serial number, so a hit is recognisable by the number of an earlier response. */
function handler(req: IncomingMessage, res: ServerResponse, index: number): void {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    const body = `#${index} ${req.method} ${req.url} ${Buffer.concat(chunks).toString('utf8')}`
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
}

/** The serial number the origin gave the response: equal numbers mean one stored response. */
function serial(text: string): number {
  return Number(/^#(\d+) /.exec(text)?.[1])
}

for (const kind of storeKinds) {
  describe(`request keys (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, handler)

    const withCache = cacheRunner(kind)

    it('spellings of one URL share one entry: scheme and host case, default port, query order, %7E vs ~, hex case, fragment (RFC 3986 §6.2.2)', async () => {
      const { dispatcher, close } = pinnedAgent(origin, { store: await kind.make() })
      try {
        const spellings = [
          'http://api.example.test/norm/a~b?x=1&y=%7E',
          'HTTP://API.Example.TEST/norm/a~b?x=1&y=%7E',
          'http://api.example.test:80/norm/a~b?x=1&y=%7E',
          'http://api.example.test/norm/a~b?y=%7E&x=1',
          'http://api.example.test/norm/a%7Eb?x=1&y=~',
          'http://api.example.test/norm/a%7eb?x=1&y=%7e',
          'http://api.example.test/norm/a~b?x=1&y=%7E#section-2',
        ]
        const serials = new Set<number>()
        for (const url of spellings) {
          const reply = await send(dispatcher, url)
          assert.equal(reply.status, 200, url)
          serials.add(serial(reply.text))
        }
        assert.equal(serials.size, 1)
        assert.equal(origin.requests.filter((r) => r.url.startsWith('/norm/')).length, 1)
      } finally {
        await close()
      }
    })

    it('different URLs miss: another query value, path case, host, port, a trailing slash', async () => {
      const { dispatcher, close } = pinnedAgent(origin, { store: await kind.make() })
      try {
        const urls = [
          'http://api.example.test/diff?x=1',
          'http://api.example.test/diff?x=2',
          'http://api.example.test/Diff?x=1',
          'http://other.example.test/diff?x=1',
          'http://api.example.test:8080/diff?x=1',
          'http://api.example.test/diff/?x=1',
        ]
        const serials = new Set<number>()
        for (const url of urls) serials.add(serial((await send(dispatcher, url)).text))
        assert.equal(serials.size, urls.length)
        // A repeat of the first is a hit.
        assert.equal(serial((await send(dispatcher, urls[0]!)).text), [...serials][0])
        assert.equal(origin.requests.filter((r) => r.url.startsWith('/diff') || r.url.startsWith('/Diff')).length, urls.length)
      } finally {
        await close()
      }
    })

    it("matchHeaders: ['x-tenant'] keeps tenants apart and lets one tenant hit", () =>
      withCache({ matchHeaders: ['X-Tenant'] }, async (dispatcher) => {
        const url = `${origin.url}/tenant`
        const a = await send(dispatcher, url, { headers: { 'x-tenant': 'a' } })
        const b = await send(dispatcher, url, { headers: { 'x-tenant': 'b' } })
        const none = await send(dispatcher, url)
        const a2 = await send(dispatcher, url, { headers: { 'X-Tenant': 'a', 'x-other': 'ignored' } })
        assert.equal(new Set([serial(a.text), serial(b.text), serial(none.text)]).size, 3)
        assert.equal(serial(a2.text), serial(a.text))
        assert.match(a2.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/tenant'), 3)
      }))

    it('matchHeaders: true keys on every request header except the request directives', () =>
      withCache({ matchHeaders: true }, async (dispatcher) => {
        const url = `${origin.url}/all-headers`
        const one = await send(dispatcher, url, { headers: { 'x-a': '1' } })
        const two = await send(dispatcher, url, { headers: { 'x-a': '2' } })
        const oneAgain = await send(dispatcher, url, { headers: { 'x-a': '1' } })
        // RFC 9111 §5.2.1: a request directive changes how the cache answers, not which entry it uses.
        const withDirective = await send(dispatcher, url, { headers: { 'x-a': '1', 'cache-control': 'max-stale=5' } })
        assert.notEqual(serial(one.text), serial(two.text))
        assert.equal(serial(oneAgain.text), serial(one.text))
        assert.equal(serial(withDirective.text), serial(one.text))
        assert.equal(origin.count('/all-headers'), 2)
      }))

    it('a key function that ignores the query makes ?a=1 and ?a=2 share one entry', () =>
      withCache({ key: (req: CacheRequest) => `${req.method} ${req.url.origin}${req.url.pathname}` }, async (dispatcher) => {
        const first = await send(dispatcher, `${origin.url}/keyfn?a=1`)
        const second = await send(dispatcher, `${origin.url}/keyfn?a=2`)
        assert.equal(second.text, first.text)
        assert.match(second.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.requests.filter((r) => r.url.startsWith('/keyfn')).length, 1)
      }))

    it('a key function that throws: the request still succeeds from the origin, onError gets a KeyFunctionError', async () => {
      const errors: CacheError[] = []
      const boom = new Error('boom')
      await withCache(
        {
          key: () => {
            throw boom
          },
          onError: (error) => errors.push(error),
        },
        async (dispatcher) => {
          const first = await send(dispatcher, `${origin.url}/keyfn-throws`)
          const second = await send(dispatcher, `${origin.url}/keyfn-throws`)
          assert.equal(first.status, 200)
          assert.equal(second.status, 200)
          assert.match(second.text, /^#\d+ GET \/keyfn-throws/)
          assert.equal(second.cacheStatus, 'undici-redis-cache; fwd=bypass; fwd-status=200; detail=key-error')
          assert.equal(origin.count('/keyfn-throws'), 2)
        },
      )
      assert.ok(errors.length >= 1)
      assert.ok(errors[0] instanceof KeyFunctionError)
      assert.equal(errors[0].code, 'URC_ERR_KEY_FUNCTION')
      assert.equal(errors[0].cause, boom)
    })

    it('a key function that returns a non-string bypasses the cache the same way', async () => {
      const errors: CacheError[] = []
      await withCache({ key: (() => 42) as unknown as (req: CacheRequest) => string, onError: (error) => errors.push(error) }, async (dispatcher) => {
        const reply = await send(dispatcher, `${origin.url}/keyfn-number`)
        assert.equal(reply.status, 200)
        assert.match(reply.cacheStatus ?? '', /fwd=bypass; fwd-status=200; detail=key-error$/)
      })
      assert.ok(errors[0] instanceof KeyFunctionError)
    })

    describe('POST bodies as keys (opt-in: methods includes POST)', () => {
      const options: CacheOptions = { methods: ['GET', 'HEAD', 'POST'], ignoredParameters: ['token'] }
      const post = (dispatcher: Dispatcher, path: string, body: string, contentType = 'application/json') =>
        send(dispatcher, `${origin.url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body })

      it('the same JSON with its keys in another order is one entry; another body is another entry', () =>
        withCache(options, async (dispatcher) => {
          const first = await post(dispatcher, '/search', '{"q":"cats","page":1,"filters":{"a":1,"b":2}}')
          const reordered = await post(dispatcher, '/search', '{"filters":{"b":2,"a":1},"page":1,"q":"cats"}')
          const other = await post(dispatcher, '/search', '{"q":"dogs","page":1,"filters":{"a":1,"b":2}}')
          assert.match(first.cacheStatus ?? '', /fwd=miss; fwd-status=200; stored$/)
          assert.equal(serial(reordered.text), serial(first.text))
          assert.match(reordered.cacheStatus ?? '', /; hit; /)
          assert.notEqual(serial(other.text), serial(first.text))
          assert.equal(origin.count('/search'), 2)
        }))

      it('a top-level ignoredParameters key in the JSON body is left out of the key', () =>
        withCache(options, async (dispatcher) => {
          const first = await post(dispatcher, '/search-token', '{"q":"cats","token":"T1"}')
          const second = await post(dispatcher, '/search-token', '{"token":"T2","q":"cats"}')
          assert.equal(serial(second.text), serial(first.text))
          assert.equal(origin.count('/search-token'), 1)
        }))

      it('a form body is normalized like a query string', () =>
        withCache(options, async (dispatcher) => {
          const form = 'application/x-www-form-urlencoded'
          const first = await post(dispatcher, '/search-form', 'q=a+b&page=1', form)
          const second = await post(dispatcher, '/search-form', 'page=1&q=a%20b&token=x', form)
          assert.equal(serial(second.text), serial(first.text))
          assert.equal(origin.count('/search-form'), 1)
        }))

      it('a POST whose body is a stream is read (up to 1 MiB), keyed and cached', () =>
        withCache(options, async (dispatcher) => {
          for (let i = 0; i < 2; i++) {
            const res = await request(`${origin.url}/search-stream`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: Readable.from(['{"q":', '"cats"}']) })
            const text = await res.body.text()
            assert.equal(res.statusCode, 200)
            assert.match(text, /POST \/search-stream \{"q":"cats"\}$/)
            assert.match(String(res.headers['cache-status']), i === 0 ? /fwd=miss; fwd-status=200; stored/ : /; hit/)
          }
          assert.equal(origin.count('/search-stream'), 1)
        }))

      it('a POST whose streamed body is over 1 MiB is sent whole to the origin and not cached', () =>
        withCache(options, async (dispatcher) => {
          const big = Buffer.alloc(1024 * 1024 + 10, 'a')
          const chunks = [Buffer.from('{"q":"'), big.subarray(0, 700_000), big.subarray(700_000), Buffer.from('"}')]
          const res = await request(`${origin.url}/search-big`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: Readable.from(chunks) })
          const text = await res.body.text()
          assert.equal(res.statusCode, 200)
          assert.ok(text.endsWith(`{"q":"${big.toString()}"}`), 'the origin received the whole body in order')
          assert.equal(res.headers['cache-status'], 'undici-redis-cache; fwd=bypass; fwd-status=200; detail=body-too-large')
        }))

      it('a JSON POST through fetch() (whose body reaches the dispatcher as an iterable) is cached too', () =>
        withCache(options, async (dispatcher) => {
          const texts: string[] = []
          for (const body of ['{"q":"fetch","n":1}', '{"n":1,"q":"fetch"}']) {
            const res = await fetch(`${origin.url}/search-fetch`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body })
            texts.push(await res.text())
          }
          assert.equal(serial(texts[1]!), serial(texts[0]!))
          assert.equal(origin.count('/search-fetch'), 1)
        }))

      it('a GET and a POST to one URL are different entries', () =>
        withCache(options, async (dispatcher) => {
          const get = await send(dispatcher, `${origin.url}/search-both`)
          const postReply = await post(dispatcher, '/search-both', '{}')
          assert.notEqual(serial(postReply.text), serial(get.text))
          assert.equal(origin.count('/search-both'), 2)
        }))
    })
  })
}
