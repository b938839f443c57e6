/**
 * Issue 5: a stalled Redis (SIGSTOP, CLIENT PAUSE, DEBUG SLEEP) costs each request at most the command
 * timeout, opens the breaker, and caching resumes once Redis answers again. Apart from
 * redis-outage.test.ts so the two fault files run side by side.
 */
import assert from 'node:assert/strict'
import type { Reply } from '../helpers/client.js'
import { assertFromOrigin, bodyFor, rig, untilHit } from '../helpers/outage.js'
import { sleep, untilReady } from '../helpers/faults.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

let origin: Origin

before(async () => {
  origin = await startOrigin((req, res) => {
    const text = bodyFor(req.url ?? '/')
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  })
})
after(() => origin.close())

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
