/**
 * The caller's own preconditions, evaluated by the cache against the response it chose (RFC 9111
 * §4.3.2): a request with If-None-Match or If-Modified-Since that a stored 200 satisfies is answered
 * 304 (Not Modified) when the caller already holds that representation, without a trip to the origin.
 * Preconditions only the origin may evaluate (If-Match, If-Unmodified-Since, If-Range), or ones on a
 * method other than GET and HEAD or with Range, keep the request away from the cache (policy/bypass.ts);
 * with no stored response the request is forwarded with its preconditions untouched (§4.3.2 "MUST NOT
 * evaluate … a target resource for which it has no stored responses").
 */
import { copyHeaders, fieldLines, fieldValue, type HeaderRecord, type MutableHeaderRecord } from '../headers.js'
import type { CacheRequest } from '../http.js'
import { parseHttpDate } from './http-date.js'

/** An entity tag (RFC 9110 §8.8.3): its opaque-tag with the quotes, and whether it is weak. */
export interface EntityTag {
  readonly weak: boolean
  readonly opaque: string
}

/** What the cache evaluates of a request's preconditions (RFC 9110 §13.2.2, steps 3 and 4). */
export type Preconditions =
  /** If-None-Match: `*`, or the entity tags the caller holds. */
  | { readonly kind: 'none-match'; readonly tags: '*' | readonly EntityTag[] }
  /** If-Modified-Since (only without If-None-Match): the date, epoch milliseconds. */
  | { readonly kind: 'modified-since'; readonly since: number }

/** The precondition fields only an origin evaluates: RFC 9111 §4.3.2 "not applicable to a cache". */
const ORIGIN_ONLY = ['if-match', 'if-unmodified-since', 'if-range'] as const

/** Every precondition field (RFC 9110 §13.1). */
const PRECONDITION_FIELDS: readonly string[] = [...ORIGIN_ONLY, 'if-none-match', 'if-modified-since']

/**
 * The request's preconditions as the cache evaluates them; undefined when it has none the cache may
 * act on (none at all, or only an If-Modified-Since a recipient must ignore); `'origin'` when it has
 * some the cache must leave to the origin, so that the request passes the cache by.
 */
export function receivedPreconditions(req: CacheRequest): Preconditions | 'origin' | undefined {
  const { headers } = req
  if (ORIGIN_ONLY.some((name) => headers[name] !== undefined)) return 'origin'
  const noneMatch = fieldValue(headers, 'if-none-match')
  const modifiedSince = fieldLines(headers, 'if-modified-since')
  if (noneMatch === undefined && modifiedSince.length === 0) return undefined
  // §13.2.2 evaluates If-None-Match and If-Modified-Since before Range; flows/range.ts serves parts
  // without them, so a range request with preconditions is the origin's.
  if (headers['range'] !== undefined) return 'origin'
  // §13.2.2: If-None-Match fails a GET or HEAD with 304; any other method would get 412, which is the
  // origin's to decide (and a cached POST's response is not reused for another request anyway).
  if (req.method !== 'GET' && req.method !== 'HEAD') return 'origin'
  if (noneMatch !== undefined) {
    const tags = parseNoneMatch(noneMatch)
    // A list that does not parse is not evaluated here: the origin makes of it what it will.
    return tags === undefined ? 'origin' : { kind: 'none-match', tags }
  }
  // §13.1.3: a recipient MUST ignore If-Modified-Since that is not a valid HTTP-date or has more than
  // one member; ignored, the request is an unconditional one.
  const since = modifiedSince.length === 1 ? parseHttpDate(modifiedSince[0]) : undefined
  return since === undefined ? undefined : { kind: 'modified-since', since }
}

/**
 * Whether the caller already holds the stored response (§13.2.2: the condition is false, so a GET or
 * HEAD gets 304). Only a stored 200 is evaluated (RFC 9111 §4.3.2; §13.2.1: preconditions are ignored
 * where the response would not be a 2xx). If-None-Match uses the weak comparison (§13.1.2, §8.8.3.2);
 * If-Modified-Since compares Last-Modified, or without one the stored Date or else the time the
 * response was received, as §4.3.2 asks.
 */
export function holdsStored(pre: Preconditions, stored: { readonly status: number; readonly headers: HeaderRecord; readonly responseTime: number }): boolean {
  if (stored.status !== 200) return false
  if (pre.kind === 'none-match') {
    // `*`: some current representation exists, and this is one.
    if (pre.tags === '*') return true
    const lines = fieldLines(stored.headers, 'etag')
    const etag = lines.length === 1 ? parseEntityTag(lines[0]!.trim()) : undefined
    return etag !== undefined && pre.tags.some((tag) => tag.opaque === etag.opaque)
  }
  const modified = parseHttpDate(fieldValue(stored.headers, 'last-modified')) ?? parseHttpDate(fieldValue(stored.headers, 'date')) ?? stored.responseTime
  // HTTP dates have whole seconds: the time the response was received is cut to its second.
  return Math.floor(modified / 1000) * 1000 <= pre.since
}

/**
 * The fields a 304 made from `headers` (the 200 the cache would have sent) carries. RFC 9110 §15.4.5:
 * a 304 carries what the 200 would have of Content-Location, Date, ETag, Vary, Cache-Control and
 * Expires, and SHOULD NOT carry other representation metadata unless it guides cache updates, as
 * Last-Modified does for a response without ETag. The rest (Age, Cache-Status, the origin's own
 * fields) stays; the content fields describe a body the 304 does not have.
 */
export function notModifiedHeaders(headers: HeaderRecord): MutableHeaderRecord {
  const out = copyHeaders(headers)
  for (const name of CONTENT_FIELDS) delete out[name]
  if (out['etag'] !== undefined) delete out['last-modified']
  return out
}

/**
 * Metadata of the body itself (RFC 9110 §8.3 to §8.6, §14.4), and digests of the content (RFC 9530
 * Content-Digest, the obsolete Content-MD5), with no place in a 304 that has none.
 */
const CONTENT_FIELDS = ['content-type', 'content-encoding', 'content-language', 'content-length', 'content-range', 'content-digest', 'content-md5'] as const

/**
 * Whether the request carries any precondition field, evaluated here or not (an If-Modified-Since the
 * cache ignores still reaches the origin, which may answer 304 to it).
 */
export function carriesPreconditions(headers: HeaderRecord): boolean {
  return PRECONDITION_FIELDS.some((name) => headers[name] !== undefined)
}

/** A copy of `headers` without any precondition, for a request the cache makes for its own stored response. */
export function withoutPreconditions(headers: HeaderRecord): MutableHeaderRecord {
  const out = copyHeaders(headers)
  for (const name of PRECONDITION_FIELDS) delete out[name]
  return out
}

/** entity-tag = [ weak ] opaque-tag; weak = "W/" (case-sensitive); etagc = %x21 / %x23-7E / obs-text. */
const ENTITY_TAG = /(W\/)?("[\x21\x23-\x7e\x80-\xff]*")/y
const OWS = /[ \t]*/y

/** If-None-Match = "*" / #entity-tag (RFC 9110 §13.1.2, §5.6.1: empty list members are allowed). */
function parseNoneMatch(value: string): '*' | EntityTag[] | undefined {
  if (value.trim() === '*') return '*'
  const tags: EntityTag[] = []
  let at = 0
  for (;;) {
    at = skip(OWS, value, at)
    if (at < value.length && value[at] !== ',') {
      ENTITY_TAG.lastIndex = at
      const m = ENTITY_TAG.exec(value)
      if (m === null) return undefined
      tags.push({ weak: m[1] !== undefined, opaque: m[2]! })
      at = skip(OWS, value, ENTITY_TAG.lastIndex)
    }
    if (at === value.length) return tags.length > 0 ? tags : undefined
    if (value[at] !== ',') return undefined
    at++
  }
}

function parseEntityTag(value: string): EntityTag | undefined {
  ENTITY_TAG.lastIndex = 0
  const m = ENTITY_TAG.exec(value)
  return m === null || ENTITY_TAG.lastIndex !== value.length ? undefined : { weak: m[1] !== undefined, opaque: m[2]! }
}

function skip(pattern: RegExp, value: string, at: number): number {
  pattern.lastIndex = at
  pattern.exec(value)
  return pattern.lastIndex
}
