import type { RedisClientOptions } from '@redis/client'
import { InvalidOptionError } from '../errors.js'
import {
  countHeld,
  deleteByUrl,
  deleteExpired,
  entryIds,
  listEntries,
  type AdminSource,
  type DeleteOptions,
  type EntryInfo,
  type HeadRead,
  type ValueHead,
} from './admin.js'
import { COUNTER_NAMES, CounterBuffer, storedCounters, type MutableCounters } from './counters.js'
import { redisCommands, SUPPORTED_CLIENTS, type NodeRedisClient, type RedisCommands } from './redis-commands.js'
import { ownClient, RedisConnection } from './redis-connection.js'
import { idFromKey, redisKey, scanPattern, validateNamespace } from './redis-layout.js'
import { planWrite, resolveTtlSettings, type TtlSettings } from './ttl.js'
import type { CacheCounters, CacheStore, StoreCounters, StoreEntryInfo, StoreStats, StoreWrite } from './types.js'

interface RedisStoreCommonOptions {
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
}

/**
 * Either node-redis `createClient` options (`url`, `socket`, `username`, `password`, TLS via
 * `rediss://`), and the store creates, connects and closes its own client; or `client`, an existing
 * client from node-redis 4, 5 or 6 (`createClient`) that the store uses, connects if needed, but never
 * closes. A v6 client's `keyPrefix` goes before the namespace.
 */
export type RedisStoreOptions = RedisStoreCommonOptions &
  ((RedisClientOptions & { readonly client?: never }) | { readonly client: NodeRedisClient })

const OWN_OPTIONS = new Set(['namespace', 'ttl', 'ttlOffset', 'client', 'unref'])
const SCAN_COUNT = 500
/** How long counts are buffered before one MULTI of HINCRBY adds them to the stats hash. */
const FLUSH_INTERVAL_MS = 1000

/**
 * The hash holding the counters of every process, one field per STORE_COUNTER_NAMES name. It lives
 * inside the namespace, so clear() removes it, but has no `{`, so the entry SCAN pattern
 * (`<namespace>:{*`) never lists it as an entry and idFromKey() would refuse it anyway.
 */
function statsKey(namespace: string): string {
  return `${namespace}:stats`
}

/**
 * A CacheStore on Redis through node-redis 4, 5 or 6 (redis-commands.ts). Each entry id is one string
 * key (redis-layout.ts); writes of one call go in one MULTI, reads of one call in one GET or MGET.
 *
 * The store never waits for Redis to come up (redis-connection.ts): commands fail fast with StoreError
 * while the client is not ready. Admin reads (ids, scan, keys, entries, delete, deleteExpired, stats,
 * clear) walk the namespace with SCAN, which may repeat an id when Redis resizes its table mid-walk.
 *
 * count(), and the store's own writes and deletes, add to an in-process buffer that one MULTI of
 * HINCRBY flushes to `<namespace>:stats` about once a second and on close(), so stats() adds up every
 * process sharing the namespace. Counts still buffered when the process exits without close() are lost.
 */
export class RedisStore implements CacheStore {
  readonly namespace: string
  readonly #connection: RedisConnection
  readonly #ttl: TtlSettings
  readonly #pattern: string
  readonly #counters = new CounterBuffer((counts, names) => this.#sendCounters(counts, names), FLUSH_INTERVAL_MS)
  readonly #admin: AdminSource = {
    idBatches: () => this.#idBatches(),
    heads: (reads) => this.#heads(reads),
    remove: (ids) => this.remove(ids),
  }

  constructor(options: RedisStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', 'an object', options)
    }
    const raw = options as Readonly<Record<string, unknown>>
    this.namespace = validateNamespace(raw['namespace'] ?? 'http_cache')
    this.#pattern = scanPattern(this.namespace)
    this.#ttl = resolveTtlSettings({ ttl: raw['ttl'], ttlOffset: raw['ttlOffset'] })
    const unref = raw['unref'] ?? false
    if (typeof unref !== 'boolean') throw new InvalidOptionError('unref', 'a boolean', unref)
    const clientOptions = Object.fromEntries(Object.entries(raw).filter(([name]) => !OWN_OPTIONS.has(name)))

    if (raw['client'] !== undefined) {
      // Refused here rather than accepted and failing on every call (issue: a redis 6 client once
      // passed this check, then nothing was ever cached and stats() threw a TypeError).
      const redis = redisCommands(raw['client'])
      if (redis === undefined) throw new InvalidOptionError('client', SUPPORTED_CLIENTS, raw['client'])
      for (const [name, value] of Object.entries(clientOptions)) {
        throw new InvalidOptionError(name, 'absent when `client` is given', value)
      }
      this.#connection = new RedisConnection(redis, { owned: false, unref })
    } else {
      this.#connection = new RedisConnection(ownClient(clientOptions as RedisClientOptions, raw['url']), { owned: true, unref })
    }
  }

  /** Whether the client can take commands now; while false, every call fails fast with StoreError. */
  get isReady(): boolean {
    return this.#connection.isReady
  }

  /**
   * Resolves once the client is ready (at once if it is), for startup checks and tests. Rejects with
   * StoreError after `timeoutMs` (the connection attempt goes on) or if the store is closed.
   */
  ready(timeoutMs = 5000): Promise<void> {
    return this.#connection.ready(timeoutMs)
  }

  async get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (ids.length === 0) return []
    const values = await this.#run('get', async (redis) => {
      const keys = ids.map((id) => redisKey(this.namespace, id))
      if (keys.length === 1) return [await redis.get(keys[0] as string)]
      return redis.mGet(keys)
    })
    return values.map((value) => value ?? undefined)
  }

  async getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#run('getRange', async (redis) => {
      const key = redisKey(this.namespace, id)
      // GETRANGE answers "" for a missing key and past the end alike; STRLEN in the same round trip tells
      // them apart. An end of -1 would mean "to the end" to Redis, so length 0 sends no GETRANGE.
      const [size, bytes] = await Promise.all([
        redis.strLen(key),
        length > 0 ? redis.getRange(key, offset, offset + length - 1) : Buffer.alloc(0),
      ])
      return size === 0 ? undefined : bytes
    })
  }

  async set(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.length === 0) return
    const written = await this.#run('set', async (redis) => {
      const batch = redis.batch()
      let count = 0
      for (const write of writes) {
        const key = redisKey(this.namespace, write.id)
        const plan = planWrite(this.#ttl, write.ttlMs)
        if (plan.kind === 'drop') {
          batch.unlink(key)
          continue
        }
        if (write.value === undefined) {
          // Only the expiry changes; both commands do nothing on a missing key.
          if (plan.kind === 'expire') batch.pExpire(key, plan.ms)
          else batch.persist(key)
          continue
        }
        // Buffer.from copies, so a caller reusing its buffer cannot change what is sent.
        // SET without PX also clears a TTL the key had, which `keep` wants.
        batch.set(key, Buffer.from(write.value), plan.kind === 'expire' ? plan.ms : undefined)
        count++
      }
      await batch.exec()
      return count
    })
    this.#counters.add({ writes: written }, ['writes'])
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    const removed = await this.#run('remove', async (redis) => {
      // One UNLINK per primary keeps each command in one cluster slot; node-redis pipelines them.
      const byPrimary = new Map<string, string[]>()
      for (const id of ids) {
        const key = redisKey(this.namespace, id)
        const primary = id.split('.', 1)[0] as string
        const group = byPrimary.get(primary)
        if (group === undefined) byPrimary.set(primary, [key])
        else group.push(key)
      }
      const counts = await Promise.all([...byPrimary.values()].map((keys) => redis.unlink(keys)))
      return counts.reduce((sum, count) => sum + count, 0)
    })
    this.#counters.add({ deletes: removed }, ['deletes'])
  }

  async *ids(): AsyncIterable<string> {
    for await (const batch of this.#idBatches('ids')) yield* batch
  }

  async *scan(): AsyncIterable<StoreEntryInfo> {
    for await (const ids of this.#idBatches('scan')) {
      if (ids.length === 0) continue
      const values = await this.#run('scan', (redis) => redis.mGet(ids.map((id) => redisKey(this.namespace, id))))
      for (const [index, id] of ids.entries()) {
        const value = values[index]
        // null: the key expired or was deleted between SCAN and MGET.
        if (value !== null && value !== undefined) yield { id, size: value.byteLength, value }
      }
    }
  }

  /**
   * Deletes every key of the namespace (SCAN + UNLINK in batches) and the stats hash, and drops the
   * unflushed counts; keys outside the namespace are never touched.
   */
  async clear(): Promise<void> {
    for await (const batch of this.#scanBatches('clear')) {
      await this.#run('clear', (redis) => redis.unlink(batch))
    }
    this.#counters.reset()
    await this.#run('clear', (redis) => redis.unlink([statsKey(this.namespace)]))
  }

  /**
   * Ids of the stored responses, not of vary pointers or undecodable values (see entries()). Streams
   * over SCAN, reading each value's metadata (a few hundred bytes, never the body).
   */
  keys(): AsyncIterable<string> {
    return entryIds(this.#admin)
  }

  /**
   * Every stored response with its URL, method, status, size, times and staleness; skips values that
   * do not decode. Streams over SCAN with one pipelined metadata read per batch, never the bodies.
   */
  entries(): AsyncIterable<EntryInfo> {
    return listEntries(this.#admin, Date.now)
  }

  /**
   * Deletes every entry stored for `url` and `options.method` (default GET), all variants included,
   * and returns how many went. `url` is normalized as the cache keys it; see admin.ts deleteByUrl.
   * Walks the whole namespace: an admin call, not for the request path.
   */
  delete(url: string | URL, options?: DeleteOptions): Promise<number> {
    return deleteByUrl(this.#admin, url, options)
  }

  /**
   * Deletes stale entries, expired vary pointers, orphaned variants and undecodable values; returns
   * how many values went. Mostly useful with `ttl: false`, where Redis never expires entries itself.
   */
  deleteExpired(): Promise<number> {
    return deleteExpired(this.#admin, Date.now)
  }

  /**
   * Adds cache-level events to the buffer flushed to `<namespace>:stats` within about a second.
   * No I/O here, and never throws; ignored once the store is closing.
   */
  count(delta: Partial<CacheCounters>): void {
    if (!this.#connection.closed) this.#counters.add(delta, COUNTER_NAMES)
  }

  /**
   * Counters from the stats hash (every process) plus this instance's unflushed counts, and the
   * responses and bytes under the namespace (admin.ts countHeld: SCAN, then STRLEN and a metadata
   * GETRANGE per value).
   */
  async stats(): Promise<StoreStats> {
    const stored = await this.#run('stats', (redis) => redis.hGetAll(statsKey(this.namespace)))
    const counters = storedCounters(stored, this.#counters.pending)
    return { ...counters, ...(await countHeld(this.#admin)) }
  }

  /**
   * Flushes the buffered counts, refuses new calls, lets the store's own pending commands (the flush
   * included) finish for up to 1 s, then drops an own client's connection; a borrowed client only
   * loses the store's listeners. Idempotent.
   */
  close(): Promise<void> {
    // The flush starts before the connection refuses commands.
    return this.#connection.close(this.#connection.closed ? undefined : this.#counters.flush(true))
  }

  /** One MULTI of HINCRBY: all or nothing, as CounterBuffer needs. */
  async #sendCounters(counts: Readonly<MutableCounters>, names: readonly (keyof StoreCounters)[]): Promise<void> {
    await this.#run('count', async (redis) => {
      const batch = redis.batch()
      for (const name of names) batch.hIncrBy(statsKey(this.namespace), name, counts[name])
      await batch.exec()
    })
  }

  #run<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#connection.run(operation, command)
  }

  /** Ids of the namespace's entries, one batch per #scanBatches batch (the admin walk). */
  async *#idBatches(operation = 'scan'): AsyncIterable<readonly string[]> {
    for await (const batch of this.#scanBatches(operation)) {
      yield batch.flatMap((key) => idFromKey(this.namespace, key) ?? [])
    }
  }

  /**
   * Each value's size and first bytes, with STRLEN and GETRANGE for every read issued together (one
   * pipelined round trip); a read of length 0 sends STRLEN only. A key gone since SCAN reads as size 0;
   * a key of another type fails with WRONGTYPE: both are left out.
   */
  async #heads(reads: readonly HeadRead[]): Promise<(ValueHead | undefined)[]> {
    if (reads.length === 0) return []
    return this.#run('scan', async (redis) => {
      const keys = reads.map((read) => redisKey(this.namespace, read.id))
      const [sizes, prefixes] = await Promise.all([
        Promise.allSettled(keys.map((key) => redis.strLen(key))),
        Promise.allSettled(keys.map((key, index) => {
          const length = (reads[index] as HeadRead).length
          return length > 0 ? redis.getRange(key, 0, length - 1) : Promise.resolve(Buffer.alloc(0))
        })),
      ])
      return keys.map((_, index) => {
        const size = sizes[index]
        const prefix = prefixes[index]
        if (size?.status !== 'fulfilled' || prefix?.status !== 'fulfilled' || size.value === 0) return undefined
        return { size: size.value, bytes: prefix.value }
      })
    })
  }

  /** Keys of the namespace in batches of about SCAN_COUNT, each step failing fast like any command. */
  async *#scanBatches(operation: string): AsyncIterable<string[]> {
    const iterator = await this.#run(operation, async (redis) => redis.scan(this.#pattern, SCAN_COUNT)[Symbol.asyncIterator]())
    while (true) {
      const next = await this.#run(operation, () => iterator.next())
      if (next.done === true) return
      yield next.value
    }
  }
}
