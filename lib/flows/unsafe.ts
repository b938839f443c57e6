/**
 * Unsafe methods (RFC 9111 §4.4): forwarded, and a non-error response invalidates the stored responses
 * for the target URI and the same-origin URIs its Location and Content-Location name. The caller sees
 * the response only once the invalidation is done, so its next read, from this process or any other
 * sharing the store, cannot find what the write made obsolete.
 */
import type { Dispatcher } from 'undici'
import { Downstream } from '../handlers/downstream.js'
import { ForwardHandler } from '../handlers/forward-handler.js'
import { CREDENTIAL_HEADERS, type HeaderRecord } from '../headers.js'
import type { CacheRequest } from '../http.js'
import type { ResolvedRequestOptions } from '../request-options.js'
import { toCacheResponse } from '../message.js'
import { invalidationTargets } from '../policy/invalidation.js'
import { redactUrl } from '../url-normalize.js'
import { asCacheError, send, type CacheContext, type Dispatch, type DispatchOptions } from './context.js'

export function forwardUnsafe(ctx: CacheContext, next: Dispatch, opts: DispatchOptions, handler: Dispatcher.DispatchHandler, req: CacheRequest, request?: ResolvedRequestOptions): boolean {
  const downstream = new Downstream(handler)
  downstream.start({})
  const forward = new ForwardHandler(downstream, {
    begin: (status, headers, statusText) => {
      const targets = invalidationTargets(req, toCacheResponse(status, headers, statusText))
      const out = ctx.withStatus(headers, { kind: 'forward', fwd: 'method', status }, false, { request })
      return targets.length > 0 ? { headers: out, hold: invalidate(ctx, req, targets) } : { headers: out }
    },
  })
  return send({ next, downstream }, opts, forward)
}

/**
 * Deletes every entry stored for these URLs: through the store's URL index, every method, variant
 * and partition (`matchHeaders`, a custom `key`, every user's `credentials` partition); and, by the
 * ids this process computes, the entries GET requests key without credentials and in the requester's
 * own partition, which the index may not list when they were written before it existed.
 */
export function invalidate(ctx: CacheContext, req: CacheRequest, urls: readonly URL[]): Promise<void> {
  const credentials = ctx.options.credentialsPartitioned ? credentialHeaders(req.headers) : undefined
  const ids = new Set<string>()
  for (const url of urls) {
    for (const headers of credentials === undefined ? [NO_HEADERS] : [NO_HEADERS, credentials]) {
      try {
        ids.add(ctx.key({ method: 'GET', url, headers }).id)
      } catch (err) {
        ctx.report(asCacheError(err, 'key function failed during invalidation'))
      }
    }
  }
  const ignored = ctx.options.key.ignoredParams
  return ctx.entries.invalidate([...ids], [...new Set(urls.map((url) => redactUrl(url, ignored)))])
}

const NO_HEADERS: HeaderRecord = Object.freeze({})

/** The request's credential fields, or undefined when it carries none. */
function credentialHeaders(headers: HeaderRecord): HeaderRecord | undefined {
  const out: Record<string, string | readonly string[]> = {}
  for (const name of CREDENTIAL_HEADERS) {
    const value = headers[name]
    if (value !== undefined) out[name] = value
  }
  return Object.keys(out).length > 0 ? out : undefined
}
