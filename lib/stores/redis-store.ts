import { commandOptions, createClient, type RedisClientOptions, type RedisClientType } from 'redis'
import { InvalidOptionError, StoreError } from '../errors.js'
import {
  addCounters,
  COUNTER_NAMES,
  deleteByUrl,
  deleteExpired,
  entryIds,
  listEntries,
  zeroCounters,
  type AdminSource,
  type DeleteOptions,
  type EntryInfo,
  type HeadRead,
  type MutableCounters,
  type ValueHead,
} from './admin.js'
import { idFromKey, redisKey, scanPattern, validateNamespace } from './redis-layout.js'
import { planWrite, resolveTtlSettings, type TtlSettings } from './ttl.js'
import type { CacheCounters, CacheStore, StoreEntryInfo, StoreStats, StoreWrite } from './types.js'

// A user's client may be built with any modules, functions and scripts; the store uses core commands only.
type AnyRedisClient = RedisClientType<any, any, any>

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
 * node-redis v4 client that the store uses but never closes.
 */
export type RedisStoreOptions = RedisStoreCommonOptions &
  ((RedisClientOptions & { readonly client?: never }) | { readonly client: AnyRedisClient })

const OWN_OPTIONS = new Set(['namespace', 'ttl', 'ttlOffset', 'client', 'unref'])
const SCAN_COUNT = 500
/** Bound on commands waiting in an own client's queue (a stalled server otherwise piles them up). */
const QUEUE_MAX_LENGTH = 1000
/** How long close() lets the store's own commands finish before it drops the connection. */
const CLOSE_GRACE_MS = 1000
/** How long count() buffers before one HINCRBY round trip adds the counts to the stats hash. */
const FLUSH_INTERVAL_MS = 1000
const RETURN_BUFFERS = commandOptions({ returnBuffers: true })

/**
 * The hash holding the counters every process reports with count(), one field per CacheCounters name.
 * It lives inside the namespace, so clear() removes it, but has no `{`, so the entry SCAN pattern
 * (`<namespace>:{*`) never lists it as an entry and idFromKey() would refuse it anyway.
 */
function statsKey(namespace: string): string {
  return `${namespace}:stats`
}

/** Reconnect quickly at first, then every 2 s at most, forever: the guard skips the store meanwhile. */
function reconnectDelay(retries: number): number {
  return Math.min(retries * 100, 2000)
}

/**
 * A CacheStore on Redis through node-redis v4. Each entry id is one string key (redis-layout.ts);
 * writes of one call go in one MULTI, reads of one call in one GET or MGET.
 *
 * The store never waits for Redis to come up: commands fail fast with StoreError while the client is
 * not ready, and node-redis v4 has no command timeout, so callers bound each call themselves
 * (guarded-store.ts). Admin reads (ids, scan, keys, entries, delete, deleteExpired, stats, clear) walk
 * the namespace with SCAN, which may repeat an id when Redis resizes its table mid-walk.
 *
 * count() adds to an in-process buffer that one MULTI of HINCRBY flushes to `<namespace>:stats` about
 * once a second and on close(), so stats() adds up every process sharing the namespace. Counts still
 * buffered when the process exits without close() are lost.
 */
export class RedisStore implements CacheStore {
  readonly namespace: string
  readonly #client: AnyRedisClient
  /** The store created the client, so it closes it; a borrowed one is left open. */
  readonly #owned: boolean
  readonly #ttl: TtlSettings
  readonly #pattern: string
  readonly #inFlight = new Set<Promise<unknown>>()
  #lastError: unknown
  #closing: Promise<void> | undefined
  #writes = 0
  #deletes = 0
  /** Counts reported since the last flush (or put back by a failed one). */
  #buffer: MutableCounters = zeroCounters()
  /** Armed by the first count() after a flush; unref'd, so it never keeps the process alive. */
  #flushTimer: NodeJS.Timeout | undefined
  readonly #admin: AdminSource = {
    idBatches: () => this.#idBatches(),
    heads: (reads) => this.#heads(reads),
    remove: (ids) => this.remove(ids),
  }

  // Kept as fields so close() can detach them from a borrowed client.
  readonly #onError = (error: unknown): void => {
    this.#lastError = error
  }
  readonly #onReady = (): void => {
    this.#lastError = undefined
  }

  constructor(options: RedisStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', 'an object', options)
    }
    const raw = options as Readonly<Record<string, unknown>>
    this.namespace = validateNamespace(raw['namespace'] ?? 'http_cache')
    this.#pattern = scanPattern(this.namespace)
    this.#ttl = resolveTtlSettings({ ttl: raw['ttl'], ttlOffset: raw['ttlOffset'] })
    const clientOptions = Object.fromEntries(Object.entries(raw).filter(([name]) => !OWN_OPTIONS.has(name)))

    if (raw['client'] !== undefined) {
      const client = raw['client']
      if (!isRedisClient(client)) {
        throw new InvalidOptionError('client', 'a node-redis v4 client (from createClient, not legacyMode)', client)
      }
      for (const [name, value] of Object.entries(clientOptions)) {
        throw new InvalidOptionError(name, 'absent when `client` is given', value)
      }
      this.#client = client
      this.#owned = false
    } else {
      const { socket, ...rest } = clientOptions as RedisClientOptions
      try {
        this.#client = createClient({
          disableOfflineQueue: true,
          commandsQueueMaxLength: QUEUE_MAX_LENGTH,
          ...rest,
          socket: { reconnectStrategy: reconnectDelay, ...socket },
        })
      } catch (error) {
        // node-redis parses `url` here and throws a bare TypeError ("Invalid protocol").
        const reason = error instanceof Error ? ` (${error.message})` : ''
        if (raw['url'] !== undefined) throw new InvalidOptionError('url', `a redis:// or rediss:// URL${reason}`, raw['url'])
        throw new InvalidOptionError('options', `node-redis client options${reason}`, options)
      }
      this.#owned = true
    }

    // Without an 'error' listener node-redis crashes the process when Redis goes away; attach it
    // before connecting. connect() can stay pending forever (wrong password, TLS mismatch), so it is
    // never awaited: commands fail fast until the client is ready.
    this.#client.on('error', this.#onError)
    this.#client.on('ready', this.#onReady)
    const unref = raw['unref'] ?? false
    if (typeof unref !== 'boolean') throw new InvalidOptionError('unref', 'a boolean', unref)
    if (unref) this.#client.unref()
    if (!this.#client.isOpen) this.#client.connect().catch(this.#onError)
  }

  /** Whether the client can take commands now; while false, every call fails fast with StoreError. */
  get isReady(): boolean {
    return this.#closing === undefined && this.#client.isReady
  }

  /**
   * Resolves once the client is ready (at once if it is), for startup checks and tests. Rejects with
   * StoreError after `timeoutMs` (the connection attempt goes on) or if the store is closed.
   */
  ready(timeoutMs = 5000): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(new StoreError('connect', { cause: new Error('the store is closed') }))
    }
    if (this.#client.isReady) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onReady = (): void => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.#client.off('ready', onReady)
        const cause = this.#lastError ?? new Error(`the Redis client was not ready within ${timeoutMs} ms`)
        reject(new StoreError('connect', { cause }))
      }, timeoutMs)
      timer.unref()
      this.#client.once('ready', onReady)
    })
  }

  async get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (ids.length === 0) return []
    const values = await this.#run('get', async (client) => {
      const keys = ids.map((id) => redisKey(this.namespace, id))
      if (keys.length === 1) return [await client.get(RETURN_BUFFERS, keys[0] as string)]
      return client.mGet(RETURN_BUFFERS, keys)
    })
    return values.map((value: Buffer | null) => value ?? undefined)
  }

  async getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#run('getRange', async (client) => {
      const key = redisKey(this.namespace, id)
      // GETRANGE answers "" for a missing key and past the end alike; STRLEN in the same round trip tells
      // them apart. An end of -1 would mean "to the end" to Redis, so length 0 sends no GETRANGE.
      const [size, bytes] = await Promise.all([
        client.strLen(key),
        length > 0 ? client.getRange(RETURN_BUFFERS, key, offset, offset + length - 1) : Buffer.alloc(0),
      ])
      return size === 0 ? undefined : bytes
    })
  }

  async set(writes: readonly StoreWrite[]): Promise<void> {
    if (writes.length === 0) return
    const written = await this.#run('set', async (client) => {
      const multi = client.multi()
      let count = 0
      for (const write of writes) {
        const key = redisKey(this.namespace, write.id)
        const plan = planWrite(this.#ttl, write.ttlMs)
        if (plan.kind === 'drop') {
          multi.unlink(key)
          continue
        }
        if (write.value === undefined) {
          // Only the expiry changes; both commands do nothing on a missing key.
          if (plan.kind === 'expire') multi.pExpire(key, plan.ms)
          else multi.persist(key)
          continue
        }
        // Buffer.from copies, so a caller reusing its buffer cannot change what is sent.
        // SET without PX also clears a TTL the key had, which `keep` wants.
        const value = Buffer.from(write.value)
        if (plan.kind === 'expire') multi.set(key, value, { PX: plan.ms })
        else multi.set(key, value)
        count++
      }
      await multi.exec()
      return count
    })
    this.#writes += written
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    const removed = await this.#run('remove', async (client) => {
      // One UNLINK per primary keeps each command in one cluster slot; node-redis pipelines them.
      const byPrimary = new Map<string, string[]>()
      for (const id of ids) {
        const key = redisKey(this.namespace, id)
        const primary = id.split('.', 1)[0] as string
        const group = byPrimary.get(primary)
        if (group === undefined) byPrimary.set(primary, [key])
        else group.push(key)
      }
      const counts = await Promise.all([...byPrimary.values()].map((keys) => client.unlink(keys)))
      return counts.reduce((sum, count) => sum + count, 0)
    })
    this.#deletes += removed
  }

  async *ids(): AsyncIterable<string> {
    for await (const batch of this.#scanBatches('ids')) {
      for (const key of batch) {
        const id = idFromKey(this.namespace, key)
        if (id !== undefined) yield id
      }
    }
  }

  async *scan(): AsyncIterable<StoreEntryInfo> {
    for await (const batch of this.#scanBatches('scan')) {
      const entries = batch.flatMap((key) => {
        const id = idFromKey(this.namespace, key)
        return id === undefined ? [] : [{ id, key }]
      })
      if (entries.length === 0) continue
      const values = await this.#run('scan', (client) =>
        client.mGet(
          RETURN_BUFFERS,
          entries.map((entry) => entry.key),
        ),
      )
      for (const [index, entry] of entries.entries()) {
        const value = values[index]
        // null: the key expired or was deleted between SCAN and MGET.
        if (value !== null && value !== undefined) yield { id: entry.id, size: value.byteLength, value }
      }
    }
  }

  /**
   * Deletes every key of the namespace (SCAN + UNLINK in batches) and the stats hash, and drops the
   * unflushed counts; keys outside the namespace are never touched.
   */
  async clear(): Promise<void> {
    for await (const batch of this.#scanBatches('clear')) {
      const removed = await this.#run('clear', (client) => client.unlink(batch))
      this.#deletes += removed
    }
    this.#buffer = zeroCounters()
    await this.#run('clear', (client) => client.unlink(statsKey(this.namespace)))
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
    if (this.#closing !== undefined || !addCounters(this.#buffer, delta)) return
    this.#armFlush()
  }

  /**
   * Counters from the stats hash (every process) plus this instance's unflushed counts, this
   * instance's writes and deletes, and the values and bytes under the namespace (SCAN + STRLEN).
   */
  async stats(): Promise<StoreStats> {
    const stored = await this.#run('stats', (client) => client.hGetAll(statsKey(this.namespace)))
    const counters = zeroCounters()
    for (const name of COUNTER_NAMES) {
      const value = Number(stored[name] ?? 0)
      counters[name] = (Number.isSafeInteger(value) ? value : 0) + this.#buffer[name]
    }
    let entries = 0
    let bytes = 0
    for await (const batch of this.#scanBatches('stats')) {
      const keys = batch.filter((key) => idFromKey(this.namespace, key) !== undefined)
      // Issued together, so node-redis pipelines them; a key of another type under the namespace
      // (WRONGTYPE) is not one of ours and is left out.
      const sizes = await this.#run('stats', (client) => Promise.allSettled(keys.map((key) => client.strLen(key))))
      for (const size of sizes) {
        if (size.status === 'fulfilled') {
          entries++
          bytes += size.value
        }
      }
    }
    return { ...counters, writes: this.#writes, deletes: this.#deletes, entries, bytes }
  }

  /**
   * Flushes the buffered counts, refuses new calls, lets the store's own pending commands (the flush
   * included) finish for up to 1 s, then drops an own client's connection; a borrowed client only
   * loses the store's listeners. Idempotent.
   *
   * Not QUIT: in node-redis v4 a QUIT that gets no reply (paused server) cannot be abandoned, since
   * quit() marks the socket closed first and a later disconnect() then throws ClientClosedError and
   * leaves the socket open.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      // Started before #closing is set, since #run refuses commands once it is.
      const flushed = this.#flush()
      this.#closing = this.#shutdown(flushed)
    }
    return this.#closing
  }

  async #shutdown(flushed: Promise<void>): Promise<void> {
    await settleWithin([...this.#inFlight, flushed], CLOSE_GRACE_MS)
    if (!this.#owned) {
      this.#client.off('error', this.#onError)
      this.#client.off('ready', this.#onReady)
      return
    }
    if (this.#client.isOpen) {
      try {
        await this.#client.disconnect()
      } catch {
        // Already closed by node-redis itself (reconnect strategy gave up): nothing left to release.
      }
    }
  }

  #armFlush(): void {
    if (this.#flushTimer !== undefined) return
    this.#flushTimer = setTimeout(() => void this.#flush(), FLUSH_INTERVAL_MS)
    this.#flushTimer.unref()
  }

  /**
   * Sends the buffer in one MULTI of HINCRBY (one round trip). MULTI makes it all or nothing, so a
   * failed flush puts every count back for the next one without counting any twice; the buffer stays
   * five numbers however long Redis is away. Never rejects.
   */
  async #flush(): Promise<void> {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    const taken = this.#buffer
    const fields = COUNTER_NAMES.filter((name) => taken[name] !== 0)
    if (fields.length === 0) return
    this.#buffer = zeroCounters()
    try {
      await this.#run('count', async (client) => {
        const multi = client.multi()
        for (const name of fields) multi.hIncrBy(statsKey(this.namespace), name, taken[name])
        await multi.exec()
      })
    } catch {
      addCounters(this.#buffer, taken)
      if (this.#closing === undefined) this.#armFlush()
    }
  }

  /** Runs one command batch, failing fast when the client cannot take commands now. */
  async #run<T>(operation: string, command: (client: AnyRedisClient) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      throw new StoreError(operation, { cause: new Error('the store is closed') })
    }
    if (!this.#client.isReady) {
      throw new StoreError(operation, { cause: this.#lastError ?? new Error('the Redis client is not connected') })
    }
    let promise: Promise<T>
    try {
      promise = command(this.#client)
    } catch (error) {
      promise = Promise.reject(error)
    }
    this.#inFlight.add(promise)
    try {
      return await promise
    } catch (error) {
      throw new StoreError(operation, { cause: error })
    } finally {
      this.#inFlight.delete(promise)
    }
  }

  /** Ids of the namespace's entries, one batch per #scanBatches batch (the admin walk). */
  async *#idBatches(): AsyncIterable<readonly string[]> {
    for await (const batch of this.#scanBatches('scan')) {
      yield batch.flatMap((key) => idFromKey(this.namespace, key) ?? [])
    }
  }

  /**
   * Each value's size and first bytes, with STRLEN and GETRANGE for every read issued together (one
   * pipelined round trip). A key gone since SCAN reads as size 0; a key of another type fails with
   * WRONGTYPE: both are left out.
   */
  async #heads(reads: readonly HeadRead[]): Promise<(ValueHead | undefined)[]> {
    if (reads.length === 0) return []
    return this.#run('scan', async (client) => {
      const keys = reads.map((read) => redisKey(this.namespace, read.id))
      const [sizes, prefixes] = await Promise.all([
        Promise.allSettled(keys.map((key) => client.strLen(key))),
        Promise.allSettled(keys.map((key, index) => client.getRange(RETURN_BUFFERS, key, 0, (reads[index] as HeadRead).length - 1))),
      ])
      return keys.map((_, index) => {
        const size = sizes[index]
        const prefix = prefixes[index]
        if (size?.status !== 'fulfilled' || prefix?.status !== 'fulfilled' || size.value === 0) return undefined
        return { size: size.value, bytes: prefix.value }
      })
    })
  }

  /** Keys of the namespace in batches of about SCAN_COUNT, for commands that take many keys. */
  async *#scanBatches(operation: string): AsyncIterable<string[]> {
    const iterator = await this.#run(operation, async (client) =>
      client.scanIterator({ MATCH: this.#pattern, COUNT: SCAN_COUNT })[Symbol.asyncIterator](),
    )
    let batch: string[] = []
    while (true) {
      const next = await this.#run(operation, () => iterator.next())
      if (next.done === true) break
      batch.push(next.value)
      if (batch.length >= SCAN_COUNT) {
        yield batch
        batch = []
      }
    }
    if (batch.length > 0) yield batch
  }
}

function isRedisClient(value: unknown): value is AnyRedisClient {
  if (typeof value !== 'object' || value === null) return false
  const client = value as Partial<Record<'connect' | 'multi' | 'on', unknown>> & {
    options?: { legacyMode?: unknown }
    isOpen?: unknown
  }
  return (
    typeof client.connect === 'function' &&
    typeof client.multi === 'function' &&
    typeof client.on === 'function' &&
    typeof client.isOpen === 'boolean' &&
    client.options?.legacyMode !== true
  )
}

/** Waits for every promise to settle, or for `ms`, whichever comes first; never rejects. */
async function settleWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
    timer.unref()
  })
  await Promise.race([Promise.allSettled(promises), deadline])
  clearTimeout(timer)
}
