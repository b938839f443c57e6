/**
 * A store that counts the calls the cache makes to it, for tests that assert what was (not) read or
 * written. It forwards everything to the real store, calling methods on the store itself so that its
 * private fields keep working.
 */
import type { CacheStore } from '../../lib/index.js'

export interface StoreCalls {
  /** get and getRange: every read of an entry. */
  reads: number
  /** set. */
  writes: number
  /** remove. */
  removes: number
}

export function spyStore(store: CacheStore): { store: CacheStore; calls: StoreCalls } {
  const calls: StoreCalls = { reads: 0, writes: 0, removes: 0 }
  const counted: Partial<Record<PropertyKey, keyof StoreCalls>> = { get: 'reads', getRange: 'reads', set: 'writes', remove: 'removes' }
  const spy = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      const counter = counted[property]
      return (...args: unknown[]) => {
        if (counter !== undefined) calls[counter]++
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return { store: spy, calls }
}
