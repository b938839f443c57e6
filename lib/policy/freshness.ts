/**
 * Freshness lifetime (RFC 9111 §4.2.1), heuristic freshness (§4.2.2) and the age a response arrives with
 * (§4.2.3), for a shared or a private cache. Times are epoch ms in, seconds out.
 */
import { fieldLines, fieldValue, splitList } from '../headers.js'
import type { CacheResponse } from '../http.js'
import { MAX_DELTA_SECONDS, parseDeltaSeconds, type ResponseDirectives } from './directives.js'
import type { Expiration } from './expire-after.js'
import { parseHttpDate } from './http-date.js'

/** Status codes defined as heuristically cacheable (RFC 9110 §15.1). */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([
  200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
])

/**
 * RFC 9111 §4.2.2 suggests 10% of the time since Last-Modified. The cap keeps a years-old document from
 * being served for weeks unchecked when its origin said nothing about freshness: a day bounds how long a
 * guess can outlive a change.
 */
export const HEURISTIC_FRACTION = 0.1
export const HEURISTIC_MAX_SECONDS = 86400

/**
 * The explicit freshness lifetime in seconds, or undefined when the response gives none (§4.2.1).
 * `responseTime` stands in for a missing `Date` (RFC 9110 §6.6.1).
 */
export function explicitLifetime(res: CacheResponse, directives: ResponseDirectives, responseTime: number, shared: boolean): number | undefined {
  // §4.2.1: a cache may treat duplicate or invalid freshness information as stale.
  if (directives.invalid) return 0
  // §4.2.1, §5.2.2.10: in a shared cache s-maxage comes first, over max-age and Expires; a private
  // cache ignores it.
  if (shared && directives.sMaxAge !== undefined) return directives.sMaxAge
  if (directives.maxAge !== undefined) return directives.maxAge
  const expires = fieldLines(res.headers, 'expires')
  if (expires.length === 0) return undefined
  // §4.2.1: several Expires lines, the cache may treat the response as stale.
  if (expires.length > 1) return 0
  const expiresAt = parseHttpDate(expires[0], responseTime)
  // §5.3: "A cache recipient MUST interpret invalid date formats, especially the value "0", as
  // representing a time in the past"; an HTTP-date in none of RFC 9110 §5.6.7's three forms is invalid.
  if (expiresAt === undefined) return 0
  return Math.max(0, (expiresAt - dateValue(res, responseTime)) / 1000)
}

/**
 * A heuristic lifetime in seconds (§4.2.2), or undefined where heuristics are not allowed: an explicit
 * lifetime is present, the status is not heuristically cacheable and `public` is absent, or there is no
 * usable `Last-Modified` earlier than `Date`.
 */
export function heuristicLifetime(res: CacheResponse, directives: ResponseDirectives, responseTime: number, shared: boolean): number | undefined {
  // §4.2.2: a cache MUST NOT use heuristics when an explicit expiration time is present.
  if (explicitLifetime(res, directives, responseTime, shared) !== undefined) return undefined
  // §4.2.2 via §3: only for heuristically cacheable statuses, or responses marked public.
  if (!HEURISTICALLY_CACHEABLE.has(res.status) && !directives.public) return undefined
  const lastModifiedLines = fieldLines(res.headers, 'last-modified')
  if (lastModifiedLines.length !== 1) return undefined
  const lastModified = parseHttpDate(lastModifiedLines[0], responseTime)
  if (lastModified === undefined) return undefined
  const sinceModified = (dateValue(res, responseTime) - lastModified) / 1000
  if (sinceModified <= 0) return undefined
  return Math.min(sinceModified * HEURISTIC_FRACTION, HEURISTIC_MAX_SECONDS)
}

/**
 * `corrected_initial_age` in seconds (§4.2.3): the larger of the apparent age (response_time − Date) and
 * the Age header plus the time the request spent in flight, which errs toward older.
 */
export function correctedInitialAge(res: CacheResponse, requestTime: number, responseTime: number): number {
  const apparentAge = Math.max(0, responseTime - dateValue(res, responseTime)) / 1000
  const responseDelay = Math.max(0, responseTime - requestTime) / 1000
  const correctedAgeValue = ageValue(res) + responseDelay
  return Math.max(apparentAge, correctedAgeValue)
}

export type Lifetime = { readonly kind: 'store'; readonly lifetime: number } | { readonly kind: 'do-not-cache' }

/**
 * The lifetime a new response is stored with. Precedence:
 * 1. the user's `do-not-cache` (`false` / `-1`), always: an operator who says "never cache this URL" is
 *    making a safety choice that no response header may override;
 * 2. with `cacheControl`: the explicit lifetime (§4.2.1), then the user's expiration (`'never'` is
 *    Infinity), then the heuristic (§4.2.2), then 0 (stored stale, reusable only after validation);
 * 3. without `cacheControl`: the user's expiration, else Infinity (requests-cache's default is to never
 *    expire).
 */
export function decideLifetime(input: {
  res: CacheResponse
  directives: ResponseDirectives
  responseTime: number
  cacheControl: boolean
  user: Expiration | undefined
  /** A shared cache: s-maxage counts (§5.2.2.10). */
  shared: boolean
}): Lifetime {
  const { res, directives, responseTime, cacheControl, user, shared } = input
  if (user?.kind === 'do-not-cache') return { kind: 'do-not-cache' }
  if (!cacheControl) return store(user === undefined ? Infinity : userSeconds(user))
  const explicit = explicitLifetime(res, directives, responseTime, shared)
  if (explicit !== undefined) return store(explicit)
  if (user !== undefined) return store(userSeconds(user))
  return store(heuristicLifetime(res, directives, responseTime, shared) ?? 0)
}

function store(lifetime: number): Lifetime {
  return { kind: 'store', lifetime }
}

function userSeconds(user: Exclude<Expiration, { kind: 'do-not-cache' }>): number {
  return user.kind === 'never' ? Infinity : user.seconds
}

/**
 * `date_value` (§4.2.3): the Date header, or the time the response arrived when Date is absent or
 * invalid (RFC 9110 §6.6.1: a recipient "MAY replace that value with the time that response was
 * received"). The arrival time also resolves an RFC 850 two-digit year (RFC 9110 §5.6.7).
 */
function dateValue(res: CacheResponse, responseTime: number): number {
  return parseHttpDate(fieldValue(res.headers, 'date'), responseTime) ?? responseTime
}

/**
 * `age_value` (§4.2.3) from the Age field (§5.1), in seconds; 0 when absent or ignored:
 * - "a cache encountering a message with a list-based Age field value SHOULD use the first member of the
 *   field value, discarding subsequent ones": `Age: 7200, 0` and `Age: 7200` + `Age: 0` are 7200. The
 *   lines of a field are one list (RFC 9110 §5.3), and empty members do not count (RFC 9110 §5.6.1).
 * - "If the field value (after discarding additional members, as per above) is invalid (e.g., it
 *   contains something other than a non-negative integer), a cache SHOULD ignore the field": `-1`,
 *   `7200.0` and `7200;foo=bar` (Age defines no parameters) are ignored, not read as 7200.
 * - §1.2.2: a value too large to represent is 2147483648.
 */
function ageValue(res: CacheResponse): number {
  const value = fieldValue(res.headers, 'age')
  const age = parseDeltaSeconds(value === undefined ? undefined : splitList(value)[0])
  return age < 0 ? 0 : Math.min(age, MAX_DELTA_SECONDS)
}
