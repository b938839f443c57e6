/**
 * Canonical request identity: which requests share a stored response.
 *
 * The canonical key is a JSON array of its parts. JSON string escaping makes the encoding unambiguous:
 * no header value, URL or body can contain a separator that shifts a part boundary (undici
 * lib/util/cache.js makeDeduplicationKey moved to a JSON array after such a collision, issue #5012).
 * Layout, format tag 'v1':
 *
 *   ["v1", method, normalizedUrl, userinfoDigest | null, [[name, value | null], ...], [bodyKind, bodyDigest] | null]
 *   ["v1", "key-fn", userString]                      (a user key function replaced the parts)
 *
 * The id is the first 128 bits of SHA-256 of that string, as 32 lowercase hex digits. Changing any part
 * of this file's output re-keys every shared store, so test/key.test.ts pins two hashes.
 */
import { createHash, createHmac } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { KeyFunctionError } from './errors.js'
import { HOP_BY_HOP, fieldValue, type HeaderRecord, type MutableHeaderRecord } from './headers.js'
import type { VaryValues } from './entry.js'
import type { CacheRequest } from './message.js'

export interface KeyOptions {
  /** Query parameter names left out (exact match) and request header names left out (lowercased). */
  readonly ignoredParams: ReadonlySet<string>
  readonly ignoredHeaders: ReadonlySet<string>
  /** false: no headers in the key; true: every request header except ignored ones and the ones listed in NEVER_KEYED_HEADERS; a set: those (lowercased). */
  readonly matchHeaders: boolean | ReadonlySet<string>
  /** User key function: its string replaces the canonical key (still hashed). */
  readonly keyFn: ((req: CacheRequest) => string) | undefined
  /**
   * Credential partition (the `credentials` option): returns an HMAC of the request's credentials, or
   * undefined when it carries none. Appended as a last part only when present, so keys of requests
   * without credentials are unchanged.
   */
  readonly partition: ((req: CacheRequest) => string | undefined) | undefined
}

export interface RequestKey {
  /** 32 lowercase hex digits; the store key. */
  readonly id: string
  /** The unhashed key, stored in the entry and compared on read, so a hash collision is a miss. */
  readonly canonical: string
}

const FORMAT_TAG = 'v1'

/**
 * Request fields that `matchHeaders: true` leaves out. Hop-by-hop fields (RFC 9110 §7.6.1) describe one
 * connection, not the resource; `content-length` follows from the body, which is keyed on its own; and
 * the request directives and preconditions (`cache-control`, `pragma`, RFC 9111 §5.2.1, §5.4; `if-*`,
 * RFC 9110 §13.1) change how the cache answers, not which response is the stored one — keying on them
 * would make `no-cache` or a conditional request miss the entry it is meant to revalidate.
 * Everything else stays keyed: leaving out a field that does select the response would serve the wrong one.
 */
export const NEVER_KEYED_HEADERS: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  'content-length',
  'cache-control',
  'pragma',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
])

/**
 * Credential fields whose values, when keyed, enter the canonical key as a SHA-256 digest: the canonical
 * key is stored with the entry, and a credential must never reach storage (DESIGN.md "Security defaults").
 */
const DIGESTED_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie'])

/**
 * The `credentials` partition: an HMAC-SHA256 under the user's secret of the request's Authorization and
 * Cookie values, so each credential gets its own entries while storage only ever sees the digest (a
 * plain hash of a weak password could be guessed; an HMAC cannot without the secret).
 */
export function credentialPartition(secret: string | Uint8Array): (req: CacheRequest) => string | undefined {
  return (req) => {
    const authorization = fieldValue(req.headers, 'authorization')
    const cookie = fieldValue(req.headers, 'cookie')
    if (authorization === undefined && cookie === undefined) return undefined
    return `hmac:${createHmac('sha256', secret).update(JSON.stringify([authorization ?? null, cookie ?? null])).digest('hex')}`
  }
}

/**
 * How a secret request header value (an ignored parameter, or a credential) enters a stored Vary
 * record: an HMAC under the `credentials` secret when there is one, else a plain SHA-256 (the best a
 * cache without a configured secret can do while staying comparable across processes).
 */
export function secretDigest(secret: string | Uint8Array | undefined): (value: string) => string {
  if (secret === undefined) return (value) => `sha256:${sha256Hex(value)}`
  return (value) => `hmac:${createHmac('sha256', secret).update(value).digest('hex')}`
}

export function hashKey(canonical: string): string {
  return sha256Hex(canonical).slice(0, 32)
}

/** How many method + URL pairs a keyer remembers. */
const KEY_MEMO_SIZE = 10_000

/**
 * requestKey with a bounded memo for the plain case, where the key depends on nothing but the method and
 * the URL (no body, key function, matched headers or credential partition): a hit then does not pay
 * again to normalise and hash a URL it has keyed before.
 */
export function createKeyer(opts: KeyOptions): (req: CacheRequest, body?: Uint8Array) => RequestKey {
  if (opts.keyFn !== undefined || opts.matchHeaders !== false || opts.partition !== undefined) return (req, body) => requestKey(req, opts, body)
  const memo = new LRUCache<string, RequestKey>({ max: KEY_MEMO_SIZE })
  return (req, body) => {
    if (body !== undefined) return requestKey(req, opts, body)
    const method = req.method.toUpperCase()
    const memoKey = `${method === 'HEAD' ? 'GET' : method} ${req.url.href}`
    let key = memo.get(memoKey)
    if (key === undefined) memo.set(memoKey, (key = requestKey(req, opts)))
    return key
  }
}

export function requestKey(req: CacheRequest, opts: KeyOptions, body?: Uint8Array): RequestKey {
  if (opts.keyFn !== undefined) {
    let custom: unknown
    try {
      custom = opts.keyFn(req)
    } catch (error) {
      throw new KeyFunctionError('it threw', { cause: error })
    }
    if (typeof custom !== 'string') throw new KeyFunctionError(`it returned ${typeof custom}, expected a string`)
    const parts: unknown[] = [FORMAT_TAG, 'key-fn', custom]
    const partition = opts.partition?.(req)
    if (partition !== undefined) parts.push(partition)
    const canonical = JSON.stringify(parts)
    return { id: hashKey(canonical), canonical }
  }

  const method = req.method.toUpperCase()
  const parts: unknown[] = [
    FORMAT_TAG,
    // RFC 9110 §9.3.2: HEAD is GET without the content, so both read (and a GET fills) one entry.
    method === 'HEAD' ? 'GET' : method,
    normalizeUrl(req.url, opts.ignoredParams),
    userinfoDigest(req.url),
    matchedHeaders(req.headers, opts),
    body === undefined ? null : bodyDigest(body, fieldValue(req.headers, 'content-type'), opts.ignoredParams),
  ]
  const partition = opts.partition?.(req)
  if (partition !== undefined) parts.push(partition)
  const canonical = JSON.stringify(parts)
  return { id: hashKey(canonical), canonical }
}

/**
 * The id of one variant under a primary entry (RFC 9111 §4.1): the primary id, a dot, and 64 bits of
 * SHA-256 over the sorted (name, value) pairs as JSON, where `null` (field absent) differs from `""`.
 */
export function variantId(primaryId: string, values: VaryValues): string {
  const pairs = Object.keys(values)
    .sort(compareCodeUnits)
    .map((name) => [name, values[name] ?? null])
  return `${primaryId}.${sha256Hex(JSON.stringify(pairs)).slice(0, 16)}`
}

/**
 * Scheme and host lowercased and default port dropped (the URL parser does both, RFC 3986 §6.2.2.1,
 * §6.2.3), fragment and userinfo dropped, path escapes normalized, query normalized by normalizeQuery.
 */
export function normalizeUrl(url: URL, ignoredParams: ReadonlySet<string>): string {
  const query = normalizeQuery(new TextEncoder().encode(url.search.slice(1)), ignoredParams)
  return `${url.protocol}//${url.host}${normalizePath(url.pathname)}${query === '' ? '' : `?${query}`}`
}

/** The URL as stored for inspection: normalizeUrl's output, so ignored parameters and userinfo never reach storage. */
export function redactUrl(url: URL, ignoredParams: ReadonlySet<string>): string {
  return normalizeUrl(url, ignoredParams)
}

/** A copy without the ignored fields; names compared lowercased (DESIGN.md: header redaction is case-insensitive). */
export function redactHeaders(headers: HeaderRecord, ignoredHeaders: ReadonlySet<string>): HeaderRecord {
  const out: MutableHeaderRecord = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || ignoredHeaders.has(name.toLowerCase())) continue
    out[name] = typeof value === 'string' ? value : [...value]
  }
  return out
}

function matchedHeaders(headers: HeaderRecord, opts: KeyOptions): Array<[string, string | null]> {
  const { matchHeaders, ignoredHeaders } = opts
  if (matchHeaders === false) return []
  const present = new Map<string, string>()
  for (const name of Object.keys(headers)) {
    const value = fieldValue(headers, name)
    if (value !== undefined) present.set(name.toLowerCase(), value)
  }
  let names: string[]
  if (matchHeaders === true) names = [...present.keys()].filter((name) => !NEVER_KEYED_HEADERS.has(name))
  else names = [...matchHeaders].map((name) => name.toLowerCase())
  // A listed field that is absent keys as null, so "absent" and "empty" stay different requests.
  return [...new Set(names)]
    .filter((name) => !ignoredHeaders.has(name))
    .sort(compareCodeUnits)
    .map((name) => {
      const value = present.get(name)
      if (value === undefined) return [name, null]
      return [name, DIGESTED_HEADERS.has(name) ? `sha256:${sha256Hex(value)}` : value]
    })
}

/** `user:password@` identifies a different principal, so it is keyed, but only as a digest (never stored). */
function userinfoDigest(url: URL): string | null {
  if (url.username === '' && url.password === '') return null
  return sha256Hex(`${url.username}:${url.password}`)
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/

/**
 * RFC 3986 §6.2.2.1-2: hex digits of escapes uppercased and escaped unreserved characters decoded. Other
 * escapes stay escaped: `%2F` is not `/`, since servers route on the raw path. The URL parser has
 * already percent-encoded non-ASCII characters and resolved dot segments, `%2e` forms included.
 */
function normalizePath(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16))
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`
  })
}

/**
 * application/x-www-form-urlencoded normalization, over bytes: pairs split on `&` and at the first `=`,
 * `+` read as a space (so `+` and `%20` are equal, as in requests-cache's parse_qsl/urlencode), escapes
 * decoded to bytes and every byte but the unreserved ones re-escaped as uppercase `%XX`. Working on bytes
 * rather than decoded text keeps invalid UTF-8 (`%FF` vs `%FE`) distinct. An escaped `&` or `=` stays
 * data, so `?a=1%26b%3D2` is one pair and never equals `?a=1&b=2`. Ignored names are removed; the rest
 * are sorted by name with a stable sort, so repeated names keep their order (the server may read it).
 * `a` and `a=` are equal (both an empty value), and empty pairs (`&&`) are dropped.
 */
function normalizeQuery(bytes: Uint8Array, ignoredParams: ReadonlySet<string>): string {
  const pairs: Array<{ name: string; value: string }> = []
  const nameDecoder = new TextDecoder()
  let start = 0
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x26 /* & */) continue
    if (i > start) {
      const part = bytes.subarray(start, i)
      const eq = part.indexOf(0x3d /* = */)
      const rawName = eq === -1 ? part : part.subarray(0, eq)
      const rawValue = eq === -1 ? part.subarray(part.length) : part.subarray(eq + 1)
      const nameBytes = formDecode(rawName)
      if (!ignoredParams.has(nameDecoder.decode(nameBytes))) {
        pairs.push({ name: percentEncode(nameBytes), value: percentEncode(formDecode(rawValue)) })
      }
    }
    start = i + 1
  }
  pairs.sort((a, b) => compareCodeUnits(a.name, b.name))
  return pairs.map(({ name, value }) => `${name}=${value}`).join('&')
}

function formDecode(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(raw.length)
  let n = 0
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!
    if (byte === 0x2b /* + */) out[n++] = 0x20
    else if (byte === 0x25 /* % */ && i + 2 < raw.length && isHex(raw[i + 1]!) && isHex(raw[i + 2]!)) {
      out[n++] = (hexValue(raw[i + 1]!) << 4) | hexValue(raw[i + 2]!)
      i += 2
    } else out[n++] = byte
  }
  return out.subarray(0, n)
}

function percentEncode(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) {
    const char = String.fromCharCode(byte)
    out += UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
}

function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10
}

type BodyKind = 'json' | 'form' | 'raw'

/**
 * Bodies of cached unsafe methods (a POST search API) key on a normalized form, hashed: JSON re-serialized
 * with sorted object keys and ignored top-level keys dropped (as requests-cache does), form bodies
 * normalized like a query, anything else (or JSON that does not parse, or that normalization could
 * change in meaning) as raw bytes. The kind is keyed too, so equal text under different types differs.
 */
function bodyDigest(body: Uint8Array, contentType: string | undefined, ignoredParams: ReadonlySet<string>): [BodyKind, string] {
  const mediaType = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase()
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    const json = canonicalJson(body, ignoredParams)
    if (json !== undefined) return ['json', sha256Hex(json)]
  } else if (mediaType === 'application/x-www-form-urlencoded') {
    return ['form', sha256Hex(normalizeQuery(body, ignoredParams))]
  }
  return ['raw', createHash('sha256').update(body).digest('hex')]
}

function canonicalJson(body: Uint8Array, ignoredParams: ReadonlySet<string>): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(body)
    if (!numbersSurviveParsing(text)) return undefined
    const value: unknown = JSON.parse(text)
    if (isPlainObject(value)) for (const name of ignoredParams) delete value[name]
    return sortedJson(value)
  } catch {
    // Invalid UTF-8, invalid JSON, or nesting too deep to re-serialize: key on the raw bytes.
    return undefined
  }
}

/**
 * JSON.parse reads numbers as doubles, so `12345678901234567890` and `12345678901234567891` (or `1e400`
 * and `2e400`) would parse to the same value and share a key. Reject any literal a double cannot tell
 * apart from its neighbours: more than 15 significant digits, outside the normal range, or not finite.
 */
function numbersSurviveParsing(text: string): boolean {
  const tokens = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g
  for (const [token] of text.matchAll(tokens)) {
    if (token.startsWith('"')) continue
    const value = Number(token)
    const mantissa = token.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '')
    if (mantissa === '') continue
    if (mantissa.length > 15 || !Number.isFinite(value) || Math.abs(value) < 2.2250738585072014e-308) return false
  }
  return true
}

function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`
  if (isPlainObject(value)) {
    const members = Object.keys(value)
      .sort(compareCodeUnits)
      .map((name) => `${JSON.stringify(name)}:${sortedJson(value[name])}`)
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Code-unit order: deterministic everywhere, unlike localeCompare. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}
