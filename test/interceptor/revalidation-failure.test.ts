/**
 * Issue 12: a stored response that must not be served without validation, whose validation gets no
 * answer at all (the origin closes the connection, or nothing listens), ends in a 504 the cache
 * generates, not in a network error.
 *
 * RFC 9111 §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit
 * in-protocol directive (e.g., by a no-cache response directive, a must-revalidate response directive,
 * or an applicable s-maxage or proxy-revalidate response directive; see Section 5.2.2)."
 * §5.2.2.2 (must-revalidate): "if a cache is disconnected, the cache MUST generate an error response
 * rather than reuse the stale response. The generated status code SHOULD be 504 (Gateway Timeout)
 * unless another error status code is more applicable."
 *
 * cache-tests: stale-close-must-revalidate, stale-close-no-cache, stale-close-proxy-revalidate and
 * stale-close-s-maxage=2 (the last two for a shared cache only).
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { MemoryStore, type CacheOptions } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { request } from '../helpers/undici.js'

describe('a validation that gets no answer (RFC 9111 §4.2.4, §5.2.2.2)', () => {
  let origin: Origin
  /** Paths whose next request the origin answers by closing the connection. */
  const closing = new Set<string>()
  /** Paths whose next request the origin never answers. */
  const hanging = new Set<string>()
  const cacheControl = new Map<string, string>()
  let clock = new ManualClock(Date.now())

  before(async () => {
    origin = await startOrigin((req, res: ServerResponse) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (closing.has(path)) return void req.socket.destroy()
      if (hanging.has(path)) return
      const body = `${path} body`
      res.writeHead(200, { date: new Date(clock.now()).toUTCString(), 'cache-control': cacheControl.get(path) ?? 'max-age=2', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  after(() => origin.close())
  beforeEach(() => {
    clock = new ManualClock(Date.now())
  })

  /** Stores `path` with `cc`, lets it go stale, and asks again while the origin closes the connection. */
  async function staleThenClosed(path: string, cc: string, options: CacheOptions = {}) {
    cacheControl.set(path, cc)
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore({ ttl: false }), clock, ...options })
    try {
      const first = await send(dispatcher, `${origin.url}${path}`)
      assert.equal(first.text, `${path} body`)
      clock.advanceSeconds(5)
      closing.add(path)
      return await send(dispatcher, `${origin.url}${path}`).then(
        (reply) => ({ kind: 'reply' as const, reply }),
        (error: unknown) => ({ kind: 'error' as const, error }),
      )
    } finally {
      await close()
    }
  }

  const forbidding: ReadonlyArray<{ readonly cc: string; readonly sharedOnly: boolean }> = [
    { cc: 'max-age=2, must-revalidate', sharedOnly: false },
    { cc: 'max-age=2, no-cache', sharedOnly: false },
    { cc: 'max-age=2, proxy-revalidate', sharedOnly: true },
    { cc: 'max-age=2, s-maxage=2', sharedOnly: true },
  ]

  for (const type of ['shared', 'private'] as const) {
    for (const { cc, sharedOnly } of forbidding) {
      if (sharedOnly && type === 'private') continue
      it(`${type}: "${cc}", stale, the origin closes the connection: a 504 from the cache, not the stale body`, async () => {
        const path = `/${type}-${cc.replace(/\W+/g, '-')}`
        const seen = await staleThenClosed(path, cc, { type, staleIfError: true })
        assert.equal(seen.kind, 'reply', 'the caller gets a response, not a network error')
        const { reply } = seen as Extract<typeof seen, { kind: 'reply' }>
        assert.equal(reply.status, 504)
        assert.equal(reply.text, '')
        assert.equal(reply.cacheStatus, 'undici-redis-cache; fwd=stale; detail=origin-unreachable')
      })
    }
  }

  for (const cc of ['max-age=2, proxy-revalidate', 'max-age=2, s-maxage=2']) {
    it(`private: "${cc}" binds only shared caches (§5.2.2.8, §5.2.2.10): stale-if-error serves the stale body`, async () => {
      const path = `/private-sie-${cc.replace(/\W+/g, '-')}`
      const seen = await staleThenClosed(path, cc, { type: 'private', staleIfError: true })
      assert.equal(seen.kind, 'reply')
      const { reply } = seen as Extract<typeof seen, { kind: 'reply' }>
      assert.equal(reply.status, 200)
      assert.equal(reply.text, `${path} body`)
      assert.equal(reply.cacheStatus, 'undici-redis-cache; fwd=stale; detail=stale-if-error')
    })
  }

  it('a plain stale entry with stale-if-error is still served stale when the connection closes (RFC 5861 §4)', async () => {
    const seen = await staleThenClosed('/plain-sie', 'max-age=2', { staleIfError: true })
    assert.equal(seen.kind, 'reply')
    assert.equal((seen as Extract<typeof seen, { kind: 'reply' }>).reply.text, '/plain-sie body')
  })

  it('a plain stale entry without stale-if-error passes the network error on, as a miss would', async () => {
    const seen = await staleThenClosed('/plain', 'max-age=2')
    assert.equal(seen.kind, 'error')
  })

  it('must-revalidate with nothing listening (connection refused): a 504', async () => {
    const gone = await startOrigin((_req, res) => {
      res.writeHead(200, { date: new Date(clock.now()).toUTCString(), 'cache-control': 'max-age=2, must-revalidate', 'content-length': 4 })
      res.end('kept')
    })
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore({ ttl: false }), clock })
    try {
      await send(dispatcher, `${gone.url}/r`)
      clock.advanceSeconds(5)
      await gone.close()
      const reply = await send(dispatcher, `${gone.url}/r`)
      assert.equal(reply.status, 504)
    } finally {
      await close()
    }
  })

  it("the caller's own abort during the validation is never turned into a 504", async () => {
    const path = '/abort-during-validation'
    cacheControl.set(path, 'max-age=2, must-revalidate')
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore({ ttl: false }), clock })
    try {
      await send(dispatcher, `${origin.url}${path}`)
      clock.advanceSeconds(5)
      hanging.add(path)
      const abort = new AbortController()
      const reason = new Error('the caller gave up')
      const pending = request(`${origin.url}${path}`, { dispatcher, signal: abort.signal })
      const reached = origin.count(path)
      while (origin.count(path) === reached) await new Promise((resolve) => setTimeout(resolve, 5))
      abort.abort(reason)
      await assert.rejects(pending, (error) => error === reason)
    } finally {
      await close()
    }
  })

  it('a response with conflicting freshness ("max-age=60, max-age=70", stale by §4.2.1) served after its validation failed is a stale-if-error serve', async () => {
    const seen = await staleThenClosed('/conflicting-max-age', 'max-age=60, max-age=70', { staleIfError: true })
    assert.equal(seen.kind, 'reply')
    const { reply } = seen as Extract<typeof seen, { kind: 'reply' }>
    assert.equal(reply.text, '/conflicting-max-age body')
    assert.match(reply.cacheStatus ?? '', /fwd=stale; detail=stale-if-error$/)
  })
})
