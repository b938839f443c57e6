/**
 * Serving stale responses: stale-if-error (RFC 5861 §4, RFC 9111 §4.2.4), stale-while-revalidate
 * (RFC 5861 §3), and must-revalidate forbidding both (RFC 9111 §5.2.2.2). Entries go stale because a
 * test moves a ManualClock (the cache's, and the origins' Date) past their max-age.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { MemoryStore } from '../../lib/index.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'

/** What the origin answers next, per path. */
type Mode = 'ok' | '500' | '503' | 'reset'

describe('stale responses', () => {
  let origin: Origin
  const modes = new Map<string, Mode>()
  const served = new Map<string, number>()
  const cacheControl = new Map<string, string>()
  let clock = new ManualClock(Date.now())
  /** Seconds past the 1 s max-age the origin gives by default: 4 s stale. */
  const stale = (): void => clock.advanceSeconds(5)
  const dated = (res: ServerResponse): void => void res.setHeader('date', new Date(clock.now()).toUTCString())

  beforeEach(() => {
    clock = new ManualClock(Date.now())
  })

  before(async () => {
    origin = await startOrigin((req, res: ServerResponse) => {
      dated(res)
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const mode = modes.get(path) ?? 'ok'
      if (mode === 'reset') return req.socket.destroy()
      if (mode === '500' || mode === '503') {
        res.writeHead(Number(mode), { 'content-length': 5 })
        return res.end('error')
      }
      const n = (served.get(path) ?? 0) + 1
      served.set(path, n)
      const body = `${path} #${n}`
      // Fresh for 1 s unless the test set its own Cache-Control.
      const cc = cacheControl.get(path) ?? 'max-age=1'
      res.writeHead(200, { 'cache-control': cc, 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  after(() => origin.close())

  const setup = (options: Parameters<typeof cachedAgent>[0] = {}) => cachedAgent({ store: new MemoryStore({ ttl: false }), clock, ...options })

  for (const failure of ['500', '503', 'reset'] as const) {
    it(`serves the stale entry when the origin fails with ${failure} and staleIfError allows it`, async () => {
      const path = `/sie-${failure}`
      const { dispatcher, close } = setup({ staleIfError: true })
      try {
        await send(dispatcher, `${origin.url}${path}`)
        stale()
        modes.set(path, failure)
        const reply = await send(dispatcher, `${origin.url}${path}`)
        assert.equal(reply.status, 200)
        assert.equal(reply.text, `${path} #1`)
        const status = failure === 'reset' ? '' : `; fwd-status=${failure}`
        assert.equal(reply.cacheStatus, `undici-redis-cache; fwd=stale${status}; detail=stale-if-error`)
      } finally {
        await close()
      }
    })
  }

  it('serves stale while the origin server is down (connection refused)', async () => {
    const down = await startOrigin((_req, res) => {
      dated(res)
      res.writeHead(200, { 'cache-control': 'max-age=1', 'content-length': 4 })
      res.end('kept')
    })
    const { dispatcher, close } = setup({ staleIfError: 60 })
    try {
      await send(dispatcher, `${down.url}/x`)
      stale()
      await down.close()
      const reply = await send(dispatcher, `${down.url}/x`)
      assert.equal(reply.text, 'kept')
      assert.match(reply.cacheStatus ?? '', /fwd=stale; detail=stale-if-error/)
    } finally {
      await close()
    }
  })

  it('honours the response stale-if-error directive without the option', async () => {
    const path = '/sie-directive'
    cacheControl.set(path, 'max-age=1, stale-if-error=600')
    const { dispatcher, close } = setup()
    try {
      await send(dispatcher, `${origin.url}${path}`)
      stale()
      modes.set(path, '503')
      const staleReply = await send(dispatcher, `${origin.url}${path}`)
      assert.equal(staleReply.text, `${path} #1`)
      assert.match(staleReply.cacheStatus ?? '', /fwd=stale; fwd-status=503; detail=stale-if-error/)
    } finally {
      await close()
    }
  })

  it('passes the error through once the stale-if-error window has passed', async () => {
    const path = '/sie-window'
    const { dispatcher, close } = setup({ staleIfError: 2 })
    try {
      await send(dispatcher, `${origin.url}${path}`)
      stale() // max-age 1, 5 s later: 4 s stale, past the 2 s window
      modes.set(path, '503')
      const failed = await send(dispatcher, `${origin.url}${path}`)
      assert.equal(failed.status, 503)
      assert.equal(failed.text, 'error')
    } finally {
      await close()
    }
  })

  it('never serves stale past must-revalidate, even with staleIfError (§5.2.2.2)', async () => {
    const path = '/must-revalidate'
    cacheControl.set(path, 'max-age=1, must-revalidate')
    const { dispatcher, close } = setup({ staleIfError: true, staleWhileRevalidate: true })
    try {
      await send(dispatcher, `${origin.url}${path}`)
      stale()
      modes.set(path, '503')
      const failed = await send(dispatcher, `${origin.url}${path}`)
      assert.equal(failed.status, 503)
      // Disconnected: the cache generates the error response itself (§5.2.2.2, issue 12).
      modes.set(path, 'reset')
      assert.equal((await send(dispatcher, `${origin.url}${path}`)).status, 504)
    } finally {
      await close()
    }
  })

  it('without staleIfError, an origin error reaches the caller', async () => {
    const path = '/no-sie'
    const { dispatcher, close } = setup()
    try {
      await send(dispatcher, `${origin.url}${path}`)
      stale()
      modes.set(path, '500')
      assert.equal((await send(dispatcher, `${origin.url}${path}`)).status, 500)
    } finally {
      await close()
    }
  })

  it('stale-while-revalidate: serves stale at once and revalidates once in the background for many requests', async () => {
    const path = '/swr'
    cacheControl.set(path, 'max-age=1')
    const { dispatcher, close } = setup({ staleWhileRevalidate: 60 })
    try {
      await send(dispatcher, `${origin.url}${path}`)
      stale()
      const replies = await Promise.all(Array.from({ length: 10 }, () => send(dispatcher, `${origin.url}${path}`)))
      for (const reply of replies) {
        assert.equal(reply.text, `${path} #1`)
        assert.match(reply.cacheStatus ?? '', /; hit; ttl=-\d+; detail=stale-while-revalidate$/)
      }
      await eventually(() => origin.count(path) === 2)
      // The background revalidation stored #2, fresh: the next request is its hit.
      await eventually(async () => (await send(dispatcher, `${origin.url}${path}`)).text === `${path} #2`)
      assert.ok(origin.count(path) <= 3, `at most one more background revalidation, saw ${origin.count(path)}`)
    } finally {
      await close()
    }
  })

  it('honours the response stale-while-revalidate directive (RFC 5861 §3)', async () => {
    const path = '/swr-directive'
    cacheControl.set(path, 'max-age=1, stale-while-revalidate=30')
    const { dispatcher, close } = setup()
    try {
      await send(dispatcher, `${origin.url}${path}`)
      stale()
      const reply = await send(dispatcher, `${origin.url}${path}`)
      assert.match(reply.cacheStatus ?? '', /detail=stale-while-revalidate/)
      assert.equal(reply.text, `${path} #1`)
      await eventually(() => origin.count(path) === 2)
    } finally {
      await close()
    }
  })
})
