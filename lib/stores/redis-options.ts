/**
 * RedisStore's options: their reference (each option's TSDoc) and their validation, so a bad option
 * fails at construction with InvalidOptionError naming it.
 */
import type { RedisClientOptions, RedisClusterOptions } from '@redis/client'
import { resolveClock, type Clock } from '../clock.js'
import { InvalidOptionError } from '../errors.js'
import { redisClusterCommands, type NodeRedisCluster } from './redis-cluster-commands.js'
import { redisCommands, SUPPORTED_CLIENTS, type NodeRedisClient } from './redis-commands.js'
import { ownClient, ownCluster, RedisConnection } from './redis-connection.js'
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

const OWN_OPTIONS = new Set(['namespace', 'ttl', 'ttlOffset', 'client', 'cluster', 'unref', 'clock'])

export interface ResolvedRedisStoreOptions {
  readonly namespace: string
  readonly ttl: TtlSettings
  readonly clock: Clock
  /** The connection over the borrowed client or the store's own one, connecting in the background. */
  readonly connection: RedisConnection
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
  const clientOptions = Object.fromEntries(Object.entries(raw).filter(([name]) => !OWN_OPTIONS.has(name)))

  if (raw['cluster'] !== undefined) {
    if (raw['client'] !== undefined) throw new InvalidOptionError('cluster', 'absent when `client` is given', raw['cluster'])
    for (const [name, value] of Object.entries(clientOptions)) {
      throw new InvalidOptionError(name, 'absent when `cluster` is given (options for every node go in `cluster.defaults`)', value)
    }
    const connection = new RedisConnection(ownCluster(clusterOptions(raw['cluster'])), { owned: true, unref, clock })
    return { namespace, ttl, clock, connection }
  }
  if (raw['client'] === undefined) {
    const connection = new RedisConnection(ownClient(clientOptions as RedisClientOptions, raw['url']), { owned: true, unref, clock })
    return { namespace, ttl, clock, connection }
  }
  // Refused here rather than accepted and failing on every call (issue: a redis 6 client once
  // passed this check, then nothing was ever cached and stats() threw a TypeError).
  const redis = redisCommands(raw['client']) ?? redisClusterCommands(raw['client'])
  if (redis === undefined) throw new InvalidOptionError('client', SUPPORTED_CLIENTS, raw['client'])
  for (const [name, value] of Object.entries(clientOptions)) {
    throw new InvalidOptionError(name, 'absent when `client` is given', value)
  }
  return { namespace, ttl, clock, connection: new RedisConnection(redis, { owned: false, unref, clock }) }
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
