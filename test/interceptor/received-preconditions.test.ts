/**
 * The caller's own conditional requests (RFC 9111 §4.3.2, RFC 9110 §13): If-None-Match and
 * If-Modified-Since are answered from a stored 200 with a 304 when the caller holds it already,
 * evaluated after the cache's own revalidation of a stale entry, and forwarded untouched when nothing
 * is stored; If-Match, If-Unmodified-Since and If-Range are the origin's. The cache-tests ids
 * (cache-tests.fyi) are named where a test covers one. Time is a ManualClock that the origin's Date
 * follows too.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { cacheRunner, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { sleep } from '../helpers/faults.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

let clock = new ManualClock(Date.UTC(2026, 0, 1, 12))
/** What a `&gate=1` request's unconditional response waits for. */
let gate: Promise<void> = Promise.resolve()

const httpDate = (ms: number): string => new Date(ms).toUTCString()
/** An hour before the test's start: the Last-Modified of responses that have one. */
const lastModified = (): number => clock.now() - 3_600_000

/**
 * Answers `/<name>?tag=x` (ETag "x"), `?weak=x` (ETag W/"x"), `&lm=1` (an hour-old Last-Modified),
 * `&bare=1` (the tag held but not sent),
 * `&status=N`, with Cache-Control max-age=100, Content-Type, Content-Language and a body naming the
 * path. It evaluates a forwarded If-None-Match itself, as an origin would: 304 when the list holds its
 * ETag.
 */
function answer(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://origin')
  const q = url.searchParams
  const headers: Record<string, string> = { date: httpDate(clock.now()), 'cache-control': 'max-age=100' }
  const etag = q.has('tag') ? `"${q.get('tag')}"` : q.has('weak') ? `W/"${q.get('weak')}"` : null
  // `&bare=1`: the tag is evaluated, but not sent (an origin whose 200s lose their ETag on the way).
  if (etag !== null && q.get('bare') !== '1') headers['etag'] = etag
  if (q.get('lm') === '1') headers['last-modified'] = httpDate(lastModified())
  const noneMatch = req.headers['if-none-match']
  // `yesterday`: an If-Modified-Since a lenient origin takes for a date (the cache ignores it).
  const held = (etag !== null && noneMatch !== undefined && noneMatch.split(',').some((tag) => tag.trim() === etag)) || req.headers['if-modified-since'] === 'yesterday'
  if (held) {
    const notModified = (): void => void res.writeHead(304, headers).end()
    return q.has('gate') ? void gate.then(notModified) : notModified()
  }
  const body = `body of ${url.pathname}`
  const send = (): void => {
    res.writeHead(Number(q.get('status') ?? 200), { ...headers, 'content-type': 'text/plain', 'content-language': 'en', 'content-length': String(Buffer.byteLength(body)) })
    res.end(body)
  }
  if (q.has('gate')) return void gate.then(send)
  send()
}

for (const kind of storeKinds) {
  describe(`the caller's own preconditions (${kind.name} store)`, () => {
    const server = suiteOrigin(kind, answer)
    const withCache = cacheRunner(kind, { ttl: false })
    beforeEach(() => {
      clock = new ManualClock(Date.UTC(2026, 0, 1, 12))
    })
    /** Stores `path` with a plain request, then sends it again with `headers`. */
    const storedThenAsked = async (path: string, headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET') => {
      let reply: Awaited<ReturnType<typeof send>> | undefined
      await withCache({ clock }, async (dispatcher) => {
        const first = await send(dispatcher, `${server.url}${path}`)
        assert.match(first.cacheStatus ?? '', /fwd=miss; fwd-status=\d+; stored/)
        reply = await send(dispatcher, `${server.url}${path}`, { method, headers })
      })
      return { reply: reply!, reached: server.count(path) }
    }
    const notModified = (reply: Awaited<ReturnType<typeof send>>): void => {
      assert.equal(reply.status, 304)
      assert.equal(reply.body.byteLength, 0)
    }

    it('answers a matching strong If-None-Match with 304 from a fresh entry, not the origin (conditional-etag-strong-respond)', async () => {
      const { reply, reached } = await storedThenAsked('/strong?tag=abcdef', { 'if-none-match': '"abcdef"' })
      notModified(reply)
      assert.equal(reached, 1)
      assert.match(reply.cacheStatus ?? '', /^undici-redis-cache; hit; ttl=100$/)
    })

    it('sends in the 304 the ETag, Date, Cache-Control and Age, and none of the content fields (RFC 9110 §15.4.5; conditional-304-etag)', async () => {
      const { reply } = await storedThenAsked('/fields?tag=abcdef&lm=1', { 'if-none-match': '"abcdef"' })
      notModified(reply)
      assert.equal(reply.headers['etag'], '"abcdef"')
      assert.equal(reply.headers['cache-control'], 'max-age=100')
      assert.equal(reply.headers['date'], httpDate(clock.now()))
      assert.equal(reply.headers['age'], '0')
      for (const name of ['content-type', 'content-language', 'content-length', 'last-modified']) assert.equal(reply.headers[name], undefined, name)
    })

    it('keeps Last-Modified in a 304 for a response without ETag, which guides the caller\'s update', async () => {
      const { reply } = await storedThenAsked('/lm-kept?lm=1', { 'if-modified-since': httpDate(lastModified()) })
      notModified(reply)
      assert.equal(reply.headers['last-modified'], httpDate(lastModified()))
    })

    it('compares entity tags weakly (RFC 9110 §13.1.2): W/"x" matches "x" either way round (conditional-etag-weak-respond)', async () => {
      notModified((await storedThenAsked('/weak-both?weak=abcdef', { 'if-none-match': 'W/"abcdef"' })).reply)
      notModified((await storedThenAsked('/weak-asked?tag=abcdef', { 'if-none-match': 'W/"abcdef"' })).reply)
      notModified((await storedThenAsked('/weak-stored?weak=abcdef', { 'if-none-match': '"abcdef"' })).reply)
    })

    it('finds the stored tag anywhere in a list, and `*` matches any stored response (conditional-etag-strong-respond-multiple-*)', async () => {
      notModified((await storedThenAsked('/first?tag=abcdef', { 'if-none-match': '"abcdef", "1234", "5678"' })).reply)
      notModified((await storedThenAsked('/middle?tag=abcdef', { 'if-none-match': '"1234", "abcdef", "5678"' })).reply)
      notModified((await storedThenAsked('/last?tag=abcdef', { 'if-none-match': '"1234",,"5678" ,"abcdef"' })).reply)
      notModified((await storedThenAsked('/star?tag=abcdef', { 'if-none-match': '*' })).reply)
      notModified((await storedThenAsked('/comma?tag=a,b', { 'if-none-match': '"a,b"' })).reply)
    })

    it('serves the stored 200 when no tag matches, or the stored response has no ETag', async () => {
      for (const path of ['/other-tag?tag=abcdef', '/no-etag?lm=1']) {
        const { reply, reached } = await storedThenAsked(path, { 'if-none-match': '"1234", W/"abcde"' })
        assert.equal(reply.status, 200, path)
        assert.equal(reply.text, `body of ${path.split('?')[0]}`)
        assert.match(reply.cacheStatus ?? '', /; hit;/)
        assert.equal(reached, 1)
      }
    })

    it('answers HEAD as GET: a 304 with no body', async () => {
      const { reply, reached } = await storedThenAsked('/head?tag=abcdef', { 'if-none-match': '"abcdef"' }, 'HEAD')
      notModified(reply)
      assert.equal(reached, 1)
    })

    it('answers If-Modified-Since at or after Last-Modified with 304, an earlier one with the stored 200 (conditional-lm-fresh, -earlier)', async () => {
      notModified((await storedThenAsked('/lm-same?lm=1', { 'if-modified-since': httpDate(lastModified()) })).reply)
      notModified((await storedThenAsked('/lm-later?lm=1', { 'if-modified-since': httpDate(lastModified() + 1000) })).reply)
      const earlier = await storedThenAsked('/lm-earlier?lm=1', { 'if-modified-since': httpDate(lastModified() - 1000) })
      assert.equal(earlier.reply.status, 200)
      assert.equal(earlier.reply.text, 'body of /lm-earlier')
    })

    it('reads an If-Modified-Since in the obsolete RFC 850 form (conditional-lm-fresh-rfc850)', async () => {
      // The hour-old Last-Modified, 2026-01-01 11:00:00 GMT, a Thursday.
      notModified((await storedThenAsked('/lm-850?lm=1', { 'if-modified-since': 'Thursday, 01-Jan-26 11:00:00 GMT' })).reply)
    })

    it('without Last-Modified, compares If-Modified-Since with the stored Date (RFC 9111 §4.3.2)', async () => {
      notModified((await storedThenAsked('/by-date', { 'if-modified-since': httpDate(clock.now()) })).reply)
      const before = await storedThenAsked('/by-date-before', { 'if-modified-since': httpDate(clock.now() - 1000) })
      assert.equal(before.reply.status, 200)
    })

    it('ignores If-Modified-Since beside If-None-Match (RFC 9110 §13.1.3; conditional-etag-precedence)', async () => {
      notModified((await storedThenAsked('/precedence?tag=abcdef&lm=1', { 'if-none-match': '"abcdef"', 'if-modified-since': httpDate(lastModified() - 1000) })).reply)
      const other = await storedThenAsked('/precedence-other?tag=abcdef&lm=1', { 'if-none-match': '"1234"', 'if-modified-since': httpDate(lastModified()) })
      assert.equal(other.reply.status, 200)
    })

    it('ignores an If-Modified-Since that is no HTTP-date (RFC 9110 §13.1.3): the stored 200 is served', async () => {
      const { reply, reached } = await storedThenAsked('/bad-date?lm=1', { 'if-modified-since': 'yesterday' })
      assert.equal(reply.status, 200)
      assert.match(reply.cacheStatus ?? '', /; hit;/)
      assert.equal(reached, 1)
    })

    it('does not evaluate preconditions against a stored response other than 200 (RFC 9111 §4.3.2)', async () => {
      const { reply } = await storedThenAsked('/gone?tag=abcdef&status=410', { 'if-none-match': '"abcdef"' })
      assert.equal(reply.status, 410)
      assert.equal(reply.text, 'body of /gone')
    })

    it('revalidates a stale entry with its own validator only, then answers the caller from the refreshed entry (conditional-lm-stale)', async () => {
      const path = '/stale?tag=abcdef'
      await withCache({ clock }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        clock.advanceSeconds(101)
        const held = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"1234", "abcdef"' } })
        notModified(held)
        assert.match(held.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        // The origin saw the cache's validator, not the caller's list.
        assert.equal(server.requests.at(-1)!.headers['if-none-match'], '"abcdef"')
        clock.advanceSeconds(101)
        const other = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"1234"' } })
        assert.equal(other.status, 200)
        assert.equal(other.text, 'body of /stale')
        assert.match(other.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
      })
    })

    it('forwards the preconditions untouched when nothing is stored, and stores nothing of a 304 (conditional-etag-forward)', async () => {
      const path = '/forwarded?tag=abcdef'
      await withCache({ clock }, async (dispatcher) => {
        const first = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"abcdef"' } })
        notModified(first)
        assert.match(first.cacheStatus ?? '', /fwd=miss; fwd-status=304$/)
        assert.equal(server.requests.at(-1)!.headers['if-none-match'], '"abcdef"')
        // The 304 stored nothing and did not mark the URL as not storable: the next plain request is
        // a stored miss, the one after it a hit.
        const plain = await send(dispatcher, `${server.url}${path}`)
        assert.match(plain.cacheStatus ?? '', /fwd=miss; fwd-status=200; stored/)
        assert.match((await send(dispatcher, `${server.url}${path}`)).cacheStatus ?? '', /; hit;/)
      })
    })

    it('leaves the URL to collapsing after a 304 to a conditional miss: two plain misses then reach the origin once', async () => {
      const path = '/collapsing?tag=abcdef&gate=1'
      await withCache({ clock }, async (dispatcher) => {
        notModified(await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"abcdef"' } }))
        let open!: () => void
        gate = new Promise((resolve) => (open = resolve))
        const both = Promise.all([send(dispatcher, `${server.url}${path}`), send(dispatcher, `${server.url}${path}`)])
        await eventually(() => server.count(path) === 2)
        // Time for the other request to reach its lookup: it follows the first (or, had the 304 marked
        // the URL as one whose responses are not stored, goes to the origin too).
        await sleep(50)
        open()
        const replies = await both
        assert.equal(server.count(path), 2)
        assert.deepEqual(replies.map((r) => r.text), ['body of /collapsing', 'body of /collapsing'])
        assert.equal(replies.filter((r) => /; collapsed/.test(r.cacheStatus ?? '')).length, 1)
      })
    })

    it('never lets a request with an If-Modified-Since it ignores lead a collapse: its origin may answer 304', async () => {
      const path = '/ignored-ims?gate=1'
      await withCache({ clock }, async (dispatcher) => {
        let open!: () => void
        gate = new Promise((resolve) => (open = resolve))
        const conditional = send(dispatcher, `${server.url}${path}`, { headers: { 'if-modified-since': 'yesterday' } })
        await eventually(() => server.count(path) === 1)
        const plain = Promise.all([send(dispatcher, `${server.url}${path}`), send(dispatcher, `${server.url}${path}`)])
        // Time for both plain requests to reach their lookups: one leads, the other follows it (had the
        // conditional one led, both would follow it, then go to the origin after its 304).
        await sleep(50)
        open()
        notModified(await conditional)
        const replies = await plain
        assert.deepEqual(replies.map((r) => r.status), [200, 200])
        assert.equal(server.count(path), 2)
      })
    })

    it('sends the stale entry\'s own validator without the caller\'s, when it has only a Last-Modified', async () => {
      const path = '/lm-only?lm=1'
      await withCache({ clock }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        const stored = httpDate(lastModified())
        clock.advanceSeconds(101)
        const reply = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"zzz"' } })
        assert.equal(reply.status, 200)
        const validation = server.requests.at(-1)!
        assert.equal(validation.headers['if-modified-since'], stored)
        assert.equal(validation.headers['if-none-match'], undefined, "the caller's tag went to the origin")
      })
    })

    it("sends the caller's preconditions when the stale entry has no validator, and passes a 304 on without touching the entry (RFC 9111 §4.3.2)", async () => {
      const path = '/no-validator?tag=abcdef&bare=1'
      await withCache({ clock }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        clock.advanceSeconds(101)
        const held = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"1234", "abcdef"' } })
        notModified(held)
        assert.match(held.cacheStatus ?? '', /fwd=stale; fwd-status=304$/)
        assert.equal(server.requests.at(-1)!.headers['if-none-match'], '"1234", "abcdef"')
        // The 304 answered the caller's tags, not the stored response: the entry is still stale, and a
        // caller without the representation gets it from the origin, stored again.
        const plain = await send(dispatcher, `${server.url}${path}`)
        assert.equal(plain.text, 'body of /no-validator')
        assert.match(plain.cacheStatus ?? '', /fwd=stale; fwd-status=200; stored/)
        assert.equal(server.count(path), 3)
        // A caller holding another tag gets the stored 200, from the cache now that it is fresh again.
        const other = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"1234"' } })
        assert.equal(other.text, 'body of /no-validator')
        assert.match(other.cacheStatus ?? '', /; hit;/)
      })
    })

    it("passes on a HEAD's 304 to the caller's preconditions for a stale entry without validator, leaving the stored GET", async () => {
      const path = '/no-validator-head?tag=abcdef&bare=1'
      await withCache({ clock }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        clock.advanceSeconds(101)
        const head = await send(dispatcher, `${server.url}${path}`, { method: 'HEAD', headers: { 'if-none-match': '"abcdef"' } })
        notModified(head)
        assert.match(head.cacheStatus ?? '', /fwd=stale; fwd-status=304$/)
        // Still stored (stale): revalidated, not missed.
        const plain = await send(dispatcher, `${server.url}${path}`)
        assert.match(plain.cacheStatus ?? '', /fwd=stale; fwd-status=200; stored/)
      })
    })

    it("strips the caller's preconditions from a background revalidation of an entry without validator (stale-while-revalidate)", async () => {
      const path = '/no-validator-swr?tag=abcdef&bare=1'
      await withCache({ clock, staleWhileRevalidate: 60 }, async (dispatcher) => {
        await send(dispatcher, `${server.url}${path}`)
        clock.advanceSeconds(101)
        const served = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"abcdef"' } })
        assert.match(served.cacheStatus ?? '', /detail=stale-while-revalidate/)
        await eventually(() => server.count(path) === 2)
        assert.equal(server.requests.at(-1)!.headers['if-none-match'], undefined, 'the background request carried the caller\'s tag')
      })
    })

    it('stores the 200 an origin sends for a conditional miss, for every later request', async () => {
      const path = '/changed?tag=v2'
      await withCache({ clock }, async (dispatcher) => {
        const first = await send(dispatcher, `${server.url}${path}`, { headers: { 'if-none-match': '"v1"' } })
        assert.equal(first.status, 200)
        assert.match(first.cacheStatus ?? '', /fwd=miss; fwd-status=200; stored/)
        const later = await send(dispatcher, `${server.url}${path}`)
        assert.equal(later.text, 'body of /changed')
        assert.match(later.cacheStatus ?? '', /; hit;/)
        assert.equal(server.count(path), 1)
      })
    })

    it('leaves a Range request with If-None-Match to the origin: Range is answered only after the preconditions (RFC 9110 §13.2.2)', async () => {
      const path = '/ranged?tag=abcdef'
      const { reply, reached } = await storedThenAsked(path, { 'if-none-match': '"abcdef"', range: 'bytes=0-3' })
      assert.equal(reached, 2)
      assert.match(reply.cacheStatus ?? '', /fwd=bypass; fwd-status=304; detail=conditional$/)
    })

    for (const [name, value] of [
      ['if-match', '"abcdef"'],
      ['if-unmodified-since', 'Thu, 01 Jan 2026 11:00:00 GMT'],
      ['if-range', '"abcdef"'],
      ['if-none-match', 'abcdef'],
    ] as const) {
      it(`leaves ${name}: ${value} to the origin, untouched (RFC 9111 §4.3.2)`, async () => {
        const path = `/origin-only-${name}?tag=abcdef`
        const { reply, reached } = await storedThenAsked(path, { [name]: value })
        assert.equal(reached, 2)
        assert.match(reply.cacheStatus ?? '', /fwd=bypass; fwd-status=\d+; detail=conditional$/)
        assert.equal(server.requests.at(-1)!.headers[name], value)
      })
    }
  })
}
