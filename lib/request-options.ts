/**
 * Control over one request without rebuilding the dispatcher: the `cache` dispatch option, which
 * undici's `request`, `stream` and `pipeline` pass through to the interceptor, and for `fetch` (which
 * cannot pass dispatch options) a request header carrying the mode, read and removed before anything
 * reaches the origin. Resolved once per request, at dispatch; a bad value is an InvalidOptionError.
 */
import { InvalidOptionError } from './errors.js'
import { staleWindowSeconds } from './option-checks.js'
import type { HeaderRecord } from './headers.js'
import { fieldValue } from './headers.js'
import type { CacheMode } from './policy/cache-mode.js'
import { toExpiration, type Expiration } from './policy/expire-after.js'
import { isTag, MAX_TAG_LENGTH, MAX_TAGS } from './policy/tags.js'
import type { ExpireAfter } from './options.js'

export type { CacheMode } from './policy/cache-mode.js'

/** What happened to one request, for the `onOutcome` callback. */
export interface CacheOutcomeInfo {
  /**
   * `hit`: served fresh from the cache; `stale`: served stale (stale-while-revalidate, stale-if-error,
   * max-stale, force-cache / only-if-cached); `revalidated`: the origin confirmed the stored response
   * (304); `miss`: the origin's response was passed on; `bypass`: the cache stayed out of the way.
   */
  readonly outcome: 'hit' | 'stale' | 'revalidated' | 'miss' | 'bypass'
  /** The store id of the entry (as `Cache-Status`'s `key`), or undefined for a bypass. */
  readonly key: string | undefined
  /** When the served response was received from the origin, for a response served from the cache. */
  readonly storedAt: Date | undefined
  /** When the served or stored response goes stale; null when it never does; undefined when unknown. */
  readonly expiresAt: Date | null | undefined
  /** Whether this response is being stored (the decision at response start; the write is reported to onError if it fails). */
  readonly stored: boolean
}

/** The `cache` dispatch option: `request(url, { dispatcher, cache: { mode: 'reload' } })`. */
export interface RequestCacheOptions {
  /** @default 'default' */
  readonly mode?: CacheMode
  /** Lifetime for this response, over the cache-wide and URL settings (as `expireAfter` there). */
  readonly expireAfter?: ExpireAfter
  /** Stale-if-error window for this request, over the cache-wide setting (as `staleIfError` there). */
  readonly staleIfError?: boolean | number
  /** Stale-while-revalidate window for this request (as `staleWhileRevalidate` there). */
  readonly staleWhileRevalidate?: boolean | number
  /**
   * Tags to file the stored response under, beside those of the cache's `tagsHeader`, so that
   * `store.deleteTags()` drops it: at most 32 tags of at most 128 characters, without whitespace,
   * commas or control characters.
   */
  readonly tags?: readonly string[]
  /** Called once per request, when its outcome is known (at response start); must not throw. */
  readonly onOutcome?: (info: CacheOutcomeInfo) => void
}

/**
 * The request header fetch callers set to choose a mode: `fetch(url, { headers: { 'x-undici-cache-mode':
 * 'reload' } })`. The cache removes it before the request goes anywhere.
 */
export const CACHE_MODE_HEADER = 'x-undici-cache-mode' as const

export interface ResolvedRequestOptions {
  readonly mode: CacheMode
  /** Overrides the user's expiration settings for this response; undefined when not given. */
  readonly expireAfter: Expiration | undefined
  /** Seconds (Infinity for true); undefined when not given. */
  readonly staleIfError: number | undefined
  readonly staleWhileRevalidate: number | undefined
  readonly tags: readonly string[]
  readonly onOutcome: ((info: CacheOutcomeInfo) => void) | undefined
}

export const DEFAULT_REQUEST_OPTIONS: ResolvedRequestOptions = Object.freeze({
  mode: 'default',
  expireAfter: undefined,
  staleIfError: undefined,
  staleWhileRevalidate: undefined,
  tags: Object.freeze([]),
  onOutcome: undefined,
})

const MODES: ReadonlySet<string> = new Set(['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached'])
const KEYS: ReadonlySet<string> = new Set(['mode', 'expireAfter', 'staleIfError', 'staleWhileRevalidate', 'tags', 'onOutcome'] satisfies (keyof RequestCacheOptions)[])

/**
 * The request's `cache` option and mode header, checked. The header's mode applies when the option
 * sets none. Throws InvalidOptionError naming `cache.<key>` (or the header) for anything else.
 */
export function resolveRequestOptions(option: unknown, headers: HeaderRecord): ResolvedRequestOptions {
  const headerMode = fieldValue(headers, CACHE_MODE_HEADER)?.trim().toLowerCase()
  if (headerMode !== undefined && !MODES.has(headerMode)) throw new InvalidOptionError(CACHE_MODE_HEADER, `one of ${[...MODES].join(', ')}`, headerMode)
  if (option === undefined || option === null) {
    return headerMode === undefined ? DEFAULT_REQUEST_OPTIONS : { ...DEFAULT_REQUEST_OPTIONS, mode: headerMode as CacheMode }
  }
  if (typeof option !== 'object' || Array.isArray(option)) throw new InvalidOptionError('cache', 'an object of per-request cache options', option)
  const raw = option as Readonly<Record<string, unknown>>
  for (const name of Object.keys(raw)) {
    if (!KEYS.has(name)) throw new InvalidOptionError(`cache.${name}`, `one of the per-request options (${[...KEYS].join(', ')})`, name)
  }
  const mode = raw['mode'] ?? headerMode ?? 'default'
  if (typeof mode !== 'string' || !MODES.has(mode)) throw new InvalidOptionError('cache.mode', `one of ${[...MODES].join(', ')}`, mode)
  const onOutcome = raw['onOutcome']
  if (onOutcome !== undefined && typeof onOutcome !== 'function') throw new InvalidOptionError('cache.onOutcome', 'a function', onOutcome)
  return {
    mode: mode as CacheMode,
    expireAfter: raw['expireAfter'] === undefined ? undefined : toExpiration(raw['expireAfter'], 'cache.expireAfter'),
    staleIfError: windowSeconds(raw['staleIfError'], 'cache.staleIfError'),
    staleWhileRevalidate: windowSeconds(raw['staleWhileRevalidate'], 'cache.staleWhileRevalidate'),
    tags: tags(raw['tags']),
    onOutcome: onOutcome as ResolvedRequestOptions['onOutcome'],
  }
}

/**
 * Typed construction of the option for TypeScript callers: undici's own option types do not know
 * `cache`, so `request(url, { dispatcher, ...cacheOption({ mode: 'reload' }) })` checks it at compile
 * time where `request(url, { dispatcher, cache: {...} })` would be refused as an unknown property.
 */
export function cacheOption(options: RequestCacheOptions): { readonly cache: RequestCacheOptions } {
  return { cache: options }
}

function windowSeconds(value: unknown, option: string): number | undefined {
  return value === undefined ? undefined : staleWindowSeconds(value, option)
}

function tags(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_REQUEST_OPTIONS.tags
  const expected = `an array of at most ${MAX_TAGS} tags of 1 to ${MAX_TAG_LENGTH} characters without whitespace, commas or control characters`
  if (!Array.isArray(value) || value.length > MAX_TAGS) throw new InvalidOptionError('cache.tags', expected, value)
  for (const tag of value) {
    if (!isTag(tag)) throw new InvalidOptionError('cache.tags', expected, value)
  }
  return Object.freeze([...new Set(value as string[])])
}
