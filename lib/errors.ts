/**
 * Every error this package raises or reports is a CacheError with a stable `code`. The brand is a
 * registered symbol, so `instanceof` still works when two copies of the package are installed
 * (undici lib/core/errors.js does the same).
 */
const kCacheError = Symbol.for('undici-redis-cache.error')

export class CacheError extends Error {
  override name: string = 'CacheError'
  readonly code: string = 'URC_ERR_CACHE'

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }

  /** The code every instance of this class carries; the brand check below compares it. */
  static readonly code: string = 'URC_ERR_CACHE'

  static override [Symbol.hasInstance](instance: unknown): boolean {
    if (typeof instance !== 'object' || instance === null) return false
    const branded = instance as { [kCacheError]?: unknown; code?: unknown }
    if (branded[kCacheError] !== true) return false
    return this === CacheError || branded.code === this.code
  }

  get [kCacheError](): true {
    return true
  }
}

/** An option given to `cache()`, `RedisStore` or `MemoryStore` has the wrong type or value. */
export class InvalidOptionError extends CacheError {
  static override readonly code = 'URC_ERR_INVALID_OPTION'
  override name = 'InvalidOptionError' as const
  override readonly code = 'URC_ERR_INVALID_OPTION' as const
  constructor(
    readonly option: string,
    expected: string,
    readonly received: unknown,
  ) {
    super(`expected option \`${option}\` to be ${expected}, got ${describe(received)}`)
  }
}

/** A store call failed (Redis error, closed client, full memory). Reported to `onError`; never thrown to callers of fetch. */
export class StoreError extends CacheError {
  static override readonly code = 'URC_ERR_STORE'
  override name = 'StoreError' as const
  override readonly code = 'URC_ERR_STORE' as const
  constructor(
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(`cache store ${operation} failed${causeText(options?.cause)}`, options)
  }
}

/** A store call did not settle within `commandTimeout`. */
export class StoreTimeoutError extends CacheError {
  static override readonly code = 'URC_ERR_STORE_TIMEOUT'
  override name = 'StoreTimeoutError' as const
  override readonly code = 'URC_ERR_STORE_TIMEOUT' as const
  constructor(
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`cache store ${operation} did not answer within ${timeoutMs} ms`)
  }
}

/** The circuit breaker is open: the store failed repeatedly and is skipped until the cooldown ends. */
export class StoreUnavailableError extends CacheError {
  static override readonly code = 'URC_ERR_STORE_UNAVAILABLE'
  override name = 'StoreUnavailableError' as const
  override readonly code = 'URC_ERR_STORE_UNAVAILABLE' as const
  constructor(readonly retryAt: number) {
    super(`cache store skipped after repeated failures; next probe at ${new Date(retryAt).toISOString()}`)
  }
}

/** A stored value could not be decoded or failed validation; it is treated as a miss and deleted. */
export class CorruptEntryError extends CacheError {
  static override readonly code = 'URC_ERR_CORRUPT_ENTRY'
  override name = 'CorruptEntryError' as const
  override readonly code = 'URC_ERR_CORRUPT_ENTRY' as const
  constructor(
    readonly id: string,
    readonly reason: string,
  ) {
    super(`stored entry ${id} is unreadable: ${reason}`)
  }
}

/** The user's `key` function threw or returned something other than a string; callers bypass the cache. */
export class KeyFunctionError extends CacheError {
  static override readonly code = 'URC_ERR_KEY_FUNCTION'
  override name = 'KeyFunctionError' as const
  override readonly code = 'URC_ERR_KEY_FUNCTION' as const
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`the \`key\` function failed: ${reason}`, options)
  }
}

/** encodeRecord was given a record that decodeRecord would refuse; storing it would only produce misses. */
export class InvalidEntryError extends CacheError {
  static override readonly code = 'URC_ERR_INVALID_ENTRY'
  override name = 'InvalidEntryError' as const
  override readonly code = 'URC_ERR_INVALID_ENTRY' as const
  constructor(readonly reason: string) {
    super(`cannot encode entry: ${reason}`)
  }
}

/**
 * A stored body could not be read after its response started (Redis went away, a chunk failed its
 * checksum) and the origin could not supply the rest: the caller's response ends with this error, never
 * with spliced or missing bytes.
 */
export class BodyReadError extends CacheError {
  static override readonly code = 'URC_ERR_BODY_READ'
  override name = 'BodyReadError' as const
  override readonly code = 'URC_ERR_BODY_READ' as const
  constructor(
    /** Bytes of the body the caller had received. */
    readonly offset: number,
    /** The status the origin answered the request for the rest with, when one was sent. */
    readonly originStatus?: number,
  ) {
    super(
      originStatus === undefined
        ? `a stored body chunk could not be read at byte ${offset}; response aborted`
        : `the stored body broke at byte ${offset} and the origin could not supply the rest (status ${originStatus})`,
    )
  }
}

/**
 * A write held a value larger than the store accepts (MemoryStore: over `maxEntrySize`, or one call
 * over `maxSize`), so the store wrote nothing of it. The cache had already decided to store the
 * response (`Cache-Status: stored`); this is how the failed commit reaches `onError`.
 */
export class ValueTooLargeError extends CacheError {
  static override readonly code = 'URC_ERR_VALUE_TOO_LARGE'
  override name = 'ValueTooLargeError' as const
  override readonly code = 'URC_ERR_VALUE_TOO_LARGE' as const
  constructor(
    /** The id of the largest value, or of the whole call when only the sum was over `limit`. */
    readonly id: string,
    /** Bytes of that value (or of the whole call). */
    readonly size: number,
    /** The store's limit it went over, in bytes. */
    readonly limit: number,
    /** Which limit: the store option's name. */
    readonly option: 'maxEntrySize' | 'maxSize',
  ) {
    super(`cache store set failed: ${size} bytes at ${id} exceed the store's ${option} of ${limit} bytes; nothing was written`)
  }
}

/**
 * A request reached the cache without its origin: the cache was composed onto an undici 7 Client or
 * Pool, whose dispatch options carry only the path. Compose it onto an Agent, or use undici 8, which
 * hands the interceptor its Client's or Pool's origin.
 */
export class MissingOriginError extends CacheError {
  static override readonly code = 'URC_ERR_MISSING_ORIGIN'
  override name = 'MissingOriginError' as const
  override readonly code = 'URC_ERR_MISSING_ORIGIN' as const
  constructor() {
    super('the request has no origin: compose cache() onto an Agent (new Agent().compose(cache())); undici 7 does not tell an interceptor on a Client or Pool its origin (undici 8 does)')
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `array ${JSON.stringify(value).slice(0, 80)}`
  if (typeof value === 'string') return `string ${JSON.stringify(value.slice(0, 80))}`
  if (typeof value === 'object') return 'object'
  return `${typeof value} ${String(value)}`
}

function causeText(cause: unknown): string {
  return cause instanceof Error ? `: ${cause.message}` : ''
}

/**
 * The write breaker is open: writes failed repeatedly (Redis at `maxmemory` under `noeviction` refuses
 * them with OOM) and are skipped until the cooldown ends. Reads go on: stored entries are still served.
 */
export class StoreWritesUnavailableError extends CacheError {
  static override readonly code = 'URC_ERR_STORE_WRITES_UNAVAILABLE'
  override name = 'StoreWritesUnavailableError' as const
  override readonly code = 'URC_ERR_STORE_WRITES_UNAVAILABLE' as const
  constructor(readonly retryAt: number) {
    super(`cache store writes skipped after repeated write failures (reads go on); next write probe at ${new Date(retryAt).toISOString()}`)
  }
}
