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
