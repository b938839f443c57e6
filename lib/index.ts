/**
 * The public surface, named one by one. Internal modules (policy/, key, codec, storage, flows, handlers) are
 * not exported: their shapes may change without a major version.
 */
export { cache, type CacheInterceptor } from './interceptor.js'
export { cacheOption, CACHE_MODE_HEADER, type CacheMode, type CacheOutcomeInfo, type RequestCacheOptions } from './request-options.js'
export { RedisStore, type RedisStoreOptions, type LocalTierStats } from './stores/redis-store.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store.js'
export { toUndiciCacheStore, type UndiciStoreOptions } from './undici-store.js'
// What a third-party CacheStore needs to implement the admin half of the contract over its own walk.
export { StoreAdmin, type AdminSource, type HeadRead, type ValueHead, type IndexedId, type IndexQuery, type Unindexed } from './stores/admin.js'
export { systemClock, type Clock, type CancelTimer } from './clock.js'
export {
  CacheError,
  InvalidOptionError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  CorruptEntryError,
  BodyReadError,
  KeyFunctionError,
  InvalidEntryError,
  ValueTooLargeError,
  MissingOriginError,
  StoreWritesUnavailableError,
} from './errors.js'
export { channels } from './diagnostics.js'
export type { CacheOptions, ExpireAfter } from './options.js'
export type { CacheStore, CacheCounters, StoreCounters, StoreWrite, IndexFields, StoreStats, StoreEntryInfo, EntryInfo, DeleteOptions } from './stores/types.js'
export type { CacheRequest, CacheResponse } from './http.js'
export type { StoredEntry, VaryPointer, StoredRecord, VaryValues } from './entry.js'
export type { HeaderRecord } from './headers.js'
