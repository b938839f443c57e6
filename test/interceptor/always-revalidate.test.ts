/**
 * `alwaysRevalidate` (requests-cache's always_revalidate): a fresh stored response with a validator
 * is validated with the origin before every use; a 304 serves the stored body, a new 200 replaces it,
 * and an origin that fails leaves the fresh stored response to be served. One without a validator is
 * served while fresh, as without the option. Time is a ManualClock.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { cachedAgent, cacheRunner, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { spyStore } from '../helpers/store-spy.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

const clock = new ManualClock(Date.UTC(2026, 0, 1, 12))
/** The version each path serves; a test bumps it to change the resource. */
const versions = new Map<string, number>()

/** `/tagged…`: ETag "v<version>", 304 to a matching If-None-Match; `/plain…`: no validator; `/down…` fails once stored. */
function answer(req: IncomingMessage, res: ServerResponse, index: number): void {
  const path = req.url ?? '/'
  const version = versions.get(path) ?? 1
  const headers: Record<string, string> = { date: new Date(clock.now()).toUTCString(), 'cache-control': 'max-age=60' }
  if (!path.startsWith('/plain')) headers['etag'] = `"v${version}"`
  if (path.startsWith('/down') && req.headers['if-none-match'] !== undefined) {
    res.writeHead(503, { 'content-length': '0' })
    return void res.end()
  }
  if (headers['etag'] !== undefined && req.headers['if-none-match'] === headers['etag']) {
    res.writeHead(304, headers)
    return void res.end()
  }
  const body = `${path} v${version} (#${index})`
  res.writeHead(200, { ...headers, 'content-length': String(Buffer.byteLength(body)) })
  res.end(body)
}

for (const kind of storeKinds) {
  describe(`alwaysRevalidate (${kind.name} store)`, () => {
    const server = suiteOrigin(kind, answer)
    const withCache = cacheRunner(kind)
    const conditional = (path: string) => server.requests.filter((r) => r.url === path && r.headers['if-none-match'] !== undefined)

    it('validates a fresh entry before each use: the stored body after a 304, the new one after a 200', async () => {
      const path = `/tagged-${kind.name}`
      await withCache({ clock, alwaysRevalidate: true }, async (dispatcher) => {
        const first = await send(dispatcher, `${server.url}${path}`)
        const again = await send(dispatcher, `${server.url}${path}`)
        assert.equal(again.text, first.text)
        assert.match(again.cacheStatus ?? '', /fwd=request; fwd-status=304/)
        assert.equal(conditional(path).at(-1)!.headers['if-none-match'], '"v1"')
        versions.set(path, 2)
        const changed = await send(dispatcher, `${server.url}${path}`)
        assert.match(changed.text, / v2 /)
        assert.match(changed.cacheStatus ?? '', /fwd=request; fwd-status=200; stored/)
        assert.equal(conditional(path).length, 2)
      })
    })

    it('serves a fresh entry without a validator from the store, as without the option', async () => {
      const path = `/plain-${kind.name}`
      await withCache({ clock, alwaysRevalidate: true }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        assert.match((await send(dispatcher, `${server.url}${path}`)).cacheStatus ?? '', /; hit;/)
        assert.equal(server.count(path), 1)
      })
    })

    it('serves the fresh stored response when its validation fails', async () => {
      const path = `/down-${kind.name}`
      await withCache({ clock, alwaysRevalidate: true }, async (dispatcher) => {
        const first = await send(dispatcher, `${server.url}${path}`)
        const again = await send(dispatcher, `${server.url}${path}`)
        assert.equal(again.status, 200)
        assert.equal(again.text, first.text)
        assert.match(again.cacheStatus ?? '', /fwd=request; fwd-status=503; detail=origin-error$/)
        assert.equal(conditional(path).length, 1, 'it was asked')
      })
    })

    it('serves a fresh stored POST response, and sends a stale one again without preconditions (RFC 9110 §13.1.2: a conditional POST gets 412)', async () => {
      const path = `/tagged-post-${kind.name}`
      const post = { method: 'POST' as const, body: 'q=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }
      await withCache({ clock, alwaysRevalidate: true, methods: ['GET', 'HEAD', 'POST'] }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`, post)
        assert.match((await send(dispatcher, `${server.url}${path}`, post)).cacheStatus ?? '', /; hit;/)
        clock.advanceSeconds(61)
        const again = await send(dispatcher, `${server.url}${path}`, post)
        assert.equal(again.status, 200)
        assert.match(again.cacheStatus ?? '', /fwd=stale; fwd-status=200; stored/)
        assert.equal(server.count(path), 2)
        assert.equal(conditional(path).length, 0)
      })
    })

    it('writes back a 304 that changes nothing of a fresh entry only once the entry is stale', async () => {
      const path = `/tagged-writes-${kind.name}`
      const { store, calls } = spyStore(await kind.make())
      const { dispatcher, close } = cachedAgent({ store, clock, alwaysRevalidate: true })
      try {
        await send(dispatcher, `${server.url}${path}`)
        for (let i = 0; i < 3; i++) assert.match((await send(dispatcher, `${server.url}${path}`)).cacheStatus ?? '', /fwd=request; fwd-status=304/)
        clock.advanceSeconds(61)
        assert.match((await send(dispatcher, `${server.url}${path}`)).cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        // The miss, then the stale entry's refresh: none for the three validations of the fresh one.
        await eventually(() => calls.writes >= 2)
        assert.equal(calls.writes, 2)
      } finally {
        await close()
      }
    })

    it("without the option, a request's no-cache validation of a fresh entry restarts its freshness (RFC 9111 §4.3.4)", async () => {
      const path = `/tagged-restarted-${kind.name}`
      await withCache({ clock }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        clock.advanceSeconds(50)
        const validated = await send(dispatcher, `${server.url}${path}`, { headers: { 'cache-control': 'no-cache' } })
        assert.match(validated.cacheStatus ?? '', /fwd=request; fwd-status=304; ttl=60$/)
        // 80 s after the first response, 30 s after the 304: fresh for 30 s more, not stale since 60.
        clock.advanceSeconds(30)
        const later = await send(dispatcher, `${server.url}${path}`)
        assert.match(later.cacheStatus ?? '', /; hit; ttl=30$/)
        assert.equal(later.headers['age'], '30')
      })
    })

    it('is off by default: a fresh entry is a hit with no request to the origin', async () => {
      const path = `/tagged-default-${kind.name}`
      await withCache({ clock }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        assert.match((await send(dispatcher, `${server.url}${path}`)).cacheStatus ?? '', /; hit;/)
        assert.equal(server.count(path), 1)
      })
    })
  })
}
