/**
 * Issue 12: a response with Set-Cookie may be stored; its Set-Cookie is never stored, so it reaches the
 * caller whose request the origin answered and no one after (README, "Cookies").
 *
 * RFC 9111 §7.3: "the Set-Cookie response header field [COOKIE] does not inhibit caching; a cacheable
 * response with a Set-Cookie header field can be (and often is) used to satisfy subsequent requests to
 * caches." DESIGN.md "Security defaults": "a stored Set-Cookie is never replayed to another user";
 * requests with Cookie still bypass the cache unless `credentials` partitions them.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import type { CacheOptions } from '../../lib/index.js'
import { cacheRunner, send } from '../helpers/client.js'
import { assertNowhereInRedis } from '../helpers/redis-dump.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

for (const kind of storeKinds) {
  describe(`Set-Cookie (${kind.name} store)`, () => {
    let issued = 0
    const origin = suiteOrigin(kind, (req, res: ServerResponse) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const cookie = `session=SECRET${++issued}; HttpOnly`
      if (req.headers['if-none-match'] === '"v"') {
        res.writeHead(304, { etag: '"v"', 'cache-control': 'max-age=0', 'set-cookie': cookie })
        return res.end()
      }
      const body = `${path} page`
      const cc = path.startsWith('/revalidated') ? 'max-age=0' : 'max-age=600'
      res.writeHead(200, { 'cache-control': cc, etag: '"v"', 'set-cookie': [cookie, 'theme=dark'], 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
    const withCache = cacheRunner(kind)

    const cases: ReadonlyArray<{ readonly name: string; readonly options: CacheOptions; readonly headers?: Record<string, string> }> = [
      { name: 'shared', options: {} },
      { name: 'private', options: { type: 'private' } },
      { name: 'shared, inside a credentials partition', options: { credentials: { secret: 'a secret of sixteen+' } }, headers: { cookie: 'sid=alice' } },
    ]
    for (const { name, options, headers } of cases) {
      it(`${name}: stored without its Set-Cookie; the first caller gets the cookie, a hit does not`, () =>
        withCache(options, async (dispatcher) => {
          const path = `/page-${name.replace(/\W+/g, '-')}`
          const first = await send(dispatcher, `${origin.url}${path}`, { headers: headers ?? {} })
          assert.deepEqual(first.headers['set-cookie'], [`session=SECRET${issued}; HttpOnly`, 'theme=dark'])
          assert.match(first.cacheStatus ?? '', /; stored$/)
          const hit = await send(dispatcher, `${origin.url}${path}`, { headers: headers ?? {} })
          assert.match(hit.cacheStatus ?? '', /; hit; /)
          assert.equal(hit.text, first.text)
          assert.equal(hit.headers['set-cookie'], undefined)
          assert.equal(origin.count(path), 1)
          if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), path, [`SECRET${issued}`, 'theme=dark'])
        }))
    }

    it("a 304's Set-Cookie goes to the caller that revalidated, never into the entry", () =>
      withCache({}, async (dispatcher) => {
        const path = '/revalidated'
        await send(dispatcher, `${origin.url}${path}`)
        const validated = await send(dispatcher, `${origin.url}${path}`)
        assert.match(validated.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        const cookie = `session=SECRET${issued}; HttpOnly`
        assert.equal(validated.headers['set-cookie'], cookie)
        const again = await send(dispatcher, `${origin.url}${path}`)
        assert.equal(again.headers['set-cookie'], `session=SECRET${issued}; HttpOnly`, 'the next caller gets only its own 304 cookie')
        assert.notEqual(again.headers['set-cookie'], cookie)
        if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), path, ['SECRET'])
      }))

    it('callers that share one trip to the origin get the body, but only the caller it answered gets the cookie', () =>
      withCache({}, async (dispatcher) => {
        const path = '/together'
        const replies = await Promise.all(Array.from({ length: 4 }, () => send(dispatcher, `${origin.url}${path}`)))
        const withCookie = replies.filter((reply) => reply.headers['set-cookie'] !== undefined)
        assert.equal(withCookie.length, origin.count(path), 'one cookie per origin response')
        for (const reply of replies) assert.equal(reply.text, `${path} page`)
      }))
  })
}
