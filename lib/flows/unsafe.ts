/**
 * Unsafe methods (RFC 9111 §4.4): forwarded, and a non-error response invalidates the stored responses
 * for the target URI and the same-origin URIs its Location and Content-Location name. The caller sees
 * the response only once the invalidation is done, so its next read, from this process or any other
 * sharing the store, cannot find what the write made obsolete.
 */
import type { Dispatcher } from 'undici'
import { Downstream } from '../handlers/downstream.js'
import { ForwardHandler } from '../handlers/forward-handler.js'
import type { CacheRequest } from '../http.js'
import { toCacheResponse } from '../message.js'
import { invalidationTargets } from '../policy/invalidation.js'
import { asCacheError, send, type CacheContext, type Dispatch, type DispatchOptions } from './context.js'

export function forwardUnsafe(ctx: CacheContext, next: Dispatch, opts: DispatchOptions, handler: Dispatcher.DispatchHandler, req: CacheRequest): boolean {
  const downstream = new Downstream(handler)
  downstream.start({})
  const forward = new ForwardHandler(downstream, {
    begin: (status, headers, statusText) => {
      const targets = invalidationTargets(req, toCacheResponse(status, headers, statusText))
      const out = ctx.withStatus(headers, { kind: 'forward', fwd: 'method', status })
      return targets.length > 0 ? { headers: out, hold: invalidate(ctx, targets) } : { headers: out }
    },
  })
  return send({ next, downstream }, opts, forward)
}

/** Deletes every entry stored for these URLs (as GET requests key them), every variant included. */
export function invalidate(ctx: CacheContext, urls: readonly URL[]): Promise<void> {
  const ids: string[] = []
  for (const url of urls) {
    try {
      ids.push(ctx.key({ method: 'GET', url, headers: {} }).id)
    } catch (err) {
      ctx.report(asCacheError(err, 'key function failed during invalidation'))
    }
  }
  return ctx.entries.invalidate(ids)
}
