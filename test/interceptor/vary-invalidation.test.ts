/**
 * Invalidation reaches every Vary variant, however it was written (RFC 9111 §4.4, §4.1; issue 11).
 *
 * Broken before: a pointer listed at most 32 variants, and two concurrent first writers overwrote each
 * other's list, so invalidation left unlisted variants behind; once any later request wrote a new
 * pointer with the same field names, their ids were computed again and the old bodies served (8 of 40
 * after a PUT). Now a pointer carries a generation that is part of every variant id, and a pointer
 * written after invalidation has a new one, so no variant written before it can be found again.
 */
import assert from 'node:assert/strict'
import { cachedAgent, send, type Reply } from '../helpers/client.js'
import { HeldRequests, trackedStore, watchStored } from '../helpers/signals.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

for (const kind of storeKinds) {
  describe(`invalidation of Vary variants (${kind.name} store)`, () => {
    /** Successful writes per path: each one changes the body every variant of that path answers with. */
    const versions = new Map<string, number>()
    /** GETs sent with `x-hold`, named `<path> <variant>`: the origin answers them when the test releases them. */
    const held = new HeldRequests()
    const origin = suiteOrigin(kind, (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (req.method !== 'GET') {
        versions.set(path, (versions.get(path) ?? 0) + 1)
        res.writeHead(204)
        return res.end()
      }
      // The body is the resource as it is when the request arrives, however long it is held.
      const value = String(req.headers['x-variant'])
      const body = `${path} ${value} v${versions.get(path) ?? 0}`
      const answer = (): void => {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'X-Variant', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }
      if (req.headers['x-hold'] !== undefined) held.hold(`${path} ${value}`, answer)
      else answer()
    })

    type Dispatcher = Parameters<typeof send>[0]
    const variant = (dispatcher: Dispatcher, path: string, value: string, hold = false): Promise<Reply> =>
      send(dispatcher, `${origin.url}${path}`, { headers: { 'x-variant': value, ...(hold ? { 'x-hold': '1' } : {}) } })
    const isHit = (reply: Reply): boolean => /; hit; /.test(reply.cacheStatus ?? '')

    it('after a PUT, each of 40 variants (more than a pointer lists) goes to the origin for the new body', async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make() })
      const path = '/many'
      const values = Array.from({ length: 40 }, (_, i) => `v-${i}`)
      try {
        for (const value of values) assert.equal((await variant(dispatcher, path, value)).text, `${path} ${value} v0`)
        for (const value of values) assert.equal(isHit(await variant(dispatcher, path, value)), true, `${value} is stored`)
        assert.equal((await send(dispatcher, `${origin.url}${path}`, { method: 'PUT', body: 'x' })).status, 204)
        const stale: string[] = []
        for (const value of values) {
          const reply = await variant(dispatcher, path, value)
          if (reply.text !== `${path} ${value} v1` || isHit(reply)) stale.push(`${value}: ${reply.text} (${reply.cacheStatus})`)
        }
        assert.deepEqual(stale, [], 'variants served from before the PUT')
        assert.equal(origin.requests.filter((r) => r.method === 'GET' && r.url === path).length, 80)
      } finally {
        await close()
      }
    })

    // Which of two racing writers wins is timing; each race is run with both orders of the reads after
    // the PUT, since a variant left out of the pointer shows only when the other variant is read first.
    for (const agents of ['one agent', 'two agents sharing the store'] as const) {
      for (const order of [['en', 'fr'], ['fr', 'en']] as const) {
        it(`two concurrent first requests for different variants (${agents}), a PUT: neither is served stale (${order.join(', ')} read first)`, async () => {
          const store = await kind.make()
          const a = cachedAgent({ store })
          // Two processes racing to the origin: fleet collapsing (collapseTimeout) would make one wait for the other.
          const b = agents === 'one agent' ? a : cachedAgent({ store, collapseTimeout: 0 })
          const path = `/race-${agents === 'one agent' ? 1 : 2}-${order[0]}`
          const url = `${origin.url}${path}`
          const stored = watchStored()
          try {
            const replies = Promise.all([variant(a.dispatcher, path, 'en', true), variant(b.dispatcher, path, 'fr', true)])
            const names = [`${path} en`, `${path} fr`]
            if (b !== a) {
              // Both requests are at the origin, so both lookups found nothing, before either response is written.
              await Promise.all(names.map((name) => held.arrived(name)))
              for (const name of names) held.release(name)
            } else {
              // One agent collapses them: the follower reaches the origin only once the leader's response
              // has come and does not match it, while the leader's write is on its way.
              const first = await Promise.race(names.map((name) => held.arrived(name).then(() => name)))
              held.release(first)
              const second = names.find((name) => name !== first)!
              await held.arrived(second)
              held.release(second)
            }
            const [en, fr] = await replies
            assert.equal(en.text, `${path} en v0`)
            assert.equal(fr.text, `${path} fr v0`)
            // Let both writes land (they are not awaited by the requests): the race is between them, not with the PUT.
            await stored.until(url, 2)
            assert.equal((await send(a.dispatcher, url, { method: 'PUT', body: 'x' })).status, 204)
            for (const value of order) {
              const reply = await variant(a.dispatcher, path, value)
              assert.equal(reply.text, `${path} ${value} v1`, `${value} after the PUT (${reply.cacheStatus})`)
            }
            for (const value of order) {
              const reply = await variant(b.dispatcher, path, value)
              assert.equal(reply.text, `${path} ${value} v1`, `${value} again (${reply.cacheStatus})`)
            }
          } finally {
            stored.stop()
            held.releaseAll()
            await a.close()
            if (b !== a) await b.close()
          }
        })
      }
    }

    for (const agents of ['one agent', 'two agents sharing the store'] as const) {
      it(`a variant whose request was at the origin while a PUT invalidated the URL is not served after it (${agents})`, async () => {
        const tracked = trackedStore(await kind.make())
        const a = cachedAgent({ store: tracked.store })
        const b = agents === 'one agent' ? a : cachedAgent({ store: tracked.store })
        const path = `/inflight-${agents === 'one agent' ? 1 : 2}`
        const url = `${origin.url}${path}`
        const stored = watchStored()
        try {
          await variant(a.dispatcher, path, 'en')
          // The en write lands before fr is sent, so fr's lookup finds the pointer the en response left.
          await stored.until(url, 1)
          // The origin reads the resource for fr as it is before the PUT, and answers only after it.
          const slow = variant(b.dispatcher, path, 'fr', true)
          await held.arrived(`${path} fr`)
          assert.equal((await send(a.dispatcher, url, { method: 'PUT', body: 'x' })).status, 204)
          held.release(`${path} fr`)
          assert.equal((await slow).text, `${path} fr v0`)
          // Let whatever the cache does with the fr response (a write, or none) finish before the reads.
          await tracked.idle()
          for (const dispatcher of [a.dispatcher, b.dispatcher]) {
            for (const value of ['fr', 'en']) {
              const reply = await variant(dispatcher, path, value)
              assert.equal(reply.text, `${path} ${value} v1`, `${value} after the PUT (${reply.cacheStatus})`)
            }
          }
        } finally {
          stored.stop()
          held.releaseAll()
          await a.close()
          if (b !== a) await b.close()
        }
      })
    }
  })
}
