/**
 * The rig the Redis outage, stall and full-Redis tests share: a cached Agent over a RedisStore whose
 * failures are logged and whose process is watched for unhandled errors, the checks on what came back,
 * and a full Redis.
 */
import assert from 'node:assert/strict'
import { RedisStore, type CacheError as CacheErrorType } from '../../lib/index.js'
import { cachedAgent, eventually, send, type Reply } from './client.js'
import { errorLog, freshNamespace, sleep, timed, watchProcess, type ProcessWatch } from './faults.js'
import { freshBodyOfUrl, startOrigin, type Origin } from './origin.js'
import { startRedis, type RedisServer } from './redis-server.js'

/** Generous bound for one request while Redis misbehaves: the point is "not stuck", not speed. */
export const REQUEST_BOUND_MS = 1000

export interface Rig {
  readonly store: RedisStore
  readonly errors: CacheErrorType[]
  readonly watch: ProcessWatch
  get(path: string): Promise<Reply & { readonly ms: number }>
  close(): Promise<void>
}

export function rig(origin: Origin, redisUrl: string, commandTimeout: number): Rig {
  const store = new RedisStore({ url: redisUrl, namespace: freshNamespace() })
  const { errors, onError } = errorLog()
  const watch = watchProcess()
  const { dispatcher, close } = cachedAgent({ store, commandTimeout, onError })
  return {
    store,
    errors,
    watch,
    get: async (path) => {
      const { value, ms } = await timed(() => send(dispatcher, `${origin.url}${path}`))
      return { ...value, ms }
    },
    close: async () => {
      watch.stop()
      await close()
      await store.close()
    },
  }
}

export function bodyFor(path: string): string {
  return `origin body for ${path}`
}

export function assertFromOrigin(reply: Reply & { ms: number }, path: string): void {
  assert.equal(reply.status, 200, path)
  assert.equal(reply.text, bodyFor(path), path)
  assert.match(reply.cacheStatus ?? '', /; fwd=(miss|bypass)/, `${path}: ${reply.cacheStatus}`)
  assert.ok(reply.ms < REQUEST_BOUND_MS, `${path} took ${reply.ms.toFixed(0)} ms`)
}

/** Sends `path` until a request for it is a hit (the previous one stored it), within `timeoutMs`. */
export async function untilHit(r: Rig, path: string, timeoutMs: number): Promise<void> {
  await eventually(async () => {
    const reply = await r.get(path)
    assert.equal(reply.text, bodyFor(path))
    if (/; hit;/.test(reply.cacheStatus ?? '')) return true
    await sleep(50)
    return false
  }, timeoutMs)
}

/**
 * Registers, in the current describe, a redis-server that refuses writes once 2 MB are used
 * (`maxmemory 2mb`, `noeviction`: Redis full) and an origin answering `body of <url>`; both are stopped
 * after the describe.
 */
export function fullRedisSuite(): { readonly redis: RedisServer; readonly origin: Origin } {
  let redis: RedisServer | undefined
  let origin: Origin | undefined
  before(async () => {
    redis = await startRedis({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'] })
    origin = await startOrigin(freshBodyOfUrl)
  })
  after(async () => {
    await origin?.close()
    await redis?.stop()
  })
  return {
    get redis(): RedisServer {
      if (redis === undefined) throw new Error('the full Redis starts in before()')
      return redis
    },
    get origin(): Origin {
      if (origin === undefined) throw new Error('the origin starts in before()')
      return origin
    },
  }
}
