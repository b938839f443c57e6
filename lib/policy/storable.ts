/**
 * May this response be stored? RFC 9111 §3 clause by clause, for a shared cache (the default: one Redis
 * behind many users) or a private one (`type: 'private'`), plus the stricter defaults of DESIGN.md
 * "Security defaults": requests with credentials bypass the cache unless the `credentials` option
 * partitions them. A response with Set-Cookie may be stored (§3 does not forbid it, §7.3); the field
 * itself never is (stored-headers.ts), so no one else is ever handed it.
 */
import { CREDENTIAL_HEADERS, fieldValue, splitList } from '../headers.js'
import type { CacheRequest, CacheResponse } from '../http.js'
import type { RequestDirectives, ResponseDirectives } from './directives.js'
import { HEURISTICALLY_CACHEABLE } from './freshness.js'
import { storablePartial } from './ranges.js'

export type NotStorableReason =
  | 'method'
  | 'status'
  | 'partial-content'
  | 'no-store'
  | 'private'
  | 'authorization'
  | 'cookie'
  | 'vary-star'
  | 'must-understand'
  | 'no-lifetime'

export type StorableVerdict = { readonly storable: true } | { readonly storable: false; readonly reason: NotStorableReason }

export interface StorableOptions {
  /** Uppercased methods whose responses may be stored (`methods` option). */
  readonly methods: ReadonlySet<string>
  /**
   * The user's `allowableCodes` gate (requests-cache's allowable_codes): only these statuses are
   * stored. Undefined: RFC 9111 §3 alone decides which final statuses are.
   */
  readonly allowableCodes: ReadonlySet<number> | undefined
  readonly cacheControl: boolean
  /**
   * True with the `credentials` option: requests carrying Authorization or Cookie are keyed on an HMAC
   * of those values, so each credential's responses are stored apart and may be stored.
   */
  readonly credentialsPartitioned: boolean
  /** A shared cache (`type: 'shared'`, RFC 9111 §1): `private`, `s-maxage` and §3.5 apply. */
  readonly shared: boolean
}

/**
 * Final status codes whose caching rules this cache implements (RFC 9110 §15), for `must-understand`
 * (RFC 9111 §5.2.2.3). 206 is left out: partial content is stored only in the narrow shape
 * storablePartial() accepts, so a `must-understand` 206 is not claimed as understood.
 */
const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426,
  500, 501, 502, 503, 504, 505,
])

/**
 * The statuses stored when `allowableCodes` is unset and `cacheControl` is off: the response's own
 * freshness is ignored then, so §3 has nothing to decide by, and the user's lifetime would otherwise
 * keep any error for as long as a page. These are the heuristically cacheable statuses (RFC 9110
 * §15.1) that report success or a permanent redirect.
 */
const CODES_WITHOUT_CACHE_CONTROL: ReadonlySet<number> = new Set([200, 203, 300, 301, 308])

const STORABLE: StorableVerdict = { storable: true }

export function storable(
  req: CacheRequest,
  requestDirectives: RequestDirectives,
  res: CacheResponse,
  responseDirectives: ResponseDirectives,
  opts: StorableOptions,
): StorableVerdict {
  // RFC 9111 §3: the request method is understood by the cache. A response to HEAD has no body, so it is
  // never stored; HEAD requests are answered from the stored GET instead (RFC 9110 §9.3.2).
  if (req.method === 'HEAD' || !opts.methods.has(req.method)) return notStorable('method')
  // §3: the response status code is final. 304 is final but carries no representation of its own: it
  // only updates a stored response (§4.3.4).
  if (res.status < 200 || res.status === 304) return notStorable('status')
  // §3, §3.3: a 206 is understood as the one byte range of a representation it states, answering a
  // single byte-range GET (ranges.ts); flows/range.ts stores it apart from complete responses, so it
  // never looks complete, and combines it (§3.4). Otherwise it may be stored as its 200 would be.
  if (res.status === 206) return storablePartial(req, res) === undefined ? notStorable('partial-content') : storable(req, requestDirectives, { ...res, status: 200 }, responseDirectives, opts)
  // The user's gate, when set. Without it §3 decides below: any final status with explicit freshness,
  // `public`, or a heuristically cacheable status (RFC 9110 §15.1).
  const gate = opts.allowableCodes ?? (opts.cacheControl ? undefined : CODES_WITHOUT_CACHE_CONTROL)
  if (gate !== undefined && !gate.has(res.status)) return notStorable('status')
  // §5.2.2.3: must-understand stores only what the cache understands the status code of; a cache that
  // does ignores an accompanying no-store (the directive's purpose: no-store for older caches only).
  if (responseDirectives.mustUnderstand && !UNDERSTOOD_STATUSES.has(res.status)) return notStorable('must-understand')
  // §3: no-store absent from the response (§5.2.2.5); §5.2.1.5: nor in the request. Honoured even with
  // cacheControl off: it is a privacy request, not a freshness hint.
  if ((responseDirectives.noStore && !responseDirectives.mustUnderstand) || requestDirectives.noStore) return notStorable('no-store')
  // A request with credentials under the `credentials` option is keyed on them: what it stores only that
  // user can read back, as from a private cache of their own.
  const partitioned = opts.credentialsPartitioned && CREDENTIAL_HEADERS.some((name) => req.headers[name] !== undefined)
  // §3, §5.2.2.7: a shared cache does not store a response marked (unqualified) `private`. A qualified
  // one is stored without the fields it names (stored-headers.ts).
  if (opts.shared && responseDirectives.private === true && !partitioned) return notStorable('private')
  // §3.5 forbids a shared cache to reuse a response to a request with Authorization for other requests
  // unless it says so (public, must-revalidate, s-maxage). Stricter default: without the `credentials`
  // option such requests are not stored at all, public or not (a Cookie usually personalises the
  // response too); with it, they are stored in the requester's partition, which no other credential
  // can read, so no response is ever reused across users.
  if (!opts.credentialsPartitioned) {
    if (req.headers['authorization'] !== undefined) return notStorable('authorization')
    if (req.headers['cookie'] !== undefined) return notStorable('cookie')
  }
  // §4.1: a stored response with `Vary: *` never matches a later request, so storing it is pointless.
  if (hasVaryStar(res)) return notStorable('vary-star')
  // §3: explicit freshness, a `public` / `private` directive, or a heuristically cacheable status. With
  // cacheControl off the user's expiration supplies the lifetime, so no response signal is needed.
  if (opts.cacheControl && !hasCacheabilitySignal(res, responseDirectives, opts.shared && !partitioned)) return notStorable('no-lifetime')
  return STORABLE
}

/**
 * Whether a storable response is worth a store write: not when it is stale on arrival, has no validator
 * for a conditional request (RFC 9111 §4.3.1), and no stale window in which it could still be served.
 */
export function worthStoring(lifetime: number, res: CacheResponse, staleWindow: number): boolean {
  if (lifetime > 0 || staleWindow > 0) return true
  return res.headers['etag'] !== undefined || res.headers['last-modified'] !== undefined
}

function notStorable(reason: NotStorableReason): StorableVerdict {
  return { storable: false, reason }
}

function hasVaryStar(res: CacheResponse): boolean {
  const vary = fieldValue(res.headers, 'vary')
  return vary !== undefined && splitList(vary).includes('*')
}

function hasCacheabilitySignal(res: CacheResponse, directives: ResponseDirectives, shared: boolean): boolean {
  return (
    directives.public ||
    // §3: a private cache may count `private` as an explicit permission to store; a shared one, s-maxage.
    (shared ? directives.sMaxAge !== undefined : directives.private !== false) ||
    res.headers['expires'] !== undefined ||
    directives.maxAge !== undefined ||
    HEURISTICALLY_CACHEABLE.has(res.status)
  )
}
