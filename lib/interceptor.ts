/**
 * `cache(options)`: resolves options once and returns an undici interceptor. Per request it only
 * classifies and routes (see DESIGN.md "One request, step by step"):
 * 1. pass-through: upgrades/CONNECT, bad URLs or header values (undici reports those itself);
 * 2. unsafe methods not cached: forwarded, and a non-error response invalidates (flows/unsafe.ts);
 * 3. bypass: methods not cached, and what policy/bypass.ts names; forwarded untouched
 *    (flows/passthrough.ts);
 * 4. the cached path (flows/lookup.ts), once any request body the key needs has been read.
 */
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { CacheContext, type Dispatch, type DispatchOptions } from './flows/context.js'
import { lookup } from './flows/lookup.js'
import { bypass, forwardUntouched } from './flows/passthrough.js'
import { forwardUnsafe } from './flows/unsafe.js'
import { MissingOriginError } from './errors.js'
import { Downstream } from './handlers/downstream.js'
import { hasInvalidHeaderChar, type HeaderRecord } from './headers.js'
import type { CacheRequest } from './http.js'
import { toCacheRequest } from './message.js'
import { resolveOptions, type CacheOptions } from './options.js'
import { bypassReason } from './policy/bypass.js'
import { parseRequestDirectives } from './policy/directives.js'
import { SAFE_METHODS } from './policy/invalidation.js'
import { keyedBody, readBody } from './request-body.js'

/**
 * Creates the cache interceptor: `new Agent().compose(cache({ store }))`.
 * Throws InvalidOptionError for a bad option; never throws per request.
 */
export function cache(options?: CacheOptions): Dispatcher.DispatcherComposeInterceptor {
  const ctx = new CacheContext(resolveOptions(options))
  // undici 8 passes the origin of the Client or Pool the interceptor is composed onto (null or
  // undefined for an Agent, whose requests carry their own).
  return (next, origin?: string | null) => (opts, handler) => dispatch(ctx, next, origin ?? undefined, opts, handler)
}

function dispatch(ctx: CacheContext, next: Dispatch, origin: string | undefined, opts: DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
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

  const options = ctx.options
  if (!options.methods.has(req.method)) {
    if (!SAFE_METHODS.has(req.method)) return forwardUnsafe(ctx, next, opts, handler, req)
    return bypass(ctx, next, opts, handler, 'method', undefined)
  }
  const requestDirectives = parseRequestDirectives(req.headers)
  const reason = bypassReason(req, requestDirectives, options)
  if (reason !== undefined) return bypass(ctx, next, opts, handler, 'bypass', reason)
  const body = keyedBody(req.method, opts.body)
  if (body.kind === 'unkeyable') return bypass(ctx, next, opts, handler, 'bypass', 'body-form')

  const downstream = new Downstream(handler)
  downstream.start({})
  if (body.kind !== 'stream') {
    lookup(ctx, next, opts, req, requestDirectives, body.kind === 'bytes' ? body.bytes : undefined, downstream)
    return true
  }
  // A streamed body of a cached non-GET method (fetch() sends every body as one): read it, bounded,
  // to key on it, then send the bytes read in its place.
  void readBody(body.body).then(
    (read) => {
      if (read.kind === 'bytes') return lookup(ctx, next, { ...opts, body: read.bytes }, req, requestDirectives, read.bytes, downstream)
      forwardUntouched(ctx, { next, downstream }, { ...opts, body: Readable.from(read.rest) }, 'bypass', 'body-too-large')
    },
    (err: unknown) => downstream.error(err),
  )
  return true
}

/** CR, LF or NUL in a request header value: undici refuses the request itself, with its own error. */
function hasBadHeader(headers: HeaderRecord): boolean {
  for (const value of Object.values(headers)) {
    if (value === undefined) continue
    if (typeof value === 'string' ? hasInvalidHeaderChar(value) : value.some(hasInvalidHeaderChar)) return true
  }
  return false
}
