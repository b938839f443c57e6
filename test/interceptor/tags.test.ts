/**
 * Cache tags end to end (issue #14): responses filed under the tags of the `tagsHeader` field and of
 * the request's own `tags` option, dropped by `store.deleteTags()` with every variant and body; the
 * other indexed deletes (`deletePrefix`, `deleteOlderThan`) on what the interceptor stored. Time is a
 * ManualClock shared by the cache and the store, so "stored before" is exact.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { cacheOption, type CacheOptions, type CacheStore, type RequestCacheOptions } from '../../lib/index.js'
import { cachedAgent } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import { request, type Dispatcher } from '../helpers/undici.js'
import { collect } from '../stores/store-contract.js'
import { STORED_TAGS_FIELD } from '../../lib/policy/tags.js'
import { INLINE_BODY_LIMIT } from '../../lib/entry.js'

/** Over what a body may keep inside its entry in Redis (entry.ts INLINE_BODY_LIMIT): stored apart. */
const BIG_BODY = randomBytes(INLINE_BODY_LIMIT + 44 * 1024)

interface Reply {
  readonly status: number
  readonly body: Buffer
  readonly text: string
  readonly cacheStatus: string
  readonly headers: Readonly<Record<string, unknown>>
}

for (const kind of storeKinds) {
  describe(`cache tags (${kind.name} store)`, () => {
    let clock = new ManualClock(Date.now())
    let served = 0
    /** The tags field the origin sends for a path (one string, or one string per field line). */
    const fields = new Map<string, string | string[]>()
    /** The tags field the origin sends on a 304 for a path, if any. */
    const notModifiedFields = new Map<string, string>()
    /** Paths whose responses carry the cache's own stored tags field, as if the origin forged it. */
    const forged = new Set<string>()

    // /etag…: fresh for 1 s, with a validator; /vary: varies on Accept-Language and is tagged by it;
    // /big…: a body stored apart in Redis; anything else: fresh for 600 s, tagged as `fields` says.
    const origin = suiteOrigin(kind, (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const headers: Record<string, string | string[]> = {
        date: new Date(clock.now()).toUTCString(),
        'cache-control': path.startsWith('/etag') ? 'max-age=1' : 'max-age=600',
      }
      if (path.startsWith('/etag')) {
        headers['etag'] = '"v1"'
        if (req.headers['if-none-match'] === '"v1"') {
          const field = notModifiedFields.get(path)
          if (field !== undefined) headers['cache-tag'] = field
          res.writeHead(304, headers)
          return void res.end()
        }
      }
      if (path === '/vary') {
        headers['vary'] = 'accept-language'
        headers['cache-tag'] = `page:home lang:${String(req.headers['accept-language'])}`
      }
      const field = fields.get(path)
      if (field !== undefined) headers['cache-tag'] = field
      if (forged.has(path)) headers[STORED_TAGS_FIELD] = 'forged'
      const body = path.startsWith('/big') ? BIG_BODY : Buffer.from(`${req.url} #${++served}`)
      headers['content-length'] = String(body.byteLength)
      res.writeHead(200, headers)
      res.end(body)
    })

    beforeEach(() => {
      clock = new ManualClock(Date.now())
      fields.clear()
      notModifiedFields.clear()
      forged.clear()
    })

    /** A cached Agent over a fresh store, both on the test's clock; the options read tags from Cache-Tag unless given. */
    async function setup(options: CacheOptions = { tagsHeader: 'Cache-Tag' }): Promise<{ dispatcher: Dispatcher; store: CacheStore; close: () => Promise<void> }> {
      const store = await kind.make({ ttl: false, clock })
      const { dispatcher, close } = cachedAgent({ store, clock, ...options })
      return { dispatcher, store, close }
    }

    async function get(dispatcher: Dispatcher, path: string, init: { headers?: Record<string, string>; cache?: RequestCacheOptions } = {}): Promise<Reply> {
      const res = await request(`${origin.url}${path}`, { dispatcher, headers: init.headers ?? {}, ...(init.cache === undefined ? {} : cacheOption(init.cache)) })
      const body = Buffer.from(await res.body.arrayBuffer())
      return { status: res.statusCode, body, text: body.toString('utf8'), cacheStatus: String(res.headers['cache-status']), headers: res.headers }
    }

    /** Asserts the request is served from the cache, the origin not contacted. */
    async function assertHit(dispatcher: Dispatcher, path: string, headers: Record<string, string> = {}): Promise<Reply> {
      const before = origin.count(path)
      const reply = await get(dispatcher, path, { headers })
      assert.match(reply.cacheStatus, /; hit/, `${path} ${JSON.stringify(headers)} should be a hit`)
      assert.equal(origin.count(path), before, `${path} reached the origin`)
      return reply
    }

    /** Asserts the request went to the origin because nothing usable was stored. */
    async function assertMiss(dispatcher: Dispatcher, path: string, headers: Record<string, string> = {}): Promise<Reply> {
      const before = origin.count(path)
      const reply = await get(dispatcher, path, { headers })
      assert.match(reply.cacheStatus, /fwd=(uri-|vary-)?miss/, `${path} ${JSON.stringify(headers)} should be a miss`)
      assert.equal(origin.count(path), before + 1)
      return reply
    }

    /** Stores `path` (a miss) and proves it stored (a hit: in this process a read waits for the write). */
    async function stored(dispatcher: Dispatcher, path: string, headers: Record<string, string> = {}): Promise<void> {
      await assertMiss(dispatcher, path, headers)
      await assertHit(dispatcher, path, headers)
    }

    it('files a response under each tag of a space-separated field: deleteTags() drops those entries, counts them, and keeps the rest', async () => {
      const { dispatcher, store, close } = await setup()
      fields.set('/users/42', 'user:42 team:7')
      fields.set('/users/43', 'user:43 team:7')
      fields.set('/posts/1', 'post:1')
      try {
        for (const path of ['/users/42', '/users/43', '/posts/1']) await stored(dispatcher, path)
        assert.equal(await store.deleteTags(['user:42']), 1)
        await assertMiss(dispatcher, '/users/42')
        await assertHit(dispatcher, '/users/43')
        await assertHit(dispatcher, '/posts/1')

        // Stored again by that miss, under both its tags again.
        await assertHit(dispatcher, '/users/42')
        assert.equal(await store.deleteTags(['team:7']), 2)
        await assertMiss(dispatcher, '/users/42')
        await assertMiss(dispatcher, '/users/43')
        await assertHit(dispatcher, '/posts/1')
        assert.equal(await store.deleteTags(['never-stored']), 0)
      } finally {
        await close()
      }
    })

    it('reads the comma form and repeated field lines, and counts an entry under two deleted tags once', async () => {
      const { dispatcher, store, close } = await setup()
      fields.set('/comma', 'user:42, team:7')
      fields.set('/lines', ['user:42', 'team:7'])
      fields.set('/other', 'team:8')
      try {
        for (const path of ['/comma', '/lines', '/other']) await stored(dispatcher, path)
        assert.equal(await store.deleteTags(['user:42', 'team:7', 'user:42']), 2)
        await assertMiss(dispatcher, '/comma')
        await assertMiss(dispatcher, '/lines')
        await assertHit(dispatcher, '/other')
        await assertHit(dispatcher, '/comma')
        await assertHit(dispatcher, '/lines')
        assert.equal(await store.deleteTags(['team:7']), 2, 'stored again under its second tag')
      } finally {
        await close()
      }
    })

    it('reads no field without tagsHeader, and only the field tagsHeader names', async () => {
      fields.set('/untagged', 'user:42')
      for (const options of [{}, { tagsHeader: 'surrogate-key' }]) {
        const { dispatcher, store, close } = await setup(options)
        try {
          await stored(dispatcher, '/untagged')
          assert.equal(await store.deleteTags(['user:42']), 0, JSON.stringify(options))
          await assertHit(dispatcher, '/untagged')
        } finally {
          await close()
        }
      }
    })

    it("files a response under the request's own `tags` too, with or without tagsHeader", async () => {
      for (const readsField of [true, false]) {
        const { dispatcher, store, close } = await setup(readsField ? { tagsHeader: 'Cache-Tag' } : {})
        fields.set('/own', 'user:42')
        try {
          const first = await get(dispatcher, '/own', { cache: { tags: ['list:users', 'req:1'] } })
          assert.match(first.cacheStatus, /fwd=miss; fwd-status=200; stored/)
          await assertHit(dispatcher, '/own')
          await stored(dispatcher, '/not-own')
          assert.equal(await store.deleteTags(['req:1']), 1)
          await assertMiss(dispatcher, '/own')
          await assertHit(dispatcher, '/not-own')
          // Stored again by that miss, which had no tags of its own: under the field's only, when read.
          await assertHit(dispatcher, '/own')
          assert.equal(await store.deleteTags(['user:42']), readsField ? 1 : 0)
        } finally {
          await close()
        }
      }
    })

    it('an entry stored again under other tags is filed under the new tags only', async () => {
      const { dispatcher, store, close } = await setup()
      fields.set('/retagged', 'v1')
      try {
        const first = await get(dispatcher, '/retagged', { cache: { tags: ['req:1'] } })
        assert.match(first.cacheStatus, /stored/)
        await assertHit(dispatcher, '/retagged')
        // A reload replaces the stored response at the same id; the origin now tags it v2.
        fields.set('/retagged', 'v2')
        const reloaded = await get(dispatcher, '/retagged', { cache: { mode: 'reload' } })
        assert.match(reloaded.cacheStatus, /stored/)
        assert.equal((await assertHit(dispatcher, '/retagged')).text, reloaded.text)
        assert.equal(await store.deleteTags(['v1']), 0, 'no longer filed under the field tag it had')
        assert.equal(await store.deleteTags(['req:1']), 0, 'no longer filed under the request tag it had')
        await assertHit(dispatcher, '/retagged')
        assert.equal(await store.deleteTags(['v2']), 1)
        await assertMiss(dispatcher, '/retagged')
      } finally {
        await close()
      }
    })

    it('files each Vary variant under its own tags; deleteTags() drops one variant, or every variant of a shared tag', async () => {
      const { dispatcher, store, close } = await setup()
      const languages = ['en', 'fr', 'de']
      try {
        for (const lang of languages) await stored(dispatcher, '/vary', { 'accept-language': lang })
        assert.equal(await store.deleteTags(['lang:fr']), 1)
        await assertHit(dispatcher, '/vary', { 'accept-language': 'en' })
        await assertHit(dispatcher, '/vary', { 'accept-language': 'de' })
        await stored(dispatcher, '/vary', { 'accept-language': 'fr' })

        assert.equal(await store.deleteTags(['page:home']), 3)
        for (const lang of languages) {
          const reply = await assertMiss(dispatcher, '/vary', { 'accept-language': lang })
          assert.equal(reply.status, 200)
        }
      } finally {
        await close()
      }
    })

    it('drops a body stored apart (over INLINE_BODY_LIMIT) with its entry', async () => {
      const { dispatcher, store, close } = await setup()
      fields.set('/big', 'big')
      fields.set('/small', 'small')
      try {
        await assertMiss(dispatcher, '/big')
        assert.deepEqual((await assertHit(dispatcher, '/big')).body, BIG_BODY)
        await stored(dispatcher, '/small')
        const before = await collect(store.ids())
        // Redis keeps the big body under its own id (`<entry id>~<generation>`); MemoryStore inside the entry.
        assert.equal(before.filter((id) => id.includes('~')).length, kind.name === 'redis' ? 1 : 0, before.join(' '))
        assert.equal(await store.deleteTags(['big']), 1)
        const after = await collect(store.ids())
        assert.equal(after.length, before.length - (kind.name === 'redis' ? 2 : 1), `entry and body gone: ${before.join(' ')} → ${after.join(' ')}`)
        assert.deepEqual(after.filter((id) => id.includes('~')), [])
        assert.deepEqual(await collect(store.keys()), after, 'what is left is the small entry')
        assert.deepEqual((await assertMiss(dispatcher, '/big')).body, BIG_BODY)
      } finally {
        await close()
      }
    })

    for (const [name, path, field] of [
      ['33 tags', '/too-many', Array.from({ length: 33 }, (_, i) => `t${i}`).join(' ')],
      ['a tag of 200 characters', '/too-long', `user:42 ${'x'.repeat(200)}`],
    ] as const) {
      it(`serves a response whose tags field holds ${name} intact, but does not store it`, async () => {
        const { dispatcher, store, close } = await setup()
        fields.set(path, field)
        try {
          const first = await get(dispatcher, path)
          assert.equal(first.status, 200)
          assert.match(first.text, new RegExp(`^${path} #\\d+$`))
          assert.match(first.cacheStatus, /fwd=miss; fwd-status=200$/, 'not `stored`')
          const second = await assertMiss(dispatcher, path)
          assert.notEqual(second.text, first.text)
          assert.deepEqual(await collect(store.keys()), [])
        } finally {
          await close()
        }
      })
    }

    it('stores a response whose field holds exactly 32 tags of 128 characters', async () => {
      const { dispatcher, store, close } = await setup()
      const tags = Array.from({ length: 32 }, (_, i) => `t${i}-`.padEnd(128, 'x'))
      fields.set('/at-bounds', tags.join(', '))
      try {
        await stored(dispatcher, '/at-bounds')
        assert.equal(await store.deleteTags([tags[31]!]), 1)
        await assertMiss(dispatcher, '/at-bounds')
      } finally {
        await close()
      }
    })

    it('a 304 revalidation keeps the entry filed under its tags, and under the tags a 304 brings', async () => {
      const { dispatcher, store, close } = await setup()
      fields.set('/etag/kept', 'user:9')
      fields.set('/etag/new', 'old-tag')
      notModifiedFields.set('/etag/new', 'new-tag')
      try {
        for (const path of ['/etag/kept', '/etag/new']) {
          await stored(dispatcher, path)
        }
        clock.advanceSeconds(5)
        for (const path of ['/etag/kept', '/etag/new']) {
          const before = origin.count(path)
          const revalidated = await get(dispatcher, path)
          assert.match(revalidated.cacheStatus, /fwd=stale; fwd-status=304/)
          assert.equal(origin.count(path), before + 1)
          assert.equal(origin.requests.at(-1)?.headers['if-none-match'], '"v1"')
          // Fresh again for 1 s from now: the refreshed entry is what this reads.
          assert.equal((await assertHit(dispatcher, path)).text, revalidated.text)
        }
        assert.equal(await store.deleteTags(['user:9']), 1)
        const again = await assertMiss(dispatcher, '/etag/kept')
        assert.equal(origin.requests.at(-1)?.headers['if-none-match'], undefined, 'nothing stored to validate')
        assert.equal(again.status, 200)

        assert.equal(await store.deleteTags(['new-tag']), 1)
        await assertMiss(dispatcher, '/etag/new')
      } finally {
        await close()
      }
    })

    it("a 304 for a request without tags keeps the first request's tags, and the tags field is never served", async () => {
      const { dispatcher, store, close } = await setup()
      try {
        await get(dispatcher, '/etag/request-tagged', { cache: { tags: ['req:1'] } })
        const hit = await assertHit(dispatcher, '/etag/request-tagged')
        assert.equal(hit.headers[STORED_TAGS_FIELD], undefined)
        clock.advanceSeconds(5)
        const revalidated = await get(dispatcher, '/etag/request-tagged')
        assert.match(revalidated.cacheStatus, /fwd=stale; fwd-status=304/)
        assert.equal(revalidated.headers[STORED_TAGS_FIELD], undefined)
        await assertHit(dispatcher, '/etag/request-tagged')
        assert.equal(await store.deleteTags(['req:1']), 1)
        await assertMiss(dispatcher, '/etag/request-tagged')
      } finally {
        await close()
      }
    })

    it("ignores a tags field of the cache's own name sent by the origin: it files nothing and is not stored", async () => {
      const { dispatcher, store, close } = await setup()
      forged.add('/forged')
      try {
        await stored(dispatcher, '/forged')
        const hit = await assertHit(dispatcher, '/forged')
        assert.equal(hit.headers[STORED_TAGS_FIELD], undefined)
        assert.equal(await store.deleteTags(['forged']), 0)
        await assertHit(dispatcher, '/forged')
      } finally {
        await close()
      }
    })

    it('deletePrefix() drops the URLs under a path, query or not, and keeps the rest', async () => {
      const { dispatcher, store, close } = await setup()
      const under = ['/users/1', '/users/2?x=1', '/users/3/posts']
      const outside = ['/teams/1', '/users', '/usersX/1']
      try {
        for (const path of [...under, ...outside]) await stored(dispatcher, path)
        assert.equal(await store.deletePrefix(`${origin.url}/users/`), 3)
        for (const path of under) await assertMiss(dispatcher, path)
        for (const path of outside) await assertHit(dispatcher, path)
        // Normalized as stored URLs are: an upper-case scheme matches too.
        assert.equal(await store.deletePrefix(`${origin.url.replace('http:', 'HTTP:')}/users/2`), 1)
        await assertMiss(dispatcher, '/users/2?x=1')
        assert.equal(await store.deletePrefix(`${origin.url}/nothing/`), 0)
      } finally {
        await close()
      }
    })

    it('deleteOlderThan() drops only the entries received before now minus that many seconds, by the clock', async () => {
      const { dispatcher, store, close } = await setup()
      try {
        await stored(dispatcher, '/old')
        clock.advanceSeconds(120)
        await stored(dispatcher, '/new')
        await assertHit(dispatcher, '/old')
        assert.equal(await store.deleteOlderThan(121), 0)
        assert.equal(await store.deleteOlderThan(60), 1)
        await assertMiss(dispatcher, '/old')
        await assertHit(dispatcher, '/new')
      } finally {
        await close()
      }
    })
  })
}
