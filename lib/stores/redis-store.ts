import { commandOptions, createClient, type RedisClientOptions, type RedisClientType } from 'redis'
import { InvalidOptionError, StoreError } from '../errors.js'
import { idFromKey, redisKey, scanPattern, validateNamespace } from './redis-layout.js'
import { planWrite, resolveTtlSettings, type TtlSettings } from './ttl.js'
import type { CacheStore, StoreEntryInfo, StoreStats, StoreWrite } from './types.js'

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
const RETURN_BUFFERS = commandOptions({ returnBuffers: true })

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
 * (guarded-store.ts). Admin reads (ids, scan, stats, clear) walk the namespace with SCAN, which may
 * repeat an id when Redis resizes its table mid-walk.
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
  #hits = 0
  #misses = 0
  #writes = 0
  #deletes = 0
  #errors = 0

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
    return values.map((value: Buffer | null) => {
      if (value === null) {
        this.#misses++
        return undefined
      }
      this.#hits++
      return value
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

  /** Deletes every key of the namespace (SCAN + UNLINK in batches); keys outside it are never touched. */
  async clear(): Promise<void> {
    for await (const batch of this.#scanBatches('clear')) {
      const removed = await this.#run('clear', (client) => client.unlink(batch))
      this.#deletes += removed
    }
  }

  async stats(): Promise<StoreStats> {
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
    return {
      hits: this.#hits,
      misses: this.#misses,
      writes: this.#writes,
      deletes: this.#deletes,
      errors: this.#errors,
      entries,
      bytes,
    }
  }

  /**
   * Refuses new calls, lets the store's own pending commands finish (up to 1 s), then drops an own
   * client's connection; a borrowed client only loses the store's listeners. Idempotent.
   *
   * Not QUIT: in node-redis v4 a QUIT that gets no reply (paused server) cannot be abandoned, since
   * quit() marks the socket closed first and a later disconnect() then throws ClientClosedError and
   * leaves the socket open.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    await settleWithin([...this.#inFlight], CLOSE_GRACE_MS)
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

  /** Runs one command batch, failing fast when the client cannot take commands now. */
  async #run<T>(operation: string, command: (client: AnyRedisClient) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) {
      this.#errors++
      throw new StoreError(operation, { cause: new Error('the store is closed') })
    }
    if (!this.#client.isReady) {
      this.#errors++
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
      this.#errors++
      throw new StoreError(operation, { cause: error })
    } finally {
      this.#inFlight.delete(promise)
    }
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
