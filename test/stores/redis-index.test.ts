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
import type { IndexedId, IndexQuery, Unindexed } from '../../lib/stores/admin-source.js'
import { redisCommands, type NodeRedisClient } from '../../lib/stores/redis-commands.js'
import { RedisConnection } from '../../lib/stores/redis-connection.js'
import { RedisIndex } from '../../lib/stores/redis-index.js'
import { KEEP_FLOOR } from '../../lib/stores/redis-index-scripts.js'
import {
  ageIndexKeys,
  idFromKey,
  indexHash,
  indexKeyKind,
  indexScanPattern,
  type IndexKeyKind,
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

  it('tells the index keys apart by name, and finds all of them, and nothing else, by indexScanPattern', () => {
    const url = 'https://a.example/p'
    const kinds: Record<string, IndexKeyKind> = {
      [originIndexKeys('n.s', url).urls]: 'origin',
      [originIndexKeys('n.s', url).expiries]: 'originExpiries',
      [urlIndexKey('n.s', url)]: 'url',
      [tagIndexKey('n.s', 't')]: 'tag',
      [ageIndexKeys('n.s', 'ab').stored]: 'age',
      [ageIndexKeys('n.s', 'ab').expiries]: 'ageExpiries',
    }
    // The glob `n.s:{[oat]:*` as a regular expression.
    const pattern = /^n\.s:\{[oat]:.*$/
    assert.equal(indexScanPattern('n.s'), 'n.s:{[oat]:*')
    for (const [key, kind] of Object.entries(kinds)) {
      assert.equal(indexKeyKind('n.s', key), kind, key)
      assert.match(key, pattern)
    }
    for (const other of [redisKey('n.s', 'ab'), redisKey('n.s', 'ab.cd~01'), 'n.s:stats', tagIndexKey('other', 't'), `${tagIndexKey('n.s', 't')}:x`]) {
      assert.equal(indexKeyKind('n.s', other), undefined, other)
      if (other.startsWith('n.s:') && !other.startsWith(tagIndexKey('n.s', 't'))) assert.doesNotMatch(other, pattern)
    }
  })

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
function indexed(id: string, url: string, options: { tags?: string[]; storedAt?: number; ttlMs?: number | undefined } = {}): StoreWrite {
  // An explicit `ttlMs: undefined` is a value kept without TTL.
  return { id, value: undefined, ttlMs: 'ttlMs' in options ? options.ttlMs : 60_000, index: { url, tags: options.tags ?? [], storedAt: options.storedAt ?? T0 } }
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

/** Every batch of an admin read, in order: URLs, or the ids of an indexed() read. */
async function batches(source: AsyncIterable<readonly (string | IndexedId)[]>): Promise<string[][]> {
  const all: string[][] = []
  for await (const batch of source) all.push(batch.map((item) => (typeof item === 'string' ? item : item.id)))
  return all
}

/** Every id of an indexed() read with its version. */
async function versions(source: AsyncIterable<readonly IndexedId[]>): Promise<Record<string, number | undefined>> {
  const all: Record<string, number | undefined> = {}
  for await (const batch of source) for (const { id, version } of batch) all[id] = version
  return all
}

/** What the deletes hand unindex() for an id indexed() gave: its version included. */
function unindexed(member: IndexedId, fields: Omit<Unindexed, 'id' | 'version'>): Unindexed {
  return { id: member.id, ...fields, ...(member.version === undefined ? {} : { version: member.version }) }
}

/** Redis' clock (TIME) in epoch ms, as the index scripts read it. */
async function redisNow(): Promise<number> {
  const [seconds, micros] = (await server.cli('TIME')).split('\n').map(Number) as [number, number]
  return seconds * 1000 + Math.floor(micros / 1000)
}

/** Asserts `score` is `offset` after a time within [before, after] (Redis' clock, ms). */
function stampedWithin(score: string | number | undefined, offset: number, before: number, after: number, what = 'score'): void {
  const value = Number(score)
  assert.ok(value >= before + offset && value <= after + offset + 1, `${what} ${score} outside [${before + offset}, ${after + offset + 1}]`)
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

  /** A RedisIndex alone, of its own connection, with `write` sending the index scripts of some writes as RedisStore.set queues them (no values). */
  function openIndex(options: { namespace?: string; ttl?: boolean } = {}): { index: RedisIndex & { write(writes: readonly StoreWrite[]): Promise<void> }; namespace: string } {
    const { namespace, ttl, connection } = resolveRedisStoreOptions({ url: server.url, namespace: `ix${++namespaces}`, ttlOffset: 0, ...options })
    open.push({ close: () => connection.close() })
    const index = new RedisIndex(connection, namespace, ttl)
    const write = async (writes: readonly StoreWrite[]): Promise<void> => {
      const calls = index.writeCalls(writes)
      for (let start = 0; start < calls.length; start += 200) {
        await connection.run('set', (redis) => Promise.all(calls.slice(start, start + 200).map((call) => call(redis))))
      }
    }
    return { index: Object.assign(index, { write }), namespace }
  }

  it('indexes a write under its URL, origin, tags and age, scored by its expiry on Redis\' clock, with TTLs covering them', async () => {
    // The store clock is a year off: it dates storedAt only, never a score.
    const store = await openStore({ clock: new ManualClock(T0) })
    const ns = store.namespace
    const url = 'https://a.example/p?x=1'
    let before = await redisNow()
    await store.set([{ id: 'ab12', value: text('v'), ttlMs: 60_000, index: { url, tags: ['t1', 't2', 't1'], storedAt: T0 - 5000 } }])
    let after = await redisNow()
    const origin = originIndexKeys(ns, url)
    const age = ageIndexKeys(ns, 'ab12')
    const expiry = (await zset(urlIndexKey(ns, url)))['ab12']
    stampedWithin(expiry, 60_000, before, after)
    // One score in every index of the write: it is the write's version.
    assert.deepEqual(await zset(urlIndexKey(ns, url)), { ab12: expiry })
    assert.deepEqual(await zset(origin.urls), { [url]: '0' })
    assert.deepEqual(await zset(origin.expiries), { [url]: expiry })
    assert.deepEqual(await zset(tagIndexKey(ns, 't1')), { ab12: expiry })
    assert.deepEqual(await zset(tagIndexKey(ns, 't2')), { ab12: expiry })
    assert.deepEqual(await zset(age.stored), { ab12: String(T0 - 5000) })
    assert.deepEqual(await zset(age.expiries), { ab12: expiry })
    for (const key of [urlIndexKey(ns, url), origin.urls, origin.expiries, tagIndexKey(ns, 't1'), age.stored, age.expiries]) {
      const left = await pttl(key)
      // Counted down since the write: seconds on a loaded machine, never more than the lifetime.
      assert.ok(left > 40_000 && left <= 60_000, `${key} PTTL ${left}`)
    }

    // Another entry of the URL, longer-lived: the keys' TTL and the URL's expiry rise to cover it.
    before = await redisNow()
    await store.set([{ id: 'ab12.01', value: text('v'), ttlMs: 120_000, index: { url, tags: [], storedAt: T0 } }])
    after = await redisNow()
    const longest = (await zset(origin.expiries))[url]
    stampedWithin(longest, 120_000, before, after, 'the URL\'s expiry')
    assert.ok((await pttl(urlIndexKey(ns, url))) > 115_000)
    // A shorter-lived rewrite lowers its own score, never the URL's expiry nor a key's TTL.
    before = await redisNow()
    await store.set([{ id: 'ab12.01', value: text('v'), ttlMs: 10_000, index: { url, tags: [], storedAt: T0 } }])
    after = await redisNow()
    stampedWithin((await zset(urlIndexKey(ns, url)))['ab12.01'], 10_000, before, after)
    assert.equal((await zset(origin.expiries))[url], longest)
    assert.ok((await pttl(origin.urls)) > 115_000)
    // Kept without TTL: scored KEEP_FLOOR + now, above every expiry, and its keys lose their TTL.
    before = await redisNow()
    await store.set([{ id: 'ab12', value: text('v'), ttlMs: undefined, index: { url, tags: ['t1'], storedAt: T0 } }])
    after = await redisNow()
    const kept = (await zset(urlIndexKey(ns, url)))['ab12']
    assert.match(kept ?? '', /^\d{16}$/, 'an integer Redis prints whole')
    stampedWithin(kept, KEEP_FLOOR, before, after)
    assert.equal((await zset(tagIndexKey(ns, 't1')))['ab12'], kept)
    assert.equal((await zset(age.expiries))['ab12'], kept)
    assert.equal((await zset(origin.expiries))[url], kept)
    assert.equal(await pttl(urlIndexKey(ns, url)), -1)
    assert.equal(await pttl(tagIndexKey(ns, 't1')), -1)
    // A write already expired (plan `drop`) indexes nothing.
    await store.set([{ id: 'cd', value: text('v'), ttlMs: -1, index: { url: 'https://gone.example/', tags: ['gone'], storedAt: T0 } }])
    assert.equal(await server.cli('EXISTS', tagIndexKey(ns, 'gone'), urlIndexKey(ns, 'https://gone.example/')), '0')
  })

  it('gives every write of an id a score of its own, even within one millisecond', async () => {
    const { index, namespace: ns } = openIndex()
    const seen = new Set<string>()
    for (const ttlMs of [60_000, undefined]) {
      // Sent together: Redis runs them back to back, mostly within one millisecond.
      await index.write(Array.from({ length: 20 }, () => indexed('ab', 'https://a.example/same', { tags: ['t'], ttlMs })))
      const score = (await zset(urlIndexKey(ns, 'https://a.example/same')))['ab'] as string
      assert.equal((await zset(tagIndexKey(ns, 't')))['ab'], score)
      assert.equal((await zset(ageIndexKeys(ns, 'ab').expiries))['ab'], score)
      seen.add(score)
    }
    assert.equal(seen.size, 2)
    // Each of 20 writes in a row moved the score on, so a delete that read any earlier one leaves it.
    const scores: string[] = []
    for (let i = 0; i < 20; i++) {
      await index.write([indexed('cd', 'https://a.example/same', { ttlMs: 60_000 })])
      scores.push((await zset(urlIndexKey(ns, 'https://a.example/same')))['cd'] as string)
    }
    assert.equal(new Set(scores).size, 20)
  })

  it('keeps the members of writers whose clocks are 120 s apart: Redis\' clock scores and prunes', async () => {
    const now = Date.now()
    const slow = await openStore({ clock: new ManualClock(now) })
    const fast = new RedisStore({ url: server.url, namespace: slow.namespace, ttlOffset: 0, clock: new ManualClock(now + 120_000) })
    open.push(fast)
    await fast.ready()
    const write = (id: string): StoreWrite => ({ id, value: storedResponse(`https://skew.example/${id}`), ttlMs: 60_000, index: { url: `https://skew.example/${id}`, tags: ['shared'], storedAt: now } })
    await slow.set([write('a1')])
    await fast.set([write('b1')])
    await slow.set([write('a2')])
    await fast.set([write('b2')])
    assert.deepEqual(Object.keys(await zset(tagIndexKey(slow.namespace, 'shared'))).sort(), ['a1', 'a2', 'b1', 'b2'])
    assert.equal(await fast.deleteTags(['shared']), 4)
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
    const store = await openStore()
    const ns = store.namespace
    let largest = 0
    // Each entry lives 1 ms on Redis' clock, so by the next write it has expired and goes in its prune.
    for (let i = 0; i < 300; i++) {
      await store.set([{ id: i.toString(16).padStart(3, '0'), value: text('v'), ttlMs: 1, index: { url: `https://hot.example/${i}`, tags: ['hot'], storedAt: Date.now() } }])
      if (i % 25 === 0) largest = Math.max(largest, Number(await server.cli('ZCARD', tagIndexKey(ns, 'hot'))))
    }
    largest = Math.max(largest, Number(await server.cli('ZCARD', tagIndexKey(ns, 'hot'))))
    assert.ok(largest <= 50, `the tag index held ${largest}`)
    const urls = Number(await server.cli('ZCARD', originIndexKeys(ns, 'https://hot.example/').urls))
    assert.ok(urls <= 50, `the origin held ${urls} URLs`)
    let aged = 0
    for (const digit of '0123456789abcdef') aged += Number(await server.cli('ZCARD', ageIndexKeys(ns, digit).stored))
    assert.ok(aged <= 50, `the age buckets held ${aged}`)
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
      got.push(...batch.map(({ id }) => id))
      // Each with its expiry as its version, which the unindex compares.
      for (const { version } of batch) assert.ok(version !== undefined && version > Date.now() && version <= Date.now() + 60_000, String(version))
      await index.unindex(batch.map((member) => unindexed(member, { age: true })))
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
      await batches(index.indexed({ kind: 'before', time: 0 }))
      await server.cli('CONFIG', 'RESETSTAT')
      await batches(index.indexed({ kind: 'url', url: 'https://a.example/1' }))
      await batches(index.indexed({ kind: 'tag', tag: 't' }))
      await batches(index.indexedUrls('https://a.example/'))
      for await (const batch of index.indexed({ kind: 'before', time: T0 })) await index.unindex(batch.map((member) => unindexed(member, { url: `https://a.example/${parseInt(member.id.slice(1), 16) % 4}`, tag: 't', age: true })))
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
    // Commands inside scripts count too: each age bucket's read is a script (EVALSHA, ZRANGEBYSCORE,
    // ZMSCORE for the versions), each unindex one per key group (ZMSCORE, then ZREM per key).
    assert.ok(total <= 80, `${total} commands for 20 ids: ${JSON.stringify(empty)}`)
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
      const connection = new RedisConnection(redis, { owned: false, unref: false, clock, commandTimeout: 5000 })
      const ns = store.namespace
      const index = new RedisIndex(connection, ns, { ttl: true, ttlOffsetMs: 0 })
      try {
        // Redis forgets its scripts: the first EVALSHA fails NOSCRIPT and falls back to EVAL.
        await server.cli('SCRIPT', 'FLUSH')
        const url = 'https://m.example/x'
        await store.set([{ id: 'a1', value: text('v'), ttlMs: 60_000, index: { url, tags: ['t'], storedAt: T0 - 10 } }])
        await store.set([{ id: 'a2', value: storedResponse('https://m.example/y'), ttlMs: 60_000, index: { url: 'https://m.example/y', tags: [], storedAt: T0 } }])
        assert.equal(await server.cli('EXISTS', `${prefix}${urlIndexKey(ns, url)}`, `${prefix}${tagIndexKey(ns, 't')}`, `${prefix}${ageIndexKeys(ns, 'a1').stored}`), '3')
        if (prefix !== '') assert.equal(await server.cli('EXISTS', urlIndexKey(ns, url)), '0')
        // One version, the write's score, whichever index gave the id.
        const version = (await versions(index.indexed({ kind: 'url', url })))['a1'] as number
        assert.ok(version > Date.now() && version <= Date.now() + 60_000, String(version))
        assert.deepEqual(await versions(index.indexed({ kind: 'tag', tag: 't' })), { a1: version })
        assert.deepEqual(await versions(index.indexed({ kind: 'before', time: T0 })), { a1: version })
        assert.deepEqual(await batches(index.indexedUrls('https://m.example/')), [[url, 'https://m.example/y']])
        // Another version (a write since) stays indexed; the one read goes.
        await index.unindex([{ id: 'a1', url, tag: 't', age: true, version: version + 1 }])
        assert.deepEqual(await batches(index.indexed({ kind: 'tag', tag: 't' })), [['a1']])
        await index.unindex([{ id: 'a1', url, tag: 't', age: true, version }])
        assert.deepEqual(await batches(index.indexedUrls('https://m.example/')), [['https://m.example/y']])
        assert.deepEqual(await batches(index.indexed({ kind: 'tag', tag: 't' })), [])
        // Through the public API.
        assert.equal(await store.delete('https://m.example/y'), 1)
        assert.deepEqual(await collect(store.ids()), ['a1'])
        // deleteExpired's sweep (SCAN of the index keys, EXISTS, the scripts) takes what remove() left.
        await store.set([{ id: 'a3', value: storedResponse('https://m.example/z'), ttlMs: 60_000, index: { url: 'https://m.example/z', tags: ['z'], storedAt: T0 } }])
        await store.remove(['a3'])
        await store.deleteExpired()
        assert.deepEqual(await scanAll(`${prefix}${ns}:{*`), [], 'a1 does not decode: deleteExpired took it too')
        // clear() takes the index keys under the prefix along.
        await store.set([{ id: 'a4', value: text('v'), ttlMs: 60_000, index: { url, tags: ['t'], storedAt: T0 } }])
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
