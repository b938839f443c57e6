/**
 * Interim (1xx) responses from the origin (RFC 9110 §15.2): passed on to the caller as they came, on
 * every path that forwards (a miss, a bypass, an unsafe method, a revalidation), and never mistaken for
 * the final response: that one is still recorded and stored, and a later hit carries nothing of the
 * interim one (cache-tests interim-102, interim-103, interim-not-cached, interim-no-header-reuse).
 * undici calls the caller's onResponseStart for each 1xx, as `request()`'s `onInfo` shows.
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fetch, request, type Dispatcher } from '../helpers/undici.js'
import { cacheRunner } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

let clock = new ManualClock(Date.UTC(2026, 0, 1, 12))

/**
 * `/102…` sends 102 Processing first, anything else 103 Early Hints with a Link field; then a 200 with
 * an ETag, fresh for 10 s, or a 304 when the request's If-None-Match holds that ETag.
 */
function answer(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.startsWith('/102') === true) res.writeProcessing()
  else res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
  const headers = { date: new Date(clock.now()).toUTCString(), 'cache-control': 'max-age=10', etag: '"v1"' }
  if (req.headers['if-none-match'] === '"v1"') {
    res.writeHead(304, headers)
    return void res.end()
  }
  res.writeHead(200, { ...headers, 'content-length': '5' })
  res.end('hello')
}

interface Answer {
  readonly interim: number[]
  readonly status: number
  readonly text: string
  readonly cacheStatus: string
  readonly link: unknown
}

/** One request through `dispatcher`, with the interim statuses `onInfo` saw. */
async function ask(dispatcher: Dispatcher, url: string, init: { method?: Dispatcher.HttpMethod; headers?: Record<string, string> } = {}): Promise<Answer> {
  const interim: number[] = []
  const res = await request(url, { dispatcher, method: init.method ?? 'GET', headers: init.headers ?? {}, onInfo: (info: { statusCode: number }) => interim.push(info.statusCode) } as Parameters<typeof request>[1])
  return { interim, status: res.statusCode, text: await res.body.text(), cacheStatus: String(res.headers['cache-status']), link: res.headers['link'] }
}

for (const kind of storeKinds) {
  describe(`interim responses (${kind.name} store)`, () => {
    const server = suiteOrigin(kind, answer)
    const withCache = cacheRunner(kind, { ttl: false })
    beforeEach(() => {
      clock = new ManualClock(Date.UTC(2026, 0, 1, 12))
    })

    for (const [status, path] of [
      [103, '/early'],
      [102, '/102-processing'],
    ] as const) {
      it(`passes a ${status} on a miss, stores the final 200 alone, and serves it without the ${status}`, async () => {
        await withCache({ clock }, async (dispatcher) => {
          const miss = await ask(dispatcher, `${server.url}${path}`)
          assert.deepEqual(miss.interim, [status])
          assert.equal(miss.status, 200)
          assert.equal(miss.text, 'hello')
          assert.match(miss.cacheStatus, /fwd=miss; fwd-status=200; stored/)
          const hit = await ask(dispatcher, `${server.url}${path}`)
          assert.deepEqual(hit.interim, [])
          assert.equal(hit.text, 'hello')
          assert.match(hit.cacheStatus, /; hit;/)
          assert.equal(hit.link, undefined, "the 103's fields are not the response's")
          assert.equal(server.count(path), 1)
        })
      })
    }

    it('passes a 103 on a bypass and on an unsafe method', async () => {
      await withCache({ clock }, async (dispatcher) => {
        const bypassed = await ask(dispatcher, `${server.url}/bypassed`, { headers: { 'cache-control': 'no-store' } })
        assert.deepEqual([bypassed.interim, bypassed.status, bypassed.text], [[103], 200, 'hello'])
        assert.match(bypassed.cacheStatus, /fwd=bypass; fwd-status=200; detail=no-store/)
        const posted = await ask(dispatcher, `${server.url}/posted`, { method: 'POST' })
        assert.deepEqual([posted.interim, posted.status, posted.text], [[103], 200, 'hello'])
        assert.match(posted.cacheStatus, /fwd=method; fwd-status=200/)
      })
    })

    it('passes a 103 on a revalidation, and serves the stored body after the 304', async () => {
      await withCache({ clock }, async (dispatcher) => {
        await ask(dispatcher, `${server.url}/revalidated`)
        clock.advanceSeconds(11)
        const revalidated = await ask(dispatcher, `${server.url}/revalidated`)
        assert.deepEqual([revalidated.interim, revalidated.status, revalidated.text], [[103], 200, 'hello'])
        assert.match(revalidated.cacheStatus, /fwd=stale; fwd-status=304/)
      })
    })

    it('gives fetch() the final response after a 103: a miss, a hit, and a stored body replayed after a 304', async () => {
      await withCache({ clock }, async (dispatcher) => {
        const expectations = [/fwd=miss; fwd-status=200; stored/, /; hit;/, /fwd=stale; fwd-status=304/]
        for (const [index, expected] of expectations.entries()) {
          // The third finds the entry stale: revalidated (103, then 304), then replayed from the store.
          if (index === 2) clock.advanceSeconds(11)
          // A hang bound, not a speed goal: fetch pauses in answer to the 103, and a pause kept would hold
          // the replay until something unrelated (the origin's idle socket closing, here) stirred it.
          const res = await fetch(`${server.url}/fetched`, { dispatcher, signal: AbortSignal.timeout(1500) })
          assert.equal(res.status, 200)
          assert.equal(await res.text(), 'hello')
          assert.match(res.headers.get('cache-status') ?? '', expected)
        }
      })
    })
  })
}
