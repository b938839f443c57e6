/**
 * What the Redis Cluster fault tests (test/cluster/*.test.ts) share: a cached Agent over a cluster
 * RedisStore whose failures are logged and whose process is watched, bounded concurrent traffic over a
 * few URLs with every request's latency and outcome recorded, the checks on those outcomes, and where a
 * URL's entry lives (its store id, key, slot and master), so a test can aim a fault at it.
 */
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { channels, RedisStore, type CacheError } from '../../lib/index.js'
import { redisKey } from '../../lib/stores/redis-layout.js'
import { cachedAgent, eventually, send } from './client.js'
import { errorLog, freshNamespace, sleep, untilReady, watchProcess, type ProcessWatch } from './faults.js'
import { bodyFor } from './outage.js'
import { startOrigin, type Origin } from './origin.js'
import { startRedisCluster, type RedisCluster } from './redis-cluster.js'

export { bodyFor } from './outage.js'
import type { RedisServer } from './redis-server.js'

export interface ClusterRig {
  readonly store: RedisStore
  readonly namespace: string
  readonly errors: CacheError[]
  readonly watch: ProcessWatch
  readonly commandTimeout: number
  /** One request for `path`, never throwing: what the caller saw and how long it took. */
  get(path: string): Promise<Sample>
  close(): Promise<void>
}

export interface Sample {
  readonly path: string
  /** performance.now() when the request left. */
  readonly startedAt: number
  readonly ms: number
  readonly status: number | undefined
  readonly text: string | undefined
  readonly cacheStatus: string | undefined
  /** The error that reached the caller, if one did (the cache must never let one through). */
  readonly error: string | undefined
}

export async function clusterRig(cluster: RedisCluster, origin: Origin, commandTimeout: number): Promise<ClusterRig> {
  const namespace = freshNamespace('cluster')
  const store = new RedisStore({ cluster: { rootNodes: [...cluster.rootNodes] }, namespace })
  const { errors, onError } = errorLog()
  const watch = watchProcess()
  const { dispatcher, close } = cachedAgent({ store, commandTimeout, onError })
  // The cluster client discovers the slot map before its first command; give it longer than one node.
  await untilReady(store, 10_000)
  return {
    store,
    namespace,
    errors,
    watch,
    commandTimeout,
    get: async (path) => {
      const startedAt = performance.now()
      try {
        const reply = await send(dispatcher, `${origin.url}${path}`)
        return { path, startedAt, ms: performance.now() - startedAt, status: reply.status, text: reply.text, cacheStatus: reply.cacheStatus, error: undefined }
      } catch (error) {
        const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
        return { path, startedAt, ms: performance.now() - startedAt, status: undefined, text: undefined, cacheStatus: undefined, error: text }
      }
    },
    close: async () => {
      watch.stop()
      await close()
      await store.close()
    },
  }
}

/**
 * The hooks every cluster fault suite needs, registered in the calling `describe`: its own cluster and
 * an origin answering bodyFor(path), fresh for `maxAge` seconds. `rig()` and `traffic()` start what
 * the test uses; after the suite, traffic a failed test left running is stopped before the rig, origin
 * and cluster it uses are closed (every node, a paused one too).
 */
export function clusterFaultSuite(maxAge: number): {
  cluster(): RedisCluster
  rig(commandTimeout: number): Promise<ClusterRig>
  traffic(rig: ClusterRig, paths: readonly string[], options: TrafficOptions): Traffic
} {
  let cluster: RedisCluster | undefined
  let origin: Origin | undefined
  let rig: ClusterRig | undefined
  let load: Traffic | undefined
  before(async () => {
    cluster = await startRedisCluster()
    origin = await startOrigin((req, res) => {
      const text = bodyFor(req.url ?? '/')
      res.writeHead(200, { 'cache-control': `max-age=${maxAge}`, 'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
  })
  after(async () => {
    load?.stop()
    await load?.done
    await rig?.close()
    await origin?.close()
    await cluster?.stop()
  })
  return {
    cluster: () => cluster!,
    rig: async (commandTimeout) => (rig = await clusterRig(cluster!, origin!, commandTimeout)),
    traffic: (on, paths, options) => (load = traffic(on, paths, options)),
  }
}

export function isHit(sample: Pick<Sample, 'cacheStatus'>): boolean {
  return /; hit(;|$)/.test(sample.cacheStatus ?? '')
}

export interface TrafficOptions {
  /** Requests in flight at once (each worker sends one, waits `pauseMs`, sends the next). */
  readonly concurrency: number
  readonly pauseMs: number
  /** Hard caps, whichever comes first, so the traffic always stops by itself. */
  readonly maxRequests: number
  readonly maxMs: number
}

export interface Traffic {
  /** Resolves with every request's sample once the workers stopped. */
  readonly done: Promise<Sample[]>
  /** Asks the workers to stop after their request in flight. */
  stop(): void
  /** Samples so far. */
  readonly samples: readonly Sample[]
}

/** Round-robin requests over `paths` from `concurrency` workers until stopped or a cap is reached. */
export function traffic(rig: Pick<ClusterRig, 'get'>, paths: readonly string[], options: TrafficOptions): Traffic {
  const samples: Sample[] = []
  let issued = 0
  let stopped = false
  const deadline = performance.now() + options.maxMs
  const worker = async (): Promise<void> => {
    while (!stopped && issued < options.maxRequests && performance.now() < deadline) {
      const path = paths[issued++ % paths.length]!
      samples.push(await rig.get(path))
      await sleep(options.pauseMs)
    }
  }
  const done = Promise.all(Array.from({ length: options.concurrency }, worker)).then(() => samples)
  return { done, samples, stop: () => void (stopped = true) }
}

/**
 * Every sample got status 200 with its own URL's body, no error, within `boundMs`. Lists the first
 * offenders rather than stopping at one, so a failure shows its pattern.
 */
export function assertAllServed(samples: readonly Sample[], boundMs: number): void {
  const wrong = samples.filter((s) => s.error !== undefined || s.status !== 200 || s.text !== bodyFor(s.path))
  assert.deepEqual(
    wrong.slice(0, 5).map((s) => ({ path: s.path, status: s.status, error: s.error, text: s.text?.slice(0, 60), cacheStatus: s.cacheStatus })),
    [],
    `${wrong.length} of ${samples.length} requests got a wrong answer`,
  )
  const slow = samples.filter((s) => s.ms >= boundMs)
  assert.deepEqual(
    slow.slice(0, 5).map((s) => `${s.path} took ${s.ms.toFixed(0)} ms (${s.cacheStatus})`),
    [],
    `${slow.length} of ${samples.length} requests took ${boundMs} ms or more`,
  )
}

export interface LatencySummary {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly hits: number
}

/** Nearest-rank percentiles of the samples' latencies. */
export function summarize(samples: readonly Sample[]): LatencySummary {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b)
  const rank = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
  return { count: sorted.length, p50: rank(50), p99: rank(99), max: sorted.at(-1) ?? NaN, hits: samples.filter(isHit).length }
}

/** One greppable line: `[<label>] requests=… hits=… p50=…ms p99=…ms max=…ms …`. */
export function report(label: string, summary: LatencySummary, extra = ''): void {
  const ms = (value: number): string => `${value.toFixed(1)}ms`
  console.log(`      [${label}] requests=${summary.count} hits=${summary.hits} p50=${ms(summary.p50)} p99=${ms(summary.p99)} max=${ms(summary.max)}${extra === '' ? '' : ` ${extra}`}`)
}

export interface Placement {
  readonly path: string
  /** The primary store id of the URL's GET entry. */
  readonly id: string
  /** Its Redis key (`<namespace>:{<id>}`): the hash tag puts all of the entry's keys in this slot. */
  readonly key: string
  readonly slot: number
}

/**
 * Requests every path until it is a hit (its entry stored), and learns each entry's id from the
 * `cache:store` / `cache:hit` diagnostics messages (so no admin walk is needed), then its slot from
 * the cluster itself (CLUSTER KEYSLOT on the key the store's layout gives that id).
 */
export async function warm(rig: ClusterRig, cluster: RedisCluster, paths: readonly string[], timeoutMs = 10_000): Promise<Placement[]> {
  const ids = new Map<string, string>()
  const learn = (message: unknown): void => {
    const { url, id } = message as { url: string; id: string }
    ids.set(new URL(url).pathname, id)
  }
  subscribe(channels.store.name, learn)
  subscribe(channels.hit.name, learn)
  try {
    for (const path of paths) {
      await eventually(async () => {
        const sample = await rig.get(path)
        assert.equal(sample.text, bodyFor(path), `${path}: ${sample.error ?? sample.cacheStatus}`)
        if (isHit(sample)) return true
        await sleep(20)
        return false
      }, timeoutMs)
    }
  } finally {
    unsubscribe(channels.store.name, learn)
    unsubscribe(channels.hit.name, learn)
  }
  return Promise.all(
    paths.map(async (path) => {
      const id = ids.get(path)
      assert.ok(id !== undefined, `no store id seen for ${path}`)
      const key = redisKey(rig.namespace, id)
      const slot = Number(await cluster.cli('CLUSTER', 'KEYSLOT', key))
      // Asked of the slot's master directly: the entry is on the cluster, where the test aims its faults.
      assert.equal(await (await cluster.masterOf(slot)).cli('EXISTS', key), '1', `${path}'s entry is not on its slot's master`)
      return { path, id, key, slot }
    }),
  )
}

/** Each placement's current master. */
export async function owners(cluster: RedisCluster, placements: readonly Placement[]): Promise<Map<Placement, RedisServer>> {
  return new Map(await Promise.all(placements.map(async (p) => [p, await cluster.masterOf(p.slot)] as const)))
}

/**
 * Sends `path` until a request for it is a hit, within `timeoutMs`; returns how long that took. On
 * timeout the error names the last Cache-Status and the store errors onError heard meanwhile.
 */
export async function untilHit(rig: ClusterRig, path: string, timeoutMs: number): Promise<number> {
  const start = performance.now()
  const errorsBefore = rig.errors.length
  let last: Sample | undefined
  try {
    await eventually(async () => {
      last = await rig.get(path)
      assert.equal(last.text, bodyFor(path), `${path}: ${last.error ?? last.cacheStatus}`)
      if (isHit(last)) return true
      await sleep(50)
      return false
    }, timeoutMs)
  } catch (error) {
    const heard = [...new Set(rig.errors.slice(errorsBefore).map((e) => `${e.code}: ${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}`))]
    throw new Error(`${path} was no hit within ${timeoutMs} ms; last Cache-Status: ${last?.cacheStatus}; store errors meanwhile: ${heard.join(' | ') || 'none'}`, { cause: error })
  }
  return performance.now() - start
}

/** A counter from `INFO <section>` (`errorstat_ASK:count=3` → field `errorstat_ASK`, name `count`), 0 when absent. */
export async function infoCounter(node: RedisServer, section: string, field: string, name: string): Promise<number> {
  const info = await node.cli('INFO', section)
  const line = info.split(/\r?\n/).find((l) => l.startsWith(`${field}:`))
  const match = line === undefined ? null : new RegExp(`(?:^|[:,])${name}=(\\d+)`).exec(line)
  return match === null ? 0 : Number(match[1])
}
