/**
 * RFC 9211 `Cache-Status` members. One outcome type per way a response left the cache, so a formatter
 * cannot produce "hit" together with "fwd".
 */

/** RFC 9211 §2.2 forward reasons we use. */
export type ForwardReason = 'bypass' | 'method' | 'miss' | 'vary-miss' | 'request' | 'stale'

export type CacheOutcome =
  /** Served from the cache without contacting the origin (§2.1). `ttl` is negative for a stale hit. */
  | { readonly kind: 'hit'; readonly ttl: number; readonly detail?: string }
  /** Forwarded to the origin (§2.2); `status` is the origin's status when one arrived (§2.3). */
  | { readonly kind: 'forward'; readonly fwd: ForwardReason; readonly status?: number; readonly stored?: boolean; readonly collapsed?: boolean; readonly ttl?: number; readonly detail?: string }
  /** Answered by the cache itself without a stored response (a 504 for only-if-cached). */
  | { readonly kind: 'synthetic'; readonly detail: string }

/** Formats our member of the Cache-Status list (RFC 9211 §2): `name; param; param=value`. */
export function formatCacheStatus(name: string, outcome: CacheOutcome, key?: string): string {
  let out = name
  switch (outcome.kind) {
    case 'hit':
      out += '; hit'
      // §2.4: ttl is an integer; a response that never goes stale ('never') has none to give.
      if (Number.isFinite(outcome.ttl)) out += `; ttl=${Math.trunc(outcome.ttl)}`
      break
    case 'forward':
      out += `; fwd=${outcome.fwd}`
      if (outcome.status !== undefined) out += `; fwd-status=${outcome.status}`
      if (outcome.stored === true) out += '; stored'
      // §2.6: this request shared another one's trip to the origin.
      if (outcome.collapsed === true) out += '; collapsed'
      if (outcome.ttl !== undefined && Number.isFinite(outcome.ttl)) out += `; ttl=${Math.trunc(outcome.ttl)}`
      break
    case 'synthetic':
      break
  }
  // §2.7: the cache key, an sf-string (our ids are hex and dots, nothing to escape).
  if (key !== undefined) out += `; key="${key}"`
  // detail is an sf-token or sf-string (RFC 9211 §2.8); ours are all tokens.
  if (outcome.detail !== undefined) out += `; detail=${outcome.detail}`
  return out
}

/**
 * Adds our member after any members already present: RFC 9211 §2 orders the list from the cache
 * nearest the origin to the one nearest the user, and we are nearest the user.
 */
export function appendCacheStatus(existing: string | readonly string[] | undefined, member: string): string {
  if (existing === undefined || existing.length === 0) return member
  const prior = typeof existing === 'string' ? existing : existing.join(', ')
  return `${prior}, ${member}`
}

/** What an outcome means to a caller's `onOutcome` callback (request-options.ts CacheOutcomeInfo). */
export function outcomeKind(outcome: CacheOutcome): 'hit' | 'stale' | 'revalidated' | 'miss' | 'bypass' {
  switch (outcome.kind) {
    case 'hit':
      return outcome.ttl > 0 ? 'hit' : 'stale'
    case 'forward':
      if (outcome.fwd === 'bypass' || outcome.fwd === 'method') return 'bypass'
      // A collapsed request was served the response another one fetched: no trip of its own.
      if (outcome.collapsed === true) return 'hit'
      if (outcome.detail === 'stale-if-error') return 'stale'
      return outcome.status === 304 ? 'revalidated' : 'miss'
    case 'synthetic':
      return 'miss'
  }
}
