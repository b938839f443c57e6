/**
 * `{ client }` takes a node-redis client of major 4, 5 or 6 (redis-commands.ts), each checked against
 * a real redis-server: the store contract, stats(), and a borrowed client left open. What the store
 * cannot drive is refused in the constructor. The issue: a redis 6 client was accepted, then every
 * store call failed, nothing was ever cached (only onError said so) and stats() threw a TypeError.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createClient as createClient4 } from 'redis'
import { createClient as createClient5 } from 'redis5'
import { createClient as createClient6, createClientPool as createClientPool6, RESP_TYPES } from 'redis6'
import { InvalidOptionError } from '../../lib/errors.js'
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis-store.js'
import { cachedAgent, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { releaseRedis, useRedis } from '../helpers/stores.js'
import { collect, decode, storeContract, storedResponse, text } from './store-contract.js'

/** What these tests do with a client, whatever its major. */
interface TestClient {
  readonly isOpen: boolean
  readonly isReady: boolean
  connect(): Promise<unknown>
  on(event: 'error', listener: (error: Error) => void): unknown
  listenerCount(event: string): number
  ping(): Promise<unknown>
}

interface Major {
  readonly major: 4 | 5 | 6
  create(url: string): TestClient
  /** quit() in v4; close() since v5, where quit() is deprecated. */
  close(client: TestClient): Promise<unknown>
}

const MAJORS: readonly Major[] = [
  { major: 4, create: (url) => createClient4({ url }), close: (client) => (client as ReturnType<typeof createClient4>).quit() },
  { major: 5, create: (url) => createClient5({ url }), close: (client) => (client as ReturnType<typeof createClient5>).close() },
  { major: 6, create: (url) => createClient6({ url }), close: (client) => (client as ReturnType<typeof createClient6>).close() },
]

let redis: RedisServer

before(async function () {
  this.timeout(10_000)
  redis = await useRedis()
})

after(async () => {
  await releaseRedis()
})

function namespace(): string {
  return `majors-${randomBytes(4).toString('hex')}`
}

/** A store borrowing `client`, ready; the caller closes it. */
async function borrow(client: unknown, options: Omit<RedisStoreOptions, 'client'> = {}): Promise<RedisStore> {
  const store = new RedisStore({ client, namespace: namespace(), ...options } as RedisStoreOptions)
  await store.ready()
  return store
}

/** The fleet lock scripts (redis-locks.ts) answer the same through every major and reply mapping. */
async function assertLocks(store: RedisStore): Promise<void> {
  const id = 'fe'.repeat(16)
  assert.equal(await store.claim(id, 'miss', 'aa', 5000), 'claimed')
  assert.equal(await store.claim(id, 'miss', 'bb', 5000), 'held')
  await store.release(id, 'miss', 'aa', 'not-stored', 5000)
  assert.equal(await store.peek(id, 'miss'), 'not-stored')
  await store.clear()
  assert.equal(await store.peek(id, 'miss'), 'free')
}

for (const { major, create, close } of MAJORS) {
  describe(`RedisStore on a node-redis ${major} client`, () => {
    let client: TestClient

    before(async () => {
      client = create(redis.url)
      client.on('error', () => {})
      await client.connect()
    })

    after(async () => {
      await close(client)
    })

    // The contract checks expiry at ttlMs exactly, hence ttlOffset 0.
    storeContract(`node-redis ${major} client`, async () => {
      const clock = new ManualClock()
      const store = await borrow(client, { ttlOffset: 0, clock })
      return {
        store,
        clock,
        expiry: 'server',
        cleanup: async () => {
          await store.close()
          assert.equal(client.isReady, true, 'the store closed a client it borrowed')
        },
      }
    })

    it('connects a client given unconnected, reports stats(), and leaves it open after close()', async () => {
      const own = create(redis.url)
      own.on('error', () => {})
      const listeners = own.listenerCount('error')
      const store = await borrow(own)
      try {
        await store.set([{ id: 'a1', value: storedResponse('https://example.com/a1'), ttlMs: 60_000 }])
        store.count({ hits: 2 })
        const stats = await store.stats()
        assert.deepEqual([stats.entries, stats.writes, stats.hits], [1, 1, 2])
        await store.close()
        assert.equal(own.isOpen, true)
        assert.equal(await own.ping(), 'PONG')
        assert.equal(own.listenerCount('error'), listeners, 'the store detached its listeners')
      } finally {
        await store.close()
        await close(own)
      }
    })
  })
}

for (const { major, create, close } of MAJORS.filter((entry) => entry.major >= 5)) {
  describe(`cache() over a node-redis ${major} client`, () => {
    let origin: Origin

    before(async () => {
      origin = await startOrigin((_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 5 })
        res.end('hello')
      })
    })

    after(async () => {
      await origin.close()
    })

    it('serves a MISS, then a HIT from Redis', async () => {
      const client = create(redis.url)
      client.on('error', () => {})
      await client.connect()
      const store = await borrow(client)
      const { dispatcher, close: closeAgent } = cachedAgent({ store })
      try {
        const first = await send(dispatcher, `${origin.url}/page`)
        assert.match(first.cacheStatus ?? '', /fwd=miss; fwd-status=200; stored/)
        const second = await send(dispatcher, `${origin.url}/page`)
        assert.match(second.cacheStatus ?? '', /; hit; /)
        assert.equal(second.text, 'hello')
        assert.equal(origin.count('/page'), 1)
        assert.equal((await store.stats()).entries, 1)
        await assertLocks(store)
      } finally {
        await closeAgent()
        await store.close()
        await close(client)
      }
    })
  })
}

describe('RedisStore on node-redis 6 clients set up their own way', () => {
  it('reads strings and hashes right under RESP3 and a global Map and Buffer type mapping', async () => {
    const client = createClient6({
      url: redis.url,
      RESP: 3,
      commandOptions: { typeMapping: { [RESP_TYPES.MAP]: Map, [RESP_TYPES.BLOB_STRING]: Buffer } },
    })
    client.on('error', () => {})
    await client.connect()
    try {
      const first = await borrow(client)
      await first.set([{ id: 'a1', value: storedResponse('https://example.com/a1'), ttlMs: 60_000 }])
      first.count({ hits: 3, misses: 1 })
      await first.close()
      // A second store on the namespace reads the counters back from the hash (HGETALL: a Map of Buffers here).
      const second = await borrow(client, { namespace: first.namespace })
      const stats = await second.stats()
      assert.deepEqual([stats.hits, stats.misses, stats.writes, stats.entries], [3, 1, 1, 1])
      assert.deepEqual(await collect(second.ids()), ['a1'])
      assert.deepEqual((await collect(second.entries())).map((entry) => entry.url), ['https://example.com/a1'])
      await assertLocks(second)
      await second.close()
    } finally {
      await client.close()
    }
  })

  it('keeps its keys under the client keyPrefix, and lists and clears only those', async () => {
    const client = createClient6({ url: redis.url, keyPrefix: 'app*:' })
    client.on('error', () => {})
    await client.connect()
    const store = await borrow(client, { namespace: 'prefixed' })
    try {
      await store.set([{ id: 'ab', value: text('under the prefix'), ttlMs: undefined }])
      assert.equal(await redis.cli('GET', 'app*:prefixed:{ab}'), 'under the prefix')
      // Same namespace, no prefix: not this store's key (the `*` in the prefix must not match it either).
      await redis.cli('SET', 'prefixed:{cd}', 'keep')
      await redis.cli('SET', 'appx:prefixed:{cd}', 'keep')
      assert.deepEqual(await collect(store.ids()), ['ab'])
      assert.deepEqual((await store.get(['ab'])).map(decode), ['under the prefix'])
      await store.clear()
      assert.equal(await redis.cli('EXISTS', 'app*:prefixed:{ab}'), '0')
      assert.equal(await redis.cli('GET', 'prefixed:{cd}'), 'keep')
      assert.equal(await redis.cli('GET', 'appx:prefixed:{cd}'), 'keep')
    } finally {
      await store.close()
      await client.close()
    }
  })
})

describe('RedisStore refuses clients it cannot drive', () => {
  const legacy4 = createClient4({ legacyMode: true })
  const refused: [name: string, client: () => unknown][] = [
    ['a node-redis 4 client in legacyMode', () => legacy4],
    ['a node-redis 5 .legacy() client', () => createClient5().legacy()],
    ['a node-redis 6 .legacy() client', () => createClient6().legacy()],
    // Cluster clients are driven (test/stores/redis-cluster.test.ts); a pool has no isReady.
    ['a node-redis 6 client pool', () => createClientPool6({ url: 'redis://127.0.0.1:1' })],
    ['an ioredis-shaped client', () => ({ status: 'ready', connect: async () => {}, multi: () => ({}), on: () => {}, get: async () => null, getBuffer: async () => null })],
    ['a plain object', () => ({})],
  ]
  for (const [name, client] of refused) {
    it(`refuses ${name} with InvalidOptionError naming \`client\` and the supported majors`, () => {
      assert.throws(
        () => new RedisStore({ client: client() } as RedisStoreOptions),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          error.option === 'client' &&
          error.code === 'URC_ERR_INVALID_OPTION' &&
          /a node-redis client of major 4, 5 or 6/.test(error.message),
      )
    })
  }

  it('neither connects nor listens to a refused client', () => {
    assert.throws(() => new RedisStore({ client: legacy4 } as RedisStoreOptions), InvalidOptionError)
    assert.equal(legacy4.isOpen, false)
    assert.equal(legacy4.listenerCount('error'), 0)
  })

  it('refuses legacyMode in the options of a client it creates itself, naming `legacyMode`', () => {
    assert.throws(
      () => new RedisStore({ url: redis.url, legacyMode: true }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'legacyMode',
    )
  })
})
