/**
 * Request Cache-Control directives (RFC 9111 §5.2.1) and Pragma (§5.4), end to end.
 */
import assert from 'node:assert/strict'
import { MemoryStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { startOrigin, type Origin } from '../helpers/origin.js'

describe('request directives', () => {
  let origin: Origin
  let n = 0
  before(async () => {
    origin = await startOrigin((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const body = `${path} #${++n}`
      // Fresh for 100 s but already 30 s old on arrival: age 30, ttl 70.
      res.writeHead(200, { 'cache-control': 'max-age=100', age: '30', etag: `"${n}"`, 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  after(() => origin.close())

  const cases: { name: string; headers: Record<string, string>; expect: 'hit' | 'forward' | '504'; status?: RegExp }[] = [
    { name: 'no directive: fresh hit', headers: {}, expect: 'hit' },
    { name: 'no-cache: revalidates a fresh entry (§5.2.1.4)', headers: { 'cache-control': 'no-cache' }, expect: 'forward', status: /fwd=request/ },
    { name: 'Pragma: no-cache without Cache-Control (§5.4)', headers: { pragma: 'no-cache' }, expect: 'forward' },
    { name: 'Pragma: no-cache is ignored beside Cache-Control (§5.4)', headers: { pragma: 'no-cache', 'cache-control': 'max-stale=0' }, expect: 'hit' },
    { name: 'max-age=0: too old (§5.2.1.1)', headers: { 'cache-control': 'max-age=0' }, expect: 'forward' },
    { name: 'max-age=10: age 30 exceeds it', headers: { 'cache-control': 'max-age=10' }, expect: 'forward' },
    { name: 'max-age=60: age 30 within it', headers: { 'cache-control': 'max-age=60' }, expect: 'hit' },
    { name: 'min-fresh=60: 70 s of freshness left (§5.2.1.3)', headers: { 'cache-control': 'min-fresh=60' }, expect: 'hit' },
    { name: 'min-fresh=80: only 70 s left', headers: { 'cache-control': 'min-fresh=80' }, expect: 'forward' },
    { name: 'no-store: bypasses the cache (§5.2.1.5)', headers: { 'cache-control': 'no-store' }, expect: 'forward', status: /fwd=bypass; fwd-status=200; detail=no-store/ },
    { name: 'only-if-cached with a stored response: hit (§5.2.1.7)', headers: { 'cache-control': 'only-if-cached' }, expect: 'hit' },
  ]

  for (const row of cases) {
    it(row.name, async () => {
      const path = `/d-${cases.indexOf(row)}`
      const { dispatcher, close } = cachedAgent({ store: new MemoryStore() })
      try {
        await send(dispatcher, `${origin.url}${path}`)
        const reply = await send(dispatcher, `${origin.url}${path}`, { headers: row.headers })
        if (row.expect === 'hit') {
          assert.match(reply.cacheStatus ?? '', /; hit; ttl=(69|70)$/)
          assert.equal(origin.count(path), 1)
        } else {
          assert.doesNotMatch(reply.cacheStatus ?? '', /; hit/)
          assert.equal(origin.count(path), 2)
        }
        if (row.status) assert.match(reply.cacheStatus ?? '', row.status)
      } finally {
        await close()
      }
    })
  }

  it('only-if-cached with nothing stored: 504 without contacting the origin (§5.2.1.7)', async () => {
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore() })
    try {
      const reply = await send(dispatcher, `${origin.url}/nothing`, { headers: { 'cache-control': 'only-if-cached' } })
      assert.equal(reply.status, 504)
      assert.equal(reply.cacheStatus, 'undici-redis-cache; detail=only-if-cached')
      assert.equal(origin.count('/nothing'), 0)
    } finally {
      await close()
    }
  })

  const refused: ReadonlyArray<readonly [string, Record<string, string>]> = [
    ['no-store', { 'cache-control': 'only-if-cached, no-store' }],
    ['If-Match', { 'cache-control': 'only-if-cached', 'if-match': '"1"' }],
    ['Authorization (credentials bypass)', { 'cache-control': 'only-if-cached', authorization: 'Bearer x' }],
    ['several ranges', { 'cache-control': 'only-if-cached', range: 'bytes=0-1,3-4' }],
  ]
  for (const [name, headers] of refused) {
    it(`only-if-cached on a request the cache leaves to the origin (${name}): 504, the origin never asked (§5.2.1.7)`, async () => {
      const path = `/refused-${refused.findIndex(([other]) => other === name)}`
      const { dispatcher, close } = cachedAgent({ store: new MemoryStore() })
      try {
        await send(dispatcher, `${origin.url}${path}`)
        const reply = await send(dispatcher, `${origin.url}${path}`, { headers })
        assert.equal(reply.status, 504)
        assert.equal(reply.cacheStatus, 'undici-redis-cache; detail=only-if-cached')
        assert.equal(origin.count(path), 1)
      } finally {
        await close()
      }
    })
  }

  it('max-stale accepts a stale entry without revalidation (§5.2.1.2)', async () => {
    const stale = await startOrigin((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=10', age: '40', 'content-length': 2 })
      res.end('st')
    })
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore({ ttl: false }) })
    try {
      await send(dispatcher, `${stale.url}/s`)
      const within = await send(dispatcher, `${stale.url}/s`, { headers: { 'cache-control': 'max-stale=60' } })
      assert.match(within.cacheStatus ?? '', /; hit; ttl=-30; detail=max-stale$/)
      const any = await send(dispatcher, `${stale.url}/s`, { headers: { 'cache-control': 'max-stale' } })
      assert.match(any.cacheStatus ?? '', /; hit; /)
      assert.equal(stale.count('/s'), 1)
      const beyond = await send(dispatcher, `${stale.url}/s`, { headers: { 'cache-control': 'max-stale=5' } })
      assert.doesNotMatch(beyond.cacheStatus ?? '', /; hit/)
      assert.equal(stale.count('/s'), 2)
    } finally {
      await close()
      await stale.close()
    }
  })

  it('cacheControl: false still honours the request directives no-store, no-cache and only-if-cached (as requests-cache does)', async () => {
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore(), cacheControl: false, expireAfter: 60 })
    try {
      await send(dispatcher, `${origin.url}/cc-off`)
      assert.match((await send(dispatcher, `${origin.url}/cc-off`)).cacheStatus ?? '', /; hit; /)
      const noCache = await send(dispatcher, `${origin.url}/cc-off`, { headers: { 'cache-control': 'no-cache' } })
      assert.match(noCache.cacheStatus ?? '', /fwd=request/)
      const noStore = await send(dispatcher, `${origin.url}/cc-off`, { headers: { 'cache-control': 'no-store' } })
      assert.match(noStore.cacheStatus ?? '', /fwd=bypass; fwd-status=200; detail=no-store/)
      assert.equal(origin.count('/cc-off'), 3)
      const onlyIfCached = await send(dispatcher, `${origin.url}/cc-off-never-stored`, { headers: { 'cache-control': 'only-if-cached' } })
      assert.equal(onlyIfCached.status, 504)
      assert.equal(origin.count('/cc-off-never-stored'), 0)
    } finally {
      await close()
    }
  })

  it('a header value with CR, LF or NUL: undici refuses the request as it would without the cache, before any lookup', async () => {
    const store = new MemoryStore()
    const { dispatcher, close } = cachedAgent({ store })
    try {
      await assert.rejects(send(dispatcher, `${origin.url}/bad-header`, { headers: { 'x-test': 'a\r\nb' } }), { code: 'UND_ERR_INVALID_ARG' })
      assert.equal(origin.count('/bad-header'), 0)
      assert.equal((await store.stats()).misses, 0)
    } finally {
      await close()
    }
  })
})
