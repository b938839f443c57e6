/**
 * Validators of a stored response → the preconditions of the request that revalidates it
 * (RFC 9111 §4.3.1, RFC 9110 §13.1).
 */
import type { StoredEntry } from '../entry.js'
import { fieldValue, type HeaderRecord } from '../headers.js'
import { formatHttpDate, parseHttpDate } from './http-date.js'

/**
 * The preconditions for revalidating `stored`. RFC 9111 §4.3.1: the entity tag goes in If-None-Match and
 * Last-Modified in If-Modified-Since. Both are sent when both exist; RFC 9110 §13.1.3 has the origin
 * ignore If-Modified-Since when If-None-Match is present, so sending both costs nothing and serves an
 * origin that only understands dates. Only a GET's response (HEAD shares it) is validated: a stored
 * POST's (`methods`) sent again with If-None-Match would be failed with 412 (RFC 9110 §13.1.2) or run
 * again, so it gets none.
 */
export function conditionalHeaders(stored: Validatable): Record<string, string> {
  const out: Record<string, string> = {}
  if (stored.method !== 'GET') return out
  const etag = storedEtag(stored.headers)
  if (etag !== undefined) out['if-none-match'] = etag
  const modified = lastModified(stored.headers)
  // RFC 9110 §13.1.3: an origin MUST ignore an If-Modified-Since that is not a valid HTTP-date, so an
  // unparsable Last-Modified is no validator. §5.6.7: a sender generates IMF-fixdate only, so an
  // obsolete-form date is rewritten (an IMF-fixdate comes out unchanged).
  if (modified !== undefined) out['if-modified-since'] = formatHttpDate(modified)
  return out
}

/** What a stored response's validation depends on: the method it answered, and its fields. */
export type Validatable = Pick<StoredEntry, 'method' | 'headers'>

/** True when the stored response can be revalidated by a conditional request (§4.3.1; see conditionalHeaders). */
export function hasValidator(stored: Validatable): boolean {
  return stored.method === 'GET' && (storedEtag(stored.headers) !== undefined || lastModified(stored.headers) !== undefined)
}

function storedEtag(stored: HeaderRecord): string | undefined {
  const etag = fieldValue(stored, 'etag')?.trim()
  return etag === undefined || etag === '' ? undefined : etag
}

function lastModified(stored: HeaderRecord): number | undefined {
  return parseHttpDate(fieldValue(stored, 'last-modified'))
}

/**
 * The validator an `If-Range` may carry to ask for the rest of the stored representation (RFC 9110
 * §13.1.5): a strong entity tag (weak ones are not allowed), else a Last-Modified date, but only one
 * that is strong in the sense of §8.8.2.2: at least a second older than the response's Date.
 * Undefined when the stored response has neither, so its rest cannot be asked for safely.
 */
export function ifRangeValidator(stored: HeaderRecord): string | undefined {
  const etag = singleLine(stored, 'etag')
  if (etag !== undefined) return etag.startsWith('"') ? etag : undefined
  const lastModifiedLine = singleLine(stored, 'last-modified')
  const modified = parseHttpDate(lastModifiedLine)
  const date = parseHttpDate(singleLine(stored, 'date'))
  return modified !== undefined && date !== undefined && date - modified >= 1000 ? lastModifiedLine : undefined
}

/** A field sent on exactly one line; several lines of a validator make it no validator. */
function singleLine(headers: HeaderRecord, name: string): string | undefined {
  const value = headers[name]
  return typeof value === 'string' ? value : undefined
}
