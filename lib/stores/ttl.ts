/**
 * The expiry rule both stores share, so MemoryStore and RedisStore expire a value at the same moment.
 */
import { InvalidOptionError, StoreError } from '../errors.js'

export interface TtlSettings {
  readonly ttl: boolean
  /** `ttlOffset` converted to milliseconds. */
  readonly ttlOffsetMs: number
}

/**
 * Seconds a value outlives its usefulness by default: room to revalidate a stale entry with its
 * validators instead of fetching it whole (requests-cache's RedisCache uses the same hour).
 */
export const DEFAULT_TTL_OFFSET = 3600

/** Validates the `ttl` and `ttlOffset` options common to both stores. */
export function resolveTtlSettings(options: { readonly ttl?: unknown; readonly ttlOffset?: unknown }): TtlSettings {
  const { ttl = true, ttlOffset = DEFAULT_TTL_OFFSET } = options
  if (typeof ttl !== 'boolean') throw new InvalidOptionError('ttl', 'a boolean', ttl)
  if (typeof ttlOffset !== 'number' || !Number.isFinite(ttlOffset) || ttlOffset < 0) {
    throw new InvalidOptionError('ttlOffset', 'a finite number of seconds >= 0', ttlOffset)
  }
  return { ttl, ttlOffsetMs: ttlOffset * 1000 }
}

/**
 * What a store does with one write:
 * - `keep`: store without expiry (ttl off, no lifetime given, or one too large for Redis' PX);
 * - `expire`: store with a whole number of milliseconds left, always > 0;
 * - `drop`: the value is already useless; store nothing and delete what the id held, since an older
 *   value must not outlive the response that replaced it.
 */
export type WritePlan = { readonly kind: 'keep' } | { readonly kind: 'expire'; readonly ms: number } | { readonly kind: 'drop' }

const KEEP: WritePlan = { kind: 'keep' }
const DROP: WritePlan = { kind: 'drop' }

export function planWrite(settings: TtlSettings, ttlMs: number | undefined): WritePlan {
  if (!settings.ttl || ttlMs === undefined) return KEEP
  if (Number.isNaN(ttlMs)) throw new StoreError('set', { cause: new RangeError('a write came with ttlMs NaN') })
  // Rounded up so a sub-millisecond remainder still stores the value rather than dropping it.
  const ms = Math.ceil(ttlMs + settings.ttlOffsetMs)
  if (ms <= 0) return DROP
  if (ms > Number.MAX_SAFE_INTEGER) return KEEP
  return { kind: 'expire', ms }
}
