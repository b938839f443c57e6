/**
 * Issue 5: failures are never silent. onError receives typed errors (instanceof and a stable `code`),
 * rate-limited so a failing store under load does not flood it, and the diagnostics channels publish
 * hits, misses, revalidations and store errors.
 */
import assert from 'node:assert/strict'
import diagnostics from 'node:diagnostics_channel'
import {
  CacheError,
  CorruptEntryError,
  MemoryStore,
  RedisStore,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
} from '../../lib/index.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { errorLog, freshNamespace, storedIds, untilReady } from '../helpers/faults.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'

/** A MemoryStore whose writes always fail while its reads work (only the write breaker opens, issue 11). */
class WriteFailingStore extends MemoryStore {
  failedWrites = 0
  override async set(): Promise<void> {
    this.failedWrites++
    throw new Error('simulated write failure')
  }
}

/**
 * A MemoryStore that refuses every write as too large: a refusal is an answer, so no breaker opens and
 * every write reaches the store (a failing one would open the write breaker after a few, issue 11).
 */
class WriteRefusingStore extends MemoryStore {
  failedWrites = 0
  override async set(): Promise<void> {
    this.failedWrites++
    throw new ValueTooLargeError('ab', 2, 1, 'maxEntrySize')
  }
}

describe('observability', () => {
  let origin: Origin
  let redis: RedisServer

  before(async () => {
    redis = await startRedis()
    origin = await startOrigin((req, res) => {
      if (req.url === '/validated') {
        if (req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0' })
          return res.end()
        }
        res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=0', 'content-length': 9 })
        return res.end('validated')
      }
      const text = `body of ${req.url}`
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
  })
  after(async () => {
    redis.resume()
    await origin.close()
    await redis.stop()
  })

  it('onError receives StoreTimeoutError, then StoreUnavailableError when the breaker opens (a stalled Redis)', async () => {
    const store = new RedisStore({ url: redis.url, namespace: freshNamespace() })
    const { errors, onError } = errorLog()
    const { dispatcher, close } = cachedAgent({ store, commandTimeout: 50, onError })
    try {
      await untilReady(store)
      redis.pause()
      for (let i = 0; i < 4; i++) assert.equal((await send(dispatcher, `${origin.url}/stall-${i}`)).text, `body of /stall-${i}`)
      redis.resume()
      const timeout = errors.find((e) => e instanceof StoreTimeoutError)
      assert.ok(timeout instanceof StoreTimeoutError, `onError got ${errors.map((e) => e.code).join(', ')}`)
      assert.ok(timeout instanceof CacheError)
      assert.equal(timeout.code, 'URC_ERR_STORE_TIMEOUT')
      assert.equal(timeout.name, 'StoreTimeoutError')
      assert.equal(timeout.timeoutMs, 50)
      const unavailable = errors.find((e) => e instanceof StoreUnavailableError)
      assert.ok(unavailable instanceof StoreUnavailableError, `onError got ${errors.map((e) => e.code).join(', ')}`)
      assert.equal(unavailable.code, 'URC_ERR_STORE_UNAVAILABLE')
      assert.ok(unavailable.retryAt > Date.now() - 5000)
    } finally {
      redis.resume()
      await close()
      await store.close()
    }
  })

  it('onError receives StoreError with the Redis failure as its cause (nothing listening)', async () => {
    const gone = await startRedis()
    await gone.stop()
    const store = new RedisStore({ url: gone.url, namespace: freshNamespace() })
    const { errors, onError } = errorLog()
    const { dispatcher, close } = cachedAgent({ store, commandTimeout: 100, onError })
    try {
      assert.equal((await send(dispatcher, `${origin.url}/gone`)).text, 'body of /gone')
      const error = errors.find((e) => e instanceof StoreError)
      assert.ok(error instanceof StoreError, `onError got ${errors.map((e) => e.code).join(', ')}`)
      assert.equal(error.code, 'URC_ERR_STORE')
      assert.equal(error.name, 'StoreError')
      assert.ok(error.cause instanceof Error)
    } finally {
      await close()
      await store.close()
    }
  })

  it('onError receives CorruptEntryError for an unreadable stored value', async () => {
    const store = new MemoryStore()
    const { errors, onError } = errorLog()
    const { dispatcher, close } = cachedAgent({ store, onError })
    try {
      await send(dispatcher, `${origin.url}/corrupt`)
      const [id] = await storedIds(store)
      await store.set([{ id: id!, value: Buffer.from('not an entry'), ttlMs: undefined }])
      assert.equal((await send(dispatcher, `${origin.url}/corrupt`)).text, 'body of /corrupt')
      const error = errors.find((e) => e instanceof CorruptEntryError)
      assert.ok(error instanceof CorruptEntryError, `onError got ${errors.map((e) => e.code).join(', ')}`)
      assert.equal(error.code, 'URC_ERR_CORRUPT_ENTRY')
      assert.equal(error.id, id)
    } finally {
      await close()
    }
  })

  it('rate-limits onError: 40 failed writes within a second make one call, and one a second later is reported again', async () => {
    const store = new WriteRefusingStore()
    const clock = new ManualClock()
    const { errors, onError } = errorLog()
    const { dispatcher, close } = cachedAgent({ store, onError, clock })
    try {
      for (let i = 0; i < 40; i++) assert.equal((await send(dispatcher, `${origin.url}/rate-${i}`)).status, 200)
      await eventually(() => store.failedWrites >= 40)
      assert.equal(errors.length, 1, `onError was called ${errors.length} times for 40 failures`)
      assert.ok(errors.every((e) => e instanceof ValueTooLargeError))
      clock.advance(999)
      await send(dispatcher, `${origin.url}/rate-still`)
      await eventually(() => store.failedWrites >= 41)
      assert.equal(errors.length, 1, 'reported again within the second')
      clock.advance(1)
      await send(dispatcher, `${origin.url}/rate-later`)
      await eventually(() => errors.length === 2 && store.failedWrites >= 42)
    } finally {
      await close()
    }
  })

  it('publishes on the hit, miss, revalidate and store:error diagnostics channels', async () => {
    const names = ['undici-redis-cache:cache:hit', 'undici-redis-cache:cache:miss', 'undici-redis-cache:cache:revalidate', 'undici-redis-cache:store:error'] as const
    const seen = new Map<string, Record<string, unknown>[]>(names.map((name) => [name, []]))
    const listeners = names.map((name) => {
      const listener = (message: unknown): void => void seen.get(name)!.push(message as Record<string, unknown>)
      diagnostics.subscribe(name, listener)
      return () => diagnostics.unsubscribe(name, listener)
    })
    const store = new MemoryStore()
    const failing = new WriteFailingStore()
    const ok = cachedAgent({ store })
    const broken = cachedAgent({ store: failing })
    try {
      const url = `${origin.url}/channels`
      await send(ok.dispatcher, url)
      await send(ok.dispatcher, url)
      const miss = seen.get('undici-redis-cache:cache:miss')!
      const hit = seen.get('undici-redis-cache:cache:hit')!
      assert.equal(miss.length, 1)
      assert.equal(miss[0]!['url'], url)
      assert.equal(typeof miss[0]!['id'], 'string')
      assert.equal(hit.length, 1)
      assert.equal(hit[0]!['url'], url)
      assert.equal(hit[0]!['id'], miss[0]!['id'])

      await send(ok.dispatcher, `${origin.url}/validated`)
      const revalidated = await send(ok.dispatcher, `${origin.url}/validated`)
      assert.equal(revalidated.text, 'validated')
      assert.match(revalidated.cacheStatus ?? '', /fwd-status=304/)
      const revalidate = seen.get('undici-redis-cache:cache:revalidate')!
      assert.equal(revalidate.length, 1)
      assert.equal(revalidate[0]!['url'], `${origin.url}/validated`)
      assert.ok(Object.values(revalidate[0]!).includes(304), JSON.stringify(revalidate[0]))

      await send(broken.dispatcher, `${origin.url}/channels-broken`)
      await eventually(() => seen.get('undici-redis-cache:store:error')!.length > 0)
      assert.ok(seen.get('undici-redis-cache:store:error')![0]!['error'] instanceof StoreError)
    } finally {
      for (const unsubscribe of listeners) unsubscribe()
      await ok.close()
      await broken.close()
    }
  })
})
