/**
 * The eight contenders, each reduced to one `hit()` that fetches the same bytes and reads all of them.
 * Built inside the worker process, so each measurement loads only what its contender needs.
 */
import { Agent, cacheStores, interceptors, request, type Dispatcher } from 'undici'
import type { RedisStoreOptions } from '../../lib/index.js'
import {
  BENCH_COMMAND_TIMEOUT_MS,
  BENCH_MAX_ENTRY_SIZE,
  BUFFERED_BODY_LIMIT,
  CACHE_NAMESPACE,
  FLOOR_PREFIX,
  MiB,
  PLATFORMATIC_PREFIX,
  type ContenderId,
  type WorkerEnvironment,
} from './protocol.js'

export interface Contender {
  /** One request, its body read to the end; resolves to the number of body bytes read. */
  hit(): Promise<number>
  /** Makes the next hit() a cache hit; resolves to how many requests that took (0: nothing to prime). */
  prime(): Promise<number>
  /** Reports the cache's onError received so far. */
  readonly cacheErrors: { count: number; first?: string }
  /** How many /body requests the origin has seen; undefined for the floor, which has no origin. */
  readonly originCount: (() => Promise<number>) | undefined
  close(): Promise<void>
}

const PRIME_ATTEMPTS = 200
const PRIME_PAUSE_MS = 10

export async function createContender(id: ContenderId, size: number, env: WorkerEnvironment): Promise<Contender> {
  if (id === 'floor') return createFloor(size, env)
  if (id === 'pair') return createPair(size, env)
  const url = `${env.originUrl}/body?size=${size}&run=${env.run}`
  const cacheErrors: { count: number; first?: string } = { count: 0 }
  const onError = (error: Error): void => {
    cacheErrors.count++
    cacheErrors.first ??= `${error.name}: ${error.message}`
  }
  const agent = new Agent()
  let dispatcher: Dispatcher = agent
  let closeStore = async (): Promise<void> => {}

  switch (id) {
    case 'undici':
      break
    case 'undici-cache': {
      // MemoryCacheStore defaults to maxEntrySize 5 MiB, maxSize 100 MiB and maxCount 1024, which would
      // leave the 10 MiB body uncached; the bench raises the limits.
      const store = new cacheStores.MemoryCacheStore({ maxSize: 1024 * 1024 * 1024, maxEntrySize: BENCH_MAX_ENTRY_SIZE })
      dispatcher = agent.compose(interceptors.cache({ store }))
      break
    }
    case 'memory': {
      const { cache, MemoryStore } = await import('../../lib/index.js')
      const store = new MemoryStore({ maxSize: 1024 * 1024 * 1024, maxEntrySize: BENCH_MAX_ENTRY_SIZE })
      dispatcher = agent.compose(
        cache({ store, maxEntrySize: BENCH_MAX_ENTRY_SIZE, commandTimeout: BENCH_COMMAND_TIMEOUT_MS, onError }),
      )
      closeStore = () => store.close()
      break
    }
    case 'redis':
    case 'redis-local': {
      const { cache, RedisStore } = await import('../../lib/index.js')
      // The in-process tier (issue 16) in front of Redis, sized so a 10 MiB body fits many times over.
      // Cast: the option is newer than some checkouts of lib/; a store that refuses it fails this cell.
      const local = id === 'redis-local' ? { localCache: { maxSize: 256 * MiB } } : {}
      const store = new RedisStore({ url: env.redisUrl, namespace: CACHE_NAMESPACE, ...local } as RedisStoreOptions)
      await store.ready()
      dispatcher = agent.compose(
        cache({ store, maxEntrySize: BENCH_MAX_ENTRY_SIZE, commandTimeout: BENCH_COMMAND_TIMEOUT_MS, onError }),
      )
      closeStore = () => store.close()
      break
    }
    case 'platformatic': {
      const store = await createPlatformaticStore(env, onError)
      dispatcher = agent.compose(interceptors.cache({ store }))
      closeStore = () => store.close()
      break
    }
  }

  const originAgent = new Agent()
  const originCount = async (): Promise<number> => {
    const res = await request(`${env.originUrl}/count`, { dispatcher: originAgent })
    return Number(await res.body.text())
  }
  const hit = size <= BUFFERED_BODY_LIMIT ? bufferedHit(url, dispatcher) : streamedHit(url, dispatcher)

  return {
    hit,
    cacheErrors,
    originCount,
    async prime() {
      if (id === 'undici') {
        await hit()
        return 0
      }
      // The first request is a miss that records; the entry is committed after its body ends, so
      // repeat until one request does not reach the origin.
      for (let attempt = 1; attempt <= PRIME_ATTEMPTS; attempt++) {
        const before = await originCount()
        await hit()
        if ((await originCount()) === before) return attempt
        await delay(PRIME_PAUSE_MS)
      }
      const reported = cacheErrors.first === undefined ? '' : `; onError reported ${cacheErrors.count}, first: ${cacheErrors.first}`
      throw new Error(`${id}: still reaching the origin after ${PRIME_ATTEMPTS} priming requests${reported}`)
    },
    async close() {
      await agent.close()
      await originAgent.close()
      await closeStore()
    },
  }
}

function bufferedHit(url: string, dispatcher: Dispatcher): () => Promise<number> {
  return async () => {
    const { statusCode, body } = await request(url, { dispatcher })
    if (statusCode !== 200) {
      await body.dump()
      throw new Error(`status ${statusCode}`)
    }
    return (await body.arrayBuffer()).byteLength
  }
}

/** Counts chunks as they arrive, so the client adds no buffer of its own to the process's RSS. */
function streamedHit(url: string, dispatcher: Dispatcher): () => Promise<number> {
  return async () => {
    const { statusCode, body } = await request(url, { dispatcher })
    if (statusCode !== 200) {
      await body.dump()
      throw new Error(`status ${statusCode}`)
    }
    let bytes = 0
    for await (const chunk of body) bytes += (chunk as Buffer).byteLength
    return bytes
  }
}

/**
 * platformatic's Redis store for undici's own cache interceptor (npm undici-cache-redis, on iovalkey).
 * - `clientOpts`: iovalkey options for the bench's redis-server; `keyPrefix` is taken out of them and
 *   put before every key by the store itself, so its keys stay apart from the other contenders'.
 * - `tracking: true` (its default, spelled out): a second connection turns on Redis client-side
 *   caching (CLIENT TRACKING … REDIRECT to a `__redis__:invalidate` subscriber) and entries read once
 *   are kept in an in-process LRU, its "tracking cache", which serves the hits after the first.
 * - `maxSize` bounds that LRU (default: unbounded) and `maxEntrySize` the stored entry (default:
 *   unbounded), both raised past a 10 MiB body as for the other contenders. `maxEntrySize` counts the
 *   base64 text it stores, 4/3 of the body.
 * - `errorCallback` (default: console.error) reports to the bench like cache()'s onError.
 */
async function createPlatformaticStore(env: WorkerEnvironment, onError: (error: Error) => void): Promise<PlatformaticStore> {
  const { RedisCacheStore } = await import('undici-cache-redis')
  const { hostname, port } = new URL(env.redisUrl)
  const store = new RedisCacheStore({
    clientOpts: { host: hostname, port: Number(port), keyPrefix: PLATFORMATIC_PREFIX },
    tracking: true,
    maxSize: 1024 * MiB,
    maxEntrySize: BENCH_MAX_ENTRY_SIZE,
    errorCallback: onError,
  })
  // Its .d.ts declares its own GetResult, whose optional `body` undici's type refuses under
  // exactOptionalPropertyTypes; at run time it is undici's CacheStore.
  return store as unknown as PlatformaticStore
}

/** undici's CacheStore, with the close() platformatic's store adds. */
type PlatformaticStore = NonNullable<Parameters<typeof interceptors.cache>[0]>['store'] & { close(): Promise<void> }

async function createFloor(size: number, env: WorkerEnvironment): Promise<Contender> {
  const { commandOptions, createClient } = await import('redis')
  const client = createClient({ url: env.redisUrl })
  client.on('error', () => {})
  await client.connect()
  const key = `${FLOOR_PREFIX}:${size}:${env.run}`
  // The same bytes the origin serves.
  await client.set(key, Buffer.alloc(size, 'undici-redis-cache bench '))
  const options = commandOptions({ returnBuffers: true })
  return {
    async hit() {
      const value = await client.get(options, key)
      if (value === null) throw new Error(`${key} is missing`)
      return value.byteLength
    },
    prime: async () => 0,
    cacheErrors: { count: 0 },
    originCount: undefined,
    async close() {
      await client.del(key)
      await client.quit()
    },
  }
}

/**
 * The serial limit of issue 16 measured instead of computed: each hit is a MemoryStore hit, then a
 * bare GET of the same bytes, one after the other in one loop. On a VM a GET that follows real work
 * can take longer than one in a tight loop (the idle Redis CPU sleeps deeper), which the formula
 * 1 / (1/memory + 1/floor), built from two tight loops, does not see; this pair does.
 */
async function createPair(size: number, env: WorkerEnvironment): Promise<Contender> {
  const memory = await createContender('memory', size, env)
  const floor = await createFloor(size, env)
  return {
    async hit() {
      const bytes = await memory.hit()
      await floor.hit()
      return bytes
    },
    prime: () => memory.prime(),
    cacheErrors: memory.cacheErrors,
    originCount: memory.originCount,
    async close() {
      await memory.close()
      await floor.close()
    },
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
