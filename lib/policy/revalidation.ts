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
 * Does this 304 describe the stored response (RFC 9111 §4.3.4)? A strong entity tag selects the stored
 * response with the same strong tag (strong comparison, RFC 9110 §8.8.3.2); a weak one selects by weak
 * comparison; with no entity tag, Last-Modified must equal the stored one. A 304 with no validator at
 * all is taken to refer to the one stored response that the cache itself revalidated: §4.3.4 reserves
 * that case for a stored response without validators, but we only send conditional requests built from
 * the stored validators, and origins often omit them from a 304.
 */
export function notModifiedMatches(stored: HeaderRecord, notModified: HeaderRecord): boolean {
  const newTag = singleValue(notModified, 'etag')
  if (newTag !== undefined) {
    const storedTag = singleValue(stored, 'etag')
    if (storedTag === undefined) return false
    return isWeak(newTag) ? opaqueTag(newTag) === opaqueTag(storedTag) : !isWeak(storedTag) && newTag === storedTag
  }
  const newModified = singleValue(notModified, 'last-modified')
  if (newModified !== undefined) return sameDate(newModified, singleValue(stored, 'last-modified'))
  return true
}

/**
 * RFC 9111 §4.3.5: a 200 to a HEAD request freshens the stored GET response when it describes the same
 * representation, and should invalidate it otherwise. Same means a matching strong ETag, or without
 * tags a matching Last-Modified, and no different Content-Length; with no validator to compare, it is
 * not the same (invalidating is the safe side).
 */
export function headResponseMatches(stored: HeaderRecord, head: HeaderRecord): boolean {
  const headLength = singleValue(head, 'content-length')
  if (headLength !== undefined && headLength !== singleValue(stored, 'content-length')) return false
  const headTag = singleValue(head, 'etag')
  const storedTag = singleValue(stored, 'etag')
  if (headTag !== undefined || storedTag !== undefined) {
    return headTag !== undefined && storedTag !== undefined && !isWeak(headTag) && headTag === storedTag
  }
  const headModified = singleValue(head, 'last-modified')
  return headModified !== undefined && sameDate(headModified, singleValue(stored, 'last-modified'))
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
  // Content-Digest from a 304 would mislabel the body we replay.
  'content-encoding',
  'content-range',
  'content-digest',
  // §3.1 (fields excepted from storage): specific to the proxy the request went through.
  'proxy-authentication-info',
  // Recomputed: the refreshed entry's corrected initial age comes from the 304 itself (§4.2.3), and
  // replay writes a new Age (§5.1). The stored value is dropped too, as it described the old response.
  'age',
  // Our security default (DESIGN.md): responses carrying Set-Cookie are never stored, and a 304 must
  // not smuggle a user's cookie into an entry that other callers are served.
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

function isWeak(tag: string): boolean {
  return tag.startsWith('W/')
}

function opaqueTag(tag: string): string {
  return isWeak(tag) ? tag.slice(2) : tag
}
