/**
 * toUndiciCacheStore(): our stores behind undici's own CacheStore interface, for teams that keep
 * `interceptors.cache()` (issue 15). undici does the HTTP caching; this adapter only keeps what undici
 * hands it, with the fail-open of every other store call: each goes through a GuardedStore, so `get`
 * resolves undefined (a miss) on a store error, an open breaker or after `commandTimeout`, and
 * nothing here throws or rejects.
 *
 * Semantics follow undici's MemoryCacheStore (lib/cache/memory-cache-store.js): one store value per
 * origin and path (codec/undici-record.ts), holding a variant per method and Vary selection; `get`
 * answers with the first variant, newest first, whose method matches, whose `vary` matches the request
 * headers and whose `deleteAt` is still ahead; a write replaces the variant the same request would
 * get; `delete` drops every variant of the path, whatever its method, since undici invalidates with
 * the unsafe request's own key (RFC 9111 §4.4). The value expires with its latest `deleteAt`.
 *
 * These values share the store with the cache's own entries but are not entries: the admin calls
 * (`keys`, `entries`, `deleteExpired`, `delete`) leave them alone, and they expire by their TTL;
 * `clear()` removes them with the rest of the namespace.
 */
import { Writable } from 'node:stream'
import { resolveClock, type Clock } from './clock.js'
import { decodeUndiciRecord, encodeUndiciRecord, MAX_VARIANTS, type UndiciVariant } from './codec/undici-record.js'
import { createReporter } from './diagnostics.js'
import { CorruptEntryError, InvalidEntryError, InvalidOptionError, StoreError, type CacheError } from './errors.js'
import { hashKey } from './key.js'
import { fn, positiveInteger } from './option-checks.js'
import { DEFAULT_COMMAND_TIMEOUT, DEFAULT_MAX_ENTRY_SIZE } from './options.js'
import { GuardedStore } from './stores/guarded-store.js'
import type { CacheStore } from './stores/types.js'

/** undici's CacheKey (types/cache-interceptor.d.ts), written out so this file needs no undici import. */
export interface UndiciCacheKey {
  origin: string
  method: string
  path: string
  headers?: Record<string, string | string[]>
}

/** undici's CacheValue. */
export interface UndiciCacheValue {
  statusCode: number
  statusMessage: string
  headers: Record<string, string | string[]>
  vary?: Record<string, string | string[] | null>
  etag?: string
  cacheControlDirectives?: Record<string, number | true | string[] | undefined>
  cachedAt: number
  staleAt: number
  deleteAt: number
}

/** undici's GetResult, with the body always a Buffer. */
export interface UndiciGetResult extends Omit<UndiciCacheValue, 'cacheControlDirectives'> {
  cacheControlDirectives: Record<string, number | true | string[]>
  body: Buffer
}

/** undici's CacheStore, as `interceptors.cache({ store })` takes it. */
export interface UndiciCacheStore {
  get(key: UndiciCacheKey): Promise<UndiciGetResult | undefined>
  createWriteStream(key: UndiciCacheKey, value: UndiciCacheValue): Writable | undefined
  delete(key: UndiciCacheKey): Promise<void>
}

export interface UndiciStoreOptions {
  /**
   * Milliseconds any single store call may take; past it `get` is a miss and a write is dropped.
   * @default 200
   */
  commandTimeout?: number
  /**
   * Receives store failures, timeouts, unreadable values and dropped writes, rate-limited as the
   * cache's `onError` is (a new error code at once, repeats at most once a second). Also published
   * on the `undici-redis-cache:error` diagnostics channel. Must not throw.
   */
  onError?: (error: CacheError) => void
  /**
   * Bytes of body past which a response is not stored (its write stream destroys itself, as
   * undici's MemoryCacheStore does).
   * @default 16 MiB
   */
  maxEntrySize?: number
  /** Times expiry (`deleteAt`) and `commandTimeout`. @default the system clock */
  clock?: Clock
}

const OPTION_NAMES = new Set(['commandTimeout', 'onError', 'maxEntrySize', 'clock'])

/**
 * Adapts a RedisStore or MemoryStore (or any CacheStore of ours) to undici's CacheStore:
 * `interceptors.cache({ store: toUndiciCacheStore(new RedisStore({ url })) })`. The store stays
 * yours to close.
 */
export function toUndiciCacheStore(store: CacheStore, options: UndiciStoreOptions = {}): UndiciCacheStore {
  if (typeof store !== 'object' || store === null || typeof store.get !== 'function' || typeof store.set !== 'function') {
    throw new InvalidOptionError('store', 'a RedisStore, a MemoryStore or another CacheStore', store)
  }
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options)
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new InvalidOptionError(name, `left out (an unknown option; known: ${[...OPTION_NAMES].join(', ')})`, (options as Record<string, unknown>)[name])
  }
  const clock = resolveClock(options.clock)
  const report = createReporter(fn(options.onError, 'onError'), clock)
  const guard = new GuardedStore(store, {
    commandTimeout: positiveInteger(options.commandTimeout, 'commandTimeout', DEFAULT_COMMAND_TIMEOUT),
    report,
    clock,
  })
  return new UndiciStoreAdapter(guard, clock, report, positiveInteger(options.maxEntrySize, 'maxEntrySize', DEFAULT_MAX_ENTRY_SIZE))
}

class UndiciStoreAdapter implements UndiciCacheStore {
  readonly #guard: GuardedStore
  readonly #clock: Clock
  readonly #report: (error: CacheError) => void
  readonly #maxEntrySize: number

  constructor(guard: GuardedStore, clock: Clock, report: (error: CacheError) => void, maxEntrySize: number) {
    this.#guard = guard
    this.#clock = clock
    this.#report = report
    this.#maxEntrySize = maxEntrySize
  }

  async get(key: UndiciCacheKey): Promise<UndiciGetResult | undefined> {
    try {
      const id = idOf(key)
      const variants = await this.#read(id)
      const found = variants?.find((variant) => matches(variant, key, this.#clock.now()))
      return found === undefined ? undefined : resultOf(found)
    } catch (error) {
      this.#report(error instanceof InvalidEntryError ? error : new StoreError('get', { cause: error }))
      return undefined
    }
  }

  createWriteStream(key: UndiciCacheKey, value: UndiciCacheValue): Writable | undefined {
    let id: string
    let fields: Omit<UndiciVariant, 'body'>
    try {
      id = idOf(key)
      fields = fieldsOf(key, value)
    } catch (error) {
      this.#report(error instanceof InvalidEntryError ? error : new InvalidEntryError(String(error)))
      return undefined
    }
    const chunks: Buffer[] = []
    let size = 0
    const maxEntrySize = this.#maxEntrySize
    const commit = (body: Buffer): Promise<void> => this.#commit(id, key, { ...fields, body })
    return new Writable({
      write(chunk: Buffer | string, encoding, callback) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk
        size += bytes.length
        callback()
        // Past the bound the response is abandoned, never stored cut short (STYLE.md habit 11).
        if (size > maxEntrySize) this.destroy()
        else chunks.push(bytes)
      },
      // Runs only once end() was called and every chunk arrived: a destroyed or errored stream
      // never commits. 'finish' waits for the commit, so a get after it sees the value.
      final(callback) {
        commit(Buffer.concat(chunks, size)).then(() => callback(), () => callback())
      },
    })
  }

  async delete(key: UndiciCacheKey): Promise<void> {
    try {
      await this.#guard.remove([idOf(key)])
    } catch (error) {
      this.#report(new StoreError('remove', { cause: error }))
    }
  }

  /**
   * The variants stored at `id`: [] when nothing is, undefined when the store did not answer (the
   * guard reported why). An unreadable value is reported, removed, and read as nothing.
   */
  async #read(id: string): Promise<UndiciVariant[] | undefined> {
    const values = await this.#guard.get([id])
    if (values === undefined) return undefined
    const bytes = values[0]
    if (bytes === undefined) return []
    const decoded = decodeUndiciRecord(bytes)
    if (decoded.ok) return decoded.value
    this.#report(new CorruptEntryError(id, decoded.reason))
    await this.#guard.remove([id])
    return []
  }

  /** Read, merge and write back (undici-record.ts keeps a path's variants in one value). */
  async #commit(id: string, key: UndiciCacheKey, variant: UndiciVariant): Promise<void> {
    try {
      const stored = await this.#read(id)
      // A store that did not answer the read will not take the write; don't overwrite what it holds.
      if (stored === undefined) return
      const now = this.#clock.now()
      // The variants this request would have been served are replaced, as MemoryCacheStore does.
      const kept = stored.filter((old) => old.deleteAt > now && !matches(old, key, now))
      const variants = [variant, ...kept].slice(0, MAX_VARIANTS)
      const lastDelete = Math.max(...variants.map((v) => v.deleteAt))
      if (!(lastDelete > now)) return
      const ttlMs = Number.isFinite(lastDelete) ? Math.ceil(lastDelete - now) : undefined
      await this.#guard.set([{ id, value: encodeUndiciRecord(variants), ttlMs }])
    } catch (error) {
      this.#report(new StoreError('set', { cause: error }))
    }
  }
}

/**
 * The store id of undici's key: origin and path only, like MemoryCacheStore's `${origin}:${path}`,
 * so that undici's invalidation (delete with a POST's key) reaches the GET variants. Its own tag keeps
 * it apart from every id key.ts makes for the cache's entries.
 */
function idOf(key: UndiciCacheKey): string {
  if (typeof key !== 'object' || key === null || typeof key.origin !== 'string' || typeof key.path !== 'string' || typeof key.method !== 'string') {
    throw new InvalidEntryError('undici cache key needs string origin, method and path')
  }
  return hashKey(JSON.stringify(['undici-cache-store', 1, key.origin, key.path]))
}

function fieldsOf(key: UndiciCacheKey, value: UndiciCacheValue): Omit<UndiciVariant, 'body'> {
  if (typeof value !== 'object' || value === null) throw new InvalidEntryError('undici cache value is not an object')
  const { statusCode, statusMessage, headers, vary, etag, cacheControlDirectives, cachedAt, staleAt, deleteAt } = value
  if (!Number.isInteger(statusCode) || typeof statusMessage !== 'string' || typeof headers !== 'object' || headers === null) {
    throw new InvalidEntryError('undici cache value needs statusCode, statusMessage and headers')
  }
  for (const time of [cachedAt, staleAt, deleteAt]) {
    if (typeof time !== 'number' || Number.isNaN(time)) throw new InvalidEntryError('undici cache value needs numeric cachedAt, staleAt and deleteAt')
  }
  return {
    method: key.method,
    statusCode,
    statusMessage,
    headers: defined(headers),
    ...(vary === undefined ? {} : { vary: { ...vary } }),
    ...(etag === undefined ? {} : { etag }),
    ...(cacheControlDirectives === undefined ? {} : { cacheControlDirectives: defined(cacheControlDirectives) }),
    cachedAt,
    staleAt,
    deleteAt,
  }
}

/** MemoryCacheStore's findEntry: not past deleteAt, same method, every Vary header as recorded. */
function matches(variant: UndiciVariant, key: UndiciCacheKey, now: number): boolean {
  if (!(variant.deleteAt > now) || variant.method !== key.method) return false
  if (variant.vary === undefined) return true
  for (const [name, recorded] of Object.entries(variant.vary)) {
    if (!sameHeader(key.headers?.[name], recorded)) return false
  }
  return true
}

function sameHeader(actual: string | string[] | null | undefined, recorded: string | string[] | null): boolean {
  if (actual == null || recorded == null) return actual == null && recorded == null
  if (Array.isArray(actual) && Array.isArray(recorded)) return actual.length === recorded.length && actual.every((v, i) => v === recorded[i])
  return actual === recorded
}

function resultOf(variant: UndiciVariant): UndiciGetResult {
  const { method: _method, body, cacheControlDirectives, ...fields } = variant
  return { ...fields, cacheControlDirectives: cacheControlDirectives ?? {}, body: Buffer.from(body.buffer, body.byteOffset, body.length) }
}

/** The object without undefined values (which our CBOR dialect does not carry). */
function defined<T>(record: Record<string, T | undefined>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).filter((entry): entry is [string, T] => entry[1] !== undefined))
}
