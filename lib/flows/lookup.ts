/**
 * The cached path: key the request, look it up, ask policy (reuse.ts, and cache-mode.ts for the
 * request's mode) what the stored entry allows, and hand over to the flow that does it: serve it
 * (fresh, or stale where allowed), serve it stale and revalidate in the background, revalidate it
 * first, answer 504, or fetch the miss (`reload` fetches whatever is stored).
 */
import { channels } from '../diagnostics.js'
import type { Downstream } from '../handlers/downstream.js'
import type { CacheRequest } from '../http.js'
import { effectiveResponseDirectives, type RequestDirectives } from '../policy/directives.js'
import type { Preconditions } from '../policy/preconditions.js'
import { parseRange } from '../policy/ranges.js'
import { decideForMode, decideWithoutEntryForMode } from '../policy/cache-mode.js'
import type { PlanOptions } from '../policy/entry-plan.js'
import type { ReuseOptions, RevalidateReason } from '../policy/reuse.js'
import type { ResolvedRequestOptions } from '../request-options.js'
import { asCacheError, COUNT, type CacheContext, type Dispatch, type DispatchOptions, type Exchange } from './context.js'
import { fetchMiss } from './collapse.js'
import { forwardAndRecord } from './miss.js'
import { forwardUntouched, recover } from './passthrough.js'
import { serveRange } from './range.js'
import { revalidate, revalidateInBackground, type RevalidationReason } from './revalidate.js'
import { gatewayTimeout, serveEntry } from './serve.js'

/** What one request brings to the cached path. */
export interface Lookup {
  readonly next: Dispatch
  readonly opts: DispatchOptions
  readonly req: CacheRequest
  readonly requestDirectives: RequestDirectives
  /** The caller's If-None-Match or If-Modified-Since, answered from a stored 200 (policy/preconditions.ts). */
  readonly preconditions: Preconditions | undefined
  readonly request: ResolvedRequestOptions
  /** The body bytes the key takes in, for a cached method with a body. */
  readonly body: Uint8Array | undefined
}

/** Keys the request and starts the cached path. */
export function lookup(ctx: CacheContext, input: Lookup, downstream: Downstream): void {
  const { next, opts, req, requestDirectives, preconditions, request } = input
  let key
  try {
    key = ctx.key(req, input.body)
  } catch (err) {
    ctx.report(asCacheError(err, 'key function failed'))
    forwardUntouched(ctx, { next, downstream }, opts, 'bypass', 'key-error', request)
    return
  }
  const { reuse, plan } = requestPolicy(ctx, request)
  const exchange: Exchange = { next, opts, req, requestDirectives, preconditions, key, downstream, request, reuse, plan }
  // A GET for one byte range (policy/bypass.ts sends every other Range request to the origin).
  const wanted = parseRange(req.headers['range'])
  const served = wanted === undefined ? serve(ctx, exchange) : serveRange(ctx, exchange, wanted)
  served.catch((err: unknown) => recover(ctx, exchange, err))
}

/**
 * The stale windows and the store plan for this request: the cache-wide ones unless its `cache` option
 * overrides them (a per-request `expireAfter` replaces the cache-wide and URL settings) or adds tags.
 */
function requestPolicy(ctx: CacheContext, request: ResolvedRequestOptions): { reuse: ReuseOptions; plan: PlanOptions } {
  const { reuse, plan } = ctx.options
  const tags = request.tags.length === 0 ? {} : { requestTags: request.tags }
  if (request.staleIfError === undefined && request.staleWhileRevalidate === undefined && request.expireAfter === undefined) {
    return { reuse, plan: request.tags.length === 0 ? plan : { ...plan, ...tags } }
  }
  const ownReuse: ReuseOptions = {
    ...reuse,
    staleIfError: request.staleIfError ?? reuse.staleIfError,
    staleWhileRevalidate: request.staleWhileRevalidate ?? reuse.staleWhileRevalidate,
  }
  const lifetime = request.expireAfter === undefined ? {} : { expireAfter: request.expireAfter, urlRules: [] }
  return { reuse: ownReuse, plan: { ...plan, reuse: ownReuse, ...lifetime, ...tags } }
}

async function serve(ctx: CacheContext, exchange: Exchange): Promise<void> {
  const { mode } = exchange.request
  const found = await ctx.entries.find(exchange.key, exchange.req.headers)
  if (exchange.downstream.controller.aborted) return exchange.downstream.error(exchange.downstream.controller.reason)
  // Fetch `reload`: whatever is stored is not used, and the response replaces it. (The lookup was
  // still made: a new Vary variant joins the stored pointer's generation instead of orphaning it.)
  if (mode === 'reload') {
    const pointer = found.kind === 'unavailable' ? undefined : found.pointer
    const replaces = found.kind === 'entry' ? found.entry : undefined
    ctx.count(COUNT.miss)
    return forwardAndRecord(ctx, exchange, exchange.opts, { pointer, fwd: 'request', detail: 'reload', requestTime: ctx.clock.now(), replaces })
  }
  if (found.kind !== 'entry') {
    if (decideWithoutEntryForMode(mode, exchange.requestDirectives) === 'gateway-timeout') return gatewayTimeout(ctx, exchange)
    return fetchMiss(ctx, exchange, found)
  }

  const { entry } = found
  const responseDirectives = effectiveResponseDirectives(entry.headers, ctx.options.cacheControl)
  const decision = decideForMode(mode, entry, responseDirectives, exchange.requestDirectives, exchange.reuse, ctx.clock.now())
  switch (decision.kind) {
    case 'hit': {
      ctx.count(decision.stale ? COUNT.staleHit : COUNT.hit)
      // A stale hit: the request's max-stale allowed it, or its mode (force-cache, only-if-cached).
      const detail = !decision.stale ? undefined : mode === 'default' ? 'max-stale' : mode
      ctx.publish(channels.hit, exchange, found.id, detail ?? 'fresh')
      return serveEntry(ctx, exchange, found, entry, decision.age, { kind: 'hit', ttl: decision.ttl, ...(detail !== undefined ? { detail } : {}) })
    }
    case 'stale-while-revalidate':
      ctx.count(COUNT.staleHit)
      ctx.publish(channels.stale, exchange, found.id, 'stale-while-revalidate')
      serveEntry(ctx, exchange, found, entry, decision.age, { kind: 'hit', ttl: decision.ttl, detail: 'stale-while-revalidate' })
      return revalidateInBackground(ctx, exchange, found, responseDirectives)
    case 'revalidate':
      return revalidate(ctx, exchange, found, responseDirectives, forwardReason(decision.reason))
    case 'gateway-timeout':
      return gatewayTimeout(ctx, exchange)
  }
}

/**
 * RFC 9211 §2.2: `fwd=stale` when the stored response could not be used without validation (it went
 * stale, its freshness is invalid, or it says `no-cache`); `fwd=request` only when the request's own
 * directives asked for validation.
 */
function forwardReason(reason: RevalidateReason): RevalidationReason {
  switch (reason) {
    case 'stale':
    case 'invalid-freshness':
    case 'no-cache-response':
      return 'stale'
    case 'no-cache-request':
    case 'max-age-request':
    case 'min-fresh-request':
    // The cache's own setting asks for what a request's no-cache would.
    case 'always-revalidate':
      return 'request'
  }
}
