/**
 * The two stores every end-to-end behaviour is checked against: the embedded MemoryStore and a
 * RedisStore on a redis-server the suite starts itself. Each test gets a fresh store (a new
 * namespace on the shared test Redis), so tests never see each other's entries.
 *
 * With URC_STORE=cluster in the environment (`npm run test:cluster`, test/mocharc.cluster-e2e.json),
 * the redis kind runs on a Redis Cluster instead (3 masters, 3 replicas, test/helpers/redis-cluster.ts):
 * one per test process, started on first use and kept for the process's other files (redis-server.ts
 * kills its nodes when the process exits). kind.redis() is then the cluster seen as one server
 * (asServer()), whose cli() follows redirections and whose `--scan` walks every master.
 */
import { randomBytes } from 'node:crypto'
import { MemoryStore, RedisStore, type CacheStore, type Clock, type RedisStoreOptions } from '../../lib/index.js'
import { startOrigin, type Origin, type OriginHandler, type OriginRequest } from './origin.js'
import { asServer, startRedisCluster, type ClusterServer } from './redis-cluster.js'
import { startRedis, type RedisServer } from './redis-server.js'

/** The redis kind runs on a Redis Cluster (URC_STORE=cluster). */
export const onCluster = process.env['URC_STORE'] === 'cluster'
/** The redis kind keeps a local tier (URC_STORE=local): every end-to-end behaviour with `localCache` on. */
export const withLocalCache = process.env['URC_STORE'] === 'local'

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
let cluster: Promise<ClusterServer> | undefined
let users = 0
const open: CacheStore[] = []

/** Starts the shared test Redis for one test file (under URC_STORE=cluster, the cluster); pair with `releaseRedis()` in after(). */
export async function useRedis(): Promise<RedisServer> {
  users++
  if (onCluster) {
    cluster ??= startRedisCluster().then(asServer)
    server = await cluster
    return server
  }
  server ??= await startRedis()
  return server
}

export async function releaseRedis(): Promise<void> {
  await Promise.all(open.splice(0).map((store) => store.close()))
  // A cluster takes seconds to start: the process's next file reuses it, and its exit stops it.
  if (--users === 0 && server !== undefined && !onCluster) {
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
      const local = withLocalCache ? { localCache: { maxSize: 64 * 1024 * 1024 } } : {}
      const made = new RedisStore({ ...redisConnection(), namespace: `test-${randomBytes(4).toString('hex')}`, ...local, ...options })
      const store = onCluster ? readsAfterWrites(made) : made
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

/** Calls that read what the store holds (or delete by it): on the cluster kind, they wait for the writes in flight. */
const READS = new Set(['get', 'getRange', 'delete', 'deletePrefix', 'deleteTags', 'deleteOlderThan', 'deleteExpired', 'stats', 'clear'])
const LISTINGS = new Set(['ids', 'scan', 'keys', 'entries'])

/**
 * The cluster kind's store: `store`, whose reads first wait for its writes still in flight. On a
 * cluster a set() takes three round trips (the URL's index script, the other index scripts with its
 * score, then the values' MULTI, one after the other: redis-index.ts) where one redis-server takes
 * one, and the suites written against one server read right after a response, sometimes after
 * moving a ManualClock past the guard's command timeout (which then gives up waiting for the
 * write): they would race a write still on its way, which is not what they test. The cache itself
 * makes a read wait for this process's own pending write, but only up to the command timeout on its
 * clock.
 */
function readsAfterWrites(store: RedisStore): RedisStore {
  const writes = new Set<Promise<unknown>>()
  const settled = (): Promise<unknown> => Promise.allSettled([...writes])
  return new Proxy(store, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name, target)
      if (typeof value !== 'function') return value
      // Bound to the store itself: its methods read private fields, which a Proxy does not have.
      const call = (args: unknown[]): unknown => (value as (...args: unknown[]) => unknown).apply(target, args)
      if (name === 'set' || name === 'remove') {
        return (...args: unknown[]) => {
          const write = call(args) as Promise<unknown>
          writes.add(write)
          write.then(() => writes.delete(write), () => writes.delete(write))
          return write
        }
      }
      if (typeof name === 'string' && READS.has(name)) return async (...args: unknown[]) => (await settled(), call(args))
      if (typeof name === 'string' && LISTINGS.has(name)) {
        return async function* (...args: unknown[]) {
          await settled()
          yield* call(args) as AsyncIterable<unknown>
        }
      }
      return (...args: unknown[]) => call(args)
    },
  })
}

/** How a RedisStore reaches the test Redis: its URL, or under URC_STORE=cluster the cluster's nodes. Call useRedis() first. */
export function redisConnection(): { url: string } | { cluster: Extract<RedisStoreOptions, { cluster: unknown }>['cluster'] } {
  if (server === undefined) throw new Error('call useRedis() in before()')
  if (!onCluster) return { url: server.url }
  return { cluster: { rootNodes: (server as ClusterServer).rootNodes.map(({ url }) => ({ url })) } }
}

/** The CLI's arguments naming the test Redis (`--url`, or `--cluster` with every node). Call useRedis() first. */
export function redisCliTarget(): string[] {
  const connection = redisConnection()
  return 'url' in connection ? ['--url', connection.url] : ['--cluster', connection.cluster.rootNodes.map((node) => String(node.url)).join(',')]
}

/** A RedisStore connects in the background; tests want it connected before the first request. */
async function waitReady(store: CacheStore): Promise<void> {
  const deadline = Date.now() + 3000
  for (;;) {
    try {
      await store.get(['0'])
      const tier = store instanceof RedisStore ? store.localCacheStats() : undefined
      if (tier === undefined || tier.live) return
      if (Date.now() > deadline) throw new Error('the local tier did not go live within 3 s')
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
