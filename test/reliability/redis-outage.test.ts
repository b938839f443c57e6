/**
 * Issue 5: a cache must never be the reason a service fails. Redis is down before the first request,
 * killed mid-run or restarted (stalls are in redis-stalls.test.ts); every request still completes from
 * the origin within the command timeout, nothing reaches the process as an unhandled error, and
 * caching resumes once Redis is back. Each describe owns its redis-server, since it kills it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request } from '../helpers/undici.js'
import { CacheError, RedisStore, StoreError } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { freshNamespace, sleep, untilReady, watchProcess } from '../helpers/faults.js'
import { assertFromOrigin, bodyFor, rig, untilHit } from '../helpers/outage.js'
import { sendBytes, startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

/** Stored apart from its entry and replayed in 256 KiB chunks read from Redis as the caller reads. */
const LARGE = randomBytes(2 * 1024 * 1024)

let origin: Origin

before(async () => {
  origin = await startOrigin((req, res) => {
    if (req.url === '/large') return sendBytes(req, res, LARGE, { 'cache-control': 'max-age=60', etag: '"large-v1"' })
    const text = bodyFor(req.url ?? '/')
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  })
})
after(() => origin.close())

describe('Redis outage: down at startup', () => {
  it('nothing listens on the port: every request completes from the origin, fast, with no error to the caller', async () => {
    const redis = await startRedis()
    await redis.stop()
    const r = rig(origin, redis.url, 100)
    try {
      const before = origin.count()
      for (let i = 0; i < 8; i++) {
        const path = `/down-${i % 3}`
        const reply = await r.get(path)
        assertFromOrigin(reply, path)
        assert.match(reply.cacheStatus ?? '', /detail=store-(error|unavailable)/)
      }
      assert.equal(origin.count() - before, 8)
      assert.ok(r.errors.length > 0, 'onError heard of the outage')
      assert.ok(r.errors.every((e) => e instanceof CacheError))
      assert.ok(r.errors.some((e) => e instanceof StoreError))
      assert.deepEqual(r.watch.events, [])
    } finally {
      await r.close()
    }
  })

  it('Redis stopped after the client connected, before the first request: requests complete from the origin', async () => {
    const redis = await startRedis()
    const r = rig(origin, redis.url, 100)
    try {
      await untilReady(r.store)
      await redis.stop()
      for (let i = 0; i < 6; i++) assertFromOrigin(await r.get(`/stopped-${i % 2}`), `/stopped-${i % 2}`)
      assert.ok(r.errors.some((e) => e instanceof StoreError))
      assert.deepEqual(r.watch.events, [])
    } finally {
      await r.close()
    }
  })
})

describe('Redis outage: killed mid-run', () => {
  let redis: RedisServer
  before(async () => {
    redis = await startRedis()
  })
  after(() => redis.stop())

  it('after SIGKILL, requests complete from the origin and nothing reaches the process as unhandled', async () => {
    const r = rig(origin, redis.url, 100)
    try {
      await untilReady(r.store)
      assert.match((await r.get('/kill-a')).cacheStatus ?? '', /fwd=miss; fwd-status=200; stored/)
      assert.match((await r.get('/kill-a')).cacheStatus ?? '', /; hit;/)
      await redis.kill()
      for (const path of ['/kill-a', '/kill-b', '/kill-a', '/kill-c', '/kill-b', '/kill-a']) assertFromOrigin(await r.get(path), path)
      // Let the client notice the dead socket and fail a few reconnect attempts.
      await sleep(400)
      assertFromOrigin(await r.get('/kill-d'), '/kill-d')
      assert.deepEqual(r.watch.events, [])
      assert.ok(r.errors.every((e) => e instanceof CacheError))
    } finally {
      await r.close()
    }
  })
})

describe('Redis outage: killed while a large hit streams', () => {
  let redis: RedisServer
  before(async () => {
    redis = await startRedis()
  })
  after(() => redis.stop())

  it('the caller still gets the whole body: the rest comes from the origin (Range + If-Range)', async () => {
    const store = new RedisStore({ url: redis.url, namespace: freshNamespace() })
    const watch = watchProcess()
    // A killed Redis fails its calls at once, so the bound does not time anything here; it only has to
    // hold the 2 MiB write the hit below waits for, on a loaded machine too.
    const { dispatcher, close } = cachedAgent({ store, commandTimeout: 1000 })
    try {
      await untilReady(store)
      assert.ok((await send(dispatcher, `${origin.url}/large`)).body.equals(LARGE))
      const res = await request(`${origin.url}/large`, { dispatcher })
      assert.match(String(res.headers['cache-status']), /; hit;/)
      // The caller has the headers and has not read yet: most chunks are still in Redis.
      await redis.kill()
      let body: Buffer | undefined
      let failure: unknown
      try {
        body = Buffer.from(await res.body.arrayBuffer())
      } catch (error) {
        failure = error
      }
      assert.equal(failure, undefined, `the caller's body failed: ${String(failure)}`)
      assert.ok(body?.equals(LARGE), `got ${body?.byteLength} bytes`)
      const ranged = origin.requests.filter((r) => r.url === '/large' && r.headers['range'] !== undefined)
      assert.equal(ranged.length, 1)
      assert.equal(ranged[0]!.headers['if-range'], '"large-v1"')
      assert.deepEqual(watch.events, [])
    } finally {
      watch.stop()
      await close()
      await store.close()
    }
  })
})

describe('Redis outage: restarted', () => {
  let redis: RedisServer
  before(async () => {
    redis = await startRedis()
  })
  after(() => redis.stop())

  it('caching resumes once Redis is back: a request is stored and the next one is a hit', async () => {
    const r = rig(origin, redis.url, 100)
    try {
      await untilReady(r.store)
      await r.get('/restart')
      assert.match((await r.get('/restart')).cacheStatus ?? '', /; hit;/)
      await redis.kill()
      for (let i = 0; i < 5; i++) assertFromOrigin(await r.get('/restart'), '/restart')
      await redis.restart()
      // The restarted server is empty (no persistence); the breaker probes after its cooldown.
      await untilHit(r, '/restart', 10_000)
      assert.deepEqual(r.watch.events, [])
    } finally {
      await r.close()
    }
  })
})
