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
 * normalizedUrl comes from url-normalize.ts and the body part from body-digest.ts. The id is the first
 * 128 bits of SHA-256 of that string, as 32 lowercase hex digits. Changing the output of any of the three
 * files re-keys every shared store, so test/key.test.ts pins two hashes.
 */
import { createHash, createHmac } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { KeyFunctionError } from './errors.js'
import { CREDENTIAL_HEADERS, HOP_BY_HOP, fieldValue, type HeaderRecord } from './headers.js'
import type { VaryValues } from './entry.js'
import type { CacheRequest } from './http.js'
import { bodyDigest } from './body-digest.js'
import { compareCodeUnits, normalizeUrl } from './url-normalize.js'

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
  // RFC 9110 §14: a range selects bytes of the one stored representation (flows/range.ts), not another response.
  'range',
])

/**
 * Credential fields whose values, when keyed, enter the canonical key as a SHA-256 digest: the canonical
 * key is stored with the entry, and a credential must never reach storage (DESIGN.md "Security defaults").
 */
const DIGESTED_HEADERS: ReadonlySet<string> = new Set(CREDENTIAL_HEADERS)

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

/**
 * The method an entry is keyed and stored under. RFC 9110 §9.3.2: HEAD is GET without the content,
 * so both read (and a GET fills) one entry.
 */
export function sharedMethod(method: string): string {
  const upper = method.toUpperCase()
  return upper === 'HEAD' ? 'GET' : upper
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
    const memoKey = `${sharedMethod(req.method)} ${req.url.href}`
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

  const parts: unknown[] = [
    FORMAT_TAG,
    sharedMethod(req.method),
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
 * Where the partial responses (206) of a request are stored (RFC 9111 §3.3): a key of their own, so a
 * lookup for the complete response never finds one, and a release that does not know them never reads
 * them. Its id is derived from the primary id alone (partialId), so invalidation reaches it from there.
 */
export function partialKey(key: RequestKey): RequestKey {
  return { id: partialId(key.id), canonical: JSON.stringify([FORMAT_TAG, 'partial', key.canonical]) }
}

/** The id of the partial responses stored beside the primary id `primaryId`. */
export function partialId(primaryId: string): string {
  return hashKey(JSON.stringify([FORMAT_TAG, 'partial', primaryId]))
}

/**
 * The id of one variant under a primary entry (RFC 9111 §4.1): the primary id, a dot, the Vary
 * pointer's generation (storage/vary-records.ts), and 64 bits of SHA-256 over the sorted (name, value)
 * pairs as JSON, where `null` (field absent) differs from `""`. The generation is written out rather
 * than hashed in, so a variant id says which pointer generation it belongs to; the legacy generation
 * `''` (pointers written before generations) gives the ids such pointers always had.
 */
export function variantId(primaryId: string, values: VaryValues, generation = ''): string {
  const pairs = Object.keys(values)
    .sort(compareCodeUnits)
    .map((name) => [name, values[name] ?? null])
  return `${primaryId}.${generation}${sha256Hex(JSON.stringify(pairs)).slice(0, 16)}`
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

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}
