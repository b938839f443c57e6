/**
 * The `store` option (options.ts): a CacheStore as given, or one made for the `'memory'` and
 * `'redis'` aliases.
 */
import type { Clock } from './clock.js'
import { InvalidOptionError } from './errors.js'
import { MemoryStore } from './stores/memory-store.js'
import { RedisStore } from './stores/redis-store.js'
import type { CacheStore } from './stores/types.js'

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

export function resolveStore(store: CacheStore | 'memory' | 'redis' | undefined, clock: Clock): CacheStore {
  if (store === undefined || store === 'memory') return new MemoryStore({ clock })
  if (store === 'redis') {
    // An alias-created store has no owner who could close it, so it must not keep the process alive.
    return new RedisStore({ url: process.env['REDIS_URL'] ?? DEFAULT_REDIS_URL, unref: true, clock })
  }
  const candidate = store as Partial<CacheStore> | null
  if (typeof candidate === 'object' && candidate !== null && typeof candidate.get === 'function' && typeof candidate.set === 'function' && typeof candidate.remove === 'function') {
    return store
  }
  throw new InvalidOptionError('store', "a CacheStore (get, set, remove), 'memory' or 'redis'", store)
}
