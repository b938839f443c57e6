/**
 * What a validation response means for the stored one: a 304 refreshes it (RFC 9111 §4.3.3, §4.3.4,
 * §3.2); an error may let the stale response be served instead (RFC 5861 §4, RFC 9111 §4.3.3).
 */
import { currentAge, type StoredEntry } from '../entry.js'
import { HOP_BY_HOP, fieldLines, fieldValue, splitList, type HeaderRecord, type MutableHeaderRecord } from '../headers.js'
import type { RequestDirectives, ResponseDirectives } from './directives.js'
import { parseHttpDate } from './http-date.js'
import { effectiveLifetime, hasUnqualifiedNoCache, staleUseForbidden, type ReuseOptions } from './reuse.js'

/** A network error or timeout (`'error'`), or the status of the validation response. */
export type ValidationOutcome = 'error' | number

/** Statuses RFC 5861 §4 names as errors for stale-if-error. */
const ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504])

/**
 * True when the outcome lets a stale response stand in: RFC 5861 §4 names 500, 502, 503 and 504 (and
 * RFC 9111 §4.3.3 allows a stale response on a 5xx where stale use is permitted). Other 5xx statuses are
 * forwarded as the origin's answer.
 */
export function isErrorOutcome(outcome: ValidationOutcome): boolean {
  return outcome === 'error' || ERROR_STATUSES.has(outcome)
}

/**
 * May the stale entry be served after a failed validation? Staleness must be within the largest of the
 * user's option, the response's and the request's `stale-if-error` (RFC 5861 §4).
 */
export function staleIfErrorAllowed(
  entry: Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime'>,
  responseDirectives: ResponseDirectives,
  requestDirectives: RequestDirectives,
  opts: ReuseOptions,
  now: number,
): boolean {
  // §5.2.2.4, §4.2.4: an unqualified no-cache response is never used without successful validation.
  if (hasUnqualifiedNoCache(responseDirectives)) return false
  const staleness = currentAge(entry, now) - effectiveLifetime(entry, responseDirectives)
  // Still fresh (the request forced validation, e.g. request no-cache): serving it breaks no rule.
  if (staleness < 0) return true
  // §5.2.2.2, §5.2.2.8, §4.2.4: must-revalidate (and proxy-revalidate / s-maxage in a shared cache)
  // forbid serving it stale, even when the origin is unreachable.
  if (staleUseForbidden(responseDirectives, opts)) return false
  const window = Math.max(opts.staleIfError, responseDirectives.staleIfError ?? 0, requestDirectives.staleIfError ?? 0)
  return window > 0 && staleness <= window
}

/**
 * How to answer when the validation request got no response at all (the connection closed or was
 * refused, a timeout): the stale response where stale-if-error allows it (RFC 5861 §4); a 504 the
 * cache generates where the stored response must not be used without validation (RFC 9111 §4.2.4,
 * §5.2.2.2); otherwise the caller gets the network error, as on a miss.
 */
export type UnansweredValidation = 'serve-stale' | 'gateway-timeout' | 'pass-error'

export function answerUnansweredValidation(
  entry: Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime'>,
  responseDirectives: ResponseDirectives,
  requestDirectives: RequestDirectives,
  opts: ReuseOptions,
  now: number,
): UnansweredValidation {
  if (staleIfErrorAllowed(entry, responseDirectives, requestDirectives, opts, now)) return 'serve-stale'
  // §4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit in-protocol
  // directive"; §5.2.2.2: "if a cache is disconnected, the cache MUST generate an error response rather
  // than reuse the stale response. The generated status code SHOULD be 504 (Gateway Timeout)".
  if (validationRequired(entry, responseDirectives, opts, now)) return 'gateway-timeout'
  return 'pass-error'
}

/**
 * May the stored response never be used without a successful validation (§4.2.4)? An unqualified
 * no-cache, fresh or stale (§5.2.2.4); once stale, must-revalidate (§5.2.2.2) and, in a shared cache,
 * proxy-revalidate (§5.2.2.8) and s-maxage (§5.2.2.10).
 */
export function validationRequired(
  entry: Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime'>,
  responseDirectives: ResponseDirectives,
  opts: Pick<ReuseOptions, 'shared'>,
  now: number,
): boolean {
  if (hasUnqualifiedNoCache(responseDirectives)) return true
  // §4.2: age == lifetime is already stale.
  const stale = currentAge(entry, now) >= effectiveLifetime(entry, responseDirectives)
  return stale && staleUseForbidden(responseDirectives, opts)
}

/**
 * Does this 304 describe the stored response (RFC 9111 §4.3.4)? A strong entity tag selects the stored
 * response with the same strong tag (strong comparison, RFC 9110 §8.8.3.2); a weak one selects by weak
 * comparison; with no entity tag, Last-Modified must equal the stored one. A 304 with no validator at
 * all is taken to refer to the one stored response that the cache itself revalidated: §4.3.4 reserves
 * that case for a stored response without validators, but we only send conditional requests built from
 * the stored validators, and origins often omit them from a 304.
 */
export function notModifiedMatches(stored: HeaderRecord, notModified: HeaderRecord): boolean {
  const newTag = singleValue(notModified, 'etag')
  if (newTag !== undefined) return tagsMatch(newTag, singleValue(stored, 'etag'))
  const newModified = singleValue(notModified, 'last-modified')
  if (newModified !== undefined) return sameDate(newModified, singleValue(stored, 'last-modified'))
  return true
}

/**
 * RFC 9111 §4.3.5: a 200 to a HEAD request updates the stored GET response "if the stored response and
 * HEAD response have matching values for any received validator fields (ETag and Last-Modified) and,
 * if the HEAD response has a Content-Length header field, the value of Content-Length matches that of
 * the stored response"; otherwise the cache should invalidate it. Only the validators the HEAD carries
 * are compared: a HEAD with neither is checked on its Content-Length alone. An entity tag compares as a
 * 304's does (notModifiedMatches). The stored length is its Content-Length field, or `storedLength`
 * (the stored body's size) when the field is absent.
 */
export function headResponseMatches(stored: HeaderRecord, head: HeaderRecord, storedLength?: number): boolean {
  const headLength = singleValue(head, 'content-length')
  if (headLength !== undefined && headLength !== (singleValue(stored, 'content-length') ?? storedLength?.toString())) return false
  const headTag = singleValue(head, 'etag')
  if (headTag !== undefined && !tagsMatch(headTag, singleValue(stored, 'etag'))) return false
  const headModified = singleValue(head, 'last-modified')
  return headModified === undefined || sameDate(headModified, singleValue(stored, 'last-modified'))
}

/**
 * Fields a 304 never updates in the stored response (RFC 9111 §3.2 lists the exceptions), each with its
 * reason. Hop-by-hop fields and those the 304's Connection lists are added at merge time.
 */
const NOT_UPDATED: ReadonlySet<string> = new Set([
  // §3.2: Content-Length is named as never updated; the stored body's length is what it is.
  'content-length',
  // §3.2 "fields the cache's stored response depends upon": the stored bytes were encoded, ranged and
  // digested as the original response said; a different Content-Encoding, Content-Range or
  // Content-Digest (or the obsolete Content-MD5) from a 304 would mislabel the body we replay.
  'content-encoding',
  'content-range',
  'content-digest',
  'content-md5',
  // §3.1 (fields excepted from storage): specific to the proxy the request went through.
  'proxy-authentication-info',
  // Recomputed: the refreshed entry's corrected initial age comes from the 304 itself (§4.2.3), and
  // replay writes a new Age (§5.1). The stored value is dropped too, as it described the old response.
  'age',
  // Never stored (stored-headers.ts): a 304's cookie is for the caller whose request it answered
  // (flows/revalidate.ts hands it over), not for an entry that others are served.
  'set-cookie',
])

/**
 * The stored header fields refreshed by a 304 (RFC 9111 §3.2): each field of the 304 replaces the
 * stored field of that name, except those in NOT_UPDATED, hop-by-hop fields (RFC 9110 §7.6.1) and the
 * fields the 304's Connection names. New `date`, `cache-control`, `expires`, `etag` and `last-modified`
 * are taken, so freshness is recomputed from the merged record.
 */
export function mergeNotModified(stored: HeaderRecord, notModified: HeaderRecord): MutableHeaderRecord {
  const connectionListed = new Set(fieldLines(notModified, 'connection').flatMap(splitList).map((n) => n.toLowerCase()))
  const skip = (name: string): boolean => NOT_UPDATED.has(name) || HOP_BY_HOP.has(name) || connectionListed.has(name)

  // A Map then Object.fromEntries: a field named `__proto__` becomes an own property, never a prototype.
  const merged = new Map<string, string | string[]>()
  for (const [name, value] of Object.entries(stored)) {
    if (value === undefined || name === 'age') continue
    merged.set(name, typeof value === 'string' ? value : [...value])
  }
  for (const [name, value] of Object.entries(notModified)) {
    if (value === undefined || skip(name)) continue
    merged.set(name, typeof value === 'string' ? value : [...value])
  }
  return Object.fromEntries(merged)
}

function singleValue(headers: HeaderRecord, name: string): string | undefined {
  const value = fieldValue(headers, name)?.trim()
  return value === undefined || value === '' ? undefined : value
}

/** Dates compare by instant when both parse (the 304 may use another HTTP-date form), else as text. */
function sameDate(a: string, b: string | undefined): boolean {
  if (b === undefined) return false
  const ta = parseHttpDate(a)
  const tb = parseHttpDate(b)
  return ta !== undefined && tb !== undefined ? ta === tb : a === b
}

/** A strong tag selects by strong comparison, a weak one by weak comparison (RFC 9110 §8.8.3.2). */
function tagsMatch(received: string, stored: string | undefined): boolean {
  if (stored === undefined) return false
  return isWeak(received) ? opaqueTag(received) === opaqueTag(stored) : !isWeak(stored) && received === stored
}

function isWeak(tag: string): boolean {
  return tag.startsWith('W/')
}

function opaqueTag(tag: string): string {
  return isWeak(tag) ? tag.slice(2) : tag
}
