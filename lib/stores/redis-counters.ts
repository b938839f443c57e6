/**
 * RedisStore's counters (types.ts StoreCounters). count(), and the store's own writes and deletes, add
 * to seven numbers in the process; one MULTI of HINCRBY adds them to `<namespace>:stats` about once a
 * second and on close(), so counting costs no I/O on the request path and stats() adds up every
 * process sharing the namespace. Counts still buffered when a process exits without close() are lost.
 *
 * A failed flush puts its counts back for the next one (MULTI is all or nothing, so nothing is counted
 * twice, and the buffer stays seven numbers however long Redis is away) and is handed to `onFailure`,
 * which RedisStore passes on to whoever listens (GuardedStore's reporter). The timer runs on the
 * store's clock, armed only while counts wait.
 */
import type { CancelTimer, Clock } from '../clock.js'
import { CacheError, StoreError } from '../errors.js'
import { addCounters, STORE_COUNTER_NAMES, storedCounters, zeroCounters, type MutableCounters } from './counters.js'
import type { RedisConnection } from './redis-connection.js'
import { statsKey } from './redis-layout.js'
import type { StoreCounters } from './types.js'

/** How long counts are buffered before one MULTI of HINCRBY adds them to the stats hash. */
export const FLUSH_INTERVAL_MS = 1000

export interface RedisCountersOptions {
  readonly clock: Clock
  /** Receives each failed flush (a StoreError for operation `flush`); must not throw. */
  readonly onFailure: (error: CacheError) => void
}

export class RedisCounters {
  readonly #connection: RedisConnection
  readonly #key: string
  readonly #clock: Clock
  readonly #onFailure: (error: CacheError) => void
  #pending: MutableCounters = zeroCounters()
  #cancel: CancelTimer | undefined
  #stopped = false

  constructor(connection: RedisConnection, namespace: string, options: RedisCountersOptions) {
    this.#connection = connection
    this.#key = statsKey(namespace)
    this.#clock = options.clock
    this.#onFailure = options.onFailure
  }

  /** Adds `delta`'s `names` fields (see addCounters); ignored once stopped by the last flush. */
  add(delta: Partial<StoreCounters>, names?: readonly (keyof StoreCounters)[]): void {
    if (!this.#stopped && addCounters(this.#pending, delta, names)) this.#arm()
  }

  /** The stats hash (every process's flushed counts) plus this process's counts not flushed yet. */
  async read(): Promise<MutableCounters> {
    const stored = await this.#connection.runBounded('stats', (redis) => redis.hGetAll(this.#key))
    return storedCounters(stored, this.#pending)
  }

  /** Drops the unflushed counts and deletes the stats hash (the store's clear()). */
  async clear(): Promise<void> {
    this.#pending = zeroCounters()
    await this.#connection.runBounded('clear', (redis) => redis.unlink([this.#key]))
  }

  /**
   * Sends the pending counts now; `last` stops counting first (close()). Never rejects: a failure
   * goes to `onFailure`, and its counts wait for the next flush unless this was the last one.
   */
  async flush(last = false): Promise<void> {
    if (last) this.#stopped = true
    this.#cancel?.()
    this.#cancel = undefined
    const taken = this.#pending
    const names = STORE_COUNTER_NAMES.filter((name) => taken[name] !== 0)
    if (names.length === 0) return
    this.#pending = zeroCounters()
    try {
      await this.#connection.run('flush', async (redis) => {
        const batch = redis.batch()
        for (const name of names) batch.hIncrBy(this.#key, name, taken[name])
        await batch.exec()
      })
    } catch (error) {
      addCounters(this.#pending, taken, STORE_COUNTER_NAMES)
      if (!this.#stopped) this.#arm()
      this.#fail(error)
    }
  }

  #arm(): void {
    if (this.#cancel !== undefined) return
    this.#cancel = this.#clock.setTimer(FLUSH_INTERVAL_MS, () => {
      this.#cancel = undefined
      this.flush().catch((error: unknown) => this.#fail(error))
    })
  }

  #fail(error: unknown): void {
    try {
      this.#onFailure(error instanceof CacheError ? error : new StoreError('flush', { cause: error }))
    } catch {
      // onFailure must not throw; a flush runs off any call, so there is no caller to hand this to.
    }
  }
}
