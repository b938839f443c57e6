/**
 * Byte ranges (RFC 9110 §14) as the cache handles them: one range of bytes per request and per stored
 * partial response. A request for several ranges, another unit, or an invalid range goes to the
 * origin as it is (bypass.ts); so does a partial response whose complete length it does not state.
 *
 * Positions are inclusive, as in the fields: bytes 4-9 are six bytes.
 */
import { fieldValue, headerRecord, type HeaderRecord, type MutableHeaderRecord } from '../headers.js'
import type { CacheRequest, CacheResponse } from '../http.js'

/** A request's single byte range (§14.1.1): from `first` (to `last` when given), or the last `suffix` bytes. */
export type RangeRequest = { readonly kind: 'span'; readonly first: number; readonly last: number | undefined } | { readonly kind: 'suffix'; readonly length: number }

/** Bytes `first` to `last` of a representation, both included. */
export interface Span {
  readonly first: number
  readonly last: number
}

/** What a single-part 206 holds (§14.4 Content-Range): a span of a representation `complete` bytes long. */
export interface ContentRange extends Span {
  readonly complete: number
}

/** 15 digits keep every position a safe integer. */
const SPAN = /^bytes=(\d{1,15})-(\d{0,15})$/i
const SUFFIX = /^bytes=-(\d{1,15})$/i
const CONTENT_RANGE = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/i

/**
 * The one byte range a `Range` field asks for, or undefined when the cache leaves the request to the
 * origin: absent, on several lines, several ranges, a unit other than bytes (units compare
 * case-insensitively, §14.1), an invalid range (last before first, §14.1.1) or a zero-length suffix,
 * which no representation satisfies (§14.1.3).
 */
export function parseRange(value: string | readonly string[] | undefined): RangeRequest | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  const span = SPAN.exec(text)
  if (span !== null) {
    const first = Number(span[1])
    const last = span[2] === '' ? undefined : Number(span[2])
    return last !== undefined && last < first ? undefined : { kind: 'span', first, last }
  }
  const suffix = SUFFIX.exec(text)
  if (suffix === null || Number(suffix[1]) === 0) return undefined
  return { kind: 'suffix', length: Number(suffix[1]) }
}

/**
 * The bytes `wanted` selects from a representation `complete` bytes long (§14.1.2): a last position
 * past the end means the end, a suffix longer than the representation means all of it. Undefined when
 * unsatisfiable (first position at or past the end), which only the origin answers (416, §15.5.17).
 */
export function resolveRange(wanted: RangeRequest, complete: number): Span | undefined {
  if (wanted.kind === 'suffix') return complete === 0 ? undefined : { first: Math.max(0, complete - wanted.length), last: complete - 1 }
  if (wanted.first >= complete) return undefined
  return { first: wanted.first, last: Math.min(wanted.last ?? complete - 1, complete - 1) }
}

/**
 * The single range a 206's `Content-Range` states (§14.4), or undefined unless it is one line of
 * `bytes first-last/complete` with a known complete length and first ≤ last < complete.
 */
export function parseContentRange(headers: HeaderRecord): ContentRange | undefined {
  const value = headers['content-range']
  if (typeof value !== 'string') return undefined
  const match = CONTENT_RANGE.exec(value.trim())
  if (match === null) return undefined
  const [first, last, complete] = [Number(match[1]), Number(match[2]), Number(match[3])]
  return first <= last && last < complete ? { first, last, complete } : undefined
}

/**
 * The range a 206 may be stored as (RFC 9111 §3.3): one answering a single byte-range GET, with a
 * Content-Range parseContentRange accepts and no Content-Length that contradicts it (a 206 whose
 * length disagrees with its range cannot say which bytes it holds). Undefined otherwise.
 */
export function storablePartial(req: CacheRequest, res: CacheResponse): ContentRange | undefined {
  if (res.status !== 206 || req.method !== 'GET' || parseRange(req.headers['range']) === undefined) return undefined
  const range = parseContentRange(res.headers)
  if (range === undefined) return undefined
  const length = fieldValue(res.headers, 'content-length')
  if (length !== undefined && length.trim() !== String(spanLength(range))) return undefined
  return range
}

export function spanLength(span: Span): number {
  return span.last - span.first + 1
}

/** True when every byte of `inner` lies within `outer`. */
export function contains(outer: Span, inner: Span): boolean {
  return outer.first <= inner.first && inner.last <= outer.last
}

/** True when the range covers its whole representation. */
export function isWhole(range: ContentRange): boolean {
  return range.first === 0 && range.last === range.complete - 1
}

/**
 * A strong entity tag (RFC 9110 §8.8.1, §8.8.3): one line, not `W/`. The only validator this cache
 * combines on; a Last-Modified date is strong only by a judgement (§8.8.2.2) it does not make here.
 */
export function strongEtag(headers: HeaderRecord): string | undefined {
  const etag = headers['etag']
  if (typeof etag !== 'string') return undefined
  const trimmed = etag.trim()
  return /^"[^"]*"$/.test(trimmed) ? trimmed : undefined
}

/** One stored or arriving piece of a representation: its range, validator-bearing headers and bytes. */
export interface Part {
  readonly range: ContentRange
  readonly headers: HeaderRecord
  readonly body: Uint8Array
}

/**
 * RFC 9111 §3.4, RFC 9110 §15.3.7.3: two parts may be combined only when they share the same strong
 * validator, and so are the same representation: the same strong ETag and complete length. The cache
 * keeps one continuous range, so they must also overlap or touch.
 */
export function combinable(stored: Omit<Part, 'body'>, incoming: Omit<Part, 'body'>): boolean {
  const etag = strongEtag(incoming.headers)
  if (etag === undefined || strongEtag(stored.headers) !== etag) return false
  const a = stored.range
  const b = incoming.range
  return a.complete === b.complete && a.first <= b.last + 1 && b.first <= a.last + 1
}

/**
 * The union of two combinable parts (§3.4): the bytes of both, the incoming part's where they overlap,
 * under the incoming part's headers with Content-Range and Content-Length describing the union
 * (partHeaders). Call combinable first.
 */
export function combine(stored: Part, incoming: Part): Part {
  const range: ContentRange = { first: Math.min(stored.range.first, incoming.range.first), last: Math.max(stored.range.last, incoming.range.last), complete: incoming.range.complete }
  const body = new Uint8Array(spanLength(range))
  body.set(stored.body, stored.range.first - range.first)
  body.set(incoming.body, incoming.range.first - range.first)
  return { range, headers: partHeaders(incoming.headers, range, range.complete), body }
}

/** A copy of `headers` describing bytes `span` of a representation `complete` bytes long (RFC 9110 §15.3.7.1). */
export function partHeaders(headers: HeaderRecord, span: Span, complete: number): MutableHeaderRecord {
  const out = withoutRangeFields(headers)
  out['content-range'] = `bytes ${span.first}-${span.last}/${complete}`
  out['content-length'] = String(spanLength(span))
  return out
}

/**
 * The headers of a complete 200 made of parts covering the whole representation (§15.3.7.3: processed
 * as a complete response, with a Content-Length of the complete length).
 */
export function wholeHeaders(headers: HeaderRecord, complete: number): MutableHeaderRecord {
  const out = withoutRangeFields(headers)
  out['content-length'] = String(complete)
  return out
}

function withoutRangeFields(headers: HeaderRecord): MutableHeaderRecord {
  const out = headerRecord()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'content-range' || name === 'content-length') continue
    out[name] = typeof value === 'string' ? value : [...value]
  }
  return out
}
