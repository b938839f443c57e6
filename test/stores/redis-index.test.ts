/**
 * RedisStore's indexes (redis-index.ts, issue 14): their key layout, what a write puts in them, that
 * they stay bounded by the entries alive, that a failed index write stores nothing, what the admin
 * reads (indexed, indexedUrls, unindex) give, that those never walk the namespace, and that all of it
 * works through node-redis 4, 5 and 6 (keyPrefix, RESP3). Against a redis-server of its own.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createClient as createClient4 } from 'redis'
import { createClient as createClient5 } from 'redis5'
import { createClient as createClient6, RESP_TYPES } from 'redis6'
import { StoreError } from '../../lib/errors.js'
import type { IndexQuery } from '../../lib/stores/admin-source.js'
import { redisCommands, type NodeRedisClient } from '../../lib/stores/redis-commands.js'
import { RedisConnection } from '../../lib/stores/redis-connection.js'
import { RedisIndex } from '../../lib/stores/redis-index.js'
import {
  ageIndexKeys,
  idFromKey,
  indexHash,
  originIndexKeys,
  originOf,
  redisKey,
  scanPattern,
  tagIndexKey,
  urlIndexKey,
} from '../../lib/stores/redis-layout.js'
import { resolveRedisStoreOptions } from '../../lib/stores/redis-options.js'
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis-store.js'
import type { StoreWrite } from '../../lib/stores/types.js'
import { ManualClock } from '../helpers/clock.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { collect, sleep, storedResponse, text } from './store-contract.js'

describe('redis-layout index keys', () => {
  const sha = (value: string): string => createHash('sha256').update(value).digest('hex').slice(0, 32)

  it('names each index after 32 hex digits of SHA-256, under `<namespace>:{`', () => {
    assert.equal(indexHash('a tag'), sha('a tag'))
    assert.equal(tagIndexKey('ns', 'a tag'), `ns:{t:${sha('a tag')}}`)
    const url = 'https://a.example:8443/p?q=1'
    assert.deepEqual(originIndexKeys('ns', url), { urls: `ns:{o:${sha('https://a.example:8443')}}`, expiries: `ns:{o:${sha('https://a.example:8443')}}:exp` })
    assert.equal(urlIndexKey('ns', url), `ns:{o:${sha('https://a.example:8443')}}:u:${sha(url)}`)
    assert.deepEqual(ageIndexKeys('ns', 'c0ffee.01'), { stored: 'ns:{a:c}', expiries: 'ns:{a:c}:exp' })
    assert.deepEqual(ageIndexKeys('ns', '7'), { stored: 'ns:{a:7}', expiries: 'ns:{a:7}:exp' })
    assert.throws(() => ageIndexKeys('ns', 'Xy'), RangeError)
    assert.throws(() => ageIndexKeys('ns', ''), RangeError)
  })

  const origins: [url: string, origin: string][] = [
    ['https://a.example/users/1?x=1', 'https://a.example'],
    ['http://a.example:8080/', 'http://a.example:8080'],
    ['https://a.example', 'https://a.example'],
    ['https://a.example?q', 'https://a.example?q'],
  ]
  for (const [url, origin] of origins) {
    it(`takes the origin of ${url} as ${origin}`, () => {
      assert.equal(originOf(url), origin)
    })
  }

  it('keeps index keys in the namespace SCAN pattern, but out of the ids', () => {
    const url = 'https://a.example/p'
    const keys = [tagIndexKey('ns', 't'), urlIndexKey('ns', url), ...Object.values(originIndexKeys('ns', url)), ...Object.values(ageIndexKeys('ns', 'ab'))]
    const pattern = new RegExp(`^${scanPattern('ns').replace('{', '\\{').replace('*', '.*')}$`)
    for (const key of keys) {
      assert.match(key, pattern)
      assert.equal(idFromKey('ns', key), undefined, key)
    }
  })
})

let server: RedisServer
let namespaces = 0
const T0 = Date.UTC(2026, 0, 1)

before(async function () {
  this.timeout(10_000)
  server = await startRedis()
})

after(async () => {
  await server?.stop()
})

/** An index write of entry `id` (no value: only the index is under test). */
function indexed(id: string, url: string, options: { tags?: string[]; storedAt?: number; ttlMs?: number } = {}): StoreWrite {
  return { id, value: undefined, ttlMs: options.ttlMs ?? 60_000, index: { url, tags: options.tags ?? [], storedAt: options.storedAt ?? T0 } }
}

/** The sorted set at `key` as member → score, as Redis prints them. */
async function zset(key: string): Promise<Record<string, string>> {
  const lines = (await server.cli('ZRANGE', key, '0', '-1', 'WITHSCORES')).split('\n').filter((line) => line !== '')
  return Object.fromEntries(Array.from({ length: lines.length / 2 }, (_, index) => [lines[2 * index], lines[2 * index + 1]]))
}

async function pttl(key: string): Promise<number> {
  return Number(await server.cli('PTTL', key))
}

async function scanAll(pattern: string): Promise<string[]> {
  return (await server.cli('--scan', '--pattern', pattern)).split('\n').filter((key) => key !== '')
}

/** Every batch of an admin read, in order. */
async function batches(source: AsyncIterable<readonly string[]>): Promise<string[][]> {
  const all: string[][] = []
  for await (const batch of source) all.push([...batch])
  return all
}

describe('RedisStore indexes', () => {
  const open: { close(): Promise<void> }[] = []
  afterEach(async () => {
    await Promise.all(open.splice(0).map((item) => item.close()))
  })

  async function openStore(options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
    const store = new RedisStore({ url: server.url, namespace: `ix${++namespaces}`, ttlOffset: 0, ...options } as RedisStoreOptions)
    open.push(store)
    await store.ready()
    return store
  }

  /** A RedisIndex of its own connection, as RedisStore builds it, for the AdminSource reads. */
  /** A RedisIndex alone, with `write` sending the index scripts of some writes as RedisStore.set queues them (no values). */
  function openIndex(options: { namespace?: string; clock?: ManualClock; ttl?: boolean } = {}): { index: RedisIndex & { write(writes: readonly StoreWrite[]): Promise<void> }; namespace: string } {
    const { namespace, ttl, clock, connection } = resolveRedisStoreOptions({ url: server.url, namespace: `ix${++namespaces}`, ttlOffset: 0, ...options })
    open.push({ close: () => connection.close() })
    const index = new RedisIndex(connection, namespace, ttl, clock)
    const write = async (writes: readonly StoreWrite[]): Promise<void> => {
      const calls = index.writeCalls(writes)
      for (let start = 0; start < calls.length; start += 200) {
        await connection.run('set', (redis) => Promise.all(calls.slice(start, start + 200).map((call) => call(redis))))
      }
    }
    return { index: Object.assign(index, { write }), namespace }
  }

  it('indexes a write under its URL, origin, tags and age, scored by expiry, with TTLs covering them', async () => {
    const clock = new ManualClock(T0)
    const store = await openStore({ clock })
    const ns = store.namespace
    const url = 'https://a.example/p?x=1'
    await store.set([{ id: 'ab12', value: text('v'), ttlMs: 60_000, index: { url, tags: ['t1', 't2', 't1'], storedAt: T0 - 5000 } }])
    const expiry = String(T0 + 60_000)
    const origin = originIndexKeys(ns, url)
    const age = ageIndexKeys(ns, 'ab12')
    assert.deepEqual(await zset(urlIndexKey(ns, url)), { ab12: expiry })
    assert.deepEqual(await zset(origin.urls), { [url]: '0' })
    assert.deepEqual(await zset(origin.expiries), { [url]: expiry })
    assert.deepEqual(await zset(tagIndexKey(ns, 't1')), { ab12: expiry })
    assert.deepEqual(await zset(tagIndexKey(ns, 't2')), { ab12: expiry })
    assert.deepEqual(await zset(age.stored), { ab12: String(T0 - 5000) })
    assert.deepEqual(await zset(age.expiries), { ab12: expiry })
    for (const key of [urlIndexKey(ns, url), origin.urls, origin.expiries, tagIndexKey(ns, 't1'), age.stored, age.expiries]) {
      const left = await pttl(key)
      assert.ok(left > 55_000 && left <= 60_000, `${key} PTTL ${left}`)
    }

    // Another entry of the URL, longer-lived: the keys' TTL and the URL's expiry rise to cover it.
    await store.set([{ id: 'ab12.01', value: text('v'), ttlMs: 120_000, index: { url, tags: [], storedAt: T0 } }])
    assert.equal((await zset(origin.expiries))[url], String(T0 + 120_000))
    assert.ok((await pttl(urlIndexKey(ns, url))) > 115_000)
    // A shorter-lived rewrite lowers its own score, never the URL's expiry nor a key's TTL.
    await store.set([{ id: 'ab12.01', value: text('v'), ttlMs: 10_000, index: { url, tags: [], storedAt: T0 } }])
    assert.equal((await zset(urlIndexKey(ns, url)))['ab12.01'], String(T0 + 10_000))
    assert.equal((await zset(origin.expiries))[url], String(T0 + 120_000))
    assert.ok((await pttl(origin.urls)) > 115_000)
    // Kept without TTL: scored +inf, and its keys lose their TTL.
    await store.set([{ id: 'ab12', value: text('v'), ttlMs: undefined, index: { url, tags: ['t1'], storedAt: T0 } }])
    assert.equal((await zset(urlIndexKey(ns, url)))['ab12'], 'inf')
    assert.equal(await pttl(urlIndexKey(ns, url)), -1)
    assert.equal(await pttl(tagIndexKey(ns, 't1')), -1)
    // A write already expired (plan `drop`) indexes nothing.
    await store.set([{ id: 'cd', value: text('v'), ttlMs: -1, index: { url: 'https://gone.example/', tags: ['gone'], storedAt: T0 } }])
    assert.equal(await server.cli('EXISTS', tagIndexKey(ns, 'gone'), urlIndexKey(ns, 'https://gone.example/')), '0')
  })

  it('leaves no index key behind once the entries expired', async () => {
    const store = await openStore()
    for (let start = 0; start < 500; start += 100) {
      await store.set(Array.from({ length: 100 }, (_, offset) => {
        const i = start + offset
        return { id: i.toString(16).padStart(4, '0'), value: text('v'), ttlMs: 1, index: { url: `https://h${i % 7}.example/p${i}`, tags: [`tag-${i}`], storedAt: Date.now() } }
      }))
    }
    const deadline = Date.now() + 3000
    let left = await scanAll(`${store.namespace}:*`)
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(20)
      left = await scanAll(`${store.namespace}:*`)
    }
    assert.deepEqual(left, [])
  })

  it('keeps a tag that never goes idle to its live entries: each write prunes the expired', async () => {
    const clock = new ManualClock(T0)
    const store = await openStore({ clock })
    const ns = store.namespace
    let largest = 0
    for (let i = 0; i < 300; i++) {
      await store.set([{ id: i.toString(16).padStart(3, '0'), value: text('v'), ttlMs: 1000, index: { url: `https://hot.example/${i}`, tags: ['hot'], storedAt: clock.now() } }])
      if (i % 25 === 0) largest = Math.max(largest, Number(await server.cli('ZCARD', tagIndexKey(ns, 'hot'))))
      clock.advance(1001)
    }
    assert.equal(await server.cli('ZCARD', tagIndexKey(ns, 'hot')), '1')
    assert.ok(largest <= 1, `the tag index held ${largest}`)
    assert.equal(await server.cli('ZCARD', originIndexKeys(ns, 'https://hot.example/').urls), '1')
    let aged = 0
    for (const digit of '0123456789abcdef') aged += Number(await server.cli('ZCARD', ageIndexKeys(ns, digit).stored))
    assert.ok(aged <= 16, `the age buckets held ${aged}`)
  })

  it('writes the index first: a failed index write rejects set() and stores no value', async () => {
    const store = await openStore()
    await server.cli('SET', tagIndexKey(store.namespace, 'broken'), 'not a sorted set')
    await assert.rejects(
      store.set([{ id: 'ef', value: text('v'), ttlMs: 60_000, index: { url: 'https://a.example/', tags: ['broken'], storedAt: T0 } }]),
      (error: unknown) => error instanceof StoreError && error.operation === 'set' && /WRONGTYPE/.test(error.message),
    )
    assert.equal(await server.cli('EXISTS', redisKey(store.namespace, 'ef')), '0')
  })

  it('rejects a malformed id before indexing anything under it', async () => {
    const { index, namespace } = openIndex()
    await assert.rejects(index.write([indexed('XY', 'https://a.example/')]), StoreError)
    assert.deepEqual(await scanAll(`${namespace}:*`), [])
  })

  it('indexed() gives a URL\'s or a tag\'s ids once each, 500 a batch', async () => {
    const { index } = openIndex()
    const ids = Array.from({ length: 1100 }, (_, i) => `a${i.toString(16).padStart(3, '0')}`)
    await index.write(ids.map((id) => indexed(id, 'https://a.example/big', { tags: ['big'] })))
    await index.write([indexed('b1', 'https://a.example/small', { tags: ['small'] }), indexed('b2', 'https://a.example/small')])
    for (const query of [{ kind: 'url', url: 'https://a.example/big' }, { kind: 'tag', tag: 'big' }] as const) {
      const got = await batches(index.indexed(query))
      assert.deepEqual(got.map((batch) => batch.length), [500, 500, 100])
      assert.deepEqual(got.flat().sort(), ids)
    }
    assert.deepEqual((await batches(index.indexed({ kind: 'url', url: 'https://a.example/small' }))).flat().sort(), ['b1', 'b2'])
    assert.deepEqual(await batches(index.indexed({ kind: 'tag', tag: 'small' })), [['b1']])
    assert.deepEqual(await batches(index.indexed({ kind: 'tag', tag: 'never' })), [])
  })

  it('indexed({ before }) gives the ids stored before the time, oldest first across buckets, as the caller unindexes them', async () => {
    const { index } = openIndex()
    // The 100 oldest over buckets 1 to f, the next 600 in bucket 0 (more than one read of it, running
    // dry mid-batch), then 500 over all 16 buckets, not in id order.
    const ids = Array.from({ length: 1200 }, (_, i) => {
      const hex = i.toString(16).padStart(3, '0')
      const id = i < 100 ? `${(1 + (i % 15)).toString(16)}${hex}` : i < 700 ? `0${hex}` : ((i * 7919) % 4096).toString(16).padStart(3, '0')
      return { id, storedAt: T0 + i }
    })
    await index.write(ids.map(({ id, storedAt }) => indexed(id, `https://a.example/${id}`, { storedAt })))
    const before: IndexQuery = { kind: 'before', time: T0 + 1000 }
    const got: string[] = []
    for await (const batch of index.indexed(before)) {
      assert.ok(batch.length <= 500)
      got.push(...batch)
      await index.unindex(batch.map((id) => ({ id, age: true })))
    }
    assert.deepEqual(got, ids.slice(0, 1000).map(({ id }) => id))
    assert.deepEqual(await batches(index.indexed(before)), [])
    assert.equal((await batches(index.indexed({ kind: 'before', time: T0 + 2000 }))).flat().length, 200)
  })

  it('indexed({ before }) ends, each id given once, when the caller unindexes nothing', async () => {
    const { index } = openIndex()
    const ids = Array.from({ length: 700 }, (_, i) => i.toString(16).padStart(3, '0'))
    await index.write(ids.map((id, i) => indexed(id, 'https://a.example/', { storedAt: T0 + i })))
    const got = (await batches(index.indexed({ kind: 'before', time: T0 + 10_000 }))).flat()
    assert.deepEqual(got, ids)
  })

  it('indexedUrls() gives the URLs of the prefix\'s origin that start with it, page by page, each once', async () => {
    const { index } = openIndex()
    const urls = ['https://a.example/users/1', 'https://a.example/users/10?x=1', 'https://a.example/users/2', 'https://a.example/other']
    const elsewhere = ['https://a.example.com/users/1', 'http://a.example/users/1', 'https://a.example:8443/users/1']
    await index.write([...urls, ...elsewhere].map((url, i) => indexed(`c${i}`, url)))
    assert.deepEqual(await batches(index.indexedUrls('https://a.example/users/')), [urls.slice(0, 3)])
    assert.deepEqual((await batches(index.indexedUrls('https://a.example'))).flat().sort(), [...urls].sort())
    assert.deepEqual((await batches(index.indexedUrls('https://a.example/'))).flat().sort(), [...urls].sort())
    assert.deepEqual(await batches(index.indexedUrls('https://a.example/none')), [])

    // More than a page: each URL once, whether the caller unindexes each page before the next or not.
    const many = Array.from({ length: 1234 }, (_, i) => `https://b.example/p/${i}`)
    await index.write(many.map((url, i) => indexed(`d${i.toString(16)}`, url)))
    const pages = await batches(index.indexedUrls('https://b.example/p/'))
    assert.deepEqual(pages.map((page) => page.length), [500, 500, 234])
    assert.deepEqual(pages.flat().sort(), [...many].sort())
    const seen: string[] = []
    for await (const page of index.indexedUrls('https://b.example/p/')) {
      seen.push(...page)
      await index.unindex(page.map((url) => ({ id: `d${many.indexOf(url).toString(16)}`, url, age: true })))
    }
    assert.equal(seen.length, 1234)
    assert.deepEqual([...seen].sort(), [...many].sort())
    assert.deepEqual(await batches(index.indexedUrls('https://b.example/')), [])
  })

  it('unindex() drops ids from the age, URL and tag indexes, and a URL left empty from its origin', async () => {
    const { index, namespace: ns } = openIndex()
    const url = 'https://a.example/u'
    await index.write([indexed('e1', url, { tags: ['t'] }), indexed('e2', url, { tags: ['t'] }), indexed('f1', 'https://a.example/v')])
    const origin = originIndexKeys(ns, url)
    await index.unindex([{ id: 'e1', url, tag: 't', age: true }])
    assert.deepEqual(Object.keys(await zset(urlIndexKey(ns, url))), ['e2'])
    assert.deepEqual(Object.keys(await zset(tagIndexKey(ns, 't'))), ['e2'])
    assert.deepEqual(Object.keys(await zset(ageIndexKeys(ns, 'e').stored)), ['e2'])
    assert.deepEqual(Object.keys(await zset(ageIndexKeys(ns, 'e').expiries)), ['e2'])
    assert.deepEqual(Object.keys(await zset(origin.urls)), [url, 'https://a.example/v'])
    // The last id of the URL: the URL leaves both origin sets; the other URL stays.
    await index.unindex([{ id: 'e2', url, age: true }, { id: 'e2', url, age: true }])
    assert.equal(await server.cli('EXISTS', urlIndexKey(ns, url)), '0')
    assert.deepEqual(Object.keys(await zset(origin.urls)), ['https://a.example/v'])
    assert.deepEqual(Object.keys(await zset(origin.expiries)), ['https://a.example/v'])
    assert.deepEqual(Object.keys(await zset(tagIndexKey(ns, 't'))), ['e2'], 'no tag given: the tag index keeps it')
    await index.unindex([{ id: 'ffff', url: 'https://a.example/never', tag: 'never', age: true }])
    await index.unindex([])
  })

  it('reads and unindexes with commands in proportion to the ids, never SCAN or KEYS, whatever Redis holds', async () => {
    const calls = async (unrelated: number): Promise<Record<string, number>> => {
      const { index, namespace } = openIndex()
      // Unrelated keys inside the namespace (they look like variants of one entry) and outside it.
      if (unrelated > 0) {
        await server.cli('DEBUG', 'POPULATE', String(unrelated / 2), `${namespace}:{abc}`)
        await server.cli('DEBUG', 'POPULATE', String(unrelated / 2), `elsewhere${namespaces}`)
      }
      await index.write(Array.from({ length: 20 }, (_, i) => indexed(`a${i.toString(16)}`, `https://a.example/${i % 4}`, { tags: ['t'], storedAt: T0 - 1 })))
      // Connected, and every script cached by Redis (no NOSCRIPT retry in the counts).
      await index.unindex([{ id: 'ffff', url: 'https://a.example/none', age: true }])
      await server.cli('CONFIG', 'RESETSTAT')
      await batches(index.indexed({ kind: 'url', url: 'https://a.example/1' }))
      await batches(index.indexed({ kind: 'tag', tag: 't' }))
      await batches(index.indexedUrls('https://a.example/'))
      for await (const batch of index.indexed({ kind: 'before', time: T0 })) await index.unindex(batch.map((id) => ({ id, url: `https://a.example/${parseInt(id.slice(1), 16) % 4}`, tag: 't', age: true })))
      const stats = await server.cli('INFO', 'commandstats')
      const counts = Object.fromEntries([...stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map(([, name, count]) => [name as string, Number(count)]))
      for (const own of ['config', 'info', 'command']) delete counts[own]
      return counts
    }
    const empty = await calls(0)
    const crowded = await calls(20_000)
    assert.equal(empty['scan'] ?? empty['keys'], undefined, JSON.stringify(empty))
    assert.deepEqual(crowded, empty)
    const total = Object.values(empty).reduce((sum, count) => sum + count, 0)
    assert.ok(total <= 60, `${total} commands for 20 ids: ${JSON.stringify(empty)}`)
  })
})

describe('RedisStore indexes through each node-redis major', () => {
  const majors: [name: string, create: () => NodeRedisClient, close: (client: never) => Promise<unknown>, prefix: string][] = [
    ['4', () => createClient4({ url: server.url }), (client: ReturnType<typeof createClient4>) => client.quit(), ''],
    ['5', () => createClient5({ url: server.url }), (client: ReturnType<typeof createClient5>) => client.close(), ''],
    ['6 with a keyPrefix', () => createClient6({ url: server.url, keyPrefix: 'p6:' }), (client: ReturnType<typeof createClient6>) => client.close(), 'p6:'],
    [
      '6 on RESP3 with Map and Buffer replies',
      () => createClient6({ url: server.url, RESP: 3, commandOptions: { typeMapping: { [RESP_TYPES.MAP]: Map, [RESP_TYPES.BLOB_STRING]: Buffer } } }),
      (client: ReturnType<typeof createClient6>) => client.close(),
      '',
    ],
  ]
  for (const [name, create, close, prefix] of majors) {
    it(`writes, reads and unindexes through node-redis ${name}`, async () => {
      const client = create()
      client.on('error', () => {})
      await client.connect()
      const clock = new ManualClock(T0)
      const store = new RedisStore({ client, namespace: `major${++namespaces}`, ttlOffset: 0, clock })
      const redis = redisCommands(client)
      assert.ok(redis !== undefined)
      const connection = new RedisConnection(redis, { owned: false, unref: false, clock })
      const ns = store.namespace
      const index = new RedisIndex(connection, ns, { ttl: true, ttlOffsetMs: 0 }, clock)
      try {
        // Redis forgets its scripts: the first EVALSHA fails NOSCRIPT and falls back to EVAL.
        await server.cli('SCRIPT', 'FLUSH')
        const url = 'https://m.example/x'
        await store.set([{ id: 'a1', value: text('v'), ttlMs: 60_000, index: { url, tags: ['t'], storedAt: T0 - 10 } }])
        await store.set([{ id: 'a2', value: storedResponse('https://m.example/y'), ttlMs: 60_000, index: { url: 'https://m.example/y', tags: [], storedAt: T0 } }])
        assert.equal(await server.cli('EXISTS', `${prefix}${urlIndexKey(ns, url)}`, `${prefix}${tagIndexKey(ns, 't')}`, `${prefix}${ageIndexKeys(ns, 'a1').stored}`), '3')
        if (prefix !== '') assert.equal(await server.cli('EXISTS', urlIndexKey(ns, url)), '0')
        assert.deepEqual(await batches(index.indexed({ kind: 'url', url })), [['a1']])
        assert.deepEqual(await batches(index.indexed({ kind: 'tag', tag: 't' })), [['a1']])
        assert.deepEqual(await batches(index.indexed({ kind: 'before', time: T0 })), [['a1']])
        assert.deepEqual(await batches(index.indexedUrls('https://m.example/')), [[url, 'https://m.example/y']])
        await index.unindex([{ id: 'a1', url, tag: 't', age: true }])
        assert.deepEqual(await batches(index.indexedUrls('https://m.example/')), [['https://m.example/y']])
        assert.deepEqual(await batches(index.indexed({ kind: 'tag', tag: 't' })), [])
        // Through the public API, and clear() takes the index keys under the prefix along.
        assert.equal(await store.delete('https://m.example/y'), 1)
        assert.deepEqual(await collect(store.ids()), ['a1'])
        await store.clear()
        assert.deepEqual(await scanAll(`${prefix}${ns}:*`), [])
      } finally {
        await connection.close()
        await store.close()
        await close(client as never)
      }
    })
  }
})
