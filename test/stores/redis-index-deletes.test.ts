/**
 * RedisStore's indexed deletes when things go wrong or race (redis-index.ts "Versions", redis-scan.ts
 * heads, redis-index-sweep.ts): a failed metadata read fails the delete before anything is removed or
 * unindexed, one delete never fills the client's command queue, a write of an id landing between a
 * delete's UNLINK and its unindex keeps its index members, and deleteExpired() sweeps the index keys
 * no TTL ends. Against a redis-server of its own.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { encodeRecord } from '../../lib/codec/frame.js'
import { StoreError } from '../../lib/errors.js'
import { STORED_TAGS_FIELD } from '../../lib/policy/tags.js'
import { StoreAdmin, type AdminSource } from '../../lib/stores/admin.js'
import { RedisIndex } from '../../lib/stores/redis-index.js'
import { ageIndexKeys, originIndexKeys, redisKey, tagIndexKey, urlIndexKey } from '../../lib/stores/redis-layout.js'
import { resolveRedisStoreOptions } from '../../lib/stores/redis-options.js'
import { RedisScan } from '../../lib/stores/redis-scan.js'
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis-store.js'
import type { StoreWrite } from '../../lib/stores/types.js'
import { ManualClock } from '../helpers/clock.js'
import { indexKeys, startRedis, type RedisServer } from '../helpers/redis-server.js'
import { collect, text } from './store-contract.js'

let server: RedisServer
let namespaces = 0

before(async function () {
  this.timeout(10_000)
  server = await startRedis()
})

after(async () => {
  await server?.stop()
})

/** The write of a response stored at `id` for `url`, filed under `tags`, fresh for `lifetime` seconds from `now`. */
function entry(id: string, url: string, options: { tags?: readonly string[]; now?: number; lifetime?: number; ttlMs?: number } = {}): StoreWrite {
  const { tags = [], now = Date.now(), lifetime = 600 } = options
  const value = encodeRecord({
    kind: 'entry', key: `["${id}"]`, url, method: 'GET', status: 200, statusText: 'OK', headers: tags.length === 0 ? {} : { [STORED_TAGS_FIELD]: tags.join(' ') },
    vary: undefined, requestTime: now, responseTime: now, initialAge: 0, lifetime, body: text('body'),
  })
  return { id, value, ttlMs: options.ttlMs ?? 600_000, index: { url, tags: [...tags], storedAt: now } }
}

function randomId(): string {
  return randomBytes(8).toString('hex')
}

async function zscore(key: string, member: string): Promise<string> {
  return server.cli('ZSCORE', key, member)
}

describe('RedisStore indexed deletes under failures and races', () => {
  const open: { close(): Promise<unknown> }[] = []
  afterEach(async () => {
    await Promise.all(open.splice(0).map((item) => item.close()))
  })

  async function openStore(options: Partial<RedisStoreOptions> & { namespace?: string } = {}): Promise<RedisStore> {
    const store = new RedisStore({ url: server.url, namespace: `dx${++namespaces}`, ttlOffset: 0, ...options } as RedisStoreOptions)
    open.push(store)
    await store.ready()
    return store
  }

  it('deletes 500 entries of one URL while other traffic shares the client, never leaving one unindexed', async function () {
    this.timeout(20_000)
    const store = await openStore()
    const url = 'https://busy.example/one'
    const ids = Array.from({ length: 500 }, randomId)
    for (let start = 0; start < ids.length; start += 100) await store.set(ids.slice(start, start + 100).map((id) => entry(id, url)))
    // 300 readers, each sending its next read as its last one answers: about 300 commands in flight
    // at any time, which with the delete's metadata reads sent at once (2 per id, 1000 for 500 ids)
    // is more than the 1000 commands the store's client queues.
    let traffic = true
    const reads = Promise.all(Array.from({ length: 300 }, async () => {
      while (traffic) {
        // A read refused at once (a full queue) settles without I/O: yield, or the readers starve the rest.
        await store.get([randomId()]).catch(() => new Promise(setImmediate))
      }
    }))
    let outcome: number | unknown
    try {
      outcome = await store.delete(url).catch((error: unknown) => error)
    } finally {
      traffic = false
      await reads
    }
    // Whatever the outcome, every entry still held is still indexed (a failed read taken for a value
    // gone used to unindex live entries).
    const values = await store.get(ids)
    const left = ids.filter((_, index) => values[index] !== undefined)
    for (const id of left) assert.notEqual(await zscore(urlIndexKey(store.namespace, url), id), '', `${id} is held but no longer indexed`)
    // And the reads go in slices that leave the traffic room: the delete has no reason to fail.
    assert.equal(outcome, 500, outcome instanceof Error ? outcome.message : String(outcome))
    assert.deepEqual(left, [])
  })

  it('fails a delete whose metadata read fails, removing and unindexing nothing', async () => {
    // A user who may run everything but STRLEN: every metadata read fails (NOPERM), as a full client
    // queue or a lost connection would fail it.
    await server.cli('ACL', 'SETUSER', 'nostrlen', 'on', 'nopass', '~*', '&*', '+@all', '-strlen')
    try {
      const writer = await openStore()
      const ns = writer.namespace
      const url = 'https://fail.example/x'
      const ids = ['a1', 'b2', 'c3']
      await writer.set(ids.map((id, index) => entry(id, url, { tags: ['t'], now: Date.now() - 10_000 * (index + 1) })))
      const limited = await openStore({ url: server.url.replace('redis://', 'redis://nostrlen:any@'), namespace: ns })
      const keys = [urlIndexKey(ns, url), tagIndexKey(ns, 't'), ...ids.flatMap((id) => Object.values(ageIndexKeys(ns, id)))]
      const indexed = async (): Promise<Record<string, string>[]> => Promise.all(keys.map(zsetOf))
      const before = await indexed()
      assert.equal(before.flatMap(Object.keys).length, 3 * 4)
      for (const call of [() => limited.delete(url), () => limited.deleteTags(['t']), () => limited.deleteOlderThan(1), () => limited.deleteExpired()]) {
        await assert.rejects(call(), (error: unknown) => error instanceof StoreError && /NOPERM|strlen/i.test(error.message))
      }
      assert.deepEqual((await collect(writer.ids())).sort(), ids)
      assert.deepEqual(await indexed(), before)
      assert.equal(await writer.delete(url), 3)
    } finally {
      await server.cli('ACL', 'DELUSER', 'nostrlen')
    }
  })

  it('takes a key of another type at an indexed id for no value of ours: unindexed, left alone', async () => {
    const store = await openStore()
    const ns = store.namespace
    const url = 'https://foreign.example/'
    await store.set([entry('ab', url), { id: 'cd', value: undefined, ttlMs: 600_000, index: { url, tags: [], storedAt: Date.now() } }])
    await server.cli('HSET', redisKey(ns, 'cd'), 'field', 'value')
    assert.equal(await store.delete(url), 1)
    assert.equal(await server.cli('TYPE', redisKey(ns, 'cd')), 'hash')
    assert.equal(await server.cli('EXISTS', urlIndexKey(ns, url)), '0')
  })

  describe('a write of the id landing between the delete\'s UNLINK and its unindex', () => {
    /**
     * StoreAdmin over the store's own scan and index, as RedisStore builds it, whose remove() lets a
     * writer store `rewrite` right after the UNLINK, before the delete unindexes.
     */
    async function racing(): Promise<{ store: RedisStore; admin: StoreAdmin; rewriteAfterRemove(writes: StoreWrite[]): void }> {
      const store = await openStore()
      const { namespace, ttl, clock, connection } = resolveRedisStoreOptions({ url: server.url, namespace: store.namespace, ttlOffset: 0 })
      open.push({ close: () => connection.close() })
      const scan = new RedisScan(connection, namespace)
      const index = new RedisIndex(connection, namespace, ttl)
      let rewrite: StoreWrite[] | undefined
      const source: AdminSource = {
        idBatches: () => scan.idBatches(),
        heads: (reads) => scan.heads(reads),
        remove: async (ids) => {
          await store.remove(ids)
          const writes = rewrite
          rewrite = undefined
          if (writes !== undefined) await store.set(writes)
        },
        indexed: (query) => index.indexed(query),
        indexedUrls: (prefix) => index.indexedUrls(prefix),
        unindex: (entries) => index.unindex(entries),
      }
      return { store, admin: new StoreAdmin(source, clock), rewriteAfterRemove: (writes) => void (rewrite = writes) }
    }

    const deletes: [name: string, run: (admin: StoreAdmin) => Promise<number>, again: (store: RedisStore) => Promise<number>][] = [
      ['delete(url)', (admin) => admin.delete('https://race.example/a'), (store) => store.delete('https://race.example/a')],
      ['deleteTags()', (admin) => admin.deleteTags(['t']), (store) => store.deleteTags(['t'])],
      ['deleteOlderThan()', (admin) => admin.deleteOlderThan(60), (store) => store.deleteOlderThan(60)],
      ['deletePrefix()', (admin) => admin.deletePrefix('https://race.example/'), (store) => store.deletePrefix('https://race.example/')],
    ]
    for (const [name, run, again] of deletes) {
      it(`keeps it reachable: ${name} after it finds it`, async () => {
        const { store, admin, rewriteAfterRemove } = await racing()
        const ns = store.namespace
        const old = Date.now() - 3_600_000
        await store.set([entry('ab', 'https://race.example/a', { tags: ['t'], now: old })])
        rewriteAfterRemove([entry('ab', 'https://race.example/a', { tags: ['t'], now: old })])
        assert.equal(await run(admin), 1)
        // The rewrite is servable, and in every index it was written to.
        assert.notEqual((await store.get(['ab']))[0], undefined)
        for (const key of [urlIndexKey(ns, 'https://race.example/a'), tagIndexKey(ns, 't'), ageIndexKeys(ns, 'ab').stored, ageIndexKeys(ns, 'ab').expiries]) {
          assert.notEqual(await zscore(key, 'ab'), '', `the rewrite left ${key}`)
        }
        assert.equal(await server.cli('ZSCORE', originIndexKeys(ns, 'https://race.example/a').urls, 'https://race.example/a'), '0')
        assert.equal(await again(store), 1)
        assert.deepEqual(await collect(store.ids()), [])
      })
    }
  })

  describe('deleteExpired() sweeping the index keys', () => {
    it('leaves no index key of a `ttl: false` store once its entries are gone, removed or expired', async () => {
      const clock = new ManualClock(Date.now())
      const store = await openStore({ ttl: false, clock })
      const ns = store.namespace
      const ids = Array.from({ length: 50 }, (_, index) => `${(index % 16).toString(16)}${index.toString(16).padStart(2, '0')}`)
      const url = (index: number): string => `https://h${index % 3}.example/p/${index % 10}`
      await store.set(ids.map((id, index) => entry(id, url(index), { tags: [`t${index % 4}`, 'all'], now: clock.now(), lifetime: index < 25 ? 60 : 6000 })))
      assert.equal((await server.cli('PTTL', tagIndexKey(ns, 'all'))), '-1', 'kept without TTL: no key expires')
      // Gone by other means: the index still names them, and no TTL or prune would ever end that.
      await store.remove(ids.slice(40))
      assert.equal(await store.deleteExpired(), 0, 'only values are counted, and none was stale')
      const live = ids.slice(0, 40).sort()
      assert.deepEqual(Object.keys(await zsetOf(tagIndexKey(ns, 'all'))).sort(), live)
      const aged = await Promise.all([...'0123456789abcdef'].map((digit) => zsetOf(ageIndexKeys(ns, digit).expiries)))
      assert.deepEqual(aged.flatMap(Object.keys).sort(), live)
      // Half of the rest goes stale: deleteExpired deletes the values and, with the sweep, every member.
      clock.advance(120_000)
      assert.equal(await store.deleteExpired(), 25)
      assert.deepEqual(Object.keys(await zsetOf(tagIndexKey(ns, 'all'))).sort(), ids.slice(25, 40).sort())
      assert.equal(await store.deleteTags(['t0', 't1', 't2', 't3']), 15)
      await store.deleteExpired()
      assert.deepEqual(await indexKeys(server, ns), [])
    })

    it('sweeps index keys longer than a page, keeping the members of entries held', async () => {
      const store = await openStore({ ttl: false })
      const ns = store.namespace
      // 1200 ids indexed under one tag and URL whose values never came (a crash between the index and
      // the MULTI), around 3 entries that are held.
      const now = Date.now()
      const dangling = Array.from({ length: 1200 }, (_, index) => `d${index.toString(16).padStart(3, '0')}`)
      for (let start = 0; start < dangling.length; start += 200) {
        await store.set(dangling.slice(start, start + 200).map((id): StoreWrite => ({ id, value: undefined, ttlMs: undefined, index: { url: 'https://big.example/', tags: ['big'], storedAt: now } })))
      }
      await store.set(['d000', 'd7ff', 'e1'].map((id) => entry(id, 'https://big.example/', { tags: ['big'] })))
      await store.deleteExpired()
      const kept = ['d000', 'd7ff', 'e1']
      assert.deepEqual(Object.keys(await zsetOf(tagIndexKey(ns, 'big'))).sort(), kept)
      assert.deepEqual(Object.keys(await zsetOf(urlIndexKey(ns, 'https://big.example/'))).sort(), kept)
      assert.deepEqual(Object.keys(await zsetOf(originIndexKeys(ns, 'https://big.example/').urls)), ['https://big.example/'])
      assert.equal(await store.delete('https://big.example/'), 3)
      await store.deleteExpired()
      assert.deepEqual(await indexKeys(server, ns), [])
    })
  })
})

/** The sorted set at `key` as member → score. */
async function zsetOf(key: string): Promise<Record<string, string>> {
  const lines = (await server.cli('ZRANGE', key, '0', '-1', 'WITHSCORES')).split('\n').filter((line) => line !== '')
  return Object.fromEntries(Array.from({ length: lines.length / 2 }, (_, index) => [lines[2 * index], lines[2 * index + 1]]))
}
