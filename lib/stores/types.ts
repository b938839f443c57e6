/**
 * All the interceptor knows of storage. A store moves opaque bytes under ids; encoding, policy and keys
 * live elsewhere, so every store passes the same contract suite (test/stores/store-contract.ts).
 */

/** One value to write. */
export interface StoreWrite {
  /**
   * Store id: `<primary>` or `<primary>.<variant>` (lowercase hex; both parts come from key.ts), or a
   * body id `<entry id>~<generation>` for a body stored apart from its entry.
   */
  readonly id: string
  /**
   * The bytes to store, or undefined to keep what the id holds and only reset its expiry (an external
   * body whose entry a 304 refreshed); nothing happens when the id holds nothing.
   */
  readonly value: Uint8Array | undefined
  /**
   * Milliseconds the value stays useful (freshness left plus any stale window), or undefined when it
   * is useful until evicted. Stores with `ttl: true` expire the value after this plus their `ttlOffset`.
   */
  readonly ttlMs: number | undefined
}

/** A summary of one stored value, for the admin API, read without copying the body. */
export interface StoreEntryInfo {
  readonly id: string
  /** Size in bytes of the stored value (metadata and body). */
  readonly size: number
  readonly value: Uint8Array
}

/**
 * Cache-level events an interceptor reports to its store, so `stats()` can tell how the cache is doing
 * across every process that shares it. Reported with `count()`, buffered in memory; never I/O on the
 * request path.
 */
export interface CacheCounters {
  /** Responses served from the cache without waiting for the origin (fresh, max-stale, stale-while-revalidate). */
  readonly hits: number
  /** Requests forwarded because nothing usable was stored (including vary misses and store failures). */
  readonly misses: number
  /** Conditional requests sent to validate a stale entry. */
  readonly revalidations: number
  /** Stale responses served (stale-if-error, stale-while-revalidate, max-stale). */
  readonly staleServed: number
  /** Store failures, timeouts and corrupt entries reported to onError. */
  readonly errors: number
}

/**
 * What a store counts itself, next to the cache's events. Values, not responses: a response with
 * `Vary` writes its variant and the pointer, a body over 256 KiB its own value, so one stored
 * response may count two or three.
 */
export interface StoreCounters extends CacheCounters {
  /** Values written by set() (a write that only resets an expiry is not counted). */
  readonly writes: number
  /** Values deleted by remove() and the admin deletes; clear() resets the counters instead. */
  readonly deletes: number
}

/**
 * Counters and holdings. RedisStore keeps the counters in `<namespace>:stats`, shared by every process
 * using the namespace, so a fresh process (the CLI) sees what the others counted.
 */
export interface StoreStats extends StoreCounters {
  /** Stored responses: what `entries()` lists (vary pointers, bodies stored apart and undecodable values left out). */
  readonly entries: number
  /** Bytes of every value held (for Redis: every key under the namespace, by SCAN and STRLEN), pointers and bodies included. */
  readonly bytes: number
}

export interface CacheStore {
  /**
   * True for a store whose values live in this process and change only through its own set()
   * (MemoryStore). The cache then keeps bodies of any size inside their entry, since they are in
   * memory already and reading them in ranges would only add work, and skips body checksums on read,
   * since nothing outside the process can have altered them.
   */
  readonly inProcess?: boolean
  /**
   * Reads the values at `ids`, in one round trip; a missing id gives undefined at its index.
   * Ids of one call share their primary part (one Redis Cluster hash slot). The caller must not
   * mutate what it gets (MemoryStore hands out its own bytes so that a hit copies nothing).
   */
  get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]>
  /**
   * Reads `length` bytes of the value at `id` from `offset` (Redis GETRANGE): fewer at the end of the
   * value, undefined when the id holds nothing. How external bodies stream without loading them whole.
   */
  getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined>
  /** Writes every value atomically: a reader sees all of them or none. */
  set(writes: readonly StoreWrite[]): Promise<void>
  /** Deletes these ids; unknown ids are ignored. (The public `delete(url)` is admin API, in admin.ts.) */
  remove(ids: readonly string[]): Promise<void>
  /** Every id held, streamed (SCAN for Redis, never KEYS). */
  ids(): AsyncIterable<string>
  /** Every id with its value, streamed. */
  scan(): AsyncIterable<StoreEntryInfo>
  /** Removes every value of this store (for Redis: only keys under the namespace). */
  clear(): Promise<void>
  /**
   * Adds cache-level events (see CacheCounters). Must not do I/O synchronously or throw: RedisStore
   * buffers and flushes them with HINCRBY about once a second, so every process's counts add up.
   */
  count(delta: Partial<CacheCounters>): void
  /** Counters (persisted and not yet flushed) plus what the store holds. */
  stats(): Promise<StoreStats>
  /** Releases connections the store opened itself; a borrowed client is left open. */
  close(): Promise<void>
}
