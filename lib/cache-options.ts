/**
 * `CacheOptions`: the option reference. The README's table follows this file, in this order.
 * requests-cache's name for each option is given in brackets.
 */
import type { Clock } from './clock.js'
import type { CacheError } from './errors.js'
import type { CacheRequest, CacheResponse } from './http.js'
import type { CacheStore } from './stores/types.js'

/**
 * A lifetime setting: seconds (`0` stores the response but revalidates it on every use), `'never'`
 * (never goes stale), or `false` / `-1` (do not store at all) [requests-cache: `NEVER_EXPIRE`, `DO_NOT_CACHE`].
 */
export type ExpireAfter = number | 'never' | false

export interface CacheOptions {
  /**
   * Where responses are kept: a store instance, `'memory'` (an in-process LRU, 256 MiB) or `'redis'`
   * (a RedisStore on `REDIS_URL`, else `redis://127.0.0.1:6379`). [backend]
   * @default 'memory'
   */
  store?: CacheStore | 'memory' | 'redis'

  /**
   * Who the cache serves (RFC 9111 §1). `'shared'`: one store behind many users, as a Redis behind a
   * fleet is; responses marked `private` are not stored (except inside a `credentials` partition, which
   * is one user's), `s-maxage` and `proxy-revalidate` apply, and a response to a request with
   * `Authorization` is stored only when it says a shared cache may (§3.5: `public`, `must-revalidate`
   * or `s-maxage`). `'private'`: one process serving one user (a CLI, a desktop app, a per-user
   * worker); `private` responses are stored and the shared-cache directives are ignored.
   * @default 'shared'
   */
  type?: 'shared' | 'private'

  /**
   * Request methods whose responses are stored. Safe methods other than GET/HEAD, or POST for a search
   * API, may be added; the request body then becomes part of the key. HEAD is answered from a stored GET.
   * [allowable_methods]
   * @default ['GET', 'HEAD']
   */
  methods?: readonly string[]

  /**
   * Freshness lifetime used when the response states none (no `max-age`, no `Expires`), or for every
   * response when `cacheControl` is false. Unset, RFC 9111 applies: heuristic freshness from
   * `Last-Modified` where §4.2.2 allows it, otherwise the response is stale at once (stored only when it
   * can be revalidated). [expire_after]
   * @default undefined
   */
  expireAfter?: ExpireAfter

  /**
   * Per-URL lifetimes: glob patterns over `host/path` (`*` matches within a segment run, `**` is not
   * needed: `*` also crosses `/`), tried in insertion order; the first match overrides `expireAfter`.
   * A pattern without a host (`'*.png'`) matches on any host. [urls_expire_after]
   * @example { 'api.example.com/users/*': 60, '*.png': 'never', 'api.example.com/live/*': false }
   */
  urlsExpireAfter?: Readonly<Record<string, ExpireAfter>>

  /**
   * Honour the response's `Cache-Control`, `Expires` and `Pragma` (RFC 9111). With `false`, only
   * `expireAfter` / `urlsExpireAfter` decide a response's lifetime; its `no-store` is still honoured.
   * Request directives (`no-store`, `no-cache`, `max-age`, `max-stale`, `min-fresh`, `only-if-cached`)
   * are honoured either way, as in requests-cache. [cache_control]
   * @default true
   */
  cacheControl?: boolean

  /**
   * Response status codes that may be stored, as a gate in front of RFC 9111: a status not listed is
   * never stored, a listed one still needs what §3 asks (with `cacheControl`). Unset, the RFC decides:
   * any final status with explicit freshness (`max-age`, `Expires`, `s-maxage` in a shared cache) or
   * `public`, e.g. a 404, 410 or 503 with `max-age`, and the heuristically cacheable statuses of RFC 9110
   * §15.1 (200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501) with a `Last-Modified` to derive a
   * lifetime from. 1xx and 304 are never stored as responses. With `cacheControl: false` and this unset,
   * only 200, 203, 300, 301 and 308 are stored, since no response says how long an error stays true.
   * [allowable_codes]
   * @default undefined (RFC 9111 §3)
   */
  allowableCodes?: readonly number[]

  /**
   * Request headers that become part of the key: `true` for all of them (except `ignoredParameters`),
   * or a list of names. `Vary` is honoured either way. [match_headers]
   * @default false
   */
  matchHeaders?: boolean | readonly string[]

  /**
   * Query parameters and request header names left out of the key and redacted from what is stored,
   * so API keys and tokens never reach Redis. Header names match case-insensitively. [ignored_parameters]
   * @default []
   */
  ignoredParameters?: readonly string[]

  /**
   * Called with each storable response before it is stored; return false to pass it through unstored.
   * [filter_fn]
   */
  filter?: (response: CacheResponse, request: CacheRequest) => boolean

  /**
   * Replaces the canonical key of a request; the returned string is hashed. Vary is still applied on
   * top of it. [key_fn]
   */
  key?: (request: CacheRequest) => string

  /**
   * Serve a stale stored response when the origin fails (connection error, timeout, 500, 502, 503, 504):
   * `true` for any staleness, or at most this many seconds past freshness. The response's own
   * `stale-if-error` (RFC 5861 §4) applies too; `must-revalidate` always forbids it. [stale_if_error]
   * @default false
   */
  staleIfError?: boolean | number

  /**
   * Serve a stale response at once and revalidate it in the background (one revalidation per entry at a
   * time): `true` for any staleness, or within this many seconds past freshness. The response's own
   * `stale-while-revalidate` (RFC 5861 §3) applies too. [stale_while_revalidate]
   * @default false
   */
  staleWhileRevalidate?: boolean | number

  /**
   * Validate a fresh stored response with the origin before every use, when it has a validator (`ETag`
   * or `Last-Modified`): a 304 serves the stored body, so the caller is always current and a body
   * crosses the network only when it changed. One without a validator is served while fresh as usual,
   * and so is an `immutable` one (RFC 8246), a stored POST's (a conditional POST would get 412), and one
   * asked for `only-if-cached`; a stale one follows the usual rules (validation, or a stale window).
   * If the origin fails, the fresh stored response is served. `Cache-Status` says `fwd=request`.
   * [always_revalidate]
   * @default false
   */
  alwaysRevalidate?: boolean

  /**
   * Largest body, in bytes, that is stored; larger responses pass through unstored and unbuffered.
   * @default 16777216 (16 MiB)
   */
  maxEntrySize?: number

  /**
   * Adds an RFC 9211 `Cache-Status` header to every response that passed through the cache, e.g.
   * `undici-redis-cache; hit; ttl=42`. A string replaces the cache name; `false` adds nothing;
   * `{ name?, key: true }` also adds the `key` parameter (§2.7): the entry's store id, the same as
   * `keys()` lists and the per-request `onOutcome` reports.
   * @default true
   */
  cacheStatus?: boolean | string | { readonly name?: string; readonly key?: boolean }

  /**
   * Opt in to caching requests that carry `Authorization` or `Cookie`. Each credential gets its own
   * entries: the key includes an HMAC-SHA256 of those header values under `secret`, never the values
   * themselves. `secret` is at least 16 characters (or bytes); a shorter one is refused with
   * InvalidOptionError. Without it such requests bypass the cache (one store serves every user of a process).
   * Either way a response's `Set-Cookie` is never stored: it reaches the caller whose request the origin
   * answered, and no one after.
   * @default undefined (bypass)
   */
  credentials?: { readonly secret: string | Uint8Array }

  /**
   * Milliseconds any single store call may take before the request goes on without the cache.
   * @default 200
   */
  commandTimeout?: number

  /**
   * Fleet-wide collapsing over a RedisStore: a missing entry is fetched, and a stale one revalidated in
   * the background, by one process of all sharing the store. This many ms is the fleet lock's TTL (a
   * holder that dies frees it by then) and the longest a miss waits for another process's response
   * before going to the origin itself; `0`: off. A failing or slow store means no wait.
   * @default 5000
   */
  collapseTimeout?: number

  /**
   * Receives every store failure, corrupt entry and discarded write (rate-limited: a state change, then
   * at most one a second). Failures never reach the caller of fetch; they degrade to origin requests.
   * @default reports through util.debuglog('undici-redis-cache') only
   */
  onError?: (error: CacheError) => void

  /**
   * The source of time for freshness, ages, timers and the store guard's timeout and cooldown: for
   * tests and simulations that move time instead of waiting. The `'memory'` and `'redis'` stores get it
   * too; a store you pass in keeps its own (`new MemoryStore({ clock })`, `new RedisStore({ clock })`).
   * @default the system clock
   */
  clock?: Clock

  /**
   * The only origins the cache serves [undici: origins]: strings such as `'https://api.example.com'`
   * (case-insensitive, default port optional, nothing after the origin) and RegExps tested against the
   * origin as `URL.origin` spells it (`http://localhost:3000`). Requests to any other origin go to it
   * untouched: never looked up or stored, invalidating nothing (`fwd=bypass; detail=origin`). `[]`
   * serves no origin.
   * @default undefined (every origin)
   */
  origins?: readonly (string | RegExp)[]

  /**
   * Look up and serve as usual, but write no response: a miss is not stored, a 304 does not refresh
   * the stored entry, and Cache-Status never says `stored` [read_only]. Deletes still happen: an
   * unsafe method's invalidation (RFC 9111 §4.4), so nothing it made obsolete is served, and the
   * removal of corrupt entries; the store's counters still count. `false`: reads and writes.
   * @default false
   */
  readOnly?: boolean

  /**
   * Response field holding the response's cache tags, comma- or space-separated as CDNs use
   * `Cache-Tag` and `Surrogate-Key` (`'cache-tag'`, say). Each stored response is filed under its tags
   * and the request's own `tags` option, and `store.deleteTags(['user:42'])` drops every response
   * filed under `user:42`, in every process sharing the store. At most 32 tags of at most 128
   * characters per field: a response whose field breaks that is served but not stored, since it could
   * not be dropped by all of its tags.
   * @default undefined (tags come from the request's `tags` option only)
   */
  tagsHeader?: string
}

// ---------------------------------------------------------------------------------------------------
// Resolution: defaults, validation, precomputed sets. Runs once, in cache(); the per-request path only
// reads the result.
