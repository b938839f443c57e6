import { LRUCache } from 'lru-cache'
import { resolveClock, systemClock, type Clock } from '../clock.js'
import { InvalidOptionError, StoreError, ValueTooLargeError } from '../errors.js'
import { StoreAdmin } from './admin.js'
import type { AdminSource } from './admin-source.js'
import { addCounters, COUNTER_NAMES, zeroCounters, type MutableCounters } from './counters.js'
import { INDEX_VIEW, MemoryIndex, type IndexView } from './memory-index.js'
import type { CacheCounters, CacheStore, DeleteOptions, EntryInfo, StoreEntryInfo, StoreStats, StoreWrite } from './types.js'
import { planWrite, resolveTtlSettings, type TtlSettings, type WritePlan } from './ttl.js'

const MiB = 1024 * 1024

export interface MemoryStoreOptions {
  /**
   * Bytes of stored values the store holds before it evicts the least recently used ones.
   * Counts value bytes only; ids and bookkeeping add roughly 100 bytes per value on top.
   * @default 268435456 (256 MiB)
   */
  readonly maxSize?: number
  /**
   * Largest value, in bytes, the store accepts, so one response cannot flush a quarter of the cache
   * at once. A `set` holding a larger value (or more than `maxSize` bytes in all) writes nothing and
   * rejects with ValueTooLargeError, which the cache reports to `onError`.
   * @default the smaller of 16 MiB and `maxSize / 4`
   */
  readonly maxEntrySize?: number
  /**
   * `true` expires each value after its `ttlMs` plus `ttlOffset`, like RedisStore's native TTL.
   * `false` keeps values until evicted, for conditional revalidation and `staleIfError`.
   * @default true
   */
  readonly ttl?: boolean
  /**
   * Seconds a value is kept past its `ttlMs` when `ttl` is true (room for revalidation). `0` expires it
   * exactly at `ttlMs`.
   * @default 3600
   */
  readonly ttlOffset?: number
  /**
   * Time for expiry (lru-cache's `perf`) and for the admin API's staleness, for tests and
   * simulations.
   * @default the system clock (clock.ts systemClock; expiry then runs on lru-cache's own monotonic timer)
   */
  readonly clock?: Clock
}

const KNOWN_OPTIONS = new Set(['maxSize', 'maxEntrySize', 'ttl', 'ttlOffset', 'clock'])
/** Ids per admin batch (walk and index reads alike), as RedisStore's SCAN batches. */
const ADMIN_BATCH = 500

/**
 * A bounded in-process LRU (lru-cache) holding encoded bytes, so it behaves like RedisStore: values
 * are copied in and out, writes of one call land together, and each value may carry a TTL.
 *
 * Expired values are dropped when read or evicted; no timer runs (lru-cache's `ttlAutopurge` stays
 * off), so the store never keeps the process alive.
 *
 * The targeted deletes (delete, deletePrefix, deleteTags, deleteOlderThan) read in-process indexes
 * (memory-index.ts) rather than walking the LRU, as RedisStore's read its index keys. An entry's
 * record goes whenever lru-cache lets go of its value, so the indexes hold no more than the LRU does.
 */
export class MemoryStore implements CacheStore {
  /** Values never leave this process: see CacheStore.inProcess. */
  readonly inProcess = true
  readonly maxSize: number
  readonly maxEntrySize: number
  readonly #ttl: TtlSettings
  readonly #cache: LRUCache<string, Uint8Array>
  #closed = false
  /** count()'s events plus this store's writes and deletes (it is the only process that sees them). */
  #counters: MutableCounters = zeroCounters()
  readonly #admin: StoreAdmin
  readonly #index = new MemoryIndex(ADMIN_BATCH)

  constructor(options: MemoryStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', 'an object', options)
    }
    for (const [name, value] of Object.entries(options)) {
      if (!KNOWN_OPTIONS.has(name)) throw new InvalidOptionError(name, 'absent (not a MemoryStore option)', value)
    }
    const { maxSize = 256 * MiB } = options
    if (!isPositiveInteger(maxSize)) throw new InvalidOptionError('maxSize', 'a positive integer of bytes', maxSize)
    const { maxEntrySize = Math.max(1, Math.min(16 * MiB, Math.floor(maxSize / 4))) } = options
    if (!isPositiveInteger(maxEntrySize) || maxEntrySize > maxSize) {
      throw new InvalidOptionError('maxEntrySize', `a positive integer of bytes <= maxSize (${maxSize})`, maxEntrySize)
    }
    this.maxSize = maxSize
    this.maxEntrySize = maxEntrySize
    this.#ttl = resolveTtlSettings(options)
    const clock = resolveClock(options.clock)
    this.#cache = new LRUCache<string, Uint8Array>({
      maxSize,
      maxEntrySize,
      // lru-cache needs a positive size; an empty value still occupies a slot.
      sizeCalculation: (value) => Math.max(1, value.byteLength),
      ttlAutopurge: false,
      // An injected clock is read on every check: lru-cache's default caches `now` for 1 ms of real
      // time, which a clock moved by hand would outrun. The system clock keeps lru-cache's default
      // (performance.now: monotonic, unlike Date.now).
      ...(clock === systemClock ? {} : { perf: clock, ttlResolution: 0 }),
      // Every way lru-cache lets go of a value (delete, clear, eviction, expiry noticed, replacement by
      // set) drops the id's index record, so no record outlives its value and the index is bounded by
      // what the LRU holds. A replacement that carries `index` records it again once stored (set()).
      dispose: (_value, id) => this.#index.drop(id),
    })
    const source: AdminSource = {
      idBatches: () => this.#idBatches(),
      heads: async (reads) =>
        reads.map(({ id, length }) => {
          const value = this.#cache.peek(id)
          // A view, not a copy: the admin functions only decode metadata from it.
          return value === undefined ? undefined : { size: value.byteLength, bytes: value.subarray(0, length) }
        }),
      remove: (ids) => this.remove(ids),
      indexed: (query) => this.#index.indexed(query),
      indexedUrls: (prefix) => this.#index.urls(prefix),
      // The index already follows the values (see `dispose` above): a record the deletes find dangling
      // is one whose value expired unnoticed, and only such ids are dropped here. A live value keeps its
      // record, so an entry written between a delete's remove and its unindex stays reachable.
      unindex: async (entries) => {
        for (const { id } of entries) if (!this.#cache.has(id)) this.#index.drop(id)
      },
    }
    this.#admin = new StoreAdmin(source, clock)
  }

  async get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#assertOpen('get')
    // Not copied: the cache only reads what get() returns (replay hands out views), and a hit
    // should cost no copy of the body. Values are copied on the way in.
    return ids.map((id) => this.#cache.get(id))
  }

  async getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    this.#assertOpen('getRange')
    // A view, as get() hands out: external bodies are read chunk by chunk without a copy.
    return this.#cache.get(id)?.subarray(offset, offset + length)
  }

  async set(writes: readonly StoreWrite[]): Promise<void> {
    this.#assertOpen('set')
    let plans
    try {
      plans = writes.map((write) => planWrite(this.#ttl, write.ttlMs))
    } catch (error) {
      throw new StoreError('set', { cause: error })
    }
    // All or nothing: an oversized call is refused before anything is written.
    this.#checkSize(writes, plans)
    writes.forEach((write, index) => {
      const plan = plans[index]
      if (plan === undefined) return
      if (plan.kind === 'drop') {
        this.#cache.delete(write.id)
        return
      }
      // lru-cache's ttl 0 means "no expiry" and also clears a TTL the id held before.
      const ttl = plan.kind === 'expire' ? plan.ms : 0
      if (write.value === undefined) {
        // Only the expiry changes: re-set the bytes held, if any.
        const held = this.#cache.peek(write.id)
        if (held !== undefined) this.#cache.set(write.id, held, { ttl })
        return
      }
      const stored = write.value.slice()
      // A value replaced here has had its record dropped by `dispose`, so a write without `index` (a
      // vary pointer written over a former entry) leaves the id unindexed. The record is made only if
      // lru-cache holds the value, so that no record is ever left without one.
      this.#cache.set(write.id, stored, { ttl })
      if (write.index !== undefined && this.#cache.peek(write.id) === stored) this.#index.record(write.id, write.index)
      this.#counters.writes++
    })
  }

  /**
   * Throws ValueTooLargeError for a value over maxEntrySize, or values over maxSize in all, which
   * lru-cache would otherwise drop (or evict each other) without a word.
   */
  #checkSize(writes: readonly StoreWrite[], plans: readonly WritePlan[]): void {
    let total = 0
    for (const [index, write] of writes.entries()) {
      const size = plans[index]?.kind === 'drop' ? 0 : (write.value?.byteLength ?? 0)
      if (size > this.maxEntrySize) throw new ValueTooLargeError(write.id, size, this.maxEntrySize, 'maxEntrySize')
      total += size
    }
    if (total > this.maxSize) throw new ValueTooLargeError(writes[0]?.id ?? '', total, this.maxSize, 'maxSize')
  }

  async remove(ids: readonly string[]): Promise<void> {
    this.#assertOpen('remove')
    for (const id of ids) {
      if (this.#cache.delete(id)) this.#counters.deletes++
    }
  }

  async *ids(): AsyncIterable<string> {
    this.#assertOpen('ids')
    // A snapshot, so a consumer that deletes while iterating does not disturb the LRU walk.
    yield* [...this.#cache.keys()]
  }

  async *scan(): AsyncIterable<StoreEntryInfo> {
    this.#assertOpen('scan')
    for (const id of [...this.#cache.keys()]) {
      const value = this.#cache.peek(id)
      if (value !== undefined) yield { id, size: value.byteLength, value: value.slice() }
    }
  }

  /** Drops every value (and so every index record) and resets the counters, as RedisStore's clear() removes its stats hash. */
  async clear(): Promise<void> {
    this.#assertOpen('clear')
    this.#cache.clear()
    // `dispose` dropped each record; this lets go of the age list's slots too.
    this.#index.clear()
    this.#counters = zeroCounters()
  }

  /** A snapshot taken in batches of 500. */
  keys(): AsyncIterable<string> {
    return this.#admin.keys()
  }

  entries(): AsyncIterable<EntryInfo> {
    return this.#admin.entries()
  }

  /** Reads the URL index: costs what it deletes, whatever else the store holds. */
  async delete(url: string | URL, options?: DeleteOptions): Promise<number> {
    this.#assertOpen('delete')
    return this.#admin.delete(url, options)
  }

  /** Filters the URLs indexed by `prefix`, then deletes each as delete() does. */
  async deletePrefix(prefix: string | URL): Promise<number> {
    this.#assertOpen('deletePrefix')
    return this.#admin.deletePrefix(prefix)
  }

  /** Reads each tag's index. */
  async deleteTags(tags: readonly string[]): Promise<number> {
    this.#assertOpen('deleteTags')
    return this.#admin.deleteTags(tags)
  }

  /** Reads the age index, oldest first, up to the cutoff. */
  async deleteOlderThan(seconds: number): Promise<number> {
    this.#assertOpen('deleteOlderThan')
    return this.#admin.deleteOlderThan(seconds)
  }

  /** With `ttl: false` this is the only way stale entries leave but by eviction. */
  async deleteExpired(): Promise<number> {
    this.#assertOpen('deleteExpired')
    return this.#admin.deleteExpired()
  }

  /** Adds cache-level events to this store's counters; never throws (see CacheStore.count). */
  count(delta: Partial<CacheCounters>): void {
    if (!this.#closed) addCounters(this.#counters, delta, COUNTER_NAMES)
  }

  /**
   * The counters reported with count(), this store's writes and deletes, the stored responses (as
   * entries() lists them) and the bytes of every value held.
   */
  async stats(): Promise<StoreStats> {
    this.#assertOpen('stats')
    this.#cache.purgeStale()
    return { ...this.#counters, ...(await this.#admin.held()) }
  }

  /** Drops every value (and index record) and refuses later calls, as a closed RedisStore does. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#cache.clear()
    this.#index.clear()
  }

  /** The index, read-only: for tests that check it follows the values and stays within what the LRU holds. */
  get [INDEX_VIEW](): IndexView {
    return this.#index
  }

  async *#idBatches(): AsyncIterable<readonly string[]> {
    this.#assertOpen('scan')
    // A snapshot, so deleting while iterating does not disturb the LRU walk; each batch leaves out what
    // went since (as SCAN would), so a value deleted along with an earlier batch is not counted twice.
    const ids = [...this.#cache.keys()]
    for (let start = 0; start < ids.length; start += ADMIN_BATCH) {
      yield ids.slice(start, start + ADMIN_BATCH).filter((id) => this.#cache.has(id))
    }
  }

  #assertOpen(operation: string): void {
    if (!this.#closed) return
    throw new StoreError(operation, { cause: new Error('the store is closed') })
  }
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}
