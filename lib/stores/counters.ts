/**
 * The counters stats() reports (types.ts StoreCounters): the cache's events, reported with count(),
 * and the writes and deletes a store counts itself. One list of names serves both stores, the Redis
 * stats hash (one field per name) and the CLI's table.
 */
import type { CacheCounters, StoreCounters } from './types.js'

/** The events count() accepts, in the order stats tables print them. */
export const COUNTER_NAMES = ['hits', 'misses', 'revalidations', 'staleServed', 'errors'] as const satisfies readonly (keyof CacheCounters)[]

/** Every counter a store keeps: also the fields of RedisStore's `<namespace>:stats` hash. */
export const STORE_COUNTER_NAMES = [...COUNTER_NAMES, 'writes', 'deletes'] as const satisfies readonly (keyof StoreCounters)[]

export type MutableCounters = { -readonly [K in keyof StoreCounters]: number }

export function zeroCounters(): MutableCounters {
  return { hits: 0, misses: 0, revalidations: 0, staleServed: 0, errors: 0, writes: 0, deletes: 0 }
}

/**
 * Adds the `names` fields of `delta` into `target` and tells whether anything changed. Only safe
 * integers count; anything else (a fraction, NaN, a string, a non-object delta) is ignored, since
 * count() must never throw. count() passes COUNTER_NAMES, so a caller cannot forge writes or deletes.
 */
export function addCounters(target: MutableCounters, delta: Partial<StoreCounters>, names: readonly (keyof StoreCounters)[] = COUNTER_NAMES): boolean {
  if (typeof delta !== 'object' || delta === null) return false
  let changed = false
  for (const name of names) {
    const value = delta[name]
    if (typeof value === 'number' && Number.isSafeInteger(value) && value !== 0) {
      target[name] += value
      changed = true
    }
  }
  return changed
}

/**
 * The counters of a hash read back from Redis (HGETALL), plus `pending` (counted here, not yet
 * flushed). A field that is not a safe integer (someone edited the hash) reads as 0.
 */
export function storedCounters(stored: Readonly<Record<string, string>>, pending: Readonly<MutableCounters>): MutableCounters {
  const counters = zeroCounters()
  for (const name of STORE_COUNTER_NAMES) {
    const value = Number(stored[name] ?? 0)
    counters[name] = (Number.isSafeInteger(value) ? value : 0) + pending[name]
  }
  return counters
}

/** Sends counts in one all-or-nothing call; `names` are the fields that are not 0. */
export type SendCounters = (counts: Readonly<MutableCounters>, names: readonly (keyof StoreCounters)[]) => Promise<void>

/**
 * Counts buffered in the process and sent in one call about every `intervalMs`, so counting costs no
 * I/O on the request path. A failed send puts its counts back for the next one: `send` must be all or
 * nothing (RedisStore uses one MULTI), so nothing is counted twice, and the buffer stays seven numbers
 * however long Redis is away. The timer is unref'd and armed only while counts wait.
 */
export class CounterBuffer {
  readonly #send: SendCounters
  readonly #intervalMs: number
  #pending: MutableCounters = zeroCounters()
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(send: SendCounters, intervalMs: number) {
    this.#send = send
    this.#intervalMs = intervalMs
  }

  /** Counts not sent yet (or put back by a failed send). */
  get pending(): Readonly<MutableCounters> {
    return this.#pending
  }

  /** Adds `delta`'s `names` fields (see addCounters); ignored once stopped. */
  add(delta: Partial<StoreCounters>, names?: readonly (keyof StoreCounters)[]): void {
    if (!this.#stopped && addCounters(this.#pending, delta, names)) this.#arm()
  }

  /** Drops the pending counts (the store cleared its counters). */
  reset(): void {
    this.#pending = zeroCounters()
  }

  /** Sends the pending counts now; `last` stops the buffer first (close()). Never rejects. */
  async flush(last = false): Promise<void> {
    if (last) this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    const taken = this.#pending
    const names = STORE_COUNTER_NAMES.filter((name) => taken[name] !== 0)
    if (names.length === 0) return
    this.#pending = zeroCounters()
    try {
      await this.#send(taken, names)
    } catch {
      addCounters(this.#pending, taken, STORE_COUNTER_NAMES)
      if (!this.#stopped) this.#arm()
    }
  }

  #arm(): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => void this.flush(), this.#intervalMs)
    this.#timer.unref()
  }
}
