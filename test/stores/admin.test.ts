/**
 * The store admin API (issue 4): keys(), entries(), delete(url), deleteExpired(), clear() and stats(),
 * on both stores, over responses cached through the real interceptor.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { encodeRecord } from '../../lib/codec/frame.js'
import type { StoredEntry, VaryPointer } from '../../lib/entry.js'
import type { EntryInfo } from '../../lib/stores/admin.js'
import { MemoryStore } from '../../lib/stores/memory-store.js'
import { RedisStore } from '../../lib/stores/redis-store.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { redisConnection, releaseRedis, useRedis } from '../helpers/stores.js'
import { collect, text } from './store-contract.js'

type AdminStore = MemoryStore | RedisStore

interface Kind {
  readonly name: string
  make(options?: { ttl?: boolean; namespace?: string; clock?: ManualClock }): Promise<AdminStore>
}

let redis: RedisServer
let origin: Origin
const open: AdminStore[] = []

before(async function () {
  // Under URC_STORE=cluster (test/helpers/stores.ts), useRedis() starts a 6-node cluster.
  this.timeout(60_000)
  redis = await useRedis()
  origin = await startOrigin((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin')
    switch (url.pathname) {
      case '/a':
        res.writeHead(200, { 'cache-control': 'max-age=60' })
        return res.end('alpha')
      case '/b':
        res.writeHead(203, { 'cache-control': 'max-age=120' })
        return res.end('bravo!')
      case '/page': {
        const body = `page in ${req.headers['accept-language'] ?? 'none'}`
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' })
        return res.end(body)
      }
      case '/stale':
        // Stale on arrival: one second of lifetime, five already spent upstream (RFC 9111 §4.2.3).
        res.writeHead(200, { 'cache-control': 'max-age=1', age: '5', etag: '"s1"' })
        return res.end('old news')
      default:
        // No freshness information: `expireAfter: 'never'` gives it an unbounded lifetime.
        res.writeHead(200)
        return res.end('forever')
    }
  })
})

after(async () => {
  await origin?.close()
  await releaseRedis()
})

afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()))
})

const kinds: readonly Kind[] = [
  {
    name: 'MemoryStore',
    make: async ({ namespace: _, ...options } = {}) => track(new MemoryStore(options)),
  },
  {
    name: 'RedisStore',
    make: async ({ namespace = `admin-${randomBytes(4).toString('hex')}`, ...options } = {}) => {
      const store = track(new RedisStore({ ...redisConnection(), namespace, ...options }))
      await store.ready()
      return store
    },
  },
]

function track<T extends AdminStore>(store: T): T {
  open.push(store)
  return store
}

/** What populate() caches: one row per entry, in the order entries are sorted below. */
const CACHED = [
  { path: '/a', status: 200, body: 'alpha', maxAge: 60, varies: [] },
  { path: '/b?q=1', status: 203, body: 'bravo!', maxAge: 120, varies: [] },
  { path: '/forever', status: 200, body: 'forever', maxAge: null, varies: [] },
  { path: '/page', status: 200, body: 'page in en', maxAge: 60, varies: ['accept-language'] },
  { path: '/page', status: 200, body: 'page in fr', maxAge: 60, varies: ['accept-language'] },
  { path: '/stale', status: 200, body: 'old news', maxAge: 1, varies: [] },
] as const

/** Caches every CACHED row through the interceptor and waits until the store holds them all. */
async function populate(store: AdminStore): Promise<{ started: number; finished: number }> {
  const started = Date.now()
  const { dispatcher, close } = cachedAgent({ store, expireAfter: 'never' })
  try {
    for (const row of CACHED) {
      const language = row.body.startsWith('page in ') ? row.body.slice(-2) : undefined
      const reply = await send(dispatcher, `${origin.url}${row.path}`, language === undefined ? {} : { headers: { 'accept-language': language } })
      assert.equal(reply.text, row.body)
    }
    await eventually(async () => (await collect(store.keys())).length === CACHED.length)
  } finally {
    await close()
  }
  return { started, finished: Date.now() }
}

async function sortedEntries(store: AdminStore): Promise<EntryInfo[]> {
  return (await collect(store.entries())).sort((a, b) => a.url.localeCompare(b.url) || a.bodySize - b.bodySize || a.id.localeCompare(b.id))
}

function storedEntry(overrides: Partial<StoredEntry> = {}): StoredEntry {
  const now = Date.now()
  return {
    kind: 'entry',
    key: '["v1","GET","https://example.com/x",null,[],null]',
    url: 'https://example.com/x',
    method: 'GET',
    status: 200,
    statusText: 'OK',
    headers: {},
    vary: undefined,
    requestTime: now,
    responseTime: now,
    initialAge: 0,
    lifetime: 60,
    body: text('body'),
    ...overrides,
  }
}

function pointer(overrides: Partial<VaryPointer> = {}): VaryPointer {
  return { kind: 'vary', key: 'k', names: ['accept-language'], variants: [], deleteAt: null, ...overrides }
}

for (const kind of kinds) {
  describe(`${kind.name} admin API`, () => {
    it('lists exactly what was cached through keys() and entries()', async () => {
      const store = await kind.make()
      const { started, finished } = await populate(store)
      const entries = await sortedEntries(store)
      assert.deepEqual(
        entries.map((entry) => [entry.url, entry.method, entry.status, entry.bodySize, entry.varies]),
        CACHED.map((row) => [`${origin.url}${row.path}`, 'GET', row.status, Buffer.byteLength(row.body), row.varies]),
      )
      assert.deepEqual((await collect(store.keys())).sort(), entries.map((entry) => entry.id).sort())

      const sizes = new Map((await collect(store.scan())).map((value) => [value.id, value.size]))
      for (const [index, entry] of entries.entries()) {
        const row = CACHED[index]!
        assert.equal(entry.size, sizes.get(entry.id), `${row.path} size`)
        assert.ok(entry.size > entry.bodySize, `${row.path} size counts the metadata`)
        const storedAt = entry.storedAt.getTime()
        assert.ok(storedAt >= started && storedAt <= finished, `${row.path} storedAt ${entry.storedAt.toISOString()}`)
        if (row.maxAge === null) assert.equal(entry.expiresAt, null, row.path)
        else {
          // Age: 5 makes /stale expire 4 s before it was stored; Date's one-second resolution adds slack.
          const expected = storedAt + (row.maxAge - (row.path === '/stale' ? 5 : 0)) * 1000
          assert.ok(Math.abs((entry.expiresAt?.getTime() ?? 0) - expected) <= 1500, `${row.path} expiresAt ${entry.expiresAt?.toISOString()}`)
        }
        assert.equal(entry.stale, row.path === '/stale', `${row.path} stale`)
      }
    })

    it('lists the variants of a Vary response, not their pointer', async () => {
      const store = await kind.make()
      await populate(store)
      const variants = (await sortedEntries(store)).filter((entry) => entry.varies.length > 0)
      assert.equal(variants.length, 2)
      const [primary] = variants[0]!.id.split('.')
      assert.deepEqual(variants.map((entry) => entry.id.split('.')[0]), [primary, primary])
      // The pointer sits at the primary id: held by the store, absent from the listing.
      assert.ok((await collect(store.ids())).includes(primary!))
      assert.ok(!(await collect(store.keys())).includes(primary!))
    })

    it('delete(url) removes every variant of that URL and nothing else, and returns the count', async () => {
      const store = await kind.make()
      await populate(store)
      const before = await collect(store.ids())
      const pageIds = (await sortedEntries(store)).filter((entry) => entry.url.endsWith('/page')).map((entry) => entry.id)
      const pointerId = pageIds[0]!.split('.')[0]!

      assert.equal(await store.delete(`${origin.url}/page`), 2)
      assert.deepEqual(
        (await collect(store.ids())).sort(),
        before.filter((id) => !pageIds.includes(id) && id !== pointerId).sort(),
      )
      assert.deepEqual((await sortedEntries(store)).map((entry) => entry.url), ['/a', '/b?q=1', '/forever', '/stale'].map((path) => `${origin.url}${path}`))
    })

    it('delete(url) matches the normalized URL and method, HEAD meaning GET', async () => {
      const store = await kind.make()
      await populate(store)
      const url = new URL(origin.url)
      assert.equal(await store.delete(`${origin.url}/a`, { method: 'POST' }), 0)
      assert.equal(await store.delete(`${origin.url}/b`), 0, 'the query is part of the URL')
      assert.equal(await store.delete(`${origin.url}/nowhere`), 0)
      assert.equal(await store.delete(`HTTP://${url.host.toUpperCase()}/b?q=1#fragment`), 1)
      assert.equal(await store.delete(new URL('/a', origin.url), { method: 'head' }), 1)
      assert.deepEqual((await sortedEntries(store)).map((entry) => new URL(entry.url).pathname), ['/forever', '/page', '/page', '/stale'])
    })

    it('deleteExpired() removes stale entries, expired pointers, orphans and corrupt values only', async () => {
      // ttl: false keeps the stale-on-arrival response, as a store kept for revalidation does.
      const store = await kind.make({ ttl: false })
      await populate(store)
      const fresh = encodeRecord(storedEntry())
      await store.set([
        { id: 'c0ffee', value: text('not a record'), ttlMs: undefined },
        // A variant whose pointer is gone, and a pointer past its deleteAt with a fresh variant.
        { id: 'abcd.01', value: fresh, ttlMs: undefined },
        { id: 'ef01', value: encodeRecord(pointer({ deleteAt: Date.now() - 1000, variants: ['ef01.02'] })), ttlMs: undefined },
        { id: 'ef01.02', value: fresh, ttlMs: undefined },
        // A pointer with a deleteAt still ahead keeps its variant.
        { id: 'ab01', value: encodeRecord(pointer({ deleteAt: Date.now() + 60_000, variants: ['ab01.03'] })), ttlMs: undefined },
        { id: 'ab01.03', value: fresh, ttlMs: undefined },
      ])
      // The corrupt value is skipped by the listing, not thrown on.
      assert.ok(!(await collect(store.keys())).includes('c0ffee'))

      assert.equal(await store.deleteExpired(), 5)
      const left = await sortedEntries(store)
      assert.deepEqual(left.map((entry) => entry.stale), left.map(() => false))
      assert.deepEqual(
        left.map((entry) => entry.url),
        ['/a', '/b?q=1', '/forever', '/page', '/page'].map((path) => `${origin.url}${path}`).concat('https://example.com/x'),
      )
      assert.ok((await collect(store.ids())).includes('ab01'))
      assert.equal(await store.deleteExpired(), 0)
    })

    it('reads metadata longer than the first prefix read, and entries with large bodies', async () => {
      const store = await kind.make()
      const big = storedEntry({ url: 'https://example.com/big', body: new Uint8Array(2 * 1024 * 1024).fill(7) })
      const wide = storedEntry({ url: 'https://example.com/wide', headers: { 'x-long': 'v'.repeat(20_000) } })
      await store.set([
        { id: 'b16', value: encodeRecord(big), ttlMs: undefined },
        { id: 'a1de', value: encodeRecord(wide), ttlMs: undefined },
      ])
      const entries = await sortedEntries(store)
      assert.deepEqual(
        entries.map((entry) => [entry.id, entry.url, entry.bodySize]),
        [
          ['b16', 'https://example.com/big', 2 * 1024 * 1024],
          ['a1de', 'https://example.com/wide', 4],
        ],
      )
      assert.ok(entries[0]!.size > 2 * 1024 * 1024)
      assert.ok(entries[1]!.size > 20_000)
    })

    it('stats() counts the responses entries() lists, the bytes held and the counters reported with count()', async () => {
      const store = await kind.make()
      await populate(store)
      const values = await collect(store.scan())
      const before = await store.stats()
      store.count({ hits: 3, misses: 2, revalidations: 1 })
      store.count({ staleServed: 1, errors: 4, hits: 1 })
      const stats = await store.stats()
      // The six responses, as entries() lists them; the Vary pointer counts in bytes only.
      assert.equal(stats.entries, CACHED.length)
      assert.equal(stats.entries, (await collect(store.entries())).length)
      assert.equal(stats.bytes, values.reduce((sum, value) => sum + value.size, 0))
      assert.deepEqual(
        [stats.hits, stats.misses, stats.revalidations, stats.staleServed, stats.errors],
        [before.hits + 4, before.misses + 2, before.revalidations + 1, before.staleServed + 1, before.errors + 4],
      )
    })

    it('clear() removes every value and resets the counters', async () => {
      const store = await kind.make()
      await populate(store)
      store.count({ hits: 5 })
      await store.clear()
      assert.deepEqual(await collect(store.ids()), [])
      assert.deepEqual(await collect(store.entries()), [])
      const stats = await store.stats()
      assert.deepEqual([stats.entries, stats.bytes, stats.hits], [0, 0, 0])
    })
  })
}

// Bodies stored apart use ids `<entry id>~<generation>`, which only MemoryStore accepts until
// redis-layout.ts learns them.
describe('MemoryStore admin API with bodies stored apart', () => {
  function external(id: string, generation: string, overrides: Partial<StoredEntry> = {}): { entry: Uint8Array; body: Uint8Array; bodyId: string } {
    const body = new Uint8Array(300).fill(9)
    const bodyId = `${id}~${generation}`
    const entry = encodeRecord(storedEntry({ ...overrides, body: { id: bodyId, size: body.length, chunkSize: 256, crcs: [0, 0] } }))
    return { entry, body, bodyId }
  }

  it('lists an entry with its body size, and deletes its body with it', async () => {
    const store = await kinds[0]!.make()
    const { entry, body, bodyId } = external('e1', '01', { url: 'https://example.com/ext' })
    await store.set([
      { id: 'e1', value: entry, ttlMs: undefined, index: { url: 'https://example.com/ext', tags: [], storedAt: 0 } },
      { id: bodyId, value: body, ttlMs: undefined },
    ])
    const [listed] = await collect(store.entries())
    assert.deepEqual([listed?.id, listed?.bodySize, listed?.size], ['e1', 300, entry.length + 300])
    assert.deepEqual(await collect(store.keys()), ['e1'])
    assert.equal(await store.delete('https://example.com/ext'), 1)
    assert.deepEqual(await collect(store.ids()), [])
  })

  it('deleteExpired() removes bodies of stale entries, of missing entries and of older writes', async () => {
    const store = await kinds[0]!.make({ ttl: false })
    const live = external('a1', '02')
    const stale = external('a2', '01', { lifetime: 0 })
    const writes = [
      { id: 'a1', value: live.entry, ttlMs: undefined },
      { id: live.bodyId, value: live.body, ttlMs: undefined },
      { id: 'a1~01', value: live.body, ttlMs: undefined },
      { id: 'a2', value: stale.entry, ttlMs: undefined },
      { id: stale.bodyId, value: stale.body, ttlMs: undefined },
      { id: 'a3~01', value: live.body, ttlMs: undefined },
    ]
    await store.set(writes)
    assert.equal(await store.deleteExpired(), 4)
    assert.deepEqual((await collect(store.ids())).sort(), ['a1', 'a1~02'])
  })
})

describe('RedisStore admin API on a shared namespace', () => {
  it('clear() leaves keys outside the namespace alone, and removes the stats hash', async () => {
    const namespace = `cleared-${randomBytes(4).toString('hex')}`
    const store = await kinds[1]!.make({ namespace })
    await populate(store)
    await redis.cli('SET', `foreign-${namespace}`, 'keep')
    await redis.cli('SET', `${namespace}2:{ab}`, 'keep')
    store.count({ hits: 1 })
    await store.close()
    assert.equal(await redis.cli('HGET', `${namespace}:stats`, 'hits'), '1')

    const again = await kinds[1]!.make({ namespace })
    await again.clear()
    assert.equal(await redis.cli('GET', `foreign-${namespace}`), 'keep')
    assert.equal(await redis.cli('GET', `${namespace}2:{ab}`), 'keep')
    assert.equal(await redis.cli('EXISTS', `${namespace}:stats`), '0')
    // A SCAN of every master on a cluster (test/helpers/stores.ts).
    assert.equal(await redis.cli('--scan', '--pattern', `${namespace}:*`), '')
  })

  it('adds up the counters of two store instances once flushed, in one hash', async () => {
    const namespace = `shared-${randomBytes(4).toString('hex')}`
    const clock = new ManualClock()
    const first = await kinds[1]!.make({ namespace, clock })
    const second = await kinds[1]!.make({ namespace, clock })
    first.count({ hits: 2, misses: 1 })
    second.count({ hits: 3, errors: 1 })
    second.count({ revalidations: 2, staleServed: 1 })
    // Each instance sees the persisted counts plus only its own unflushed ones.
    assert.equal((await first.stats()).hits, 2)
    assert.equal((await second.stats()).hits, 3)

    // Both flush timers fall due a second later.
    clock.advance(1000)
    await eventually(async () => (await redis.cli('HGET', `${namespace}:stats`, 'hits')) === '5', 3000)
    const hash = (await redis.cli('HGETALL', `${namespace}:stats`)).split('\n')
    const fields = Object.fromEntries(Array.from({ length: hash.length / 2 }, (_, index) => [hash[2 * index], hash[2 * index + 1]]))
    assert.deepEqual(fields, { hits: '5', misses: '1', errors: '1', revalidations: '2', staleServed: '1' })

    const third = await kinds[1]!.make({ namespace })
    const stats = await third.stats()
    assert.deepEqual(
      [stats.hits, stats.misses, stats.revalidations, stats.staleServed, stats.errors, stats.entries],
      [5, 1, 2, 1, 1, 0],
    )
    // The hash sits in the namespace but is no entry: the SCAN pattern `<namespace>:{*` skips it.
    assert.deepEqual(await collect(third.ids()), [])
  })
})
