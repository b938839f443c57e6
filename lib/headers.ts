/**
 * Header utilities shared by the key, the policy and the replay. One helper, one home: nothing else in
 * lib/ splits list fields or knows the hop-by-hop set.
 */

/**
 * Header fields by lowercased name. A field that appeared on several lines keeps each line's value.
 * Records this package builds have no prototype (headerRecord()): a field may be named `__proto__`,
 * `constructor` or `hasOwnProperty`, and none of those may reach Object.prototype or read from it.
 */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>

/** Mutable counterpart, for code that builds a record. */
export type MutableHeaderRecord = Record<string, string | string[]>

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): meaningful for one connection only, so never stored or replayed.
 * `proxy-connection` is not standard but some clients still send it.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/** An empty record with no prototype, for header names (or other names from the network) as keys. */
export function headerRecord<V = string | string[]>(): Record<string, V> {
  return Object.create(null) as Record<string, V>
}

/**
 * One field's value, own properties only: a record from elsewhere (a caller's object literal, a decoded
 * entry) may still inherit `constructor` from Object.prototype.
 */
function ownField(headers: HeaderRecord, name: string): string | readonly string[] | undefined {
  return Object.hasOwn(headers, name) ? headers[name] : undefined
}

/** All values of one field as a single string, lines joined by ", " (RFC 9110 §5.3). */
export function fieldValue(headers: HeaderRecord, name: string): string | undefined {
  const value = ownField(headers, name)
  if (value === undefined) return undefined
  return typeof value === 'string' ? value : value.join(', ')
}

/** Each value of one field as its own line (for fields where the number of lines matters, §4.2.1). */
export function fieldLines(headers: HeaderRecord, name: string): readonly string[] {
  const value = ownField(headers, name)
  if (value === undefined) return []
  return typeof value === 'string' ? [value] : value
}

/**
 * Splits a comma-separated list field into trimmed, non-empty members (RFC 9110 §5.6.1). Commas inside
 * quoted strings do not split.
 */
export function splitList(value: string): string[] {
  const out: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 0x22 /* " */) quoted = !quoted
    else if (c === 0x5c /* \ */ && quoted) i++
    else if (c === 0x2c /* , */ && !quoted) {
      const member = value.slice(start, i).trim()
      if (member !== '') out.push(member)
      start = i + 1
    }
  }
  const last = value.slice(start).trim()
  if (last !== '') out.push(last)
  return out
}

/**
 * Lowercases names and drops undefined values, copying arrays so the result owns its data. Names that
 * differ only in case are merged, their lines kept in order. The result has no prototype.
 */
export function normalizeHeaders(headers: Readonly<Record<string, unknown>> | undefined | null): MutableHeaderRecord {
  const out = headerRecord()
  if (headers == null) return out
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined || value === null) continue
    const name = rawName.toLowerCase()
    const values = Array.isArray(value) ? value.map(String) : [String(value)]
    const existing = out[name]
    if (existing === undefined) out[name] = values.length === 1 ? values[0]! : values
    else out[name] = [...(typeof existing === 'string' ? [existing] : existing), ...values]
  }
  return out
}

/** A copy with no prototype, without undefined values, lists copied so the result owns its data. */
export function copyHeaders(headers: Readonly<Record<string, string | readonly string[] | undefined>>): MutableHeaderRecord {
  const out = headerRecord()
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = typeof value === 'string' ? value : [...value]
  }
  return out
}

/** True when a header value holds a character that undici itself refuses (CR, LF or NUL). */
export function hasInvalidHeaderChar(value: string): boolean {
  return /[\r\n\0]/.test(value)
}

/**
 * A header record as undici's raw form: [name, value, name, value, ...] as latin1 Buffers, one pair per
 * field line. undici's controllers carry this as `rawHeaders` / `rawTrailers`, and undici 8's fetch
 * reads the response's headers from it alone (not from the record passed to onResponseStart).
 */
export function toRawHeaders(headers: Readonly<Record<string, string | readonly string[] | undefined>>): Buffer[] {
  const raw: Buffer[] = []
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const key = Buffer.from(name, 'latin1')
    if (typeof value === 'string') raw.push(key, Buffer.from(value, 'latin1'))
    else for (const line of value) raw.push(key, Buffer.from(line, 'latin1'))
  }
  return raw
}

/**
 * Request fields that carry a user's credentials (RFC 9110 §11.6.2; RFC 6265 §5.4). A shared cache
 * must not answer or store such requests for someone else (RFC 9111 §3.5): without the `credentials`
 * option they bypass the cache; with it, they are keyed on an HMAC of these values.
 */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'cookie']
