/**
 * What a stored response keeps of its header fields, and what a replay adds back (RFC 9111 §3.1, §5.1).
 * Both build records with no prototype (headers.ts), whatever the fields are named.
 */
import { copyHeaders, fieldValue, headerRecord, HOP_BY_HOP, splitList, type HeaderRecord, type MutableHeaderRecord } from '../headers.js'
import { stripQueryParams } from '../url-normalize.js'
import { MAX_DELTA_SECONDS, type ResponseDirectives } from './directives.js'
import { formatHttpDate } from './http-date.js'
import { STORED_TAGS_FIELD } from './tags.js'

/** Fields no stored response keeps (reasons below). */
const NEVER_STORED: readonly string[] = ['age', 'set-cookie']

/**
 * The header fields to store: a copy without
 * - hop-by-hop fields and every field `Connection` names (RFC 9110 §7.6.1; RFC 9111 §3.1);
 * - fields named by a qualified `no-cache="…"` or `private="…"`: not storing them is the simplest way to
 *   never reuse them without validation (§5.2.2.4) or share them (§5.2.2.7);
 * - `age`, which a replay recomputes (§5.1);
 * - `set-cookie` (RFC 6265 §4.1): a cookie is an instruction to the one client the origin answered, who
 *   gets it with that response. §3.1 asks a cache to store every field, and
 *   §7.3 lets a response with Set-Cookie be reused; replayed from a store, though, the field would hand
 *   one user's session to the next (DESIGN.md "Security defaults"), or set a cookie again for its own
 *   user after they cleared or rotated it. So the response is stored, the cookie is not;
 * - the names in `redact` (`ignoredParameters`), compared case-insensitively, so they never reach the store;
 * and with the `redact` names also removed as query parameters from the URLs in URL-valued fields
 * (redactUrlFields): an origin that echoes `?api_key=…` in `Location` must not have it replayed to others.
 */
export function headersToStore(headers: HeaderRecord, directives: ResponseDirectives, redact: ReadonlySet<string>): MutableHeaderRecord {
  // The tags field is the cache's own (policy/tags.ts): one the origin sent would pass for it.
  const dropped = new Set<string>([...NEVER_STORED, STORED_TAGS_FIELD])
  const connection = fieldValue(headers, 'connection')
  if (connection !== undefined) for (const name of splitList(connection)) dropped.add(name.toLowerCase())
  if (Array.isArray(directives.noCache)) for (const name of directives.noCache) dropped.add(name)
  if (Array.isArray(directives.private)) for (const name of directives.private) dropped.add(name)
  const lowercased = new Set<string>()
  for (const name of redact) lowercased.add(name.toLowerCase())
  for (const name of lowercased) dropped.add(name)

  const out = headerRecord()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue
    out[name] = typeof value === 'string' ? value : [...value]
  }
  if (lowercased.size > 0) redactUrlFields(out, lowercased)
  return out
}

/**
 * The stored fields plus the cookies of the validation response that just refreshed them (a 304, or a
 * HEAD's 200): that response answered this caller's own request, so its Set-Cookie is theirs to have,
 * though never stored for anyone after them (headersToStore).
 */
export function withResponseCookies(stored: HeaderRecord, response: HeaderRecord): HeaderRecord {
  const cookie = response['set-cookie']
  if (cookie === undefined) return stored
  const out = copyHeaders(stored)
  out['set-cookie'] = typeof cookie === 'string' ? cookie : [...cookie]
  return out
}

/**
 * RFC 9110 §6.6.1: a recipient with a clock that receives a response without Date "MUST record the
 * time it was received and append a corresponding Date header field to the message's header section
 * if it is cached or forwarded downstream". `headers` as they are when they have a Date; else a copy
 * with one for `receivedAt`, which the stored response and its age (RFC 9111 §4.2.3) then go by.
 */
export function withReceivedDate<V>(headers: Readonly<Record<string, V | undefined>>, receivedAt: number): Readonly<Record<string, V | string | undefined>> {
  if (headers['date'] !== undefined) return headers
  return Object.assign(headerRecord<V | string | undefined>(), headers, { date: formatHttpDate(receivedAt) })
}

/** A copy of the stored fields with `Age` set to the whole seconds of `age` (§5.1), capped as delta-seconds are (§1.2.2). */
export function replayHeaders(stored: HeaderRecord, age: number): MutableHeaderRecord {
  const out = copyHeaders(stored)
  delete out[STORED_TAGS_FIELD]
  const seconds = age > 0 ? Math.min(Math.floor(age), MAX_DELTA_SECONDS) : 0
  out['age'] = String(seconds)
  return out
}

/**
 * Response fields whose values hold URI references, and how to find them: `Location` and
 * `Content-Location` are one reference (RFC 9110 §10.2.2, §8.7), `Link` holds `<reference>` targets
 * (RFC 8288 §3), and the non-standard `Refresh` has one after `url=`. Any other field, and the body,
 * is stored as the origin sent it (README, "Keys and ignoredParameters").
 */
const URL_FIELDS: ReadonlyMap<string, (value: string, names: ReadonlySet<string>) => string> = new Map([
  ['location', stripQueryParams],
  ['content-location', stripQueryParams],
  ['link', (value: string, names: ReadonlySet<string>) => value.replace(/<([^>]*)>/g, (_, target: string) => `<${stripQueryParams(target, names)}>`)],
  ['refresh', (value: string, names: ReadonlySet<string>) => value.replace(/(\burl\s*=\s*)(.*)$/is, (_, lead: string, target: string) => lead + stripQueryParams(target, names))],
])

/** Removes the `names` query parameters from the URL-valued fields of `headers`, in place. */
function redactUrlFields(headers: MutableHeaderRecord, names: ReadonlySet<string>): void {
  for (const [name, strip] of URL_FIELDS) {
    const value = headers[name]
    if (value === undefined) continue
    headers[name] = typeof value === 'string' ? strip(value, names) : value.map((line) => strip(line, names))
  }
}
