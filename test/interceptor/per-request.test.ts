/**
 * Issue #13: control over one request without rebuilding the dispatcher. The `cache` dispatch option
 * (request, stream, pipeline) and, for fetch, the `x-undici-cache-mode` header give the Fetch
 * standard's cache modes (Fetch §4.5); per-request lifetimes override the cache-wide ones; an
 * `onOutcome` callback and Cache-Status' `key` parameter (RFC 9211 §2.7) report what happened.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { cacheOption, CACHE_MODE_HEADER, InvalidOptionError, type CacheMode, type CacheOptions, type CacheOutcomeInfo, type RequestCacheOptions } from '../../lib/index.js'
import { cache } from '../../lib/index.js'
import { cachedAgent, eventually } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import { Agent, fetch, getGlobalDispatcher, request, setGlobalDispatcher, type Dispatcher } from '../helpers/undici.js'

interface Reply {
  readonly status: number
  readonly text: string
  readonly cacheStatus: string
}

/** One request, through undici's request() with the `cache` option, or through fetch with the mode header. */
type Via = (dispatcher: Dispatcher, url: string, options?: RequestCacheOptions) => Promise<Reply>

const viaRequest: Via = async (dispatcher, url, options) => {
  const res = await request(url, { dispatcher, ...(options === undefined ? {} : cacheOption(options)) })
  return { status: res.statusCode, text: await res.body.text(), cacheStatus: String(res.headers['cache-status']) }
}

const viaFetch: Via = async (dispatcher, url, options) => {
  const headers: Record<string, string> = options?.mode === undefined ? {} : { [CACHE_MODE_HEADER]: options.mode }
  const res = await fetch(url, { dispatcher, headers })
  return { status: res.status, text: await res.text(), cacheStatus: res.headers.get('cache-status') ?? '' }
}

for (const kind of storeKinds) {
  describe(`per-request control (${kind.name} store)`, () => {
    let clock = new ManualClock(Date.now())
    let served = 0
    /** Paths whose requests the origin cuts off. */
    const failing = new Set<string>()

    const origin = suiteOrigin(kind, (req, res: ServerResponse) => {
      res.setHeader('date', new Date(clock.now()).toUTCString())
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (failing.has(path)) return req.socket.destroy()
      const body = `${path} #${++served}${req.headers[CACHE_MODE_HEADER] === undefined ? '' : ' (mode header leaked)'}`
      if (req.headers['if-none-match'] === '"v"') {
        res.writeHead(304, { etag: '"v"', 'cache-control': 'max-age=10' })
        return res.end()
      }
      // /plain…: no freshness of its own, so the user's expiration decides (RFC 9111 §4.2.1 comes first).
      const freshness = path.startsWith('/plain') ? {} : { 'cache-control': 'max-age=10' }
      res.writeHead(200, { ...freshness, etag: '"v"', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    beforeEach(() => {
      clock = new ManualClock(Date.now())
    })

    const agent = async (options: CacheOptions = {}) => cachedAgent({ store: await kind.make({ ttl: false }), clock, ...options })

    for (const [name, via] of [['request', viaRequest], ['fetch', viaFetch]] as const) {
      describe(`modes through ${name}`, () => {
        /** Stores `path`, lets it go stale when asked, then sends one request in `mode`. */
        async function afterStoring(mode: CacheMode, path: string, stale: boolean): Promise<{ reply: Reply; originRequests: number }> {
          const { dispatcher, close } = await agent()
          try {
            await via(dispatcher, `${origin.url}${path}`)
            if (stale) clock.advanceSeconds(60)
            const before = origin.count(path)
            const reply = await via(dispatcher, `${origin.url}${path}`, { mode })
            return { reply, originRequests: origin.count(path) - before }
          } finally {
            await close()
          }
        }

        it("'default' serves a fresh stored response", async () => {
          const { reply, originRequests } = await afterStoring('default', `/${name}-default`, false)
          assert.match(reply.cacheStatus, /; hit; /)
          assert.equal(originRequests, 0)
        })

        it("'no-store' neither reads nor writes the cache", async () => {
          const path = `/${name}-no-store`
          const { reply, originRequests } = await afterStoring('no-store', path, false)
          assert.match(reply.cacheStatus, /fwd=bypass; fwd-status=200; detail=mode-no-store/)
          assert.equal(originRequests, 1)
          assert.doesNotMatch(reply.text, /leaked/, 'the mode header never reaches the origin')
        })

        it("'reload' fetches without a conditional request and stores the response", async () => {
          const path = `/${name}-reload`
          const { reply, originRequests } = await afterStoring('reload', path, false)
          assert.match(reply.cacheStatus, /fwd=request; fwd-status=200; stored; detail=reload/)
          assert.equal(originRequests, 1)
          assert.equal(origin.requests.filter((r) => r.url === path).at(-1)?.headers['if-none-match'], undefined)
          assert.match(reply.text, /#\d+$/)
        })

        it("'no-cache' validates a fresh stored response first", async () => {
          const { reply, originRequests } = await afterStoring('no-cache', `/${name}-no-cache`, false)
          assert.match(reply.cacheStatus, /fwd=request; fwd-status=304/)
          assert.equal(originRequests, 1)
        })

        it("'force-cache' serves a stale stored response without contacting the origin", async () => {
          const { reply, originRequests } = await afterStoring('force-cache', `/${name}-force`, true)
          assert.match(reply.cacheStatus, /; hit; ttl=-\d+; detail=force-cache/)
          assert.equal(originRequests, 0)
        })

        it("'only-if-cached' serves a stale stored response, and answers 504 when nothing is stored", async () => {
          const { reply, originRequests } = await afterStoring('only-if-cached', `/${name}-oic`, true)
          assert.match(reply.cacheStatus, /; hit; ttl=-\d+; detail=only-if-cached/)
          assert.equal(originRequests, 0)
          const { dispatcher, close } = await agent()
          try {
            const nothing = await via(dispatcher, `${origin.url}/${name}-oic-nothing`, { mode: 'only-if-cached' })
            assert.equal(nothing.status, 504)
            assert.equal(origin.count(`/${name}-oic-nothing`), 0)
          } finally {
            await close()
          }
        })

        it('modes work with cacheControl: false', async () => {
          const { dispatcher, close } = await agent({ cacheControl: false, expireAfter: 5 })
          try {
            await via(dispatcher, `${origin.url}/${name}-cc-off`)
            clock.advanceSeconds(60)
            assert.match((await via(dispatcher, `${origin.url}/${name}-cc-off`, { mode: 'force-cache' })).cacheStatus, /detail=force-cache/)
          } finally {
            await close()
          }
        })
      })
    }

    it("Node's global fetch after setGlobalDispatcher takes the mode header too", async () => {
      const previous = getGlobalDispatcher()
      const base = new Agent({ keepAliveTimeout: 500 })
      setGlobalDispatcher(base.compose(cache({ store: await kind.make({ ttl: false }), clock })))
      try {
        await globalThis.fetch(`${origin.url}/global-mode`).then((res) => res.text())
        clock.advanceSeconds(60)
        const res = await globalThis.fetch(`${origin.url}/global-mode`, { headers: { [CACHE_MODE_HEADER]: 'force-cache' } })
        assert.match(res.headers.get('cache-status') ?? '', /detail=force-cache/)
        assert.doesNotMatch(await res.text(), /leaked/)
        assert.equal(origin.count('/global-mode'), 1)
      } finally {
        setGlobalDispatcher(previous)
        await base.close()
      }
    })

    it('per-request expireAfter overrides the cache-wide one for this response (the response\'s own max-age still comes first)', async () => {
      const { dispatcher, close } = await agent({ expireAfter: 5 })
      try {
        await viaRequest(dispatcher, `${origin.url}/plain-override`, { expireAfter: 'never' })
        await viaRequest(dispatcher, `${origin.url}/plain-default`)
        clock.advanceSeconds(3600)
        assert.match((await viaRequest(dispatcher, `${origin.url}/plain-override`)).cacheStatus, /; hit$/)
        assert.match((await viaRequest(dispatcher, `${origin.url}/plain-default`)).cacheStatus, /fwd=stale/)
      } finally {
        await close()
      }
    })

    it('per-request staleIfError serves stale where the cache-wide setting passes the error on', async () => {
      const { dispatcher, close } = await agent()
      try {
        await viaRequest(dispatcher, `${origin.url}/sie`)
        clock.advanceSeconds(60)
        failing.add('/sie')
        await assert.rejects(viaRequest(dispatcher, `${origin.url}/sie`))
        const reply = await viaRequest(dispatcher, `${origin.url}/sie`, { staleIfError: true })
        assert.equal(reply.status, 200)
        assert.match(reply.cacheStatus, /fwd=stale; detail=stale-if-error/)
      } finally {
        failing.delete('/sie')
        await close()
      }
    })

    it('onOutcome reports miss, hit, revalidated and bypass with the key, stored-at and expires-at', async () => {
      const { dispatcher, close } = await agent({ cacheStatus: { key: true } })
      const seen: CacheOutcomeInfo[] = []
      const onOutcome = (info: CacheOutcomeInfo): void => void seen.push(info)
      try {
        const miss = await viaRequest(dispatcher, `${origin.url}/outcome`, { onOutcome })
        const hit = await viaRequest(dispatcher, `${origin.url}/outcome`, { onOutcome })
        clock.advanceSeconds(60)
        await viaRequest(dispatcher, `${origin.url}/outcome`, { onOutcome })
        await viaRequest(dispatcher, `${origin.url}/outcome`, { onOutcome, mode: 'no-store' })
        assert.deepEqual(seen.map((info) => info.outcome), ['miss', 'hit', 'revalidated', 'bypass'])
        const [first, second, third, fourth] = seen
        assert.equal(first?.stored, true)
        assert.equal(second?.stored, false)
        assert.match(first?.key ?? '', /^[0-9a-f]{32}$/)
        assert.equal(second?.key, first?.key)
        assert.match(miss.cacheStatus, new RegExp(`; key="${first?.key}"`))
        assert.match(hit.cacheStatus, new RegExp(`; hit; ttl=\\d+; key="${first?.key}"`))
        assert.ok(second?.storedAt instanceof Date && second.expiresAt instanceof Date)
        // max-age=10, less the age the response arrived with (its Date has one-second resolution).
        const lifetime = second.expiresAt.getTime() - second.storedAt.getTime()
        assert.ok(lifetime > 9_000 && lifetime <= 10_000, `expires ${lifetime} ms after it was stored`)
        assert.ok(third?.storedAt instanceof Date && third.storedAt.getTime() > second.storedAt.getTime(), 'the 304 refreshed it')
        assert.equal(fourth?.key, undefined)
      } finally {
        await close()
      }
    })

    it('a Range request follows the mode too: reload goes to the origin, only-if-cached with nothing stored is a 504', async () => {
      const { dispatcher, close } = await agent()
      try {
        await viaRequest(dispatcher, `${origin.url}/ranged`)
        const range = { range: 'bytes=0-1' }
        const cached = await request(`${origin.url}/ranged`, { dispatcher, headers: range })
        await cached.body.text()
        assert.equal(cached.statusCode, 206, 'answered from the stored complete response')
        const before = origin.count('/ranged')
        const reloaded = await request(`${origin.url}/ranged`, { dispatcher, headers: range, ...cacheOption({ mode: 'reload' }) })
        await reloaded.body.text()
        assert.equal(origin.count('/ranged'), before + 1)
        const nothing = await request(`${origin.url}/ranged-nothing`, { dispatcher, headers: range, ...cacheOption({ mode: 'only-if-cached' }) })
        await nothing.body.text()
        assert.equal(nothing.statusCode, 504)
        assert.equal(origin.count('/ranged-nothing'), 0)
      } finally {
        await close()
      }
    })

    it('onOutcome is called once per request: not again by a background revalidation, and for unsafe methods too', async () => {
      const { dispatcher, close } = await agent()
      const seen: string[] = []
      const onOutcome = (info: CacheOutcomeInfo): void => void seen.push(info.outcome)
      try {
        await viaRequest(dispatcher, `${origin.url}/once`)
        clock.advanceSeconds(15)
        const before = origin.count('/once')
        const stale = await viaRequest(dispatcher, `${origin.url}/once`, { onOutcome, staleWhileRevalidate: 60 })
        assert.match(stale.cacheStatus, /detail=stale-while-revalidate/)
        await eventually(() => origin.count('/once') > before)
        await new Promise((resolve) => setImmediate(resolve))
        assert.deepEqual(seen, ['stale'])
        const put = await request(`${origin.url}/once`, { dispatcher, method: 'PUT', body: 'x', ...cacheOption({ onOutcome }) })
        await put.body.text()
        assert.deepEqual(seen, ['stale', 'bypass'])
      } finally {
        await close()
      }
    })

    it('a misspelt key or a wrong type in the cache option is an InvalidOptionError at dispatch', async () => {
      const { dispatcher, close } = await agent()
      try {
        for (const [bad, option] of [
          [{ mode: 'reloaded' }, 'cache.mode'],
          [{ expireAfer: 60 }, 'cache.expireAfer'],
          [{ staleIfError: 'yes' }, 'cache.staleIfError'],
          [{ tags: ['has space'] }, 'cache.tags'],
          [{ tags: ['control\x01char'] }, 'cache.tags'],
          [{ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 'cache.tags'],
          [{ onOutcome: 1 }, 'cache.onOutcome'],
        ] as const) {
          await assert.rejects(request(`${origin.url}/bad`, { dispatcher, cache: bad } as never), (error: unknown) => error instanceof InvalidOptionError && error.option === option)
        }
        await assert.rejects(fetch(`${origin.url}/bad`, { dispatcher, headers: { [CACHE_MODE_HEADER]: 'sometimes' } }), (error: unknown) => (error as { cause?: unknown }).cause instanceof InvalidOptionError)
        assert.equal(origin.count('/bad'), 0)
      } finally {
        await close()
      }
    })
  })
}
