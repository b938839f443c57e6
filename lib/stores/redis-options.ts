/**
 * RedisStore's options: their reference (each option's TSDoc) and their validation, so a bad option
 * fails at construction with InvalidOptionError naming it.
 */
import type { RedisClientOptions, RedisClusterOptions } from '@redis/client'
import { resolveClock, type Clock } from '../clock.js'
import { InvalidOptionError } from '../errors.js'
import { positiveInteger } from '../option-checks.js'
import { redisClusterCommands, type NodeRedisCluster } from './redis-cluster-commands.js'
import { redisCommands, SUPPORTED_CLIENTS, type NodeRedisClient } from './redis-commands.js'
import type { RedisCommands, SubscriberClient } from './redis-driver.js'
import { RedisConnection } from './redis-connection.js'
import { ownClient, ownCluster } from './redis-own-clients.js'
import { validateNamespace } from './redis-layout.js'
import { resolveTtlSettings, type TtlSettings } from './ttl.js'

export interface RedisStoreCommonOptions {
  /**
   * Prefix of every key the store reads, writes, scans or clears: keys are `<namespace>:{<id>}…`.
   * Must be non-empty, without `{`, `}` or whitespace.
   * @default 'http_cache'
   */
  readonly namespace?: string
  /**
   * `true` gives each value a native Redis TTL (PX) of its `ttlMs` plus `ttlOffset`, so Redis drops
   * expired entries itself. `false` stores without TTL and keeps entries after they go stale, for
   * conditional revalidation and `staleIfError`; they then leave only by eviction or `clear()`.
   * @default true
   */
  readonly ttl?: boolean
  /**
   * Seconds a value is kept past its `ttlMs` when `ttl` is true, room to revalidate it. `0` expires
   * it exactly at `ttlMs`.
   * @default 3600 (as requests-cache's RedisCache)
   */
  readonly ttlOffset?: number
  /**
   * Let the process exit while the connection is open (node-redis `client.unref()`). The `'redis'`
   * alias of `cache({ store })` sets it, since nobody holds that store to close it.
   * @default false
   */
  readonly unref?: boolean
  /**
   * Time for the counter flush and close()'s grace period, `now` for the admin API's staleness and
   * deleteOlderThan()'s cutoff (compared with each entry's storedAt), for tests and simulations. Redis
   * expires keys on its own clock whatever this says, and the indexes score and prune their members
   * on it too (redis-index.ts), so processes whose clocks disagree keep each other's members.
   * @default the system clock (clock.ts systemClock)
   */
  readonly clock?: Clock
  /**
   * Keeps recently read values in this process as well, up to `maxSize` bytes (least recently used go
   * first), so a hot entry is served without a round trip to Redis. Kept coherent by Redis client
   * tracking on a connection of its own (redis-tracking.ts): a change to a kept value by any process
   * reaches this one as an invalidation, typically well under a millisecond after the change on a
   * local network, and the tier empties whenever invalidations cannot be trusted (that connection
   * lost, FLUSHDB, a heartbeat not back within a second). Needs Redis 6 or later; not on a cluster.
   * @default undefined (off: every read goes to Redis)
   */
  readonly localCache?: { readonly maxSize: number }
  /**
   * Milliseconds each round trip of an admin call (`entries()`, `keys()`, `ids()`, `stats()`, the
   * deletes, `clear()`, `deleteExpired()`) may go unanswered before the call fails with
   * StoreTimeoutError (`URC_ERR_STORE_TIMEOUT`), so the admin API and the CLI cannot hang on a Redis
   * that stopped answering. node-redis v4 cannot cancel a command: it goes on, its answer dropped.
   * The calls `cache()` makes (get, set, locks) are bounded by its own `commandTimeout` instead, but
   * its invalidations (RFC 9111 §4.4) go through the admin deletes: keep this above that (200 ms by
   * default), as the default is. `scan()` is bounded too.
   * @default 5000
   */
  readonly commandTimeout?: number
}

/**
 * One of:
 * - node-redis `createClient` options (`url`, `socket`, `username`, `password`, TLS via `rediss://`):
 *   the store creates, connects and closes its own client;
 * - `cluster`, node-redis v4 `createCluster` options (`rootNodes: [{ url }]`, and `defaults` for every
 *   node client: credentials, TLS, timeouts): the store creates, connects and closes its own Redis
 *   Cluster client (redis-cluster-commands.ts);
 * - `client`, an existing client from node-redis 4, 5 or 6, from `createClient` or `createCluster`,
 *   that the store uses, connects if needed, but never closes. A v6 `keyPrefix` goes before the
 *   namespace.
 */
export type RedisStoreOptions = RedisStoreCommonOptions &
  (
    | (RedisClientOptions & { readonly client?: never; readonly cluster?: never })
    | { readonly client: NodeRedisClient | NodeRedisCluster; readonly cluster?: never }
    | { readonly cluster: RedisClusterOptions; readonly client?: never }
  )

const OWN_OPTIONS = new Set(['namespace', 'ttl', 'ttlOffset', 'client', 'cluster', 'unref', 'clock', 'localCache', 'commandTimeout'])

/** RedisStoreCommonOptions.commandTimeout's default: long enough for a walk's batch on a busy Redis. */
const DEFAULT_COMMAND_TIMEOUT_MS = 5000

export interface ResolvedRedisStoreOptions {
  readonly namespace: string
  readonly ttl: TtlSettings
  readonly clock: Clock
  /** The connection over the borrowed client or the store's own one, connecting in the background. */
  readonly connection: RedisConnection
  /** `localCache`, with what tracking needs of the driver; undefined when off. */
  readonly localCache: LocalCacheSettings | undefined
}

export interface LocalCacheSettings {
  readonly maxSize: number
  readonly subscriber: () => SubscriberClient
  readonly keyPrefix: string
}

/**
 * Options other than ours go to node-redis, which ignores names it does not know: a `namespce` would
 * leave the store on the shared default namespace without a word. A name one edit from one of ours
 * (two for longer names) is refused as the typo it is; node-redis's own `url` stays two edits from `ttl`.
 */
function refuseTypo(name: string): void {
  for (const own of OWN_OPTIONS) {
    if (editDistance(name.toLowerCase(), own.toLowerCase()) <= (own.length > 4 ? 2 : 1)) {
      throw new InvalidOptionError(name, `a node-redis client option, or \`${own}\``, name)
    }
  }
}

/** Levenshtein distance, for option names (a few characters). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] as number
}

/** Validates `options` and opens the connection they describe. */
export function resolveRedisStoreOptions(options: unknown): ResolvedRedisStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object', options)
  }
  const raw = options as Readonly<Record<string, unknown>>
  const namespace = validateNamespace(raw['namespace'] ?? 'http_cache')
  const ttl = resolveTtlSettings({ ttl: raw['ttl'], ttlOffset: raw['ttlOffset'] })
  const unref = raw['unref'] ?? false
  if (typeof unref !== 'boolean') throw new InvalidOptionError('unref', 'a boolean', unref)
  const clock = resolveClock(raw['clock'])
  const localCache = localCacheSize(raw['localCache'])
  const commandTimeout = positiveInteger(raw['commandTimeout'], 'commandTimeout', DEFAULT_COMMAND_TIMEOUT_MS)
  const bounds = { unref, clock, commandTimeout }
  const clientOptions = Object.fromEntries(Object.entries(raw).filter(([name]) => !OWN_OPTIONS.has(name)))
  for (const name of Object.keys(clientOptions)) refuseTypo(name)

  if (raw['cluster'] !== undefined) {
    if (raw['client'] !== undefined) throw new InvalidOptionError('cluster', 'absent when `client` is given', raw['cluster'])
    for (const [name, value] of Object.entries(clientOptions)) {
      throw new InvalidOptionError(name, 'absent when `cluster` is given (options for every node go in `cluster.defaults`)', value)
    }
    const redis = ownCluster(clusterOptions(raw['cluster']))
    const tracked = tracking(localCache, redis)
    return { namespace, ttl, clock, connection: new RedisConnection(redis, { owned: true, ...bounds }), localCache: tracked }
  }
  if (raw['client'] === undefined) {
    const redis = ownClient(clientOptions as RedisClientOptions, raw['url'])
    const tracked = tracking(localCache, redis)
    return { namespace, ttl, clock, connection: new RedisConnection(redis, { owned: true, ...bounds }), localCache: tracked }
  }
  // Refused here rather than accepted and failing on every call (issue: a redis 6 client once
  // passed this check, then nothing was ever cached and stats() threw a TypeError).
  const redis = redisCommands(raw['client']) ?? redisClusterCommands(raw['client'])
  if (redis === undefined) throw new InvalidOptionError('client', SUPPORTED_CLIENTS, raw['client'])
  for (const [name, value] of Object.entries(clientOptions)) {
    throw new InvalidOptionError(name, 'absent when `client` is given', value)
  }
  const tracked = tracking(localCache, redis)
  return { namespace, ttl, clock, connection: new RedisConnection(redis, { owned: false, ...bounds }), localCache: tracked }
}

function localCacheSize(value: unknown): number | undefined {
  if (value === undefined) return undefined
  const maxSize = typeof value === 'object' && value !== null ? (value as { readonly maxSize?: unknown }).maxSize : undefined
  if (typeof maxSize !== 'number' || !Number.isSafeInteger(maxSize) || maxSize <= 0) {
    throw new InvalidOptionError('localCache', 'an object { maxSize } with a positive whole number of bytes', value)
  }
  for (const [name, extra] of Object.entries(value as object)) {
    if (name !== 'maxSize') throw new InvalidOptionError(`localCache.${name}`, 'absent (localCache takes only maxSize)', extra)
  }
  return maxSize
}

/** Checked after the driver is known: a cluster has no single connection to track invalidations on. */
function tracking(maxSize: number | undefined, redis: RedisCommands): LocalCacheSettings | undefined {
  if (maxSize === undefined) return undefined
  if (redis.subscriber === undefined) {
    throw new InvalidOptionError('localCache', 'absent on a Redis Cluster (invalidations would need a tracking connection to every master)', { maxSize })
  }
  return { maxSize, subscriber: redis.subscriber.bind(redis), keyPrefix: redis.keyPrefix }
}

/**
 * `cluster` checked as far as node-redis would only find out when connecting, where a mistake would
 * leave the store never ready instead of failing at construction.
 */
function clusterOptions(value: unknown): RedisClusterOptions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError('cluster', 'node-redis createCluster options ({ rootNodes: [{ url }], defaults })', value)
  }
  const { rootNodes, defaults } = value as { readonly rootNodes?: unknown; readonly defaults?: unknown }
  if (!Array.isArray(rootNodes) || rootNodes.length === 0) {
    throw new InvalidOptionError('cluster.rootNodes', 'a non-empty array of node options such as { url: "redis://host:6379" }', rootNodes)
  }
  for (const node of rootNodes) {
    const url = typeof node === 'object' && node !== null ? (node as { readonly url?: unknown }).url : node
    if (typeof node !== 'object' || node === null || (url !== undefined && !isRedisUrl(url))) {
      throw new InvalidOptionError('cluster.rootNodes', 'node options whose `url` is a redis:// or rediss:// URL', url)
    }
  }
  if (defaults !== undefined && (typeof defaults !== 'object' || defaults === null)) {
    throw new InvalidOptionError('cluster.defaults', 'node-redis client options for every node', defaults)
  }
  // The callback API, which the store cannot drive (as `legacyMode` for a lone client).
  const legacyMode = (defaults as { readonly legacyMode?: unknown } | undefined)?.legacyMode
  if (legacyMode !== undefined && legacyMode !== false) throw new InvalidOptionError('cluster.defaults.legacyMode', 'absent or false', legacyMode)
  return value as RedisClusterOptions
}

function isRedisUrl(value: unknown): boolean {
  return typeof value === 'string' && URL.canParse(value) && ['redis:', 'rediss:'].includes(new URL(value).protocol)
}
