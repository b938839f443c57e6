/**
 * A response that arrives without Date (RFC 9110 §6.6.1): "A recipient with a clock that receives a
 * response message without a Date header field MUST record the time it was received and append a
 * corresponding Date header field to the message's header section if it is cached or forwarded
 * downstream." The cache does so for what it stores and passes on, and for a 304 without Date, whose
 * time then counts for the refreshed entry's age and its Expires-based lifetime (RFC 9111 §4.2.1).
 */
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { cacheRunner, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

const START = Date.UTC(2026, 0, 1, 12)
let clock = new ManualClock(START)
const httpDate = (ms: number): string => new Date(ms).toUTCString()

/** No Date on any response. `/expires`: Expires 100 s after the start, an ETag, and 304 to it. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  res.sendDate = false
  if (req.url === '/expires') {
    if (req.headers['if-none-match'] === '"e"') return void res.writeHead(304, { etag: '"e"' }).end()
    return void res.writeHead(200, { expires: httpDate(START + 100_000), etag: '"e"', 'content-length': 2 }).end('ex')
  }
  res.writeHead(200, { 'cache-control': 'max-age=100', 'content-length': 2 })
  res.end('ok')
}

for (const kind of storeKinds) {
  describe(`a response without Date (${kind.name} store)`, () => {
    const server = suiteOrigin(kind, answer)
    const withCache = cacheRunner(kind)
    beforeEach(() => {
      clock = new ManualClock(START)
    })

    it('is passed on and stored with the Date of its arrival (RFC 9110 §6.6.1)', async () => {
      await withCache({ clock }, async (dispatcher) => {
        const miss = await send(dispatcher, `${server.url}/plain`)
        assert.equal(miss.headers['date'], httpDate(START))
        clock.advanceSeconds(10)
        const hit = await send(dispatcher, `${server.url}/plain`)
        assert.match(hit.cacheStatus ?? '', /; hit; ttl=90$/)
        assert.equal(hit.headers['date'], httpDate(START))
        assert.equal(hit.headers['age'], '10')
      })
    })

    it('dates a 304 without Date as it arrives: the stored Expires, long past, leaves the refreshed entry stale', async () => {
      await withCache({ clock }, async (dispatcher) => {
        await send(dispatcher, `${server.url}/expires`)
        clock.advanceSeconds(200)
        const validated = await send(dispatcher, `${server.url}/expires`)
        assert.match(validated.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
        assert.equal(validated.headers['date'], httpDate(START + 200_000))
        clock.advanceSeconds(10)
        // Expires (start + 100 s) is before the Date the 304 got: no freshness, so validated again.
        const again = await send(dispatcher, `${server.url}/expires`)
        assert.match(again.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
      })
    })
  })
}
