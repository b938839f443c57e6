/**
 * Requests the cache does not answer and does not store: forwarded untouched, with only our
 * Cache-Status member added (RFC 9211 §2.2 `fwd=bypass` / `fwd=method`). Also the way out when the
 * cached path fails internally before anything was sent.
 */
import type { Dispatcher } from 'undici'
import { Downstream } from '../handlers/downstream.js'
import { ForwardHandler } from '../handlers/forward-handler.js'
import type { ResolvedRequestOptions } from '../request-options.js'
import type { CacheOutcome } from '../status.js'
import { asCacheError, send, type CacheContext, type Dispatch, type DispatchOptions, type Exchange } from './context.js'

export type BypassReason = 'bypass' | 'method'

/**
 * Forwards the request as is. With neither Cache-Status nor an `onOutcome` callback there is nothing to
 * add, so the caller's handler goes straight through.
 */
export function bypass(ctx: CacheContext, next: Dispatch, opts: DispatchOptions, handler: Dispatcher.DispatchHandler, fwd: BypassReason, detail: string | undefined, request?: ResolvedRequestOptions): boolean {
  if (ctx.options.cacheStatusName === undefined && request?.onOutcome === undefined) return next(opts, handler)
  const downstream = new Downstream(handler)
  downstream.start({})
  return forwardUntouched(ctx, { next, downstream }, opts, fwd, detail, request)
}

/** Forwards for a caller whose Downstream has started already (the request was read or keyed first). */
export function forwardUntouched(ctx: CacheContext, exchange: Pick<Exchange, 'next' | 'downstream'>, opts: DispatchOptions, fwd: BypassReason, detail: string | undefined, request?: ResolvedRequestOptions): boolean {
  const outcome = (status: number): CacheOutcome => ({ kind: 'forward', fwd, status, ...(detail !== undefined ? { detail } : {}) })
  return send(exchange, opts, new ForwardHandler(exchange.downstream, { begin: (status, headers) => ({ headers: ctx.withStatus(headers, outcome(status), false, { request }) }) }))
}

/** A bug on the cached path must not fail the request: report it, then go to the origin if nothing was sent yet. */
export function recover(ctx: CacheContext, exchange: Exchange, err: unknown): void {
  ctx.report(asCacheError(err, 'internal error on the cached path'))
  if (exchange.downstream.responding || exchange.downstream.done) return exchange.downstream.error(err)
  forwardUntouched(ctx, exchange, exchange.opts, 'bypass', 'internal-error', exchange.request)
}
