/**
 * The Fetch standard's HTTP cache modes (Fetch §4.5, HTTP-network-or-cache fetch) on top of what
 * RFC 9111 allows: the per-request `cache: { mode }` option and the fetch mode header choose one.
 */
import { currentAge, type StoredEntry } from '../entry.js'
import type { RequestDirectives, ResponseDirectives } from './directives.js'
import { decide, decideWithoutEntry, effectiveLifetime, type Decision, type ReuseOptions } from './reuse.js'

/**
 * - `'default'`: RFC 9111 as configured;
 * - `'no-store'`: the cache is neither read nor written;
 * - `'reload'`: no stored response is used (no conditional request either); the response is stored;
 * - `'no-cache'`: a stored response is used only after the origin validated it; the response is stored;
 * - `'force-cache'`: any stored response is used, however stale; else fetched and stored;
 * - `'only-if-cached'`: any stored response is used, however stale; else a `504`.
 */
export type CacheMode = 'default' | 'no-store' | 'reload' | 'no-cache' | 'force-cache' | 'only-if-cached'

type Entry = Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime' | 'method' | 'headers'>

/** What the stored entry is used for under `mode` ('reload' and 'no-store' never ask: they use none). */
export function decideForMode(mode: CacheMode, entry: Entry, responseDirectives: ResponseDirectives, requestDirectives: RequestDirectives, opts: ReuseOptions, now: number): Decision {
  switch (mode) {
    // Fetch: "use any response in the HTTP cache matching the request, not paying attention to
    // staleness" (force-cache, only-if-cached).
    case 'force-cache':
    case 'only-if-cached': {
      const age = currentAge(entry, now)
      const ttl = effectiveLifetime(entry, responseDirectives) - age
      return { kind: 'hit', age, ttl, stale: ttl <= 0 }
    }
    // Fetch: "if there is a match, fresh or stale, make a conditional request to the server".
    case 'no-cache':
      return { kind: 'revalidate', age: currentAge(entry, now), reason: 'no-cache-request' }
    default:
      return decide(entry, responseDirectives, requestDirectives, opts, now)
  }
}

/** With nothing stored: a `504` for only-if-cached (as mode or as directive, RFC 9111 §5.2.1.7), else the origin. */
export function decideWithoutEntryForMode(mode: CacheMode, requestDirectives: RequestDirectives): 'miss' | 'gateway-timeout' {
  return mode === 'only-if-cached' ? 'gateway-timeout' : decideWithoutEntry(requestDirectives)
}

/**
 * Whether a request wants an answer the origin gives it, not one shared with another request under way
 * (collapsing): `no-cache` (§5.2.1.4, or the mode) and `max-age=0` (§5.2.1.1) ask for a response
 * validated for them. Such a request neither waits for another's response nor takes another process's
 * fleet lock turn: it goes to the origin at once.
 */
export function wantsOwnAnswer(mode: CacheMode, requestDirectives: RequestDirectives): boolean {
  return mode === 'no-cache' || requestDirectives.noCache || requestDirectives.maxAge === 0
}

/**
 * Whether a response just received may answer a request that waited for it (collapsing; `mode` and
 * `requestDirectives` are the waiting request's, or the defaults and NO_REQUEST_DIRECTIVES to ask for
 * any waiting request) with no validation of its own, as a stored response may (RFC 9111 §4): not one
 * that says `no-cache` (§5.2.2.4: never used for another request unvalidated), nor one stale on
 * arrival (`max-age=0`; §4.2.4) unless a stale window allows it, nor one the request's own directives
 * refuse (`min-fresh`). The user's alwaysRevalidate is no reason: it was fetched while they waited, as
 * a validation would be.
 */
export function answersWaitingRequest(entry: Entry, responseDirectives: ResponseDirectives, mode: CacheMode, requestDirectives: RequestDirectives, opts: ReuseOptions, now: number): boolean {
  const decision = decideForMode(mode, entry, responseDirectives, requestDirectives, { ...opts, alwaysRevalidate: false }, now)
  return decision.kind === 'hit' || decision.kind === 'stale-while-revalidate'
}
