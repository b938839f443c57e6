/**
 * Issue #11: one Redis behind a fleet is a shared cache (RFC 9111 §1), and `type: 'shared'` is the
 * default. A shared cache does not store `private` responses outside a credentials partition
 * (§5.2.2.7), lets s-maxage override max-age (§5.2.2.10) and never serves a proxy-revalidate or
 * s-maxage response stale (§5.2.2.8); `type: 'private'` is one user's cache and does all three.
 */
import assert from 'node:assert/strict'
import type { ServerResponse } from 'node:http'
import { InvalidOptionError, MemoryStore, type CacheOptions } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

for (const kind of storeKinds) {
  describe(`shared and private caches (${kind.name} store)`, () => {
    let clock = new ManualClock(Date.now())
    /** What the origin answers next per path: its Cache-Control and status. */
    const answers = new Map<string, { readonly cc: string; readonly status?: number }>()
    let served = 0

    const origin = suiteOrigin(kind, (req, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x')
      res.setHeader('date', new Date(clock.now()).toUTCString())
      if (req.method !== 'GET') {
        res.writeHead(204)
        return res.end()
      }
      const answer = answers.get(url.pathname) ?? { cc: 'max-age=60' }
      const user = typeof req.headers['authorization'] === 'string' ? req.headers['authorization'].slice('Bearer '.length) : 'anyone'
      const body = `${url.pathname} for ${user} #${++served}`
      res.writeHead(answer.status ?? 200, { 'cache-control': answer.cc, 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    beforeEach(() => {
      clock = new ManualClock(Date.now())
    })

    const agent = async (options: CacheOptions = {}) => cachedAgent({ store: await kind.make({ ttl: false }), clock, ...options })

    it("a shared cache (the default) does not store a private response: alice's profile is never served to bob", async () => {
      answers.set('/profile', { cc: 'private, max-age=60' })
      const { dispatcher, close } = await agent()
      try {
        const alice = await send(dispatcher, `${origin.url}/profile`)
        const bob = await send(dispatcher, `${origin.url}/profile`)
        assert.equal(alice.cacheStatus, 'undici-redis-cache; fwd=miss; fwd-status=200')
        assert.notEqual(bob.text, alice.text)
        assert.equal(origin.count('/profile'), 2)
      } finally {
        await close()
      }
    })

    it("type: 'private' stores a private response (one user's cache)", async () => {
      answers.set('/mine', { cc: 'private, max-age=60' })
      const { dispatcher, close } = await agent({ type: 'private' })
      try {
        await send(dispatcher, `${origin.url}/mine`)
        assert.match((await send(dispatcher, `${origin.url}/mine`)).cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/mine'), 1)
      } finally {
        await close()
      }
    })

    it('a private response inside a credentials partition is stored for that user alone', async () => {
      answers.set('/me', { cc: 'private, max-age=60' })
      const { dispatcher, close } = await agent({ credentials: { secret: 'a secret of sixteen+' } })
      try {
        const alice = { authorization: 'Bearer alice' }
        const bob = { authorization: 'Bearer bob' }
        const first = await send(dispatcher, `${origin.url}/me`, { headers: alice })
        const again = await send(dispatcher, `${origin.url}/me`, { headers: alice })
        assert.match(again.cacheStatus ?? '', /; hit; /)
        assert.equal(again.text, first.text)
        const other = await send(dispatcher, `${origin.url}/me`, { headers: bob })
        assert.match(other.text, /for bob/)
        assert.equal(origin.count('/me'), 2)
      } finally {
        await close()
      }
    })

    it("a user's own PUT drops that user's partitioned GET (RFC 9111 §4.4 with credentials)", async () => {
      answers.set('/doc', { cc: 'max-age=600' })
      const { dispatcher, close } = await agent({ credentials: { secret: 'a secret of sixteen+' } })
      try {
        const alice = { authorization: 'Bearer alice' }
        const before = await send(dispatcher, `${origin.url}/doc`, { headers: alice })
        assert.match((await send(dispatcher, `${origin.url}/doc`, { headers: alice })).cacheStatus ?? '', /; hit; /)
        const put = await send(dispatcher, `${origin.url}/doc`, { method: 'PUT', headers: alice, body: 'new' })
        assert.equal(put.status, 204)
        const after = await send(dispatcher, `${origin.url}/doc`, { headers: alice })
        assert.match(after.cacheStatus ?? '', /fwd=miss/)
        assert.notEqual(after.text, before.text)
      } finally {
        await close()
      }
    })

    it('a shared cache takes s-maxage over max-age (§5.2.2.10); a private one ignores it', async () => {
      answers.set('/s-maxage', { cc: 'max-age=1, s-maxage=60' })
      for (const [type, expected] of [['shared', /; hit; /], ['private', /fwd=stale/]] as const) {
        const { dispatcher, close } = await agent({ type })
        try {
          await send(dispatcher, `${origin.url}/s-maxage`)
          clock.advanceSeconds(10)
          assert.match((await send(dispatcher, `${origin.url}/s-maxage`)).cacheStatus ?? '', expected, type)
        } finally {
          await close()
        }
      }
    })

    for (const cc of ['max-age=1, proxy-revalidate', 'max-age=1, s-maxage=1']) {
      it(`a shared cache never serves "${cc}" stale, even with staleIfError (§5.2.2.8, §5.2.2.10); a private one does`, async () => {
        const path = `/strict-${cc.includes('proxy') ? 'proxy' : 's-maxage'}`
        for (const type of ['shared', 'private'] as const) {
          answers.set(path, { cc })
          const { dispatcher, close } = await agent({ type, staleIfError: true })
          try {
            await send(dispatcher, `${origin.url}${path}`)
            clock.advanceSeconds(10)
            answers.set(path, { cc, status: 503 })
            const reply = await send(dispatcher, `${origin.url}${path}`)
            if (type === 'shared') assert.equal(reply.status, 503)
            else assert.match(reply.cacheStatus ?? '', /fwd=stale; fwd-status=503; detail=stale-if-error/)
          } finally {
            await close()
          }
        }
      })
    }
  })
}

describe('the type option', () => {
  it("rejects anything but 'shared' and 'private' with InvalidOptionError naming `type`", async () => {
    const { cache } = await import('../../lib/index.js')
    assert.throws(() => cache({ store: new MemoryStore(), type: 'public' as never }), (error: unknown) => error instanceof InvalidOptionError && error.option === 'type')
  })
})
