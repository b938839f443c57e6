/**
 * `cache(options)`: resolves options once and returns an undici interceptor. Per request it only
 * classifies and routes (see DESIGN.md "One request, step by step"):
 * 1. pass-through: upgrades/CONNECT, bad URLs or header values (undici reports those itself);
 *    then the cache-wide switches: an origin `origins` leaves out, or the cache switched off
 *    (cache-switch.ts), forwarded untouched (flows/passthrough.ts);
 * 2. unsafe methods not cached: forwarded, and a non-error response invalidates (flows/unsafe.ts);
 * 3. bypass: methods not cached, and what policy/bypass.ts names; forwarded untouched
 *    (flows/passthrough.ts);
 * 4. the cached path (flows/lookup.ts), once any request body the key needs has been read.
 */
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { CacheSwitch } from './cache-switch.js'
import { CacheContext, plainHeaders, type Dispatch, type DispatchOptions } from './flows/context.js'
import { lookup } from './flows/lookup.js'
import { refuseOnlyIfCached } from './flows/serve.js'
import { bypass, forwardUntouched } from './flows/passthrough.js'
import { forwardUnsafe } from './flows/unsafe.js'
import { MissingOriginError } from './errors.js'
import { Downstream } from './handlers/downstream.js'
import { hasInvalidHeaderChar, headerRecord, type HeaderRecord } from './headers.js'
import type { CacheRequest } from './http.js'
import { toCacheRequest } from './message.js'
import { resolveOptions, type CacheOptions } from './options.js'
import { bypassReason } from './policy/bypass.js'
import { receivedPreconditions } from './policy/preconditions.js'
import { parseRequestDirectives } from './policy/directives.js'
import { servesOrigin } from './policy/origins.js'
import { SAFE_METHODS } from './policy/invalidation.js'
import { keyedBody, readBody } from './request-body.js'
import { CACHE_MODE_HEADER, resolveRequestOptions } from './request-options.js'

/**
 * What cache() returns: an undici interceptor (compose it onto an Agent, Pool or Client) that can be
 * switched off for a while without recomposing the dispatcher (requests-cache `cache_disabled()`).
 * While it is off for a request, the request goes straight to the origin: nothing is looked up or
 * stored, and the response carries `Cache-Status: …; fwd=bypass; detail=disabled`. An unsafe method
 * still invalidates what it changes (RFC 9111 §4.4), so nothing it made obsolete is served once the
 * cache is on again. A request already under way when the switch moves finishes as it began.
 */
export interface CacheInterceptor extends Dispatcher.DispatcherComposeInterceptor {
  /** Switches the cache off for every request through it, until enable(). */
  disable(): void
  /** Switches it back on (a disabled(fn) scope still under way stays off). */
  enable(): void
  /**
   * Runs `fn` with the cache off only for the requests `fn`'s own async call tree dispatches (after
   * any number of awaits), while concurrent requests elsewhere are cached as usual. Returns what `fn`
   * returns: its promise, for an async function.
   * @example await interceptor.disabled(() => request(url, { dispatcher }))
   */
  disabled<T>(fn: () => T): T
}

/**
 * Creates the cache interceptor: `new Agent().compose(cache({ store }))`.
 * Throws InvalidOptionError for a bad option. Per request, dispatch throws only for what the caller
 * got wrong: a bad `cache` option or mode header (InvalidOptionError), no origin (MissingOriginError).
 */
export function cache(options?: CacheOptions): CacheInterceptor {
  const ctx = new CacheContext(resolveOptions(options))
  const onOff = new CacheSwitch()
  // undici 8 passes the origin of the Client or Pool the interceptor is composed onto (null or
  // undefined for an Agent, whose requests carry their own).
  const interceptor: Dispatcher.DispatcherComposeInterceptor = (next, origin?: string | null) => (opts, handler) => dispatch(ctx, onOff, next, origin ?? undefined, opts, handler)
  return Object.assign(interceptor, {
    disable: () => onOff.disable(),
    enable: () => onOff.enable(),
    disabled: <T>(fn: () => T): T => onOff.disabled(fn),
  })
}

function dispatch(ctx: CacheContext, onOff: CacheSwitch, next: Dispatch, origin: string | undefined, opts: DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
  const method = (opts.method ?? 'GET').toUpperCase()
  if (opts.upgrade != null || method === 'CONNECT') return next(opts, handler)
  // Without an origin nothing can be keyed: say so rather than silently never caching.
  if (opts.origin == null && origin === undefined) throw new MissingOriginError()
  let req: CacheRequest
  try {
    req = toCacheRequest(opts, origin)
  } catch {
    return next(opts, handler)
  }
  if (hasBadHeader(req.headers)) return next(opts, handler)
  // This request's own cache control (request-options.ts): the `cache` dispatch option or, for fetch,
  // the mode header, which goes no further than here. A bad value throws InvalidOptionError.
  const request = resolveRequestOptions((opts as { readonly cache?: unknown }).cache, req.headers)
  if (req.headers[CACHE_MODE_HEADER] !== undefined) ({ opts, req } = withoutModeHeader(opts, req))

  // Cache-wide switches (issue 13). Another origin: nothing of it is stored, so nothing to look up
  // or invalidate. Switched off: forwarded, but an unsafe method still invalidates (RFC 9111 §4.4).
  const off = !servesOrigin(ctx.options.origins, req.url) ? 'origin' : onOff.off ? 'disabled' : undefined
  if (off === 'disabled' && !SAFE_METHODS.has(req.method)) return forwardUnsafe(ctx, next, opts, handler, req, request)
  if (off !== undefined) return bypass(ctx, next, opts, handler, 'bypass', off, request)

  const options = ctx.options
  if (!options.methods.has(req.method)) {
    if (!SAFE_METHODS.has(req.method)) return forwardUnsafe(ctx, next, opts, handler, req, request)
    return bypass(ctx, next, opts, handler, 'method', undefined, request)
  }
  const requestDirectives = parseRequestDirectives(req.headers)
  const preconditions = receivedPreconditions(req)
  const reason = bypassReason(req, requestDirectives, options, preconditions)
  if (reason !== undefined || preconditions === 'origin') {
    // RFC 9111 §5.2.1.7: only-if-cached wants a stored response or a 504, never the origin.
    if (requestDirectives.onlyIfCached || request.mode === 'only-if-cached') return refuseOnlyIfCached(ctx, handler, request)
    return bypass(ctx, next, opts, handler, 'bypass', reason ?? 'conditional', request)
  }
  // Fetch's `no-store` mode: the cache is neither read nor written.
  if (request.mode === 'no-store') return bypass(ctx, next, opts, handler, 'bypass', 'mode-no-store', request)
  const body = keyedBody(req.method, opts.body)
  if (body.kind === 'unkeyable') return bypass(ctx, next, opts, handler, 'bypass', 'body-form', request)

  const downstream = new Downstream(handler)
  downstream.start({})
  if (body.kind !== 'stream') {
    lookup(ctx, { next, opts, req, requestDirectives, preconditions, request, body: body.kind === 'bytes' ? body.bytes : undefined }, downstream)
    return true
  }
  // A streamed body of a cached non-GET method (fetch() sends every body as one): read it, bounded,
  // to key on it, then send the bytes read in its place.
  const streamed = opts
  void readBody(body.body).then(
    (read) => {
      if (read.kind === 'bytes') return lookup(ctx, { next, opts: { ...streamed, body: read.bytes }, req, requestDirectives, preconditions, request, body: read.bytes }, downstream)
      forwardUntouched(ctx, { next, downstream }, { ...streamed, body: Readable.from(read.rest) }, 'bypass', 'body-too-large', request)
    },
    (err: unknown) => downstream.error(err),
  )
  return true
}

/** The request without the fetch mode header, so the origin never sees it. */
function withoutModeHeader(opts: DispatchOptions, req: CacheRequest): { opts: DispatchOptions; req: CacheRequest } {
  const headers = headerRecord<string | readonly string[] | undefined>()
  for (const [name, value] of Object.entries(req.headers)) if (name !== CACHE_MODE_HEADER) headers[name] = value
  return { opts: { ...opts, headers: plainHeaders(headers) }, req: { ...req, headers } }
}

/** CR, LF or NUL in a request header value: undici refuses the request itself, with its own error. */
function hasBadHeader(headers: HeaderRecord): boolean {
  for (const value of Object.values(headers)) {
    if (value === undefined) continue
    if (typeof value === 'string' ? hasInvalidHeaderChar(value) : value.some(hasInvalidHeaderChar)) return true
  }
  return false
}
