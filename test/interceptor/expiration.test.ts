/**
 * User lifetimes end to end (requests-cache `expire_after`, `urls_expire_after`, `cache_control`):
 * which lifetime a stored response gets, what Cache-Status reports for it, and, on Redis, that the
 * key's native TTL follows the same lifetime.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CacheOptions, CacheStore, RedisStore } from '../../lib/index.js'
import { cacheRunner, cachedAgent, pinnedAgent, send } from '../helpers/client.js'
import { storedIds } from '../helpers/faults.js'
import { storeKinds, suiteOrigin, type StoreKind } from '../helpers/stores.js'

const ETAG = '"e1"'

/** Each path prefix answers with one kind of freshness information; the rest of the path is free. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname
  const body = `body of ${path}`
  const headers: Record<string, string> = { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)) }
  if (path.startsWith('/etag/')) {
    if (req.headers['if-none-match'] === ETAG) {
      res.writeHead(304, { etag: ETAG })
      res.end()
      return
    }
    headers['etag'] = ETAG
  } else if (path.startsWith('/max-age-0/')) headers['cache-control'] = 'max-age=0'
  else if (path.startsWith('/max-age/') || path.startsWith('/private/')) headers['cache-control'] = 'max-age=100'
  else if (path.startsWith('/no-cache/')) headers['cache-control'] = 'no-cache'
  else if (path.startsWith('/no-store/')) headers['cache-control'] = 'no-store'
  // Anything else (/plain/, /multi/, /img/, /other/) carries no freshness information at all.
  res.writeHead(200, headers)
  res.end(body)
}

const STATUS = 'undici-redis-cache'
const STORED = `${STATUS}; fwd=miss; fwd-status=200; stored`
const NOT_STORED = `${STATUS}; fwd=miss; fwd-status=200`
/** A URL set to false / -1 is never looked up (requests-cache's DO_NOT_CACHE). */
const DO_NOT_CACHE = `${STATUS}; fwd=bypass; fwd-status=200; detail=do-not-cache`

/**
 * A fresh hit with about `lifetime` seconds left. The origin's Date has one-second precision, so the
 * apparent age (RFC 9111 §4.2.3) may already be up to a second when the response arrives.
 */
function assertHit(reply: { cacheStatus: string | undefined }, lifetime: number, message?: string): void {
  const match = /^undici-redis-cache; hit; ttl=(-?\d+)$/.exec(reply.cacheStatus ?? '')
  assert.ok(match !== null, `not a hit: ${reply.cacheStatus} ${message ?? ''}`)
  const ttl = Number(match[1])
  assert.ok(ttl <= lifetime && ttl >= lifetime - 2, `ttl ${ttl}, expected about ${lifetime} ${message ?? ''}`)
}

for (const kind of storeKinds) {
  describe(`expireAfter and urlsExpireAfter (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, handler)

    const withCache = cacheRunner(kind)

    it('expireAfter: 30 gives a response without freshness information a 30 s lifetime', () =>
      withCache({ expireAfter: 30 }, async (dispatcher) => {
        const first = await send(dispatcher, `${origin.url}/plain/a`)
        assert.equal(first.cacheStatus, STORED)
        const second = await send(dispatcher, `${origin.url}/plain/a`)
        assert.equal(second.text, 'body of /plain/a')
        assertHit(second, 30)
        assert.equal(origin.count('/plain/a'), 1)
      }))

    it('expireAfter: 0 stores the response but revalidates it on every use (304 keeps the stored body)', () =>
      withCache({ expireAfter: 0 }, async (dispatcher) => {
        const first = await send(dispatcher, `${origin.url}/etag/zero`)
        assert.equal(first.cacheStatus, STORED)
        for (let i = 0; i < 2; i++) {
          const again = await send(dispatcher, `${origin.url}/etag/zero`)
          assert.equal(again.status, 200)
          assert.equal(again.text, 'body of /etag/zero')
          // The 304's Date has one-second resolution, so its apparent age (§4.2.3) may reach 1 s.
          assert.match(again.cacheStatus ?? '', /^undici-redis-cache; fwd=stale; fwd-status=304; ttl=(-?0|-1)$/)
        }
        const requests = origin.requests.filter((r) => r.url === '/etag/zero')
        assert.equal(requests.length, 3)
        assert.deepEqual(requests.map((r) => r.headers['if-none-match']), [undefined, ETAG, ETAG])
      }))

    it("expireAfter: 'never' keeps serving hits, with no ttl in Cache-Status (RFC 9211 §2.4 ttl is an integer; there is none to give)", () =>
      withCache({ expireAfter: 'never' }, async (dispatcher) => {
        await send(dispatcher, `${origin.url}/plain/never`)
        for (let i = 0; i < 2; i++) {
          const hit = await send(dispatcher, `${origin.url}/plain/never`)
          assert.equal(hit.text, 'body of /plain/never')
          assert.equal(hit.cacheStatus, 'undici-redis-cache; hit')
        }
        assert.equal(origin.count('/plain/never'), 1)
      }))

    for (const value of [false, -1] as const) {
      it(`expireAfter: ${value} neither looks up nor stores, even a response with max-age`, () =>
        withCache({ expireAfter: value }, async (dispatcher, store) => {
          for (const path of [`/plain/off${value}`, `/max-age/off${value}`]) {
            assert.equal((await send(dispatcher, `${origin.url}${path}`)).cacheStatus, DO_NOT_CACHE)
            assert.equal((await send(dispatcher, `${origin.url}${path}`)).cacheStatus, DO_NOT_CACHE)
            assert.equal(origin.count(path), 2)
          }
          assert.deepEqual(await storedIds(store), [])
          const stats = await store.stats()
          assert.equal(stats.hits + stats.misses + stats.revalidations, 0, 'no lookup was made')
        }))
    }

    it('an explicit max-age in the response wins over expireAfter (RFC 9111 §4.2.1)', () =>
      withCache({ expireAfter: 30 }, async (dispatcher) => {
        await send(dispatcher, `${origin.url}/max-age/wins`)
        const hit = await send(dispatcher, `${origin.url}/max-age/wins`)
        assertHit(hit, 100)
      }))

    it('cacheControl: false ignores max-age=0, no-cache and max-age=100: every response lives expireAfter seconds', () =>
      withCache({ expireAfter: 30, cacheControl: false }, async (dispatcher) => {
        for (const path of ['/max-age-0/cc', '/no-cache/cc', '/max-age/cc']) {
          assert.equal((await send(dispatcher, `${origin.url}${path}`)).cacheStatus, STORED, path)
          const hit = await send(dispatcher, `${origin.url}${path}`)
          assertHit(hit, 30, path)
          assert.equal(origin.count(path), 1, path)
        }
      }))

    it('cacheControl: false still honours no-store (a privacy request, not a freshness hint)', () =>
      withCache({ expireAfter: 30, cacheControl: false }, async (dispatcher, store) => {
        await send(dispatcher, `${origin.url}/no-store/cc`)
        const second = await send(dispatcher, `${origin.url}/no-store/cc`)
        assert.equal(second.cacheStatus, NOT_STORED)
        assert.equal(origin.count('/no-store/cc'), 2)
        assert.deepEqual(await storedIds(store), [])
      }))

    it('urlsExpireAfter: the first matching pattern wins, in insertion order, even over a more specific later one', () =>
      withCache({ expireAfter: 30, urlsExpireAfter: { '*/multi/*': 11, '*/multi/deep/*': 22 } }, async (dispatcher) => {
        await send(dispatcher, `${origin.url}/multi/deep/x`)
        const hit = await send(dispatcher, `${origin.url}/multi/deep/x`)
        assertHit(hit, 11)
      }))

    it('urlsExpireAfter: a pattern with host and port matches that origin', () => {
      const host = new URL(origin.url).host
      return withCache({ expireAfter: 30, urlsExpireAfter: { [`${host}/plain/hosted`]: 12 } }, async (dispatcher) => {
        await send(dispatcher, `${origin.url}/plain/hosted`)
        const hit = await send(dispatcher, `${origin.url}/plain/hosted`)
        assertHit(hit, 12)
      })
    })

    it("urlsExpireAfter: a host-less pattern ('*.png') matches on any host", async () => {
      const store = await kind.make()
      const { dispatcher, close } = pinnedAgent(origin, { store, expireAfter: 30, urlsExpireAfter: { '*.png': 44 } })
      try {
        for (const url of ['http://cdn.example.test/img/a.png', 'http://images.example.org:8080/deep/path/b.png']) {
          await send(dispatcher, url)
          const hit = await send(dispatcher, url)
          assertHit(hit, 44, url)
        }
        const other = 'http://cdn.example.test/img/a.jpg'
        await send(dispatcher, other)
        assertHit(await send(dispatcher, other), 30)
      } finally {
        await close()
      }
    })

    it('urlsExpireAfter: false means neither look up nor store, even when the response has max-age (user do-not-cache wins)', () =>
      withCache({ expireAfter: 30, urlsExpireAfter: { '*/private/*': false } }, async (dispatcher, store) => {
        assert.equal((await send(dispatcher, `${origin.url}/private/p`)).cacheStatus, DO_NOT_CACHE)
        assert.equal((await send(dispatcher, `${origin.url}/private/p`)).cacheStatus, DO_NOT_CACHE)
        assert.equal(origin.count('/private/p'), 2)
        assert.deepEqual(await storedIds(store), [])
        const stats = await store.stats()
        assert.equal(stats.hits + stats.misses + stats.revalidations, 0, 'no lookup was made')
      }))

    it('urlsExpireAfter: a URL no pattern matches falls back to expireAfter', () =>
      withCache({ expireAfter: 30, urlsExpireAfter: { '*/multi/*': 11, '*.png': 44 } }, async (dispatcher) => {
        await send(dispatcher, `${origin.url}/other/x`)
        const hit = await send(dispatcher, `${origin.url}/other/x`)
        assertHit(hit, 30)
      }))
  })
}

describe('user lifetimes: Redis TTL follows the chosen lifetime', () => {
  const kind: StoreKind = storeKinds.find((k) => k.name === 'redis')!
  const origin = suiteOrigin(kind, handler)

  /** Seconds of native TTL on the one entry key the request left behind (-1: no TTL). */
  async function ttlOf(store: CacheStore, path: string, options: CacheOptions): Promise<number> {
    const { dispatcher, close } = cachedAgent({ store, ...options })
    try {
      await send(dispatcher, `${origin.url}${path}`)
      // The second request waits for the first one's write, so the key exists once it returns.
      await send(dispatcher, `${origin.url}${path}`)
    } finally {
      await close()
    }
    const namespace = (store as RedisStore).namespace
    const redis = kind.redis()
    const keys = (await redis.cli('--scan', '--pattern', `${namespace}:*`)).split('\n').filter((key) => /:\{[0-9a-f]{32}\}$/.test(key))
    assert.equal(keys.length, 1, `entry keys ${keys.join(' ')}`)
    return Number(await redis.cli('TTL', keys[0]!))
  }

  const rows: Array<{ name: string; path: string; options: CacheOptions; ttlOffset?: number; min: number; max: number }> = [
    { name: 'expireAfter 30 plus the default ttlOffset of 3600', path: '/plain/t1', options: { expireAfter: 30 }, min: 3624, max: 3630 },
    { name: 'expireAfter 30 with ttlOffset 0', path: '/plain/t2', options: { expireAfter: 30 }, ttlOffset: 0, min: 24, max: 30 },
    { name: 'max-age=100 over expireAfter 30, ttlOffset 0', path: '/max-age/t3', options: { expireAfter: 30 }, ttlOffset: 0, min: 94, max: 100 },
    { name: 'urlsExpireAfter 44 over expireAfter 30, ttlOffset 0', path: '/img/t4.png', options: { expireAfter: 30, urlsExpireAfter: { '*.png': 44 } }, ttlOffset: 0, min: 38, max: 44 },
    { name: 'cacheControl false: expireAfter 30 over max-age=100, ttlOffset 0', path: '/max-age/t5', options: { expireAfter: 30, cacheControl: false }, ttlOffset: 0, min: 24, max: 30 },
    { name: "'never': no TTL at all", path: '/plain/t6', options: { expireAfter: 'never' }, min: -1, max: -1 },
  ]
  for (const row of rows) {
    it(row.name, async () => {
      const store = await kind.make(row.ttlOffset === undefined ? {} : { ttlOffset: row.ttlOffset })
      const ttl = await ttlOf(store, row.path, row.options)
      assert.ok(ttl >= row.min && ttl <= row.max, `TTL ${ttl} not in [${row.min}, ${row.max}]`)
    })
  }
})
