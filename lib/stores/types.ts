/**
 * All the interceptor knows of storage. A store moves opaque bytes under ids; encoding, policy and keys
 * live elsewhere, so every store passes the same contract suite (test/stores/store-contract.ts).
 */

/** One value to write. */
export interface StoreWrite {
  /** Store id: `<primary>` or `<primary>.<variant>` (lowercase hex); both parts come from key.ts. */
  readonly id: string
  readonly value: Uint8Array
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

export interface StoreStats {
  readonly hits: number
  readonly misses: number
  readonly writes: number
  readonly deletes: number
  readonly errors: number
  /** Values held (for Redis: keys under the namespace, counted by SCAN). */
  readonly entries: number
  /** Bytes held (for Redis: sum of value sizes, counted by SCAN and STRLEN). */
  readonly bytes: number
}

export interface CacheStore {
  /**
   * Reads the values at `ids`, in one round trip; a missing id gives undefined at its index.
   * Ids of one call share their primary part (one Redis Cluster hash slot). The caller must not
   * mutate what it gets (MemoryStore hands out its own bytes so that a hit copies nothing).
   */
  get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]>
  /** Writes every value atomically: a reader sees all of them or none. */
  set(writes: readonly StoreWrite[]): Promise<void>
  /** Deletes these ids; unknown ids are ignored. (The public `delete(url)` is admin API, in admin-store.ts.) */
  remove(ids: readonly string[]): Promise<void>
  /** Every id held, streamed (SCAN for Redis, never KEYS). */
  ids(): AsyncIterable<string>
  /** Every id with its value, streamed. */
  scan(): AsyncIterable<StoreEntryInfo>
  /** Removes every value of this store (for Redis: only keys under the namespace). */
  clear(): Promise<void>
  stats(): Promise<StoreStats>
  /** Releases connections the store opened itself; a borrowed client is left open. */
  close(): Promise<void>
}
