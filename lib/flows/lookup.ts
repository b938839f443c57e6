/**
 * The cached path: key the request, look it up, ask policy/reuse.ts what the stored entry allows, and
 * hand over to the flow that does it: serve it (fresh, or stale where allowed), serve it stale and
 * revalidate in the background, revalidate it first, answer 504, or fetch the miss.
 */
import { channels } from '../diagnostics.js'
import type { Downstream } from '../handlers/downstream.js'
import type { CacheRequest } from '../http.js'
import { effectiveResponseDirectives, type RequestDirectives } from '../policy/directives.js'
import { parseRange } from '../policy/ranges.js'
import { decide, type RevalidateReason } from '../policy/reuse.js'
import { asCacheError, COUNT, type CacheContext, type Dispatch, type DispatchOptions, type Exchange } from './context.js'
import { fetchMiss } from './collapse.js'
import { forwardUntouched, recover } from './passthrough.js'
import { serveRange } from './range.js'
import { revalidate, revalidateInBackground, type RevalidationReason } from './revalidate.js'
import { gatewayTimeout, serveEntry } from './serve.js'

/** Keys the request (with its body bytes, for a cached method with a body) and starts the cached path. */
export function lookup(ctx: CacheContext, next: Dispatch, opts: DispatchOptions, req: CacheRequest, requestDirectives: RequestDirectives, body: Uint8Array | undefined, downstream: Downstream): void {
  let key
  try {
    key = ctx.key(req, body)
  } catch (err) {
    ctx.report(asCacheError(err, 'key function failed'))
    forwardUntouched(ctx, { next, downstream }, opts, 'bypass', 'key-error')
    return
  }
  const exchange: Exchange = { next, opts, req, requestDirectives, key, downstream }
  // A GET for one byte range (policy/bypass.ts sends every other Range request to the origin).
  const wanted = parseRange(req.headers['range'])
  const served = wanted === undefined ? serve(ctx, exchange) : serveRange(ctx, exchange, wanted)
  served.catch((err: unknown) => recover(ctx, exchange, err))
}

async function serve(ctx: CacheContext, exchange: Exchange): Promise<void> {
  const found = await ctx.entries.find(exchange.key, exchange.req.headers)
  if (exchange.downstream.controller.aborted) return exchange.downstream.error(exchange.downstream.controller.reason)
  if (found.kind !== 'entry') return fetchMiss(ctx, exchange, found)

  const { entry } = found
  const responseDirectives = effectiveResponseDirectives(entry.headers, ctx.options.cacheControl)
  const decision = decide(entry, responseDirectives, exchange.requestDirectives, ctx.options.reuse, ctx.clock.now())
  switch (decision.kind) {
    case 'hit':
      ctx.count(decision.stale ? COUNT.staleHit : COUNT.hit)
      ctx.publish(channels.hit, exchange, found.id, decision.stale ? 'max-stale' : 'fresh')
      return serveEntry(ctx, exchange, found, entry, decision.age, { kind: 'hit', ttl: decision.ttl, ...(decision.stale ? { detail: 'max-stale' } : {}) })
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
      return 'request'
  }
}
