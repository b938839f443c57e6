/**
 * Conditional revalidation of stale entries (RFC 9111 §4.3), against both stores with `ttl: false`
 * (the store keeps entries past staleness, requests-cache's expire-and-revalidate mode). Time is a
 * ManualClock shared by the cache and the origin's Date: entries go stale because a test moves the
 * clock past their max-age, not by waiting.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import { entryKeys } from '../helpers/redis-server.js'

const LAST_MODIFIED = 'Tue, 01 Oct 2024 10:00:00 GMT'

/** Versions the origin serves per path; tests bump them to simulate a changed resource. */
const versions = new Map<string, number>()

/** The time of the test under way: the cache reads it, and the origin stamps Date from it. */
let clock = new ManualClock(Date.now())

function handler(req: IncomingMessage, res: ServerResponse): unknown {
  res.setHeader('date', new Date(clock.now()).toUTCString())
  const path = new URL(req.url ?? '/', 'http://x').pathname
  const version = versions.get(path) ?? 1
  const etag = `"v${version}"`
  // Fresh for 10 s: a test moves the clock past that (stale()) so the next use must revalidate.
  const stale = { 'cache-control': 'max-age=10' }
  if (path.startsWith('/etag')) {
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': 'max-age=60', 'x-refreshed': 'yes' })
      return res.end()
    }
    const body = `etag body ${version}`
    res.writeHead(200, { ...stale, etag, 'content-length': Buffer.byteLength(body), 'x-refreshed': 'no' })
    return res.end(body)
  }
  if (path.startsWith('/lm')) {
    if (req.headers['if-modified-since'] === LAST_MODIFIED) {
      res.writeHead(304, { 'last-modified': LAST_MODIFIED, 'cache-control': 'max-age=60' })
      return res.end()
    }
    res.writeHead(200, { ...stale, 'last-modified': LAST_MODIFIED, 'content-length': 7 })
    return res.end('lm body')
  }
  if (path.startsWith('/always')) {
    if (req.headers['if-none-match'] === '"a"') {
      res.writeHead(304, { etag: '"a"', 'cache-control': 'no-cache' })
      return res.end()
    }
    res.writeHead(200, { etag: '"a"', 'cache-control': 'no-cache', 'content-length': 6 })
    return res.end('always')
  }
  res.writeHead(404, { 'content-length': 0 })
  res.end()
}

for (const kind of storeKinds) {
  describe(`revalidation (${kind.name} store, ttl: false)`, () => {
    const origin = suiteOrigin(kind, handler)

    const conditionalRequests = (path: string) => origin.requests.filter((r) => r.url === path && (r.headers['if-none-match'] !== undefined || r.headers['if-modified-since'] !== undefined))
    /** Past the 10 s max-age of every stored response. */
    const stale = (): void => clock.advanceSeconds(11)
    const agent = async () => cachedAgent({ store: await kind.make({ ttl: false }), clock })

    beforeEach(() => {
      clock = new ManualClock(Date.now())
    })

    it('revalidates by ETag with one If-None-Match request and serves the stored body on 304 (§4.3.1, §4.3.4)', async () => {
      const { dispatcher, close } = await agent()
      try {
        const first = await send(dispatcher, `${origin.url}/etag-1`)
        assert.equal(first.text, 'etag body 1')
        stale()
        const second = await send(dispatcher, `${origin.url}/etag-1`)
        assert.equal(second.status, 200)
        assert.equal(second.text, 'etag body 1')
        assert.match(second.cacheStatus ?? '', /^undici-redis-cache; fwd=stale; fwd-status=304; ttl=(59|60)$/)
        assert.equal(second.headers['x-refreshed'], 'yes', '304 headers merged into the stored ones')
        const conditional = conditionalRequests('/etag-1')
        assert.equal(conditional.length, 1)
        assert.equal(conditional[0]!.headers['if-none-match'], '"v1"')
        // The 304 brought max-age=60: the refreshed entry is fresh now.
        const third = await send(dispatcher, `${origin.url}/etag-1`)
        assert.match(third.cacheStatus ?? '', /; hit; ttl=(59|60)$/)
        assert.equal(third.headers['x-refreshed'], 'yes')
        assert.equal(origin.count('/etag-1'), 2)
      } finally {
        await close()
      }
    })

    it('revalidates by Last-Modified with one If-Modified-Since request', async () => {
      const { dispatcher, close } = await agent()
      try {
        await send(dispatcher, `${origin.url}/lm-1`)
        stale()
        const second = await send(dispatcher, `${origin.url}/lm-1`)
        assert.equal(second.text, 'lm body')
        assert.equal(second.status, 200)
        assert.match(second.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        const conditional = conditionalRequests('/lm-1')
        assert.equal(conditional.length, 1)
        assert.equal(conditional[0]!.headers['if-modified-since'], LAST_MODIFIED)
      } finally {
        await close()
      }
    })

    it('replaces the entry when revalidation returns 200 with a new representation', async () => {
      const { dispatcher, close } = await agent()
      try {
        const path = `/etag-2-${kind.name}`
        await send(dispatcher, `${origin.url}${path}`)
        versions.set(path, 2)
        stale()
        const changed = await send(dispatcher, `${origin.url}${path}`)
        assert.equal(changed.text, 'etag body 2')
        assert.match(changed.cacheStatus ?? '', /fwd=stale; fwd-status=200; stored/)
        // Once the new representation is stale in turn, the next request revalidates with its validator.
        stale()
        const next = await send(dispatcher, `${origin.url}${path}`)
        assert.equal(next.text, 'etag body 2')
        assert.equal(conditionalRequests(path).at(-1)!.headers['if-none-match'], '"v2"')
      } finally {
        await close()
      }
    })

    it('revalidates a no-cache response on every use, even while fresh (§5.2.2.4)', async () => {
      const { dispatcher, close } = await agent()
      try {
        await send(dispatcher, `${origin.url}/always`)
        const second = await send(dispatcher, `${origin.url}/always`)
        const third = await send(dispatcher, `${origin.url}/always`)
        assert.equal(second.text, 'always')
        assert.equal(third.text, 'always')
        assert.equal(conditionalRequests('/always').length, 2)
      } finally {
        await close()
      }
    })
  })
}

describe('revalidation: Redis TTL', () => {
  const redisKind = () => storeKinds.find((k) => k.name === 'redis')!
  const origin = suiteOrigin(redisKind(), (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=30, stale-while-revalidate=60', etag: '"t"', 'content-length': 2 })
    res.end('ok')
  })

  /** TTLs of the namespace's keys, once the write (committed after the response ended) has landed. */
  const ttlsOf = async (namespace: string): Promise<number[]> => {
    const redis = redisKind().redis()
    const scan = () => entryKeys(redis, namespace)
    await eventually(async () => (await scan()).length > 0)
    return Promise.all((await scan()).map(async (key) => Number(await redis.cli('TTL', key))))
  }

  it('ttl: true covers freshness, the stale-while-revalidate window and ttlOffset', async () => {
    const store = await redisKind().make({ ttl: true, ttlOffset: 100 })
    const { dispatcher, close } = cachedAgent({ store })
    try {
      await send(dispatcher, `${origin.url}/ttl`)
      const [ttl] = await ttlsOf((store as unknown as { namespace: string }).namespace)
      // 30 s fresh + 60 s stale-while-revalidate + 100 s offset
      assert.ok(ttl !== undefined && ttl > 185 && ttl <= 190, `TTL ${ttl}`)
    } finally {
      await close()
    }
  })

  it('ttl: false sets no TTL', async () => {
    const store = await redisKind().make({ ttl: false })
    const { dispatcher, close } = cachedAgent({ store })
    try {
      await send(dispatcher, `${origin.url}/no-ttl`)
      assert.deepEqual(await ttlsOf((store as unknown as { namespace: string }).namespace), [-1])
    } finally {
      await close()
    }
  })
})
