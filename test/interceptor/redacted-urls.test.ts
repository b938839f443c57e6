/**
 * Issue 11: a value of an `ignoredParameters` parameter that the origin echoed in `Location`,
 * `Content-Location` or `Link` was written to the store and replayed to other users. Those fields are
 * stored without the ignored parameters (policy/stored-headers.ts), whether the response was new or
 * refreshed by a 304, and the caller who sent the secret still gets the origin's own answer.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CacheOptions } from '../../lib/index.js'
import { cacheRunner, send, type Reply } from '../helpers/client.js'
import { assertNowhereInRedis } from '../helpers/redis-dump.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

/** A secret no other test or fixture can contain by chance. */
function secret(label: string): string {
  return `${label}${randomBytes(12).toString('hex')}`
}

/**
 * Echoes the request's query (secret included) in every URL-valued field: `/moved` as a cacheable 301,
 * `/validated` as a response that must be revalidated, whose 304 echoes the revalidating request's
 * query; anything else as a cacheable 200. Bodies never hold the query (bodies are not redacted).
 */
function handler(req: IncomingMessage, res: ServerResponse, index: number): void {
  const { pathname, search } = new URL(req.url ?? '/', 'http://x')
  const echo = {
    location: `/next${search}`,
    'content-location': `${pathname}${search}`,
    link: `<http://${req.headers.host}/page${search}>; rel="next", </style.css>; rel=preload`,
    refresh: `0; url=/r${search}`,
  }
  if (pathname === '/validated') {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0', 'content-location': echo['content-location'] })
      return void res.end()
    }
    res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=0', 'content-length': 9 })
    return void res.end('validated')
  }
  const body = `#${index} ${pathname}`
  res.writeHead(pathname === '/moved' ? 301 : 200, { ...echo, 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

for (const kind of storeKinds) {
  describe(`ignored parameters in stored URL-valued headers (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, handler)
    const withCache = cacheRunner(kind)
    const options: CacheOptions = { ignoredParameters: ['api_key'] }

    for (const [path, status] of [['/echo', 200], ['/moved', 301]] as const) {
      it(`a ${status} echoing api_key in Location, Content-Location, Link and Refresh is replayed to others without it, and it is nowhere in the store`, () =>
        withCache(options, async (dispatcher) => {
          const [alice, bob] = [secret('ALICE'), secret('BOB')]
          const mine = await send(dispatcher, `${origin.url}${path}?q=1&api_key=${alice}`)
          const theirs = await send(dispatcher, `${origin.url}${path}?api_key=${bob}&q=1`)
          assert.equal(mine.status, status)
          assert.match(mine.cacheStatus ?? '', /fwd=miss; fwd-status=\d+; stored/)
          // Alice's own response is the origin's, untouched.
          assert.equal(mine.headers['location'], `/next?q=1&api_key=${alice}`)
          assert.equal(theirs.status, status)
          assert.match(theirs.cacheStatus ?? '', /; hit; /)
          assert.equal(theirs.text, mine.text)
          assertRedacted(theirs, path, new URL(origin.url).host)
          assert.equal(origin.requests.filter((r) => r.url.startsWith(`${path}?`)).length, 1)
          if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), path, [alice, bob])
        }))
    }

    it('a 304 that echoes api_key in Content-Location refreshes the entry without it', () =>
      withCache(options, async (dispatcher) => {
        const [alice, bob] = [secret('ALICE'), secret('BOB')]
        await send(dispatcher, `${origin.url}/validated?api_key=${alice}`)
        const revalidated = await send(dispatcher, `${origin.url}/validated?api_key=${bob}`)
        assert.match(revalidated.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        // What the caller is served after a 304 is the refreshed stored response.
        assert.equal(revalidated.headers['content-location'], '/validated')
        if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), '/validated', [alice, bob])
      }))
  })
}

function assertRedacted(reply: Reply, path: string, host: string): void {
  assert.equal(reply.headers['location'], '/next?q=1')
  assert.equal(reply.headers['content-location'], `${path}?q=1`)
  assert.equal(reply.headers['link'], `<http://${host}/page?q=1>; rel="next", </style.css>; rel=preload`)
  assert.equal(reply.headers['refresh'], '0; url=/r?q=1')
}
