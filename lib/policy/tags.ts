/**
 * Cache tags: names a stored response is filed under, so that one `deleteTags()` call drops every
 * response that shows some piece of data, in every process sharing the store (as `Cache-Tag` and
 * `Surrogate-Key` are used by CDNs, and Varnish's xkey). A response's tags come from the response
 * field the `tagsHeader` option names and from the request's own `tags` option.
 *
 * Tags are bounded, since each one is an index write per stored response. A response whose field
 * breaks the bounds is served but not stored: storing it under fewer tags than the origin gave would
 * leave it out of reach of the deleteTags() meant to remove it.
 */
import { fieldValue, type HeaderRecord } from '../headers.js'

/** Most tags one source (the response field, or the request option) may give one response. */
export const MAX_TAGS = 32
/** Longest tag, in characters. */
export const MAX_TAG_LENGTH = 128
/** A tag: no whitespace (the field's separator, with the comma), no comma, no control character. */
const TAG = /^[^\s,\x00-\x1f\x7f]+$/
const SEPARATORS = /[\s,]+/
/** A field longer than this cannot hold MAX_TAGS valid tags with single separators; refused before it is split. */
const MAX_FIELD_LENGTH = MAX_TAGS * (MAX_TAG_LENGTH + 2)

export type Tags = { readonly ok: true; readonly tags: readonly string[] } | { readonly ok: false; readonly reason: string }

/** Whether `tag` is one tag within the bounds. */
export function isTag(tag: unknown): tag is string {
  return typeof tag === 'string' && tag.length <= MAX_TAG_LENGTH && TAG.test(tag)
}

/**
 * The tags to file a response under: those of its `header` field (comma- or whitespace-separated;
 * repeated field lines count as one list, RFC 9110 §5.3), de-duplicated, then the request's own
 * (checked already by request-options.ts). Not ok when the field holds a tag over MAX_TAG_LENGTH,
 * a control character, or more than MAX_TAGS tags.
 */
export function responseTags(headers: HeaderRecord, header: string | undefined, requestTags: readonly string[]): Tags {
  const value = header === undefined ? undefined : fieldValue(headers, header)
  if (value === undefined || value.trim() === '') return { ok: true, tags: requestTags }
  if (value.length > MAX_FIELD_LENGTH) return { ok: false, reason: `${header} is longer than ${MAX_FIELD_LENGTH} characters` }
  const found = new Set(value.split(SEPARATORS).filter((tag) => tag !== ''))
  if (found.size > MAX_TAGS) return { ok: false, reason: `${header} holds more than ${MAX_TAGS} tags` }
  for (const tag of found) {
    if (!isTag(tag)) return { ok: false, reason: `${header} holds a tag longer than ${MAX_TAG_LENGTH} characters or with a control character` }
  }
  for (const tag of requestTags) found.add(tag)
  return { ok: true, tags: [...found] }
}
