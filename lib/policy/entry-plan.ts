/**
 * The store plan: at response start, one pure call decides whether a response is stored and, if so,
 * everything about it: the entry's metadata, its lifetime, how long the store keeps it, the names it
 * varies on. The refresh after a 304 (or a HEAD's 200, RFC 9111 §4.3.5) reuses the same pipeline, so
 * a new response and a refreshed one can never disagree on lifetime or retention.
 */
import { staleAt, type StoredEntry, type VaryValues } from '../entry.js'
import type { HeaderRecord } from '../headers.js'
import type { CacheRequest, CacheResponse } from '../http.js'
import { sharedMethod } from '../key.js'
import { effectiveResponseDirectives, parseResponseDirectives, type RequestDirectives, type ResponseDirectives } from './directives.js'
import { userExpiration, type Expiration, type UrlRule } from './expire-after.js'
import { correctedInitialAge, decideLifetime } from './freshness.js'
import { mergeNotModified } from './revalidation.js'
import { staleWindow, type ReuseOptions } from './reuse.js'
import { storable, worthStoring, type NotStorableReason, type StorableOptions } from './storable.js'
import { headersToStore } from './stored-headers.js'
import { responseTags, STORED_TAGS_FIELD, storedTags } from './tags.js'
import { parseVary } from './vary.js'

/** The options the plan reads, resolved once by options.ts. */
export interface PlanOptions {
  readonly storable: StorableOptions
  readonly reuse: ReuseOptions
  readonly cacheControl: boolean
  readonly expireAfter: Expiration | undefined
  readonly urlRules: readonly UrlRule[]
  /** Response header names never stored (`ignoredParameters`, lowercased). */
  readonly redactHeaders: ReadonlySet<string>
  /** The response field tags are read from (the `tagsHeader` option, lowercased), if any. */
  readonly tagsHeader: string | undefined
  /** The request's own tags (its `tags` option), filed with the response's. */
  readonly requestTags: readonly string[]
}

/**
 * How long the store keeps an entry: until it goes stale, plus the window in which it may still be
 * served stale (RFC 5861); `forever` when either is unbounded. Stores with `ttl: false` keep every
 * entry regardless, for revalidation.
 */
export type Retention = { readonly kind: 'until'; readonly staleAt: number; readonly windowSeconds: number } | { readonly kind: 'forever' }

export type StorePlan =
  | {
      readonly store: true
      /** The entry, without its body (which arrives later). */
      readonly entry: Omit<StoredEntry, 'body'>
      /** Lowercased names of the request fields the response varies on; undefined without Vary. */
      readonly varyNames: readonly string[] | undefined
      readonly retention: Retention
      /** Tags to file the entry under (policy/tags.ts), for `deleteTags()`. */
      readonly tags: readonly string[]
    }
  | { readonly store: false; readonly reason: NotStoredReason }

/** `bad-tags`: the tags field breaks the bounds of policy/tags.ts. */
export type NotStoredReason = NotStorableReason | 'do-not-cache' | 'not-worth-storing' | 'bad-tags'

/** What the plan knows of the request: its identity as the key built it, and how to record Vary values. */
export interface PlanRequest {
  readonly req: CacheRequest
  /** The request's own Cache-Control / Pragma directives. */
  readonly requestDirectives: RequestDirectives
  /** Canonical key (key.ts), stored so a read can tell a hash collision from a hit. */
  readonly canonicalKey: string
  /** The URL as stored and listed: normalised, ignored parameters redacted. */
  readonly storedUrl: string
  /** The values a Vary selects from this request, as the store records them (secrets digested). */
  readonly varyValues: (names: readonly string[]) => VaryValues
}

/** Plans the storage of a new response (RFC 9111 §3, §4.2). */
export function planResponse(request: PlanRequest, res: CacheResponse, requestTime: number, responseTime: number, opts: PlanOptions): StorePlan {
  const { req, requestDirectives } = request
  const responseDirectives = parseResponseDirectives(res.headers)
  const verdict = storable(req, requestDirectives, res, responseDirectives, opts.storable)
  if (!verdict.storable) return skip(verdict.reason)
  const lifetime = decideLifetime({ res, directives: responseDirectives, responseTime, cacheControl: opts.cacheControl, user: userExpiration(req.url, opts.urlRules, opts.expireAfter), shared: opts.storable.shared })
  if (lifetime.kind === 'do-not-cache') return skip('do-not-cache')
  const effective = effectiveResponseDirectives(res.headers, opts.cacheControl)
  const window = staleWindow(effective, opts.reuse)
  if (!worthStoring(lifetime.lifetime, res, window)) return skip('not-worth-storing')
  const tags = responseTags(res.headers, opts.tagsHeader, opts.requestTags)
  if (!tags.ok) return skip('bad-tags')
  // storable() refused `Vary: *` already (§4.1), so the response varies on named fields or none.
  const vary = parseVary(res.headers)
  const varyNames = vary.kind === 'fields' ? vary.names : undefined
  const entry: Omit<StoredEntry, 'body'> = {
    kind: 'entry',
    key: request.canonicalKey,
    url: request.storedUrl,
    method: sharedMethod(req.method),
    status: res.status,
    statusText: res.statusText,
    headers: withTags(headersToStore(res.headers, responseDirectives, opts.redactHeaders), tags.tags),
    vary: varyNames === undefined ? undefined : request.varyValues(varyNames),
    requestTime,
    responseTime,
    initialAge: correctedInitialAge(res, requestTime, responseTime),
    lifetime: lifetime.lifetime,
  }
  return { store: true, entry, varyNames, retention: retention(entry, window), tags: tags.tags }
}

/**
 * Plans the refresh of `stored` by a validation response that says it is still current: a 304, or a
 * 200 to HEAD that matches it (RFC 9111 §4.3.4, §4.3.5). The stored fields are updated from the
 * validation response (§3.2) and freshness is computed anew from the merged record (§4.3.4).
 * `varyNames` are those the stored entry was filed under (its Vary record's), kept as they were.
 */
export function planRefresh(
  stored: StoredEntry,
  varyNames: readonly string[] | undefined,
  validation: HeaderRecord,
  req: CacheRequest,
  requestTime: number,
  responseTime: number,
  opts: PlanOptions,
): { readonly plan: StorePlan; readonly refreshed: StoredEntry } {
  const merged: CacheResponse = { status: stored.status, statusText: stored.statusText, headers: mergeNotModified(stored.headers, validation) }
  const responseDirectives = parseResponseDirectives(merged.headers)
  const lifetime = decideLifetime({ res: merged, directives: responseDirectives, responseTime, cacheControl: opts.cacheControl, user: userExpiration(req.url, opts.urlRules, opts.expireAfter), shared: opts.storable.shared })
  // The validation response's own Date and Age give the refreshed entry its age (§4.2.3).
  const asReceived: CacheResponse = { status: 304, statusText: '', headers: validation }
  // The merged fields give the tags: a 304 may carry the tags field anew (§4.3.4 updates it). The
  // entry keeps the tags it had, the first request's own among them, which this one may not repeat.
  const tags = responseTags(merged.headers, opts.tagsHeader, [...storedTags(stored.headers), ...opts.requestTags])
  const refreshed: StoredEntry = {
    ...stored,
    headers: withTags(headersToStore(merged.headers, responseDirectives, opts.redactHeaders), tags.ok ? tags.tags : []),
    requestTime,
    responseTime,
    initialAge: correctedInitialAge(asReceived, requestTime, responseTime),
    lifetime: lifetime.kind === 'store' ? lifetime.lifetime : 0,
  }
  if (lifetime.kind === 'do-not-cache') return { plan: skip('do-not-cache'), refreshed }
  // §5.2.2.5: a 304 that now says no-store ends the stored response's life (must-understand aside, §5.2.2.3).
  if (responseDirectives.noStore && !responseDirectives.mustUnderstand) return { plan: skip('no-store'), refreshed }
  if (!tags.ok) return { plan: skip('bad-tags'), refreshed }
  const window = staleWindow(effectiveResponseDirectives(merged.headers, opts.cacheControl), opts.reuse)
  const { body: _body, ...entry } = refreshed
  return { plan: { store: true, entry, varyNames, retention: retention(refreshed, window), tags: tags.tags }, refreshed }
}

/**
 * Whether writing a refresh back can be skipped, for a response validated on every use anyway
 * (reuse.ts validatedOnEveryUse: `alwaysRevalidate`, a `no-cache` one): `stored` is still fresh at
 * `now` and the validation changed none of its fields but Date. What is stored already says the same,
 * with freshness left, so it is not rewritten, body and all, on each 304. Once stale, or once the
 * origin sends anything new, it is (RFC 9111 §4.3.4). Any other response is always written back: the
 * 304 restarts its freshness, which a later request served without validation depends on.
 */
export function refreshChangesNothing(stored: Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime' | 'headers'>, refreshed: Pick<StoredEntry, 'headers'>, now: number): boolean {
  if (now >= staleAt(stored)) return false
  const before = Object.keys(stored.headers).filter((name) => name !== 'date')
  const after = Object.keys(refreshed.headers).filter((name) => name !== 'date')
  return before.length === after.length && before.every((name) => sameValue(stored.headers[name], refreshed.headers[name]))
}

function sameValue(a: string | readonly string[] | undefined, b: string | readonly string[] | undefined): boolean {
  if (typeof a === 'string' || typeof b === 'string' || a === undefined || b === undefined) return a === b
  return a.length === b.length && a.every((line, index) => line === b[index])
}

/**
 * Milliseconds from `now` that the store keeps an entry planned with `retention`, or undefined to keep
 * it until evicted: the freshness left (0 once stale) plus the stale window.
 */
export function retentionMs(retention: Retention, now: number): number | undefined {
  if (retention.kind === 'forever') return undefined
  return Math.max(0, retention.staleAt - now) + retention.windowSeconds * 1000
}

function retention(entry: Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime'>, windowSeconds: number): Retention {
  if (entry.lifetime === Infinity || windowSeconds === Infinity) return { kind: 'forever' }
  return { kind: 'until', staleAt: staleAt(entry), windowSeconds }
}

/** `headers` (fresh from headersToStore) with the entry's tags recorded, when it has any (policy/tags.ts). */
function withTags<T extends Record<string, string | string[] | undefined>>(headers: T, tags: readonly string[]): T {
  if (tags.length > 0) (headers as Record<string, string>)[STORED_TAGS_FIELD] = tags.join(' ')
  return headers
}

function skip(reason: NotStoredReason): StorePlan {
  return { store: false, reason }
}
