/**
 * The two stores every end-to-end behaviour is checked against: the embedded MemoryStore and a
 * RedisStore on a redis-server the suite starts itself. Each test gets a fresh store (a new
 * namespace on the shared test Redis), so tests never see each other's entries.
 */
import { randomBytes } from 'node:crypto'
import { MemoryStore, RedisStore, type CacheStore, type Clock } from '../../lib/index.js'
import { startOrigin, type Origin, type OriginHandler, type OriginRequest } from './origin.js'
import { startRedis, type RedisServer } from './redis-server.js'

export interface StoreKind {
  readonly name: 'memory' | 'redis'
  /**
   * A new, empty store; closed by `closeAll()`. Pass the test's ManualClock as `clock` (and to cache())
   * where time is the subject; Redis still expires keys on its own clock.
   */
  make(options?: { ttl?: boolean; ttlOffset?: number; clock?: Clock }): Promise<CacheStore>
  /** The test Redis (redis kind only). */
  readonly redis: () => RedisServer
}

let server: RedisServer | undefined
let users = 0
const open: CacheStore[] = []

/** Starts the shared test Redis for one test file; pair with `releaseRedis()` in after(). */
export async function useRedis(): Promise<RedisServer> {
  users++
  server ??= await startRedis()
  return server
}

export async function releaseRedis(): Promise<void> {
  await Promise.all(open.splice(0).map((store) => store.close()))
  if (--users === 0 && server !== undefined) {
    const s = server
    server = undefined
    await s.stop()
  }
}

/**
 * Registers before/after hooks in the current describe: the kind's Redis (redis kind only) and an
 * origin running `handler`. The returned Origin delegates to the one started in before().
 */
export function suiteOrigin(kind: StoreKind, handler: OriginHandler): Origin {
  let started: Origin | undefined
  const current = (): Origin => {
    if (started === undefined) throw new Error('the suite origin starts in before()')
    return started
  }
  before(async () => {
    if (kind.name === 'redis') await useRedis()
    started = await startOrigin(handler)
  })
  after(async () => {
    await current().close()
    if (kind.name === 'redis') await releaseRedis()
  })
  return {
    get url(): string {
      return current().url
    },
    get requests(): OriginRequest[] {
      return current().requests
    },
    count: (path) => current().count(path),
    close: () => current().close(),
  }
}

export const storeKinds: readonly StoreKind[] = [
  {
    name: 'memory',
    make: async (options = {}) => {
      const store = new MemoryStore(options)
      open.push(store)
      return store
    },
    redis: () => {
      throw new Error('the memory kind has no Redis')
    },
  },
  {
    name: 'redis',
    make: async (options = {}) => {
      const redis = await useRedisOnce()
      const store = new RedisStore({ url: redis.url, namespace: `test-${randomBytes(4).toString('hex')}`, ...options })
      open.push(store)
      await waitReady(store)
      return store
    },
    redis: () => {
      if (server === undefined) throw new Error('call useRedis() in before()')
      return server
    },
  },
]

async function useRedisOnce(): Promise<RedisServer> {
  if (server === undefined) throw new Error('call useRedis() in before()')
  return server
}

/** A RedisStore connects in the background; tests want it connected before the first request. */
async function waitReady(store: CacheStore): Promise<void> {
  const deadline = Date.now() + 3000
  for (;;) {
    try {
      await store.get(['0'])
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
