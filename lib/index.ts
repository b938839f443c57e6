/**
 * The public surface, named one by one. Internal modules (policy/, key, codec, entries, handlers) are
 * not exported: their shapes may change without a major version.
 */
export { cache } from './interceptor.js'
export { RedisStore, type RedisStoreOptions } from './stores/redis-store.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory-store.js'
export {
  CacheError,
  InvalidOptionError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  CorruptEntryError,
  InvalidRequestError,
  KeyFunctionError,
  InvalidEntryError,
} from './errors.js'
export { channels } from './diagnostics.js'
export type { CacheOptions, ExpireAfter } from './options.js'
export type { CacheStore, CacheCounters, StoreWrite, StoreStats, StoreEntryInfo } from './stores/types.js'
export type { EntryInfo, DeleteOptions } from './stores/admin.js'
export type { CacheRequest, CacheResponse } from './message.js'
export type { StoredEntry, VaryPointer, StoredRecord, VaryValues } from './entry.js'
export type { HeaderRecord } from './headers.js'
