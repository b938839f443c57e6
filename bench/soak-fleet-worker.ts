/**
 * One worker of bench/soak-fleet.ts, forked with an IPC channel: a cache over a RedisStore with a
 * local tier, against the orchestrator's origin. On `go` it runs REQUESTS_PER_WORKER operations,
 * CONCURRENCY at a time, paced at RATE_PER_WORKER per second: GETs of random URLs, and with
 * INVALIDATION_SHARE an invalidation, in turn store.delete(url), store.deleteTags([group]) and a
 * POST through the cache (RFC 9111 §4.4). Before a delete or tag delete it asks the origin to bump
 * the URLs' versions; a POST bumps its URL at the origin. It checks every body, then sends the
 * orchestrator everything it saw (WorkerReport) and exits.
 *
 * The store is watched through a Proxy (the cache uses it as any CacheStore): set() records when Redis
 * acknowledged each write and which origin response (x-serial) it held, and delete() records the
 * cache's own §4.4 deletions, so a POST's invalidation counts only when its deletion really ran.
 *
 * argv: <redis url> <origin url> <name> <seed>
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Agent, request, type Dispatcher } from 'undici'
import { cache, RedisStore, type CacheStore, type StoreWrite } from '../lib/index.js'
import {
  COMMAND_TIMEOUT_MS,
  CONCURRENCY,
  GROUPS,
  INVALIDATION_SHARE,
  now,
  pathOf,
  random,
  RATE_PER_WORKER,
  REQUEST_TIMEOUT_MS,
  REQUESTS_PER_WORKER,
  SERIAL_PATTERN,
  TIER_BYTES,
  URL_COUNT,
  versionOf,
  type FromWorker,
  type Invalidation,
  type Response,
  type ToWorker,
} from './soak-fleet-common.js'

const [redisUrl, origin, name, seed] = process.argv.slice(2) as [string, string, string, string]
const send = (message: FromWorker): void => void process.send!(message)

const store = new RedisStore({ url: redisUrl, namespace: 'soak-fleet', localCache: { maxSize: TIER_BYTES } })
const acks: [number, number][] = []
/** The cache's own deletions by URL (§4.4), in order: [url index, started, ended, ok]. */
const cacheDeletes: [number, number, number, boolean][] = []
const watched = new Proxy(store, {
  get(target, property) {
    if (property === 'set') {
      return async (writes: readonly StoreWrite[]) => {
        await target.set(writes)
        const at = now()
        for (const write of writes) {
          if (write.value === undefined) continue
          for (const match of Buffer.from(write.value).toString('latin1').matchAll(SERIAL_PATTERN)) acks.push([Number(match[1]), at])
        }
      }
    }
    if (property === 'delete') {
      return async (url: string, options?: object) => {
        const index = Number(/\/item\/(\d+)$/.exec(String(url))?.[1] ?? -1)
        const startedAt = now()
        try {
          const count = await target.delete(url, options)
          cacheDeletes.push([index, startedAt, now(), true])
          return count
        } catch (error) {
          cacheDeletes.push([index, startedAt, now(), false])
          throw error
        }
      }
    }
    const value: unknown = Reflect.get(target, property, target)
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
  },
}) as CacheStore
const errors: Record<string, number> = {}
const errorSamples: string[] = []
let goAt = 0
const onError = (error: { code: string }): void => void (errors[error.code] = (errors[error.code] ?? 0) + 1)
// Unthrottled, unlike onError: the tier's tracking losses are reported here.
store.onBackgroundError((error) => {
  if (errorSamples.length < 5) errorSamples.push(`${((now() - goAt) / 1000).toFixed(1)} s: ${error.message}`)
})
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
const agent = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 5000 })
const dispatcher = agent.compose(cache({ store: watched, commandTimeout: COMMAND_TIMEOUT_MS, tagsHeader: 'cache-tag', onError }))
/** Bumps at the origin go around the cache. */
const plain = new Agent({ connections: 4 })

const responses: Response[] = []
const invalidations: Invalidation[] = []
const posts: { index: number; version: number; startedAt: number; endedAt: number }[] = []
const failures: string[] = []
let failed = 0
let wrongBodies = 0

function fail(line: string, wrong = false): void {
  if (wrong) wrongBodies++
  else failed++
  if (failures.length < 20) failures.push(`${name}: ${line}`)
}

type CallOptions = Partial<Omit<Dispatcher.RequestOptions, 'origin' | 'path'>> & { readonly dispatcher: Dispatcher }

async function call(url: string, options: CallOptions): Promise<{ status: number; body: Buffer; serial: number; cached: boolean }> {
  const res = await request(url, { ...options, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const body = Buffer.from(await res.body.arrayBuffer())
  const serial = Number(/^serial-(\d+)-end$/.exec(String(res.headers['x-serial'] ?? ''))?.[1] ?? -1)
  return { status: res.statusCode, body, serial, cached: /; hit/.test(String(res.headers['cache-status'] ?? '')) }
}

async function get(index: number): Promise<void> {
  const startedAt = now()
  const res = await call(`${origin}${pathOf(index)}`, { dispatcher })
  const endedAt = now()
  if (res.status !== 200) return fail(`${pathOf(index)}: status ${res.status}`)
  const version = versionOf(index, res.body)
  if (version === undefined) return fail(`${pathOf(index)}: wrong body starting ${JSON.stringify(res.body.subarray(0, 24).toString('latin1'))}`, true)
  responses.push([index, version, res.serial, startedAt, endedAt, res.cached ? 1 : 0])
}

/** Bumps `indexes` at the origin; their new versions. */
async function bump(indexes: readonly number[]): Promise<number[]> {
  const res = await call(`${origin}/__bump?i=${indexes.join(',')}`, { dispatcher: plain, method: 'POST' })
  if (res.status !== 200) throw new Error(`bump: status ${res.status}`)
  return JSON.parse(res.body.toString()) as number[]
}

async function invalidate(kind: Invalidation['kind'], index: number): Promise<void> {
  if (kind === 'post') {
    const startedAt = now()
    const res = await call(`${origin}${pathOf(index)}`, { dispatcher, method: 'POST', body: 'change' })
    if (res.status !== 200) return fail(`POST ${pathOf(index)}: status ${res.status}`)
    posts.push({ index, version: Number(res.body.toString()), startedAt, endedAt: now() })
    return
  }
  const indexes = kind === 'delete' ? [index] : Array.from({ length: URL_COUNT / GROUPS }, (_, k) => (index % GROUPS) + k * GROUPS)
  const versions = await bump(indexes)
  const startedAt = now()
  let confirmed = true
  try {
    // The soak's own check of its checker: deletes that do nothing must show as stale-after-invalidation.
    if (process.env['SOAK_FLEET_FAKE_DELETES'] === '1') await Promise.resolve()
    else if (kind === 'delete') await store.delete(`${origin}${pathOf(index)}`)
    else await store.deleteTags([`g${index % GROUPS}`])
  } catch {
    confirmed = false
  }
  const endedAt = now()
  for (const [k, i] of indexes.entries()) invalidations.push({ index: i, version: versions[k]!, kind, startedAt, endedAt, confirmed, ...(confirmed ? {} : { unconfirmed: 'failed' as const }) })
}

/** A POST's invalidation is the cache's deletion of its URL that began while it was under way. */
function postInvalidations(): Invalidation[] {
  return posts.map((post) => {
    const deletion = cacheDeletes.find(([index, startedAt]) => index === post.index && startedAt >= post.startedAt && startedAt <= post.endedAt)
    if (deletion === undefined) return { ...post, kind: 'post', confirmed: false, unconfirmed: 'skipped' }
    const confirmed = deletion[3]
    return { index: post.index, version: post.version, kind: 'post', startedAt: deletion[1], endedAt: deletion[2], confirmed, ...(confirmed ? {} : { unconfirmed: 'failed' as const }) }
  })
}

async function run(goAt: number): Promise<number> {
  const next = random(Number(seed))
  const kinds: Invalidation['kind'][] = ['delete', 'tags', 'post']
  let issued = 0
  let invalidationCount = 0
  const lane = async (): Promise<void> => {
    while (issued < REQUESTS_PER_WORKER) {
      const n = issued++
      const index = Math.floor(next() * URL_COUNT)
      const invalidation = next() < INVALIDATION_SHARE
      const slot = goAt + (n * 1000) / RATE_PER_WORKER
      if (slot > now()) await new Promise((resolve) => setTimeout(resolve, slot - now()))
      // No turn of the event loop of our own between operations (a lane behind schedule chains them):
      // the tier takes one before each hit, so invalidations waiting on its connection apply first.
      try {
        if (invalidation) await invalidate(kinds[invalidationCount++ % kinds.length]!, index)
        else await get(index)
      } catch (error) {
        fail(`${invalidation ? 'invalidation of ' : ''}${pathOf(index)}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane))
  return issued
}

process.once('message', (message: ToWorker) => {
  goAt = message.at
  loopDelay.enable()
  void run(message.at).then(async (operations) => {
    loopDelay.disable()
    // Late §4.4 deletions (after a command timeout) still land: give them a moment to be recorded.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const stats = store.localCacheStats()
    const tier = stats === undefined ? undefined : { hits: stats.hits, misses: stats.misses, drops: stats.drops, entries: stats.entries, live: stats.live }
    const report = { type: 'done' as const, name, operations, failed, wrongBodies, failures, responses, acks, tier, onError: errors, errorSamples, loopDelay: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 }, invalidations: [...invalidations, ...postInvalidations()] }
    await agent.close()
    await plain.close()
    await store.close()
    process.send!(report, () => process.exit(0))
  })
})

store.ready(10_000).then(
  async () => {
    // The tier opens once tracking is subscribed; no event says so, hence a bounded poll.
    const deadline = Date.now() + 10_000
    while (store.localCacheStats()?.live !== true && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    send({ type: 'ready' })
  },
  (error: unknown) => {
    process.stderr.write(`${name}: store not ready: ${String(error)}\n`)
    process.exit(2)
  },
)
// The orchestrator died: do not linger.
process.on('disconnect', () => process.exit(3))
