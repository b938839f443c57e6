/**
 * RedisStore's options: their reference (each option's TSDoc) and their validation, so a bad option
 * fails at construction with InvalidOptionError naming it.
 */
import type { RedisClientOptions } from '@redis/client'
import { resolveClock, type Clock } from '../clock.js'
import { InvalidOptionError } from '../errors.js'
import { redisCommands, SUPPORTED_CLIENTS, type NodeRedisClient } from './redis-commands.js'
import { ownClient, RedisConnection } from './redis-connection.js'
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
   * Time for the counter flush and close()'s grace period, and `now` for the admin API's staleness,
   * for tests and simulations. Redis expires keys on its own clock whatever this says.
   * @default the system clock (clock.ts systemClock)
   */
  readonly clock?: Clock
}

/**
 * Either node-redis `createClient` options (`url`, `socket`, `username`, `password`, TLS via
 * `rediss://`), and the store creates, connects and closes its own client; or `client`, an existing
 * client from node-redis 4, 5 or 6 (`createClient`) that the store uses, connects if needed, but never
 * closes. A v6 client's `keyPrefix` goes before the namespace.
 */
export type RedisStoreOptions = RedisStoreCommonOptions &
  ((RedisClientOptions & { readonly client?: never }) | { readonly client: NodeRedisClient })

const OWN_OPTIONS = new Set(['namespace', 'ttl', 'ttlOffset', 'client', 'unref', 'clock'])

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

  if (raw['client'] === undefined) {
    const connection = new RedisConnection(ownClient(clientOptions as RedisClientOptions, raw['url']), { owned: true, unref, clock })
    return { namespace, ttl, clock, connection }
  }
  // Refused here rather than accepted and failing on every call (issue: a redis 6 client once
  // passed this check, then nothing was ever cached and stats() threw a TypeError).
  const redis = redisCommands(raw['client'])
  if (redis === undefined) throw new InvalidOptionError('client', SUPPORTED_CLIENTS, raw['client'])
  for (const [name, value] of Object.entries(clientOptions)) {
    throw new InvalidOptionError(name, 'absent when `client` is given', value)
  }
  return { namespace, ttl, clock, connection: new RedisConnection(redis, { owned: false, unref, clock }) }
}
