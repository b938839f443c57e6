/**
 * Fleet-wide miss collapsing (issue 16), in one process: two caches over two RedisStores of one
 * namespace behave as two processes do for the fleet lock (their SingleFlights are apart, the lock in
 * Redis is shared). A cold URL reaches the origin once; a response that is not stored sends the waiters
 * to the origin at once; a lock whose holder is gone delays nobody past `collapseTimeout`; a caller that
 * aborts stops waiting; a store whose locks fail or hang means no wait; and a stale entry is revalidated
 * in the background by one cache, not both. The real multi-process test is test/reliability/fleet-processes.test.ts.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { RedisStore, type CacheOptions, type CacheStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { redisConnection, releaseRedis, useRedis } from '../helpers/stores.js'
import { request } from '../helpers/undici.js'

/** How long the origin takes: long enough that every request is waiting before the first answer. */
const ORIGIN_MS = 100

type Route = (req: IncomingMessage, res: ServerResponse) => void

describe('fleet-wide collapsing (two caches sharing one Redis namespace)', () => {
  const routes = new Map<string, Route>()
  let origin: Origin
  const open: { close(): Promise<void> }[] = []

  before(async () => {
    await useRedis()
    origin = await startOrigin((req, res) => {
      const route = routes.get(req.url ?? '/')
      if (route !== undefined) return route(req, res)
      setTimeout(() => {
        const body = `body of ${req.url}`
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }, ORIGIN_MS)
    })
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((item) => item.close()))
  })
  after(async () => {
    await origin.close()
    await releaseRedis()
  })

  /** Two caches, each over its own RedisStore (own connection) of one fresh namespace. */
  async function fleet(options: CacheOptions = {}, wrap: (store: RedisStore) => CacheStore = (store) => store): Promise<{ a: ReturnType<typeof cachedAgent>; b: ReturnType<typeof cachedAgent>; stores: RedisStore[] }> {
    const namespace = `fleet-${randomBytes(4).toString('hex')}`
    const stores = [0, 1].map(() => new RedisStore({ ...redisConnection(), namespace }))
    await Promise.all(stores.map((store) => store.ready()))
    const [a, b] = stores.map((store) => cachedAgent({ store: wrap(store), ...options })) as [ReturnType<typeof cachedAgent>, ReturnType<typeof cachedAgent>]
    open.push(a, b, ...stores)
    return { a, b, stores }
  }

  const url = (path: string): string => `${origin.url}${path}`

  /**
   * Wraps each store of a fleet to see its lock claims: `held` resolves once the second store (cache
   * b's) was told the lock is held, i.e. b's leader is waiting for a's.
   */
  function watchClaims(): { wrap: (store: RedisStore) => CacheStore; held: Promise<void>; claims: (index: number) => string[] } {
    let bWaits!: () => void
    const held = new Promise<void>((resolve) => (bWaits = resolve))
    const seen: RedisStore[] = []
    const claims = new Map<RedisStore, string[]>()
    const wrap = (store: RedisStore): CacheStore => {
      seen.push(store)
      return new Proxy(store, {
        get(target, name) {
          const value: unknown = Reflect.get(target, name, target)
          if (typeof value !== 'function') return value
          if (name !== 'claim') return (value as (...args: unknown[]) => unknown).bind(target)
          return async (...args: unknown[]) => {
            const claim = (await (value as (...args: unknown[]) => Promise<string>).apply(target, args)) as string
            claims.set(store, [...(claims.get(store) ?? []), claim])
            if (store === seen[1] && claim === 'held') bWaits()
            return claim
          }
        },
      })
    }
    return { wrap, held, claims: (index) => claims.get(seen[index]!) ?? [] }
  }

  it('concurrent misses in both caches reach the origin once; the waiting cache serves the entry as collapsed', async () => {
    // The origin answers once b's leader has found the lock held, however slow the machine: b's
    // requests are then waiting, not served a stored entry as hits.
    const watch = watchClaims()
    routes.set('/cold', (_req, res) => void watch.held.then(() => res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 13 }).end('body of /cold')))
    const { a, b } = await fleet({}, watch.wrap)
    const first = send(a.dispatcher, url('/cold'))
    // a's leader holds the lock before b asks (an origin request is under way).
    await until(() => origin.count('/cold') === 1)
    const replies = await Promise.all([first, send(a.dispatcher, url('/cold')), ...[0, 1, 2].map(() => send(b.dispatcher, url('/cold')))])
    assert.deepEqual(watch.claims(1), ['held'], "b's leader asked once and waited")
    for (const reply of replies) assert.equal(reply.text, 'body of /cold')
    assert.equal(origin.count('/cold'), 1)
    const fromB = replies.slice(2)
    for (const reply of fromB) assert.match(reply.cacheStatus ?? '', /fwd=miss; fwd-status=200; collapsed/)
    // b's leader read the entry back from the store (detail=fleet); its own followers got it from the leader.
    assert.equal(fromB.filter((reply) => /detail=fleet/.test(reply.cacheStatus ?? '')).length, 1)
    assert.match((await send(b.dispatcher, url('/cold'))).cacheStatus ?? '', /; hit; /)
  })

  it("a waiting cache does not serve another's stored response that says no-cache: it goes to the origin (RFC 9111 §5.2.2.4)", async () => {
    const watch = watchClaims()
    const answer = (res: ServerResponse): void => void res.writeHead(200, { 'cache-control': 'no-cache, max-age=600', etag: '"nc"', 'content-length': 2 }).end('nc')
    routes.set('/no-cache', (_req, res) => (origin.count('/no-cache') === 1 ? void watch.held.then(() => answer(res)) : answer(res)))
    const { a, b } = await fleet({ collapseTimeout: 5000 }, watch.wrap)
    const first = send(a.dispatcher, url('/no-cache'))
    await until(() => origin.count('/no-cache') === 1)
    const second = await send(b.dispatcher, url('/no-cache'))
    assert.deepEqual(watch.claims(1), ['held'])
    assert.equal((await first).text, 'nc')
    assert.equal(second.text, 'nc')
    assert.doesNotMatch(second.cacheStatus ?? '', /collapsed/)
    assert.equal(origin.count('/no-cache'), 2)
  })

  it('started together in both caches, the origin still sees one request', async () => {
    const { a, b } = await fleet()
    const replies = await Promise.all([a, b, a, b, a, b].map((agent) => send(agent.dispatcher, url('/together'))))
    for (const reply of replies) assert.equal(reply.text, 'body of /together')
    assert.equal(origin.count('/together'), 1)
  })

  it("a holder's response that is not stored sends the waiters to the origin at once, not at the deadline", async () => {
    routes.set('/no-store', (_req, res) => setTimeout(() => res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 2 }).end('ns'), ORIGIN_MS))
    const { a, b } = await fleet({ collapseTimeout: 5000 })
    const first = send(a.dispatcher, url('/no-store'))
    await until(() => origin.count('/no-store') === 1)
    const started = Date.now()
    const second = await send(b.dispatcher, url('/no-store'))
    assert.equal(second.text, 'ns')
    assert.equal((await first).text, 'ns')
    assert.equal(origin.count('/no-store'), 2)
    assert.ok(Date.now() - started < 2 * ORIGIN_MS + 1000, `b waited ${Date.now() - started} ms`)
    // Later misses see the marker and do not wait either.
    const third = await send(b.dispatcher, url('/no-store'))
    assert.equal(third.text, 'ns')
  })

  it('a lock whose holder is gone delays a miss by collapseTimeout at most', async () => {
    const { a, stores } = await fleet({ collapseTimeout: 300 })
    const id = await idOf(a, stores[0]!, url('/orphan'))
    // A holder that died: its lock outlives the waiter's patience.
    assert.equal(await stores[1]!.claim(id, 'miss', 'dead', 10_000), 'claimed')
    const started = Date.now()
    const reply = await send(a.dispatcher, url('/orphan'))
    const waited = Date.now() - started
    assert.equal(reply.text, 'body of /orphan')
    assert.ok(waited >= 300 && waited < 300 + ORIGIN_MS + 1000, `waited ${waited} ms`)
  })

  it('a lock that expires (its holder died) is taken over by one waiter, and the others are served its entry', async () => {
    const { a, b, stores } = await fleet({ collapseTimeout: 5000 })
    const id = await idOf(a, stores[0]!, url('/expired'))
    // The dead holder's lock lasts 300 ms.
    assert.equal(await stores[1]!.claim(id, 'miss', 'dead', 300), 'claimed')
    const started = Date.now()
    const replies = await Promise.all([a, b, a, b].map((agent) => send(agent.dispatcher, url('/expired'))))
    const took = Date.now() - started
    for (const reply of replies) assert.equal(reply.text, 'body of /expired')
    // One origin request for idOf(), one after the lock expired.
    assert.equal(origin.count('/expired'), 2)
    assert.ok(took < 300 + 2 * ORIGIN_MS + 1000, `took ${took} ms`)
  })

  it('a waiting caller that aborts ends at once', async () => {
    const { a, stores } = await fleet({ collapseTimeout: 5000 })
    const id = await idOf(a, stores[0]!, url('/abort'))
    assert.equal(await stores[1]!.claim(id, 'miss', 'dead', 10_000), 'claimed')
    const started = Date.now()
    await assert.rejects(request(url('/abort'), { dispatcher: a.dispatcher, signal: AbortSignal.timeout(100) }).then((res) => res.body.text()))
    assert.ok(Date.now() - started < 1000, `aborted after ${Date.now() - started} ms`)
    assert.equal(origin.count('/abort'), 1)
  })

  for (const failure of ['fail', 'hang'] as const) {
    it(`locks that ${failure} mean no wait: each cache goes to the origin itself (fail-open)`, async () => {
      const broken = (store: RedisStore): CacheStore =>
        new Proxy(store, {
          get(target, name) {
            if (name === 'claim' || name === 'peek' || name === 'release') return () => (failure === 'fail' ? Promise.reject(new Error('locks down')) : new Promise(() => {}))
            const value: unknown = Reflect.get(target, name, target)
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
          },
        })
      const { a, b } = await fleet({ collapseTimeout: 5000, commandTimeout: 100, onError: () => {} }, broken)
      const started = Date.now()
      const replies = await Promise.all([a, b].map((agent) => send(agent.dispatcher, url(`/broken-${failure}`))))
      for (const reply of replies) assert.equal(reply.text, `body of /broken-${failure}`)
      assert.equal(origin.count(`/broken-${failure}`), 2)
      assert.ok(Date.now() - started < 100 + ORIGIN_MS + 1000, `took ${Date.now() - started} ms`)
    })
  }

  it('collapseTimeout: 0 turns fleet collapsing off', async () => {
    const { a, b } = await fleet({ collapseTimeout: 0 })
    await Promise.all([a, b].map((agent) => send(agent.dispatcher, url('/off'))))
    assert.equal(origin.count('/off'), 2)
  })

  it('a stale entry is revalidated in the background by one cache of the fleet, not by each', async () => {
    let validations = 0
    // The validation is answered once every stale request has been served, however slow the machine:
    // none of them can find the entry refreshed (or a revalidation over and the lock free).
    let served!: () => void
    const allServed = new Promise<void>((resolve) => (served = resolve))
    const clock = new ManualClock(Date.now())
    routes.set('/swr', (req, res) => {
      const validation = req.headers['if-none-match'] !== undefined
      if (validation) validations++
      const status = req.headers['if-none-match'] === '"v1"' ? 304 : 200
      const answer = (): void => void res.writeHead(status, { date: new Date(clock.now()).toUTCString(), 'cache-control': 'max-age=1, stale-while-revalidate=600', etag: '"v1"', 'content-length': status === 304 ? 0 : 2 }).end(status === 304 ? undefined : 'v1')
      if (validation) void allServed.then(answer)
      else setTimeout(answer, ORIGIN_MS)
    })
    const { a, b, stores } = await fleet({ clock })
    assert.equal((await send(a.dispatcher, url('/swr'))).text, 'v1')
    // The write is not awaited by the request (and takes three round trips on a cluster).
    await untilAsync(async () => (await stores[1]!.get([(await firstId(stores[1]!)) ?? '00'])).some((value) => value !== undefined))
    clock.advance(5000)
    const replies = await Promise.all([a, b, a, b].map((agent) => send(agent.dispatcher, url('/swr'))))
    for (const reply of replies) assert.match(reply.cacheStatus ?? '', /; hit; .*detail=stale-while-revalidate/)
    served()
    await until(() => validations >= 1)
    // Let a second revalidation (the bug) arrive, if one was sent.
    await new Promise((resolve) => setTimeout(resolve, ORIGIN_MS + 100))
    assert.equal(validations, 1)
    assert.equal(origin.count('/swr'), 2)
  })
})

/**
 * The primary id `target` is stored under: fetched once through `agent` (one origin request), read
 * back from `store`, which is then cleared, so the next request for it is a cold miss again.
 */
async function idOf(agent: ReturnType<typeof cachedAgent>, store: RedisStore, target: string): Promise<string> {
  await send(agent.dispatcher, target)
  let ids: string[] = []
  // The write is not awaited by the request.
  await untilAsync(async () => {
    ids = []
    for await (const id of store.ids()) ids.push(id)
    return ids.length === 1
  })
  await store.clear()
  return ids[0]!
}

async function firstId(store: RedisStore): Promise<string | undefined> {
  for await (const id of store.ids()) return id
  return undefined
}

async function untilAsync(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
