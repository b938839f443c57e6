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
