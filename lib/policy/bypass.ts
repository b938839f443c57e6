/**
 * Requests the cache neither answers nor stores, forwarded untouched (RFC 9211 `fwd=bypass`).
 */
import { CREDENTIAL_HEADERS } from '../headers.js'
import type { CacheRequest } from '../http.js'
import type { RequestDirectives } from './directives.js'
import { userExpiration, type Expiration, type UrlRule } from './expire-after.js'
import type { Preconditions } from './preconditions.js'
import { parseRange } from './ranges.js'

export type BypassReason = 'do-not-cache' | 'no-store' | 'conditional' | 'range' | 'credentials'

export interface BypassOptions {
  readonly credentialsPartitioned: boolean
  readonly urlRules: readonly UrlRule[]
  readonly expireAfter: Expiration | undefined
}

/**
 * Why `req` bypasses the cache, or undefined when the cache may answer it. `preconditions` are the
 * request's as policy/preconditions.ts reads them.
 */
export function bypassReason(req: CacheRequest, requestDirectives: RequestDirectives, opts: BypassOptions, preconditions: Preconditions | 'origin' | undefined): BypassReason | undefined {
  // `false` / -1 for this URL (requests-cache's DO_NOT_CACHE): neither read nor written, so a URL the
  // operator excluded costs no store command at all.
  if (userExpiration(req.url, opts.urlRules, opts.expireAfter)?.kind === 'do-not-cache') return 'do-not-cache'
  // RFC 9111 §5.2.1.5: the client asks that nothing of this exchange be stored. (The RFC would still
  // let a stored response answer it; DESIGN.md's choice is to go to the origin.)
  if (requestDirectives.noStore) return 'no-store'
  // RFC 9111 §4.3.2: If-Match, If-Unmodified-Since and If-Range are the origin's to evaluate (and so
  // is a precondition on another method, or an If-None-Match that does not parse): the cache stays out
  // of the way. If-None-Match and If-Modified-Since it answers from a stored response (flows/serve.ts).
  if (preconditions === 'origin') return 'conditional'
  // RFC 9110 §14.2: range handling is defined for GET only. A GET asking for one byte range is answered
  // from what is stored (flows/range.ts, RFC 9111 §3.3, §3.4); several ranges, another unit or an
  // invalid range are the origin's to answer.
  if (req.headers['range'] !== undefined && (req.method !== 'GET' || parseRange(req.headers['range']) === undefined)) return 'range'
  // RFC 9111 §3.5 and DESIGN.md "Security defaults": one store serves every user of the process.
  if (!opts.credentialsPartitioned && CREDENTIAL_HEADERS.some((name) => req.headers[name] !== undefined)) return 'credentials'
  return undefined
}
