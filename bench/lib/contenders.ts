/**
 * The five contenders, each reduced to one `hit()` that fetches the same bytes and reads all of them.
 * Built inside the worker process, so each measurement loads only what its contender needs.
 */
import { Agent, cacheStores, interceptors, request, type Dispatcher } from 'undici'
import {
  BENCH_COMMAND_TIMEOUT_MS,
  BENCH_MAX_ENTRY_SIZE,
  BUFFERED_BODY_LIMIT,
  CACHE_NAMESPACE,
  FLOOR_PREFIX,
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
    case 'redis': {
      const { cache, RedisStore } = await import('../../lib/index.js')
      const store = new RedisStore({ url: env.redisUrl, namespace: CACHE_NAMESPACE })
      await store.ready()
      dispatcher = agent.compose(
        cache({ store, maxEntrySize: BENCH_MAX_ENTRY_SIZE, commandTimeout: BENCH_COMMAND_TIMEOUT_MS, onError }),
      )
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
