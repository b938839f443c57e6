import { debug } from '../diagnostics.js'
import type { CacheError } from '../errors.js'
import { StoreAdmin, type AdminSource } from './admin.js'
import { COUNTER_NAMES } from './counters.js'
import type { RedisCommands } from './redis-commands.js'
import type { RedisConnection } from './redis-connection.js'
import { RedisCounters } from './redis-counters.js'
import { redisKey } from './redis-layout.js'
import { resolveRedisStoreOptions, type RedisStoreOptions } from './redis-options.js'
import { RedisScan } from './redis-scan.js'
import { planWrite, type TtlSettings } from './ttl.js'
import type { CacheCounters, CacheStore, DeleteOptions, EntryInfo, StoreEntryInfo, StoreStats, StoreWrite } from './types.js'

export type { RedisStoreOptions } from './redis-options.js'

/**
 * A CacheStore on Redis through node-redis 4, 5 or 6 (redis-commands.ts). Each entry id is one string
 * key (redis-layout.ts); writes of one call go in one MULTI, reads of one call in one GET or MGET.
 * A thin composition: options are redis-options.ts's, the connection's lifecycle
 * redis-connection.ts's, the namespace walks redis-scan.ts's, the counters and their flush
 * redis-counters.ts's, the admin API admin.ts's.
 *
 * A command sent before the client's first connect attempt has settled waits for it, so the first
 * request after startup finds Redis up (callers bound the wait: GuardedStore's commandTimeout); after
 * that, commands fail fast with StoreError while the client is not ready. Admin reads (ids, scan, keys, entries, delete, deleteExpired, stats, clear) walk the
 * namespace with SCAN, which may repeat an id when Redis resizes its table mid-walk.
 *
 * count(), and the store's own writes and deletes, are buffered and flushed to `<namespace>:stats`
 * about once a second and on close(); a failed flush goes to the onBackgroundError listeners.
 */
export class RedisStore implements CacheStore {
  readonly namespace: string
  readonly #connection: RedisConnection
  readonly #ttl: TtlSettings
  readonly #scan: RedisScan
  readonly #counters: RedisCounters
  readonly #admin: StoreAdmin
  readonly #listeners = new Set<(error: CacheError) => void>()

  constructor(options: RedisStoreOptions = {}) {
    const { namespace, ttl, clock, connection } = resolveRedisStoreOptions(options)
    this.namespace = namespace
    this.#ttl = ttl
    this.#connection = connection
    this.#scan = new RedisScan(this.#connection, this.namespace)
    this.#counters = new RedisCounters(this.#connection, this.namespace, { clock, onFailure: (error) => this.#background(error) })
    const source: AdminSource = {
      idBatches: () => this.#scan.idBatches(),
      heads: (reads) => this.#scan.heads(reads),
      remove: (ids) => this.remove(ids),
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

  /** Walks the whole namespace: an admin call, not for the request path. */
  delete(url: string | URL, options?: DeleteOptions): Promise<number> {
    return this.#admin.delete(url, options)
  }

  /** Mostly useful with `ttl: false`, where Redis never expires entries itself. */
  deleteExpired(): Promise<number> {
    return this.#admin.deleteExpired()
  }

  /**
   * Deletes every key of the namespace (SCAN + UNLINK in batches) and the stats hash, and drops the
   * unflushed counts; keys outside the namespace are never touched.
   */
  async clear(): Promise<void> {
    for await (const batch of this.#scan.keyBatches('clear')) {
      await this.#run('clear', (redis) => redis.unlink(batch))
    }
    await this.#counters.clear()
  }

  /**
   * Counters from the stats hash (every process) plus this instance's unflushed counts, and the
   * responses and bytes under the namespace (SCAN, then STRLEN and a metadata GETRANGE per value).
   */
  async stats(): Promise<StoreStats> {
    const counters = await this.#counters.read()
    return { ...counters, ...(await this.#admin.held()) }
  }

  /**
   * Flushes the buffered counts, refuses new calls, lets the store's own pending commands (the flush
   * included) finish for up to 1 s on the store's clock, then drops an own client's connection; a
   * borrowed client only loses the store's listeners. Idempotent.
   */
  close(): Promise<void> {
    // The flush starts before the connection refuses commands.
    return this.#connection.close(this.#connection.closed ? undefined : this.#counters.flush(true))
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
