/**
 * All the interceptor knows of storage. A store moves opaque bytes under ids; encoding, policy and keys
 * live elsewhere, so every store passes the same contract suite (test/stores/store-contract.ts).
 *
 * The contract has three parts: the data calls the cache makes through GuardedStore (get, getRange,
 * set, remove, count), the admin API people and the CLI call (keys, entries, delete, deletePrefix,
 * deleteTags, deleteOlderThan, deleteExpired, clear, stats), and the lifecycle (close, and the optional
 * onBackgroundError). A store builds its admin API with admin.ts's StoreAdmin over an AdminSource
 * (admin-source.ts), as MemoryStore and RedisStore do.
 */
import type { CacheError } from '../errors.js'
import type { LocalTierStats } from './local-tier.js'

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
  /**
   * Set on the write of a stored response (never on a pointer or a body): what the store indexes so
   * that delete(), deletePrefix(), deleteTags(), deleteOlderThan() and the RFC 9111 §4.4 invalidation
   * find the entry without walking the store. The store writes the index before the value (or in the
   * same atomic write), so nothing servable is ever out of the index's reach; a failed index write
   * fails the set(). Index members live as long as the value: they expire with it, or are pruned when
   * a delete finds their value gone.
   */
  readonly index?: IndexFields
}

/** What a store indexes of one stored response (StoreWrite.index). */
export interface IndexFields {
  /** The URL as the entry stores it (url-normalize.ts normalizeUrl): what delete(url) and deletePrefix() match. */
  readonly url: string
  /** Its tags (policy/tags.ts bounds count and length): what deleteTags() matches. */
  readonly tags: readonly string[]
  /** When the response was received (its responseTime, epoch ms): what deleteOlderThan() compares. */
  readonly storedAt: number
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
 * `Vary` writes its variant and the pointer, a body over INLINE_BODY_LIMIT (entry.ts) its own value, so one stored
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
  /** RedisStore with `localCache`: this process's in-process tier (RedisStore.localCacheStats()). */
  readonly localCache?: LocalTierStats
}

/** One stored response as the admin listing (`entries()`) shows it. */
export interface EntryInfo {
  /** Store id: `<primary>` or `<primary>.<variant>` for one variant of a response with `Vary`. */
  readonly id: string
  /** Request URL as stored: normalized, with the cache's `ignoredParameters` removed. */
  readonly url: string
  /** Method the entry answers; `GET` also for entries filled by a `HEAD` request. */
  readonly method: string
  readonly status: number
  /** Bytes stored for the response: its value (metadata and body), plus the body's own value when it is stored apart. */
  readonly size: number
  /** Bytes of the response body alone. */
  readonly bodySize: number
  /** When the response was received (`response_time`, RFC 9111 §4.2.3). */
  readonly storedAt: Date
  /** When the entry stops being fresh (RFC 9111 §4.2), or null when its lifetime is unbounded. */
  readonly expiresAt: Date | null
  /** Whether the entry was stale when listed. A stale entry may still serve revalidation or `staleIfError`. */
  readonly stale: boolean
  /** Request header names the response varies on (its `Vary`), sorted; empty when it has none. */
  readonly varies: readonly string[]
}

/** Options of `delete(url, options)`. */
export interface DeleteOptions {
  /** Only the entries of this method go; `HEAD` means `GET`, since both share one entry. @default every method */
  readonly method?: string
}

/**
 * What a fleet lock (CacheStore.claim) is for: one origin fetch of a missing entry (`miss`), or one
 * background revalidation of a stale one (`revalidate`). Each purpose has its own lock per entry.
 */
export type LockPurpose = 'miss' | 'revalidate'

/**
 * A fleet lock's state: nobody holds it (`free`), another holder does (`held`), or the last holder's
 * response was not stored (`not-stored`, kept for the lock's TTL so that waiters go to the origin at
 * once instead of waiting for an entry that will not come).
 */
export type LockState = 'free' | 'held' | 'not-stored'

/** What claim() got: the lock (`claimed`), or the state that kept it from taking it. */
export type ClaimResult = 'claimed' | Exclude<LockState, 'free'>

export interface CacheStore {
  /**
   * True for a store whose values live in this process and change only through its own set()
   * (MemoryStore). The cache then keeps bodies of any size inside their entry, since they are in
   * memory already and reading them in ranges would only add work, and skips body checksums on read,
   * since nothing outside the process can have altered them.
   */
  readonly inProcess?: boolean
  /**
   * True for a store whose get() and getRange() may hand out the same bytes for several reads of an
   * unchanged value (RedisStore with `localCache`). The cache then checks a value's checksums once,
   * not on every read of those bytes.
   */
  readonly sharesValues?: boolean
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
  /** Deletes these ids; unknown ids are ignored. (The public `delete(url)` is the admin API's, below.) */
  remove(ids: readonly string[]): Promise<void>
  /** Every id held, streamed (SCAN for Redis, never KEYS). */
  ids(): AsyncIterable<string>
  /** Every id with its value, streamed. */
  scan(): AsyncIterable<StoreEntryInfo>
  /**
   * Adds cache-level events (see CacheCounters). Must not do I/O synchronously or throw: RedisStore
   * buffers and flushes them with HINCRBY about once a second, so every process's counts add up.
   * The cache calls it through GuardedStore.count, which reports a throw instead of passing it on.
   */
  count(delta: Partial<CacheCounters>): void

  // The admin API. The listings (keys, entries, stats) and deleteExpired walk the whole store (SCAN
  // for Redis), reading only each value's metadata, never the bodies. The targeted deletes (delete,
  // deletePrefix, deleteTags, deleteOlderThan) go through the store's indexes (StoreWrite.index) and
  // never walk it: each costs a number of store commands proportional to the entries it removes, which
  // is why the cache's RFC 9111 §4.4 invalidation uses delete() on the request path. StoreAdmin
  // (admin.ts, admin-deletes.ts) implements all of them over an AdminSource.

  /**
   * Ids of the stored responses, streamed: not of vary pointers, bodies stored apart or values that
   * do not decode (the same set entries() lists).
   */
  keys(): AsyncIterable<string>
  /**
   * Every stored response with its URL, method, status, size, times and staleness (judged by the
   * store's clock when the batch is read), streamed; values that do not decode are skipped.
   */
  entries(): AsyncIterable<EntryInfo>
  /**
   * Deletes every entry stored for `url`: every method (or only `options.method`; HEAD means GET),
   * every Vary variant, every partition (`matchHeaders`, a custom `key`, `credentials`), with their
   * vary pointers and bodies stored apart, and resolves to how many entries went. `url` is normalized
   * as the cache keys it; one that holds an ignored parameter matches nothing, since the stored URL
   * does not hold it. Rejects with InvalidOptionError naming `url` when it does not parse as an
   * absolute URL.
   */
  delete(url: string | URL, options?: DeleteOptions): Promise<number>
  /**
   * Deletes every entry whose stored URL starts with `prefix` (normalized as URLs are, so
   * `https://API.example.com/users/` matches `https://api.example.com/users/42?x=1`), as delete() does
   * for each, and resolves to how many went. Rejects with InvalidOptionError naming `prefix` unless it
   * parses as an absolute http(s) URL.
   */
  deletePrefix(prefix: string | URL): Promise<number>
  /**
   * Deletes every entry stored with any of `tags` (the cache's `tagsHeader` and per-request `tags`),
   * every variant and body included, and resolves to how many went. Rejects with InvalidOptionError
   * naming `tags` unless it is an array of strings; a tag never stored matches nothing.
   */
  deleteTags(tags: readonly string[]): Promise<number>
  /**
   * Deletes every entry received more than `seconds` ago by the store's clock (its `storedAt`), and
   * resolves to how many went. Rejects with InvalidOptionError naming `seconds` unless it is a finite
   * number >= 0.
   */
  deleteOlderThan(seconds: number): Promise<number>
  /**
   * Deletes what can no longer be served fresh (stale entries, giving up their revalidation and
   * `staleIfError`), expired vary pointers, variants whose pointer is gone, bodies no live entry
   * refers to, and values that do not decode; resolves to how many values went. Mostly useful with
   * `ttl: false`, where nothing else removes stale entries but eviction.
   */
  deleteExpired(): Promise<number>
  /** Removes every value of this store and resets its counters (for Redis: only keys under the namespace, and its stats hash). */
  clear(): Promise<void>
  /** Counters (persisted and not yet flushed) plus what the store holds. */
  stats(): Promise<StoreStats>

  // Fleet locks: optional. A store shared by several processes (RedisStore) offers them so that one
  // process fetches a missing entry (or revalidates a stale one) while the others wait for it or skip;
  // a store of one process (MemoryStore) leaves them out, as per-process collapsing covers it. The
  // cache calls them through GuardedStore, where a failure means "go on without the lock".

  /**
   * Takes the `purpose` lock of entry `id` for `ttlMs` under `token` unless someone holds it or it
   * says `not-stored` (Redis: compare and `SET PX` in one script). The lock never shows in ids(),
   * keys() or entries(), and lives in the entry's cluster slot.
   */
  claim?(id: string, purpose: LockPurpose, token: string, ttlMs: number): Promise<ClaimResult>
  /** The lock's state, for a waiter polling for the holder's entry. */
  peek?(id: string, purpose: LockPurpose): Promise<LockState>
  /**
   * Ends the lock if `token` still holds it (a holder whose lock expired touches nobody else's):
   * `stored` frees it, `not-stored` turns it into the `not-stored` marker for `ttlMs`.
   */
  release?(id: string, purpose: LockPurpose, token: string, outcome: 'stored' | 'not-stored', ttlMs: number): Promise<void>

  /** Releases connections the store opened itself; a borrowed client is left open. */
  close(): Promise<void>
  /**
   * Subscribes `listener` to failures of work the store does on its own, outside any call (RedisStore's
   * counter flush), and returns the unsubscribe function. GuardedStore subscribes its reporter, so
   * such a failure reaches `onError` like a failed call. A store without background work leaves it out.
   */
  onBackgroundError?(listener: (error: CacheError) => void): () => void
}
