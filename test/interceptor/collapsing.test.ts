/**
 * Request collapsing and the cost of waiting (issue 11): a follower that waits for a leader's response
 * ends as soon as its own caller aborts; misses for a URL whose last response was not stored go to the
 * origin together for a while (hit-for-miss) instead of one after another; and a leader that gives up
 * recording (its body outgrew maxEntrySize) releases its followers at once, not at the end of its
 * download. The origin in these tests waits for the requests a correct cache sends together (up to
 * PATIENCE_MS), so a cache that serialises them shows up as an order of arrival, not as a time.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CacheStore } from '../../lib/index.js'
import { HIT_FOR_MISS_MS, HitForMiss } from '../../lib/flows/hit-for-miss.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import { request } from '../helpers/undici.js'

const CALLERS = 5
/** How long the origin waits for requests that a correct cache sends at once; only a broken cache waits it out. */
const PATIENCE_MS = 2000
const BODY = 'collapsed body'

type Route = (req: IncomingMessage, res: ServerResponse, nth: number) => void

/** Responses a shared cache does not store, each of which used to make identical misses queue. */
const UNCACHEABLE: ReadonlyArray<{ readonly name: string; readonly status: number; readonly headers: Record<string, string> }> = [
  { name: 'no-store', status: 200, headers: { 'cache-control': 'no-store' } },
  { name: 'private', status: 200, headers: { 'cache-control': 'private, max-age=600' } },
  { name: '404 without freshness', status: 404, headers: {} },
  { name: '500', status: 500, headers: {} },
]

for (const kind of storeKinds) {
  describe(`collapsing (${kind.name} store)`, () => {
    const routes = new Map<string, Route>()
    const origin = suiteOrigin(kind, (req, res) => {
      const path = req.url ?? '/'
      const route = routes.get(path)
      if (route === undefined) {
        res.writeHead(404, { 'content-length': 0 })
        return void res.end()
      }
      route(req, res, origin.count(path))
    })
    const url = (path: string): string => `${origin.url}${path}`
    /** Resolves once `n` requests for `path` reached the origin, or after PATIENCE_MS. */
    const arrived = (path: string, n: number): Promise<void> => eventually(() => origin.count(path) >= n, PATIENCE_MS).catch(() => {})
    const answer = (res: ServerResponse, status: number, headers: Record<string, string>, body = BODY): void => {
      res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers })
      res.end(body)
    }

    it('a collapsed follower ends with its own abort reason as soon as its caller aborts, and never reaches the origin', async () => {
      let release = (): void => {}
      const released = new Promise<void>((resolve) => (release = resolve))
      routes.set('/abort', (_req, res) => void released.then(() => answer(res, 200, { 'cache-control': 'max-age=600' })))
      const counted = countingReads(await kind.make())
      const { dispatcher, close } = cachedAgent({ store: counted.store })
      try {
        const leader = send(dispatcher, url('/abort'))
        await eventually(() => origin.count('/abort') === 1)
        const abort = new AbortController()
        const follower = request(url('/abort'), { dispatcher, signal: abort.signal }).then(
          async (res) => {
            await res.body.dump()
            return 'served' as const
          },
          (err: unknown) => err,
        )
        // Its lookup found nothing, so it now waits on the leader's flight.
        await eventually(() => counted.reads() >= 2)
        const reason = new Error('the caller gave up')
        abort.abort(reason)
        const patience = new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), PATIENCE_MS))
        assert.equal(await Promise.race([follower, patience]), reason, 'the follower ends with its caller’s reason while the leader is still waiting')
        release()
        assert.equal((await leader).text, BODY)
        assert.equal(await follower, reason)
        assert.equal(origin.count('/abort'), 1)
      } finally {
        release()
        await close()
      }
    })

    for (const response of UNCACHEABLE) {
      it(`misses for a URL whose last response was not stored (${response.name}) go to the origin together, not one after another`, async () => {
        const path = `/uncacheable-${response.status}-${response.name.replace(/\W/g, '')}`
        let arrivedBeforeFirstAnswer: number | undefined
        routes.set(path, (_req, res, nth) => {
          if (nth === 1) return answer(res, response.status, response.headers)
          void arrived(path, 1 + CALLERS).then(() => {
            arrivedBeforeFirstAnswer ??= origin.count(path) - 1
            answer(res, response.status, response.headers)
          })
        })
        const { dispatcher, close } = cachedAgent({ store: await kind.make() })
        try {
          await send(dispatcher, url(path))
          const replies = await Promise.all(Array.from({ length: CALLERS }, () => send(dispatcher, url(path))))
          for (const reply of replies) assert.equal(reply.status, response.status)
          assert.equal(arrivedBeforeFirstAnswer, CALLERS, `${String(arrivedBeforeFirstAnswer)} of ${CALLERS} requests reached the origin before its first answer`)
          assert.equal(origin.count(path), 1 + CALLERS)
        } finally {
          await close()
        }
      })
    }

    // Stored, but never to be used for another request without validation.
    const UNVALIDATED: ReadonlyArray<{ readonly name: string; readonly headers: Record<string, string>; readonly collapses: boolean }> = [
      { name: 'no-cache', headers: { 'cache-control': 'no-cache, max-age=600', etag: '"n"' }, collapses: false },
      // With a validator, so that it is stored (kept for revalidation).
      { name: 'max-age=0', headers: { 'cache-control': 'max-age=0', etag: '"z"' }, collapses: false },
      { name: 'max-age=0, must-revalidate', headers: { 'cache-control': 'max-age=0, must-revalidate', etag: '"z"' }, collapses: false },
      // RFC 5861 §3 allows serving it stale meanwhile: the leader's answer is as good.
      { name: 'max-age=0, stale-while-revalidate=60', headers: { 'cache-control': 'max-age=0, stale-while-revalidate=60' }, collapses: true },
    ]
    for (const response of UNVALIDATED) {
      const verdict = response.collapses ? 'are served the leader\'s response' : 'each go to the origin (RFC 9111 §5.2.2.4, §4.2.4)'
      it(`concurrent misses for a response that says ${response.name} ${verdict}`, async () => {
        const path = `/unvalidated-${response.name.replace(/\W/g, '')}`
        let release = (): void => {}
        const released = new Promise<void>((resolve) => (release = resolve))
        let arrivedBeforeLeaderEnded: number | undefined
        routes.set(path, (_req, res, nth) => {
          if (nth > 1) return answer(res, 200, response.headers)
          // The leader's response starts once released; its body ends once the others arrived (or
          // after PATIENCE_MS): followers that waited for its end would arrive one by one after it.
          void released.then(() => {
            res.writeHead(200, { 'content-length': Buffer.byteLength(BODY), ...response.headers })
            res.write(BODY.slice(0, 4))
            const expected = response.collapses ? 1 : CALLERS
            void arrived(path, expected).then(() => {
              arrivedBeforeLeaderEnded = origin.count(path)
              res.end(BODY.slice(4))
            })
          })
        })
        const counted = countingReads(await kind.make())
        const { dispatcher, close } = cachedAgent({ store: counted.store })
        try {
          const replies = Promise.all(Array.from({ length: CALLERS }, () => send(dispatcher, url(path))))
          // Every lookup found nothing: one request leads, the others wait on its flight. A leader that
          // took a fleet lock (RedisStore) looks once more before it goes.
          const reads = CALLERS + (counted.store.claim !== undefined ? 1 : 0)
          await eventually(() => counted.reads() >= reads && origin.count(path) === 1)
          release()
          for (const reply of await replies) assert.equal(reply.text, BODY)
          const collapsed = (await replies).filter((reply) => /; collapsed/.test(reply.cacheStatus ?? '')).length
          assert.equal(collapsed, response.collapses ? CALLERS - 1 : 0)
          assert.equal(origin.count(path), response.collapses ? 1 : CALLERS)
          assert.equal(arrivedBeforeLeaderEnded, origin.count(path), 'the followers went to the origin at the leader\'s response start, side by side')
        } finally {
          release()
          await close()
        }
      })
    }

    for (const [name, headers] of [['no-cache', { 'cache-control': 'no-cache' }], ['max-age=0', { 'cache-control': 'max-age=0' }], ['Pragma: no-cache', { pragma: 'no-cache' }]] as const) {
      it(`a request with ${name} does not wait for a leader: it asks the origin at once (RFC 9111 §5.2.1)`, async () => {
        const path = `/own-answer-${name.replace(/\W/g, '')}`
        let release = (): void => {}
        const released = new Promise<void>((resolve) => (release = resolve))
        routes.set(path, (_req, res, nth) => (nth === 1 ? void released.then(() => answer(res, 200, { 'cache-control': 'max-age=600' })) : answer(res, 200, { 'cache-control': 'max-age=600' })))
        const { dispatcher, close } = cachedAgent({ store: await kind.make() })
        try {
          const leader = send(dispatcher, url(path))
          await eventually(() => origin.count(path) === 1)
          const own = await send(dispatcher, url(path), { headers })
          assert.equal(own.text, BODY)
          assert.doesNotMatch(own.cacheStatus ?? '', /collapsed/)
          assert.equal(origin.count(path), 2, 'answered while the leader was still waiting')
          release()
          assert.equal((await leader).text, BODY)
        } finally {
          release()
          await close()
        }
      })
    }

    it("a follower whose min-fresh the leader's response does not meet goes to the origin after it (RFC 9111 §5.2.1.3)", async () => {
      const path = '/min-fresh'
      let release = (): void => {}
      const released = new Promise<void>((resolve) => (release = resolve))
      routes.set(path, (_req, res, nth) => (nth === 1 ? void released.then(() => answer(res, 200, { 'cache-control': 'max-age=600' })) : answer(res, 200, { 'cache-control': 'max-age=600' })))
      const counted = countingReads(await kind.make())
      const { dispatcher, close } = cachedAgent({ store: counted.store })
      try {
        const leader = send(dispatcher, url(path))
        const follower = send(dispatcher, url(path), { headers: { 'cache-control': 'min-fresh=6000' } })
        const reads = 2 + (counted.store.claim !== undefined ? 1 : 0)
        await eventually(() => counted.reads() >= reads && origin.count(path) === 1)
        release()
        await leader
        const reply = await follower
        assert.doesNotMatch(reply.cacheStatus ?? '', /collapsed/)
        assert.equal(origin.count(path), 2)
      } finally {
        release()
        await close()
      }
    })

    it("alwaysRevalidate does not stop concurrent misses collapsing: the leader's response was fetched while they waited", async () => {
      const path = '/always-revalidate'
      let release = (): void => {}
      const released = new Promise<void>((resolve) => (release = resolve))
      routes.set(path, (_req, res) => void released.then(() => answer(res, 200, { 'cache-control': 'max-age=600', etag: '"a"' })))
      const counted = countingReads(await kind.make())
      const { dispatcher, close } = cachedAgent({ store: counted.store, alwaysRevalidate: true })
      try {
        const replies = Promise.all(Array.from({ length: CALLERS }, () => send(dispatcher, url(path))))
        const reads = CALLERS + (counted.store.claim !== undefined ? 1 : 0)
        await eventually(() => counted.reads() >= reads && origin.count(path) === 1)
        release()
        const collapsed = (await replies).filter((reply) => /; collapsed/.test(reply.cacheStatus ?? '')).length
        assert.equal(collapsed, CALLERS - 1)
        assert.equal(origin.count(path), 1)
      } finally {
        release()
        await close()
      }
    })

    it(`the not-stored verdict holds for ${HIT_FOR_MISS_MS / 1000} s on the cache's clock, then identical misses collapse again`, async () => {
      const clock = new ManualClock(Date.now())
      // The first answer is not storable; every later one is.
      const flips: Route = (_req, res, nth) => answer(res, 200, { 'cache-control': nth === 1 ? 'no-store' : 'max-age=600' }, `#${nth}`)
      routes.set('/held', flips)
      routes.set('/lapsed', flips)
      const { dispatcher, close } = cachedAgent({ store: await kind.make({ clock }), clock })
      const together = (path: string) => Promise.all(Array.from({ length: CALLERS }, () => send(dispatcher, url(path))))
      try {
        await send(dispatcher, url('/held'))
        await send(dispatcher, url('/lapsed'))
        clock.advance(HIT_FOR_MISS_MS - 1000)
        await together('/held')
        assert.equal(origin.count('/held'), 1 + CALLERS, 'while the verdict holds, each miss goes to the origin itself')
        clock.advance(2000)
        const replies = await together('/lapsed')
        assert.equal(origin.count('/lapsed'), 2, 'once it lapsed, the misses share one trip to the origin')
        for (const reply of replies) assert.equal(reply.text, '#2')
      } finally {
        await close()
      }
    })

    it('a storable response ends the not-stored verdict early', async () => {
      routes.set('/recovers', (_req, res, nth) => answer(res, 200, { 'cache-control': nth === 1 ? 'no-store' : 'max-age=600' }, `#${nth}`))
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        await send(dispatcher, url('/recovers'))
        assert.equal((await send(dispatcher, url('/recovers'))).text, '#2')
        await store.delete(url('/recovers'))
        await Promise.all(Array.from({ length: CALLERS }, () => send(dispatcher, url('/recovers'))))
        assert.equal(origin.count('/recovers'), 3, 'the misses after the entry went share one trip to the origin')
      } finally {
        await close()
      }
    })

    it('a leader whose body outgrows maxEntrySize releases its followers at once, not at the end of its download', async () => {
      let followerArrivedFirst: boolean | undefined
      routes.set('/large', (_req, res, nth) => {
        // No Content-Length: the cache learns the size only from the body.
        res.writeHead(200, { 'cache-control': 'max-age=600' })
        res.write(Buffer.alloc(4096, 'x'))
        if (nth > 1) return void res.end()
        void arrived('/large', 2).then(() => {
          followerArrivedFirst = origin.count('/large') >= 2
          res.end()
        })
      })
      const { dispatcher, close } = cachedAgent({ store: await kind.make(), maxEntrySize: 1024 })
      try {
        const replies = await Promise.all(Array.from({ length: CALLERS }, () => send(dispatcher, url('/large'))))
        for (const reply of replies) assert.equal(reply.body.byteLength, 4096)
        assert.equal(followerArrivedFirst, true, 'a follower reached the origin before the leader’s download ended')
      } finally {
        await close()
      }
    })
  })
}

describe('hit-for-miss memo', () => {
  it('is bounded: past its size the oldest verdict is forgotten first', () => {
    const memo = new HitForMiss(30_000, 3)
    for (const id of ['a', 'b', 'c', 'd']) memo.mark(id, 0)
    assert.equal(memo.size, 3)
    assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => memo.holds(id, 1)), [false, true, true, true])
  })

  it('lapses at its time and forgets what lapsed', () => {
    const memo = new HitForMiss(30_000, 10)
    memo.mark('a', 1000)
    assert.equal(memo.holds('a', 30_999), true)
    assert.equal(memo.holds('a', 31_000), false)
    assert.equal(memo.size, 0)
  })
})

/** `store` with a count of its completed reads, so a test can tell when a lookup has missed. */
function countingReads(store: CacheStore): { store: CacheStore; reads: () => number } {
  let reads = 0
  const counted = new Proxy(store, {
    get(target, property) {
      if (property !== 'get') {
        const value: unknown = Reflect.get(target, property)
        return typeof value === 'function' ? value.bind(target) : value
      }
      return async (ids: readonly string[]) => {
        const values = await target.get(ids)
        reads++
        return values
      }
    },
  })
  return { store: counted, reads: () => reads }
}
