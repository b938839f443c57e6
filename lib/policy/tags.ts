/**
 * Cache tags: names a stored response is filed under, so that one `deleteTags()` call drops every
 * response that shows some piece of data, in every process sharing the store (as `Cache-Tag` and
 * `Surrogate-Key` are used by CDNs, and Varnish's xkey). A response's tags come from the response
 * field the `tagsHeader` option names and from the request's own `tags` option.
 *
 * Tags are bounded, since each one is an index write per stored response. A response whose field
 * breaks the bounds is served but not stored: storing it under fewer tags than the origin gave would
 * leave it out of reach of the deleteTags() meant to remove it.
 *
 * An entry records its tags in a stored field of its own (STORED_TAGS_FIELD), never replayed: a
 * refresh after a 304 keeps the tags the first request gave (it may carry none itself), and a tag
 * delete can tell an entry still filed under a tag from one rewritten since without it.
 */
import { fieldValue, type HeaderRecord } from '../headers.js'

/** Most tags one source (the response field, or the request option) may give one response. */
export const MAX_TAGS = 32
/** Most tags one entry is filed under: the response field's and the request option's together. */
export const MAX_STORED_TAGS = 2 * MAX_TAGS
/** Longest tag, in characters. */
export const MAX_TAG_LENGTH = 128
/** A tag: no whitespace (the field's separator, with the comma), no comma, no control character. */
const TAG = /^[^\s,\x00-\x1f\x7f]+$/
const SEPARATORS = /[\s,]+/
/** A field longer than this cannot hold MAX_TAGS valid tags with single separators; refused before it is split. */
const MAX_FIELD_LENGTH = MAX_TAGS * (MAX_TAG_LENGTH + 2)

/**
 * The stored field holding an entry's tags, space-separated. headersToStore drops a field of this name
 * from the origin's response and replayHeaders from what is served (stored-headers.ts).
 */
export const STORED_TAGS_FIELD = 'x-undici-redis-cache-tags'

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
  if (value === undefined || value.trim() === '') return unionOf(new Set(), requestTags)
  if (value.length > MAX_FIELD_LENGTH) return { ok: false, reason: `${header} is longer than ${MAX_FIELD_LENGTH} characters` }
  const found = new Set(value.split(SEPARATORS).filter((tag) => tag !== ''))
  if (found.size > MAX_TAGS) return { ok: false, reason: `${header} holds more than ${MAX_TAGS} tags` }
  for (const tag of found) {
    if (!isTag(tag)) return { ok: false, reason: `${header} holds a tag longer than ${MAX_TAG_LENGTH} characters or with a control character` }
  }
  return unionOf(found, requestTags)
}

/** `found` and `more`, unless that makes more than MAX_STORED_TAGS (a refresh adds the entry's own tags to the request's). */
function unionOf(found: Set<string>, more: readonly string[]): Tags {
  for (const tag of more) found.add(tag)
  if (found.size > MAX_STORED_TAGS) return { ok: false, reason: `more than ${MAX_STORED_TAGS} tags in all` }
  return { ok: true, tags: [...found] }
}

/** The tags an entry was filed under, from its stored fields; empty for entries stored without tags. */
export function storedTags(headers: HeaderRecord): readonly string[] {
  const value = fieldValue(headers, STORED_TAGS_FIELD)
  return value === undefined ? [] : value.split(SEPARATORS).filter((tag) => tag !== '')
}

/** Whether an entry with these stored fields was filed under `tag`; true for entries written before tags were recorded. */
export function filedUnder(headers: HeaderRecord, tag: string): boolean {
  return fieldValue(headers, STORED_TAGS_FIELD) === undefined || storedTags(headers).includes(tag)
}
