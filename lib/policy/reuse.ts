/**
 * May a stored response be used for this request, and how (RFC 9111 §4, §4.2, §4.2.4, §5.2.1; RFC 5861)?
 *
 * `s-maxage` and `proxy-revalidate` bind shared caches only (§5.2.2.10, §5.2.2.8): a private cache
 * (`type: 'private'`) ignores them. `immutable` (RFC 8246) needs nothing beyond freshness: it only asks
 * a cache not to revalidate a fresh response on a user's reload, and a fresh response is served as is anyway.
 */
import { currentAge, type StoredEntry } from '../entry.js'
import { hasValidator } from './conditional.js'
import type { RequestDirectives, ResponseDirectives } from './directives.js'

/**
 * The user's stale windows and the cache type. Response directives reach these functions already
 * gated by `cacheControl` (directives.ts effectiveResponseDirectives): with it off they constrain
 * nothing, and the stored lifetime, these windows and the request's own directives decide.
 */
export interface ReuseOptions {
  /** Seconds past staleness in which stale-while-revalidate applies from the user's option (0 off, Infinity for `true`). */
  readonly staleWhileRevalidate: number
  /** Same for stale-if-error. */
  readonly staleIfError: number
  /** The user's alwaysRevalidate: a fresh response with a validator is validated before every use. */
  readonly alwaysRevalidate: boolean
  /** A shared cache (`type: 'shared'`): proxy-revalidate and s-maxage bind it. */
  readonly shared: boolean
}

/**
 * Whether a stale response may never be served without validation (§4.2.4): must-revalidate
 * (§5.2.2.2), and in a shared cache also proxy-revalidate (§5.2.2.8) and s-maxage, which implies it
 * (§5.2.2.10).
 */
export function staleUseForbidden(responseDirectives: ResponseDirectives, opts: Pick<ReuseOptions, 'shared'>): boolean {
  if (responseDirectives.mustRevalidate) return true
  return opts.shared && (responseDirectives.proxyRevalidate || responseDirectives.sMaxAge !== undefined)
}

export type RevalidateReason =
  | 'stale'
  | 'no-cache-response'
  | 'no-cache-request'
  | 'max-age-request'
  | 'min-fresh-request'
  | 'invalid-freshness'
  | 'always-revalidate'

export type Decision =
  /** Serve the stored response as is. `ttl` = lifetime − age in seconds; negative when stale and served because request `max-stale` (or `only-if-cached` within a stale-while-revalidate window) allowed it. */
  | { readonly kind: 'hit'; readonly age: number; readonly ttl: number; readonly stale: boolean }
  /** Serve the stale response now and revalidate it in the background (RFC 5861 §3). */
  | { readonly kind: 'stale-while-revalidate'; readonly age: number; readonly ttl: number }
  /** Send a conditional request first (§4.3). */
  | { readonly kind: 'revalidate'; readonly age: number; readonly reason: RevalidateReason }
  /** `only-if-cached` and nothing usable is stored (§5.2.1.7). */
  | { readonly kind: 'gateway-timeout' }

type Entry = Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime' | 'method' | 'headers'>

/** Unqualified `no-cache` only: qualified field names were stripped at store time and constrain nothing more. */
export function hasUnqualifiedNoCache(responseDirectives: ResponseDirectives): boolean {
  return responseDirectives.noCache === true
}

/** Whether the user's alwaysRevalidate applies to `entry`: it has a validator and is not immutable (see decide). */
function alwaysRevalidates(entry: Pick<StoredEntry, 'method' | 'headers'>, responseDirectives: ResponseDirectives, opts: Pick<ReuseOptions, 'alwaysRevalidate'>): boolean {
  return opts.alwaysRevalidate && !responseDirectives.immutable && hasValidator(entry)
}

/**
 * Whether `entry` is validated before every use, fresh or not (only-if-cached requests aside): it says
 * `no-cache` (§5.2.2.4), or alwaysRevalidate applies to it. Its freshness then decides nothing.
 */
export function validatedOnEveryUse(entry: Pick<StoredEntry, 'method' | 'headers'>, responseDirectives: ResponseDirectives, opts: Pick<ReuseOptions, 'alwaysRevalidate'>): boolean {
  return hasUnqualifiedNoCache(responseDirectives) || alwaysRevalidates(entry, responseDirectives, opts)
}

/**
 * §4.2.1: a response whose freshness directives are invalid or conflicting may be treated as stale; we
 * give it no freshness at all, so its staleness counts from the moment it was generated.
 */
export function effectiveLifetime(entry: Pick<StoredEntry, 'lifetime'>, responseDirectives: ResponseDirectives): number {
  return responseDirectives.invalid ? 0 : entry.lifetime
}

export function decide(entry: Entry, responseDirectives: ResponseDirectives, requestDirectives: RequestDirectives, opts: ReuseOptions, now: number): Decision {
  const age = currentAge(entry, now)
  const lifetime = effectiveLifetime(entry, responseDirectives)
  const ttl = lifetime - age
  const revalidate = (reason: RevalidateReason): Decision =>
    // §5.2.1.7: only-if-cached never contacts the origin; what would need it becomes a 504.
    requestDirectives.onlyIfCached ? { kind: 'gateway-timeout' } : { kind: 'revalidate', age, reason }

  // §5.2.2.4: an unqualified response no-cache forbids any use without successful validation, fresh or not.
  if (hasUnqualifiedNoCache(responseDirectives)) return revalidate('no-cache-response')
  // §5.2.1.4: the client asks that no stored response be used without validation.
  if (requestDirectives.noCache) return revalidate('no-cache-request')
  // §5.2.1.1: the client does not want a response older than max-age seconds.
  if (requestDirectives.maxAge !== undefined && age > requestDirectives.maxAge) return revalidate('max-age-request')

  // §4.2: fresh while age < lifetime, so age == lifetime is already stale.
  if (ttl > 0) {
    // §5.2.1.3: the response must stay fresh for at least min-fresh more seconds.
    if (requestDirectives.minFresh !== undefined && ttl < requestDirectives.minFresh) return revalidate('min-fresh-request')
    // The user's alwaysRevalidate (requests-cache's always_revalidate): a fresh response is validated
    // before use when it can be (§4.3.1), except where that is pointless (immutable, RFC 8246 §2) or
    // forbidden (only-if-cached, §5.2.1.7). A stale one follows the rules below, its windows included.
    if (alwaysRevalidates(entry, responseDirectives, opts) && !requestDirectives.onlyIfCached) return revalidate('always-revalidate')
    return { kind: 'hit', age, ttl, stale: false }
  }

  const staleReason: RevalidateReason = responseDirectives.invalid ? 'invalid-freshness' : 'stale'
  const staleness = -ttl
  // §5.2.2.2, §5.2.2.8, §4.2.4: must-revalidate (and proxy-revalidate / s-maxage in a shared cache)
  // forbid serving it stale under any allowance (max-stale, swr, sie).
  if (staleUseForbidden(responseDirectives, opts)) return revalidate(staleReason)
  // §5.2.1.3: min-fresh asks for a response fresh for some time yet, which a stale one never is; it
  // outweighs max-stale and stale-while-revalidate (the client's stricter wish wins).
  if (requestDirectives.minFresh !== undefined) return revalidate(staleReason)
  // §5.2.1.2: the client accepts staleness up to max-stale seconds (Infinity for a bare max-stale).
  if (requestDirectives.maxStale !== undefined && staleness <= requestDirectives.maxStale) return { kind: 'hit', age, ttl, stale: true }
  // RFC 5861 §3: served stale for up to the window while a background request revalidates it.
  const swrSeconds = swrWindow(responseDirectives, opts)
  if (swrSeconds > 0 && staleness <= swrSeconds) {
    // §5.2.1.7 with RFC 5861 §3: only-if-cached forbids the background request but not the stale
    // response the origin allowed, so it is a stale hit with nothing fetched.
    if (requestDirectives.onlyIfCached) return { kind: 'hit', age, ttl, stale: true }
    return { kind: 'stale-while-revalidate', age, ttl }
  }
  return revalidate(staleReason)
}

/** What a request for which nothing is stored does: forward it, or a 504 under only-if-cached (§5.2.1.7). */
export function decideWithoutEntry(requestDirectives: RequestDirectives): 'miss' | 'gateway-timeout' {
  return requestDirectives.onlyIfCached ? 'gateway-timeout' : 'miss'
}

/**
 * Seconds past staleness in which a stored response may still be served (stale-while-revalidate or
 * stale-if-error, from the response or the options), to size a store TTL. 0 when the response forbids
 * stale use (§4.2.4: must-revalidate and its shared-cache kin, no-cache). Request `max-stale` / `stale-if-error` are unknown at
 * store time and not counted. May be Infinity.
 */
export function staleWindow(responseDirectives: ResponseDirectives, opts: ReuseOptions): number {
  if (staleUseForbidden(responseDirectives, opts) || hasUnqualifiedNoCache(responseDirectives)) return 0
  return Math.max(swrWindow(responseDirectives, opts), responseDirectives.staleIfError ?? 0, opts.staleIfError)
}

/** RFC 5861 §3 window: the larger of the response's directive and the user's option. */
function swrWindow(responseDirectives: ResponseDirectives, opts: ReuseOptions): number {
  return Math.max(responseDirectives.staleWhileRevalidate ?? 0, opts.staleWhileRevalidate)
}
