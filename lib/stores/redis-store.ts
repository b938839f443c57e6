import { debug } from '../diagnostics.js'
import type { CacheError } from '../errors.js'
import { StoreAdmin, type AdminSource } from './admin.js'
import { COUNTER_NAMES } from './counters.js'
import type { RedisCommands } from './redis-driver.js'
import type { RedisConnection } from './redis-connection.js'
import { RedisCounters } from './redis-counters.js'
import { RedisIndex } from './redis-index.js'
import { RedisIndexSweep } from './redis-index-sweep.js'
import { LocalTier, type LocalTierStats } from './local-tier.js'
import { RedisTracking } from './redis-tracking.js'
import { redisKey } from './redis-layout.js'
import { claimLock, peekLock, releaseLock } from './redis-locks.js'
import { resolveRedisStoreOptions, type RedisStoreOptions } from './redis-options.js'
import { RedisScan } from './redis-scan.js'
import { planWrite, type TtlSettings } from './ttl.js'
import type { CacheCounters, CacheStore, ClaimResult, DeleteOptions, EntryInfo, LockPurpose, LockState, StoreEntryInfo, StoreStats, StoreWrite } from './types.js'

export type { RedisStoreOptions } from './redis-options.js'
export type { LocalTierStats } from './local-tier.js'

/**
 * A CacheStore on Redis through node-redis 4, 5 or 6 (redis-commands.ts), or on a Redis Cluster
 * through their cluster clients (redis-cluster-commands.ts). Each entry id is one string key
 * (redis-layout.ts); writes of one call go in one MULTI (on a cluster, one per slot: atomic per
 * entry), after the index scripts of the writes that carry `index`; reads of one call go in one GET
 * or MGET (on a cluster, one per slot). A thin composition: options are
 * redis-options.ts's, the connection's lifecycle redis-connection.ts's, the namespace walks
 * redis-scan.ts's, the indexes redis-index.ts's, the counters and their flush redis-counters.ts's, the
 * admin API admin.ts's.
 *
 * A command sent before the client's first connect attempt has settled waits for it, so the first
 * request after startup finds Redis up (callers bound the wait: GuardedStore's commandTimeout); after
 * that, commands fail fast with StoreError while the client is not ready. The listings (ids, scan,
 * keys, entries, stats), deleteExpired and clear walk the namespace with SCAN (on a cluster, every
 * master in turn), which may repeat an id when Redis resizes its table mid-walk; the targeted
 * deletes (delete, deletePrefix, deleteTags, deleteOlderThan) read the indexes and never walk.
 *
 * count(), and the store's own writes and deletes, are buffered and flushed to `<namespace>:stats`
 * about once a second and on close(); a failed flush goes to the onBackgroundError listeners.
 *
 * With `localCache`, get() and getRange() ask the in-process tier (local-tier.ts) first and offer it
 * what Redis answered; set() and remove() invalidate what they touch there before they are sent, and
 * redis-tracking.ts brings every other process's changes.
 */
export class RedisStore implements CacheStore {
  readonly namespace: string
  readonly #connection: RedisConnection
  readonly #ttl: TtlSettings
  readonly #scan: RedisScan
  readonly #index: RedisIndex
  readonly #sweep: RedisIndexSweep
  readonly #counters: RedisCounters
  readonly #admin: StoreAdmin
  readonly #listeners = new Set<(error: CacheError) => void>()
  readonly #tier: LocalTier | undefined
  readonly #tracking: RedisTracking | undefined
  /** With `localCache`, reads may hand out the same bytes again: see CacheStore.sharesValues. */
  readonly sharesValues: boolean

  constructor(options: RedisStoreOptions = {}) {
    const { namespace, ttl, clock, connection, localCache } = resolveRedisStoreOptions(options)
    this.namespace = namespace
    this.#ttl = ttl
    this.#connection = connection
    this.sharesValues = localCache !== undefined
    if (localCache !== undefined) {
      const tier = new LocalTier(localCache.maxSize)
      this.#tier = tier
      const run = <T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> => this.#run(operation, command)
      const report = (error: CacheError): void => this.#background(error)
      this.#tracking = new RedisTracking({ namespace, tier, run, clock, report, subscriber: localCache.subscriber, keyPrefix: localCache.keyPrefix })
    }
    this.#scan = new RedisScan(this.#connection, this.namespace)
    this.#index = new RedisIndex(this.#connection, this.namespace, ttl)
    this.#sweep = new RedisIndexSweep(this.#connection, this.#scan, this.namespace)
    this.#counters = new RedisCounters(this.#connection, this.namespace, { clock, onFailure: (error) => this.#background(error) })
    const source: AdminSource = {
      idBatches: () => this.#scan.idBatches(),
      heads: (reads) => this.#scan.heads(reads),
      remove: (ids) => this.#remove(ids, 'bounded'),
      indexed: (query) => this.#index.indexed(query),
      indexedUrls: (prefix) => this.#index.indexedUrls(prefix),
      unindex: (entries) => this.#index.unindex(entries),
    }
    this.#admin = new StoreAdmin(source, clock)
  }

  /**
   * Whether the client can take commands now; while false, every call fails fast with StoreError
   * (or, before the first connect attempt has settled, waits for it).
   */
  get isReady(): boolean {
    return this.#connection.isReady
  }

  /**
   * Resolves once the client is ready (at once if it is), for startup checks and tests. Rejects with
   * StoreError after `timeoutMs` on the store's clock (the connection attempt goes on) or if the store
   * is closed.
   */
  ready(timeoutMs = 5000): Promise<void> {
    return this.#connection.ready(timeoutMs)
  }

  async get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (ids.length === 0) return []
    return this.#tier === undefined ? this.#get(ids) : this.#tier.through(ids, (missing) => this.#get(missing))
  }

  async #get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const values = await this.#run('get', async (redis) => {
      const keys = ids.map((id) => redisKey(this.namespace, id))
      if (keys.length === 1) return [await redis.get(keys[0] as string)]
      return redis.mGet(keys)
    })
    return values.map((value) => value ?? undefined)
  }

  getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    if (this.#tier === undefined) return this.#getRange(id, offset, length)
    return this.#tier.rangeThrough(id, offset, length, () => this.#getRange(id, offset, length))
  }

  #getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#run('getRange', async (redis) => {
      const key = redisKey(this.namespace, id)
      // Bytes back mean the key is there. GETRANGE answers "" for a missing key and past the end alike,
      // so only then does STRLEN tell them apart (a second round trip, on the rare path). An end of -1
      // would mean "to the end" to Redis, so length 0 sends no GETRANGE.
      const bytes = length > 0 ? await redis.getRange(key, offset, offset + length - 1) : Buffer.alloc(0)
      if (bytes.byteLength > 0) return bytes
      return (await redis.strLen(key)) === 0 ? undefined : bytes
    })
  }

  /**
   * Indexes the writes that carry `index` first (redis-index.ts: a failed index write rejects before
   * any value is written), then writes every value in one MULTI.
   */
  async set(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.length === 0) return
    // Copied before the first await, so a caller reusing its buffers cannot change what is sent.
    const values = writes.map((write) => (write.value === undefined ? undefined : Buffer.from(write.value)))
    // Before the write is sent: a read of these ids under way may bring back what this replaces.
    this.#tier?.invalidate(writes.map((write) => write.id))
    const indexing = this.#index.writeCalls(writes)
    const written = await this.#run('set', async (redis) => {
      // Index first (redis-index.ts): on one connection, queued ahead of the MULTI, so Redis runs them
      // first, in the same round trip; on a cluster they go to other nodes, so the MULTI waits for them.
      const indexed = Promise.all(indexing.map((call) => call(redis)))
      if (!redis.orderedAcrossSlots) await indexed
      const batch = redis.batch()
      const stored: string[] = []
      let count = 0
      for (const [index, write] of writes.entries()) {
        const value = values[index]
        const key = redisKey(this.namespace, write.id)
        const plan = planWrite(this.#ttl, write.ttlMs)
        if (plan.kind === 'drop') {
          batch.unlink(key)
          continue
        }
        if (value === undefined) {
          // Only the expiry changes; both commands do nothing on a missing key.
          if (plan.kind === 'expire') batch.pExpire(key, plan.ms)
          else batch.persist(key)
          continue
        }
        // SET without PX also clears a TTL the key had, which `keep` wants.
        batch.set(key, value, plan.kind === 'expire' ? plan.ms : undefined)
        stored.push(key)
        count++
      }
      const [index, commit] = await Promise.allSettled([indexed, batch.exec()])
      if (index.status === 'rejected') {
        // Values no delete could reach must not stay servable.
        if (commit.status === 'fulfilled' && stored.length > 0) await redis.unlink(stored)
        throw index.reason
      }
      if (commit.status === 'rejected') throw commit.reason
      return count
    })
    this.#counters.add({ writes: written }, ['writes'])
  }

  remove(ids: readonly string[]): Promise<void> {
    return this.#remove(ids, 'unbounded')
  }

  /** remove(), bounded by commandTimeout for the admin API's deletes (redis-connection.ts runBounded). */
  async #remove(ids: readonly string[], bound: 'bounded' | 'unbounded'): Promise<void> {
    if (ids.length === 0) return
    this.#tier?.invalidate(ids)
    // One UNLINK; a cluster driver splits it per slot (ids of several entries, an invalidation's
    // partial root, bodies), so no command spans two slots.
    const unlink = (redis: RedisCommands): Promise<number> => redis.unlink(ids.map((id) => redisKey(this.namespace, id)))
    const removed = await (bound === 'bounded' ? this.#connection.runBounded('remove', unlink) : this.#run('remove', unlink))
    this.#counters.add({ deletes: removed }, ['deletes'])
  }

  /** Fleet lock (redis-locks.ts): one script on the entry's slot, so every process sharing the namespace sees it. */
  claim(id: string, purpose: LockPurpose, token: string, ttlMs: number): Promise<ClaimResult> {
    return this.#run('claim', (redis) => claimLock(redis, this.namespace, id, purpose, token, ttlMs))
  }

  peek(id: string, purpose: LockPurpose): Promise<LockState> {
    return this.#run('peek', (redis) => peekLock(redis, this.namespace, id, purpose))
  }

  /**
   * A store closed since the lock was claimed (a shutdown right after a miss: the entry is written,
   * its release comes next) leaves the lock to its TTL, as a process that died would, and reports nothing.
   */
  release(id: string, purpose: LockPurpose, token: string, outcome: 'stored' | 'not-stored', ttlMs: number): Promise<void> {
    if (this.#connection.closed) return Promise.resolve()
    return this.#run('release', (redis) => releaseLock(redis, this.namespace, id, purpose, token, outcome, ttlMs))
  }

  async *ids(): AsyncIterable<string> {
    for await (const batch of this.#scan.idBatches('ids')) yield* batch
  }

  scan(): AsyncIterable<StoreEntryInfo> {
    return this.#scan.values()
  }

  /**
   * No I/O here, and never throws: adds to the buffer flushed to `<namespace>:stats` within about a
   * second. Ignored once the store is closing.
   */
  count(delta: Partial<CacheCounters>): void {
    if (!this.#connection.closed) this.#counters.add(delta, COUNTER_NAMES)
  }

  /** Streams over SCAN, reading each value's metadata (a few hundred bytes, never the body). */
  keys(): AsyncIterable<string> {
    return this.#admin.keys()
  }

  /** Streams over SCAN with one pipelined metadata read per batch, never the bodies. */
  entries(): AsyncIterable<EntryInfo> {
    return this.#admin.entries()
  }

  /** Reads the URL's index (one ZRANGE), never the namespace: its cost follows the entries it finds. */
  delete(url: string | URL, options?: DeleteOptions): Promise<number> {
    return this.#admin.delete(url, options)
  }

  /** Reads the origin's URL index by lex range, then each URL's index; never walks the namespace. */
  deletePrefix(prefix: string | URL): Promise<number> {
    return this.#admin.deletePrefix(prefix)
  }

  /** Reads each tag's index (one ZRANGE per tag); never walks the namespace. */
  deleteTags(tags: readonly string[]): Promise<number> {
    return this.#admin.deleteTags(tags)
  }

  /** Reads the 16 age buckets by storedAt, 500 ids at a time; never walks the namespace. */
  deleteOlderThan(seconds: number): Promise<number> {
    return this.#admin.deleteOlderThan(seconds)
  }

  /**
   * Mostly useful with `ttl: false`, where Redis never expires entries itself. After the walk, sweeps
   * the index keys (redis-index-sweep.ts): members whose entry is gone, and URLs left without any, go,
   * so index keys that no TTL ends do not outlive their entries. Returns how many values went; the
   * index members swept are not counted.
   */
  async deleteExpired(): Promise<number> {
    const deleted = await this.#admin.deleteExpired()
    await this.#sweep.sweep()
    return deleted
  }

  /**
   * Deletes every key of the namespace (SCAN + UNLINK in batches) and the stats hash, and drops the
   * unflushed counts; keys outside the namespace are never touched.
   */
  async clear(): Promise<void> {
    for await (const batch of this.#scan.keyBatches('clear')) {
      await this.#connection.runBounded('clear', (redis) => redis.unlink(batch))
    }
    // Each UNLINK's invalidations are on their way too; this is for what this process kept meanwhile.
    this.#tier?.drop()
    await this.#counters.clear()
  }

  /**
   * Counters from the stats hash (every process) plus this instance's unflushed counts, and the
   * responses and bytes under the namespace (SCAN, then STRLEN and a metadata GETRANGE per value).
   */
  async stats(): Promise<StoreStats> {
    const counters = await this.#counters.read()
    const localCache = this.localCacheStats()
    return { ...counters, ...(await this.#admin.held()), ...(localCache === undefined ? {} : { localCache }) }
  }

  /** The local tier's state and counts (this process only, no I/O); undefined without `localCache`. */
  localCacheStats(): LocalTierStats | undefined {
    return this.#tier?.stats()
  }

  /**
   * Flushes the buffered counts, refuses new calls, lets the store's own pending commands (the flush
   * included) finish for up to 1 s on the store's clock, then drops an own client's connection; a
   * borrowed client only loses the store's listeners. Idempotent.
   */
  async close(): Promise<void> {
    // The flush starts before the connection refuses commands.
    const closing = this.#connection.close(this.#connection.closed ? undefined : this.#counters.flush(true))
    await Promise.all([closing, this.#tracking?.close()])
  }

  /** Failed counter flushes go to `listener` (GuardedStore subscribes its reporter); see CacheStore. */
  onBackgroundError(listener: (error: CacheError) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #background(error: CacheError): void {
    if (this.#listeners.size === 0) debug('%s (no listener): %s', error.code, error.message)
    for (const listener of this.#listeners) {
      try {
        listener(error)
      } catch (thrown) {
        debug('an onBackgroundError listener threw: %o', thrown)
      }
    }
  }

  #run<T>(operation: string, command: (redis: RedisCommands) => Promise<T>): Promise<T> {
    return this.#connection.run(operation, command)
  }
}
