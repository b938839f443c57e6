/**
 * RedisStore's `localCache` (issue 16) against a real redis-server of its own (these tests kill,
 * pause and flush it): hits served in process without a Redis command, kept coherent by client
 * tracking with another store's writes and deletes, emptied on FLUSHDB, on the loss of the tracking
 * connection and on a missed heartbeat, and back once tracking is. Borrowed clients of node-redis
 * 4, 5 and 6 (6 with a keyPrefix) track alike.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createClient as createClient4 } from 'redis'
import { createClient as createClient5 } from 'redis5'
import { createClient as createClient6 } from 'redis6'
import { CacheError, InvalidOptionError } from '../../lib/errors.js'
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis-store.js'
import { HEARTBEAT_MS } from '../../lib/stores/redis-tracking.js'
import { ManualClock } from '../helpers/clock.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

const ID = 'ab'.repeat(16)
const OTHER = 'cd'.repeat(16)
/** Bound on waiting for an invalidation or a reconnect; they take about a millisecond on loopback. */
const WAIT_MS = 3000

let redis: RedisServer
const stores: RedisStore[] = []

before(async function () {
  this.timeout(10_000)
  redis = await startRedis()
})

after(async () => {
  await Promise.all(stores.map((store) => store.close()))
  await redis.stop()
})

function namespace(): string {
  return `local-${randomBytes(4).toString('hex')}`
}

/** A ready store, closed after the file; with a tier whose tracking is live unless `localCache` is omitted. */
async function open(options: Partial<RedisStoreOptions> & { namespace: string }, tracked = true): Promise<RedisStore> {
  const store = new RedisStore(('client' in options ? options : { url: redis.url, ...options }) as RedisStoreOptions)
  stores.push(store)
  await store.ready()
  if (tracked) await until(() => store.localCacheStats()?.live === true, 'tracking to go live')
  return store
}

async function until(condition: () => boolean, what: string): Promise<number> {
  const started = performance.now()
  while (!condition()) {
    if (performance.now() - started > WAIT_MS) assert.fail(`no ${what} within ${WAIT_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return performance.now() - started
}

async function getCalls(): Promise<number> {
  const stats = await redis.cli('INFO', 'commandstats')
  return Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

const value = (text: string) => Buffer.from(text)
const read = async (store: RedisStore, id = ID): Promise<string | undefined> => {
  const [bytes] = await store.get([id])
  return bytes === undefined ? undefined : Buffer.from(bytes).toString()
}

describe('RedisStore localCache', () => {
  it('serves a second read from the process, without a GET to Redis', async () => {
    const ns = namespace()
    const writer = await open({ namespace: ns }, false)
    const store = await open({ namespace: ns, localCache: { maxSize: 1 << 20 } })
    await writer.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
    // A heartbeat that a loaded machine reads late empties the tier (the tier's own safety rule): a
    // round in which that happened is run again.
    for (let round = 1; ; round++) {
      assert.equal(await read(store), 'v1')
      const { hits, drops } = store.localCacheStats()!
      const before = await getCalls()
      for (let i = 0; i < 5; i++) assert.equal(await read(store), 'v1')
      if (store.localCacheStats()!.drops !== drops && round < 3) continue
      assert.equal(await getCalls(), before)
      assert.equal(store.localCacheStats()!.hits - hits, 5)
      break
    }
    const stats = await store.stats()
    assert.equal(stats.localCache?.entries, 1)
  })

  it("another store's write and remove reach the tier, within milliseconds", async () => {
    const ns = namespace()
    const writer = await open({ namespace: ns }, false)
    const store = await open({ namespace: ns, localCache: { maxSize: 1 << 20 } })
    await writer.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
    assert.equal(await read(store), 'v1')
    await writer.set([{ id: ID, value: value('v2'), ttlMs: 60_000 }])
    const written = await until(() => store.localCacheStats()?.entries === 0, 'invalidation after a write')
    assert.equal(await read(store), 'v2')
    await writer.remove([ID])
    const removed = await until(() => store.localCacheStats()?.entries === 0, 'invalidation after a remove')
    assert.equal(await read(store), undefined)
    assert.ok(written < WAIT_MS && removed < WAIT_MS)
  })

  it("its own writes and removes are seen at once, before any invalidation arrives", async () => {
    const store = await open({ namespace: namespace(), localCache: { maxSize: 1 << 20 } })
    await store.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
    assert.equal(await read(store), 'v1')
    await store.set([{ id: ID, value: value('v2'), ttlMs: 60_000 }])
    assert.equal(await read(store), 'v2')
    await store.remove([ID])
    assert.equal(await read(store), undefined)
  })

  it('a delete by URL or tag through the indexes reaches another process’s tier', async () => {
    const ns = namespace()
    const admin = await open({ namespace: ns }, false)
    const store = await open({ namespace: ns, localCache: { maxSize: 1 << 20 } })
    await admin.set([{ id: ID, value: value('v1'), ttlMs: 60_000, index: { url: 'http://o.test/a', tags: ['t'], storedAt: Date.now() } }])
    await admin.set([{ id: OTHER, value: value('w1'), ttlMs: 60_000, index: { url: 'http://o.test/b', tags: ['u'], storedAt: Date.now() } }])
    assert.equal(await read(store), 'v1')
    assert.equal(await read(store, OTHER), 'w1')
    await admin.deleteTags(['t'])
    await until(() => store.localCacheStats()?.entries === 1, 'invalidation after deleteTags')
    assert.equal(await read(store), undefined)
    assert.equal(await read(store, OTHER), 'w1')
  })

  it('FLUSHDB empties the tier, which keeps serving what is read after', async () => {
    const store = await open({ namespace: namespace(), localCache: { maxSize: 1 << 20 } })
    await store.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
    await read(store)
    const drops = store.localCacheStats()?.drops ?? 0
    await redis.cli('FLUSHDB')
    await until(() => store.localCacheStats()?.drops === drops + 1, 'a drop after FLUSHDB')
    assert.equal(store.localCacheStats()?.live, true)
    assert.equal(await read(store), undefined)
  })

  it('the loss of the tracking connection closes the tier and reports it; a new connection reopens it', async () => {
    const clock = new ManualClock(Date.now())
    const store = await open({ namespace: namespace(), clock, localCache: { maxSize: 1 << 20 } })
    const reported: CacheError[] = []
    store.onBackgroundError((error) => reported.push(error))
    await store.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
    await read(store)
    await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub')
    await until(() => store.localCacheStats()?.live === false, 'the tier to close')
    assert.equal(store.localCacheStats()?.entries, 0)
    assert.equal(reported[0]?.code, 'URC_ERR_STORE')
    // Reads go to Redis meanwhile.
    assert.equal(await read(store), 'v1')
    assert.equal(store.localCacheStats()?.entries, 0)
    clock.advance(100)
    await until(() => store.localCacheStats()?.live === true, 'tracking to come back')
  })

  it('a heartbeat not back by the next beat closes the tier (a stalled server), and it reopens after', async () => {
    const clock = new ManualClock(Date.now())
    const store = await open({ namespace: namespace(), clock, localCache: { maxSize: 1 << 20 } })
    await store.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
    await read(store)
    redis.pause()
    try {
      // Each beat checks its predecessor once the event loop has polled for I/O.
      for (let beat = 0; beat < 2; beat++) {
        clock.advance(HEARTBEAT_MS)
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.deepEqual([store.localCacheStats()?.live, store.localCacheStats()?.entries], [false, 0])
    } finally {
      redis.resume()
    }
    clock.advance(5000)
    await until(() => store.localCacheStats()?.live === true, 'tracking to come back after the stall')
  })

  it('a Redis restart closes the tier; it reopens empty, and nothing from before is served', async function () {
    this.timeout(15_000)
    const store = await open({ namespace: namespace(), localCache: { maxSize: 1 << 20 } })
    await store.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
    await read(store)
    const drops = store.localCacheStats()?.drops ?? 0
    await redis.restart()
    // Counted, not sampled: on a loaded machine the tier can close and reopen while restart() waits.
    await until(() => (store.localCacheStats()?.drops ?? 0) > drops, 'the tier to close')
    await store.ready()
    await until(() => store.localCacheStats()?.live === true, 'tracking to come back after the restart')
    // The restarted server kept nothing (no persistence), and neither did the tier.
    assert.equal(await read(store), undefined)
  })

  for (const { major, create } of [
    { major: 4, create: (url: string) => createClient4({ url }) },
    { major: 5, create: (url: string) => createClient5({ url }) },
    { major: 6, create: (url: string) => createClient6({ url, keyPrefix: 'pre:' }) },
  ]) {
    it(`tracks on a borrowed node-redis ${major} client${major === 6 ? ' with a keyPrefix' : ''}`, async () => {
      const client = create(redis.url)
      client.on('error', () => {})
      const ns = namespace()
      const store = await open({ namespace: ns, client, localCache: { maxSize: 1 << 20 } } as never)
      const writerClient = create(redis.url)
      writerClient.on('error', () => {})
      const writer = await open({ namespace: ns, client: writerClient } as never, false)
      await writer.set([{ id: ID, value: value('v1'), ttlMs: 60_000 }])
      assert.equal(await read(store), 'v1')
      await writer.set([{ id: ID, value: value('v2'), ttlMs: 60_000 }])
      await until(() => store.localCacheStats()?.entries === 0, 'invalidation')
      assert.equal(await read(store), 'v2')
      await store.close()
      assert.equal(client.isOpen, true, 'a borrowed client stays open')
      await writer.close()
      await Promise.all([client.disconnect(), writerClient.disconnect()])
    })
  }

  it('closing a store right after construction leaves its tracking connection closed too', async function () {
    this.timeout(10_000)
    // A server of its own: the other tests' stores, open until the suite ends, reconnect their tracking
    // connections after the restart test, and would be counted here. A borrowed client, connected
    // first: any connection left afterwards is a tracking one.
    const own = await startRedis()
    const client = createClient4({ url: own.url })
    client.on('error', () => {})
    await client.connect()
    const connections = async (): Promise<number> => (await own.cli('CLIENT', 'LIST')).split('\n').filter(Boolean).length
    const before = await connections()
    try {
      for (let i = 0; i < 5; i++) await new RedisStore({ client, namespace: namespace(), localCache: { maxSize: 1024 } }).close()
      const started = performance.now()
      while ((await connections()) > before) {
        assert.ok(performance.now() - started < WAIT_MS, `${(await connections()) - before} connections left open`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    } finally {
      await client.disconnect()
      await own.stop()
    }
  })

  it('refuses a bad localCache, and a cluster, at construction', () => {
    for (const localCache of [{}, { maxSize: 0 }, { maxSize: 1.5 }, { maxSize: '1mb' }, { maxSize: 1024, ttl: 5 }, 5]) {
      assert.throws(() => new RedisStore({ url: redis.url, localCache } as never), InvalidOptionError, JSON.stringify(localCache))
    }
    assert.throws(
      () => new RedisStore({ cluster: { rootNodes: [{ url: redis.url }] }, localCache: { maxSize: 1024 } }),
      (error: unknown) => error instanceof InvalidOptionError && /Cluster/.test(error.message),
    )
  })
})
