/**
 * Issue 5: a cache must never be the reason a service fails. Redis is down before the first request,
 * killed mid-run, restarted, or stalled (SIGSTOP, CLIENT PAUSE, DEBUG SLEEP); every request still
 * completes from the origin within the command timeout, nothing reaches the process as an unhandled
 * error, and caching resumes once Redis is back. Each describe owns its redis-server, since it kills it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request } from '../helpers/undici.js'
import { CacheError, RedisStore, StoreError, type CacheError as CacheErrorType } from '../../lib/index.js'
import { cachedAgent, eventually, send, type Reply } from '../helpers/client.js'
import { errorLog, freshNamespace, sleep, timed, untilReady, watchProcess, type ProcessWatch } from '../helpers/faults.js'
import { sendBytes, startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

/** Generous bound for one request while Redis misbehaves: the point is "not stuck", not speed. */
const REQUEST_BOUND_MS = 1000

interface Rig {
  readonly store: RedisStore
  readonly errors: CacheErrorType[]
  readonly watch: ProcessWatch
  get(path: string): Promise<Reply & { readonly ms: number }>
  close(): Promise<void>
}

function rig(origin: Origin, redisUrl: string, commandTimeout: number): Rig {
  const store = new RedisStore({ url: redisUrl, namespace: freshNamespace() })
  const { errors, onError } = errorLog()
  const watch = watchProcess()
  const { dispatcher, close } = cachedAgent({ store, commandTimeout, onError })
  return {
    store,
    errors,
    watch,
    get: async (path) => {
      const { value, ms } = await timed(() => send(dispatcher, `${origin.url}${path}`))
      return { ...value, ms }
    },
    close: async () => {
      watch.stop()
      await close()
      await store.close()
    },
  }
}

function bodyFor(path: string): string {
  return `origin body for ${path}`
}

function assertFromOrigin(reply: Reply & { ms: number }, path: string): void {
  assert.equal(reply.status, 200, path)
  assert.equal(reply.text, bodyFor(path), path)
  assert.match(reply.cacheStatus ?? '', /; fwd=(miss|bypass)/, `${path}: ${reply.cacheStatus}`)
  assert.ok(reply.ms < REQUEST_BOUND_MS, `${path} took ${reply.ms.toFixed(0)} ms`)
}

/** Sends `path` until a request for it is a hit (the previous one stored it), within `timeoutMs`. */
async function untilHit(r: Rig, path: string, timeoutMs: number): Promise<void> {
  await eventually(async () => {
    const reply = await r.get(path)
    assert.equal(reply.text, bodyFor(path))
    if (/; hit;/.test(reply.cacheStatus ?? '')) return true
    await sleep(50)
    return false
  }, timeoutMs)
}

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
    const { dispatcher, close } = cachedAgent({ store, commandTimeout: 100 })
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

describe('Redis outage: stalled', () => {
  let redis: RedisServer
  before(async () => {
    redis = await startRedis()
  })
  afterEach(() => redis.resume())
  after(() => redis.stop())

  it('SIGSTOP: requests wait at most commandTimeout, the breaker opens (detail=store-unavailable, no wait), and closes after SIGCONT', async () => {
    const commandTimeout = 200
    const r = rig(origin, redis.url, commandTimeout)
    try {
      await untilReady(r.store)
      redis.pause()
      const replies: (Reply & { ms: number })[] = []
      for (let i = 0; i < 8; i++) {
        const path = `/sigstop-${i}`
        const reply = await r.get(path)
        assertFromOrigin(reply, path)
        assert.ok(reply.ms < commandTimeout + 300, `${path} took ${reply.ms.toFixed(0)} ms`)
        replies.push(reply)
      }
      // The request whose own timeout opens the breaker still waited; every one after it must not.
      const opened = replies.findIndex((reply) => /detail=store-unavailable/.test(reply.cacheStatus ?? ''))
      assert.ok(opened >= 0 && opened <= 3, `breaker never opened: ${replies.map((x) => x.cacheStatus).join(' | ')}`)
      for (const reply of replies.slice(opened + 1)) {
        assert.match(reply.cacheStatus ?? '', /detail=store-unavailable/)
        assert.ok(reply.ms < commandTimeout * 0.75, `an open breaker still waited ${reply.ms.toFixed(0)} ms`)
      }
      // The first request waited for the whole command timeout before going to the origin.
      assert.ok(replies[0]!.ms >= commandTimeout - 5, `first request took ${replies[0]!.ms.toFixed(0)} ms`)

      redis.resume()
      await untilHit(r, '/sigstop-after', 10_000)
      assert.deepEqual(r.watch.events, [])
    } finally {
      await r.close()
    }
  })

  it('CLIENT PAUSE 1000 ALL: requests complete within commandTimeout + origin time, caching resumes after', async () => {
    const commandTimeout = 100
    const r = rig(origin, redis.url, commandTimeout)
    try {
      await untilReady(r.store)
      assert.equal(await redis.cli('CLIENT', 'PAUSE', '1000', 'ALL'), 'OK')
      const pausedUntil = Date.now() + 1000
      let i = 0
      while (Date.now() < pausedUntil - 300) {
        const path = `/client-pause-${i++}`
        const reply = await r.get(path)
        assertFromOrigin(reply, path)
        assert.ok(reply.ms < commandTimeout + 300, `${path} took ${reply.ms.toFixed(0)} ms`)
        await sleep(50)
      }
      assert.ok(i >= 4, `only ${i} requests during the pause`)
      await untilHit(r, '/client-pause-after', 10_000)
      assert.deepEqual(r.watch.events, [])
    } finally {
      await r.close()
    }
  })

  it('DEBUG SLEEP 1: requests complete within commandTimeout + origin time, caching resumes after', async () => {
    const commandTimeout = 100
    const r = rig(origin, redis.url, commandTimeout)
    try {
      await untilReady(r.store)
      const sleeping = redis.cli('DEBUG', 'SLEEP', '1')
      await sleep(50)
      const until = Date.now() + 750
      let i = 0
      while (Date.now() < until) {
        const path = `/debug-sleep-${i++}`
        const reply = await r.get(path)
        assertFromOrigin(reply, path)
        assert.ok(reply.ms < commandTimeout + 300, `${path} took ${reply.ms.toFixed(0)} ms`)
        await sleep(50)
      }
      assert.ok(i >= 4, `only ${i} requests during the sleep`)
      assert.equal(await sleeping, 'OK')
      await untilHit(r, '/debug-sleep-after', 10_000)
      assert.deepEqual(r.watch.events, [])
    } finally {
      await r.close()
    }
  })

  it('commandTimeout is honoured: a stalled lookup costs about 50 ms with 50, about 300 ms with 300', async () => {
    const fast = rig(origin, redis.url, 50)
    const slow = rig(origin, redis.url, 300)
    try {
      await untilReady(fast.store)
      await untilReady(slow.store)
      redis.pause()
      // The first request of each: its breaker is still closed, so it waits for the whole timeout.
      const a = await fast.get('/timeout-50')
      const b = await slow.get('/timeout-300')
      assertFromOrigin(a, '/timeout-50')
      assertFromOrigin(b, '/timeout-300')
      assert.ok(a.ms >= 45 && a.ms < 250, `commandTimeout 50: ${a.ms.toFixed(0)} ms`)
      assert.ok(b.ms >= 295 && b.ms < 600, `commandTimeout 300: ${b.ms.toFixed(0)} ms`)
      redis.resume()
    } finally {
      redis.resume()
      await fast.close()
      await slow.close()
    }
  })
})
