/**
 * Revalidating a stale (or must-validate) entry with a conditional request (RFC 9111 §4.3.1). A 304,
 * or a HEAD's matching 200 (§4.3.5), refreshes the entry and serves its stored body; an error for which
 * stale-if-error allows it serves the stale entry (RFC 5861 §4); no answer at all for an entry that must
 * not be used unvalidated is a 504 (§4.2.4); any other response replaces the entry as a miss's would.
 * In the background (stale-while-revalidate, RFC 5861 §3) there is no caller: the outcome only
 * refreshes the store, one revalidation per entry at a time.
 */
import { channels } from '../diagnostics.js'
import { bodySize, currentAge } from '../entry.js'
import { Downstream } from '../handlers/downstream.js'
import { RevalidateHandler } from '../handlers/revalidate-handler.js'
import { toCacheResponse } from '../message.js'
import { conditionalHeaders } from '../policy/conditional.js'
import { withoutPreconditions } from '../policy/preconditions.js'
import type { ResponseDirectives } from '../policy/directives.js'
import { planRefresh, refreshChangesNothing } from '../policy/entry-plan.js'
import { answerUnansweredValidation, headResponseMatches, isErrorOutcome, notModifiedMatches, staleIfErrorAllowed } from '../policy/revalidation.js'
import { effectiveLifetime, validatedOnEveryUse } from '../policy/reuse.js'
import { withReceivedDate, withResponseCookies } from '../policy/stored-headers.js'
import type { Found } from '../storage/entry-repository.js'
import { COUNT, send, type CacheContext, type Exchange, type Headers } from './context.js'
import { oncePerFleet } from './fleet.js'
import { forwardAndRecord, recordingHandler, saveEntry } from './miss.js'
import { gatewayTimeout, serveEntry } from './serve.js'

/** `stale`: the entry went stale; `request`: the request's own directives asked for validation (RFC 9211 §2.2). */
export type RevalidationReason = 'stale' | 'request'

/**
 * Sends the conditional request for `found` and handles what comes back. `settle` is given for a
 * background revalidation: its Downstream has no caller behind it, and `settle` runs when it is done.
 */
export function revalidate(ctx: CacheContext, exchange: Exchange, found: Found, responseDirectives: ResponseDirectives, fwd: RevalidationReason, settle?: () => void): void {
  const { entry } = found
  const requestTime = ctx.clock.now()
  const conditions = conditionalHeaders(entry)
  const ownConditions = Object.keys(conditions).length > 0
  ctx.count(ownConditions ? COUNT.revalidation : COUNT.miss)
  // RFC 9111 §4.3.2 lets the cache send the caller's If-None-Match with its own; with no validator of
  // its own the caller's preconditions go as they came (those the cache evaluates: the rest never get
  // here, bypass.ts), and a 304 to them is the caller's. In the background there is no caller.
  const callersPreconditions = !ownConditions && settle === undefined && exchange.preconditions !== undefined
  // The exchange the validation response flows through: the caller's, or one with no caller behind it.
  // In the background nobody waits for the answer: the caller's onOutcome was told already.
  const revalidation: Exchange = settle === undefined ? exchange : { ...exchange, downstream: backgroundDownstream(settle), request: { ...exchange.request, onOutcome: undefined } }
  const serveStale = (outcome: number | 'error'): void => {
    if (settle !== undefined) return settle()
    const age = currentAge(entry, ctx.clock.now())
    const status = outcome === 'error' ? {} : { status: outcome }
    // A response still fresh (its validation was asked for: alwaysRevalidate, request no-cache) is no
    // stale one served: a hit, said as `fwd=request; detail=origin-error`.
    if (age < effectiveLifetime(entry, responseDirectives)) {
      ctx.count(COUNT.hit)
      ctx.publish(channels.hit, exchange, found.id, 'origin-error')
      return serveEntry(ctx, exchange, found, entry, age, { kind: 'forward', fwd, ...status, detail: 'origin-error' })
    }
    ctx.count(COUNT.staleServed)
    ctx.publish(channels.stale, exchange, found.id, 'stale-if-error')
    serveEntry(ctx, exchange, found, entry, age, { kind: 'forward', fwd: 'stale', ...status, detail: 'stale-if-error' })
  }
  const handler = new RevalidateHandler(revalidation.downstream, {
    callersPreconditions,
    staleAllowed: (status) => isErrorOutcome(status) && staleIfErrorAllowed(entry, responseDirectives, exchange.requestDirectives, exchange.reuse, ctx.clock.now()),
    // RFC 9111 §4.3.5: a 200 to HEAD that describes the stored representation freshens it like a 304.
    freshens: (status, raw) => exchange.req.method === 'HEAD' && status === 200 && headResponseMatches(entry.headers, toCacheResponse(status, raw, '').headers, bodySize(entry)),
    notModified: (raw, status) => onNotModified(ctx, revalidation, found, responseDirectives, raw, status, requestTime, fwd, settle),
    serveStale,
    unanswered: (error) => {
      // In the background nobody waits for an answer: the entry is left as it was.
      const answer = settle === undefined ? answerUnansweredValidation(entry, responseDirectives, exchange.requestDirectives, exchange.reuse, ctx.clock.now()) : 'pass-error'
      if (answer === 'serve-stale') return serveStale('error')
      if (answer === 'gateway-timeout') return gatewayTimeout(ctx, exchange, { kind: 'forward', fwd, detail: 'origin-unreachable' })
      revalidation.downstream.error(error)
    },
    forward: (status) => {
      // §4.3.5: a 200 to HEAD for another representation says the stored GET responses are not current,
      // and so does any other answer (a 404 or 410: the GET would now get that; §4.3.5 freshens with a
      // 200 only): drop them (tracked, so this process's next read waits for it). Not for a 304 to the
      // caller's own preconditions, which says nothing of them.
      const callers304 = callersPreconditions && status === 304
      if (exchange.req.method === 'HEAD' && !callers304) void ctx.entries.invalidate([exchange.key.id])
      return recordingHandler(ctx, revalidation, { pointer: found.pointer, fwd, requestTime, replaces: entry })
    },
  })
  // Otherwise the caller's own preconditions go: the origin answers for the stored response, and
  // serve.ts then answers the caller's (RFC 9111 §4.3.2).
  send(revalidation, callersPreconditions ? exchange.opts : { ...exchange.opts, headers: { ...withoutPreconditions(exchange.req.headers), ...conditions } }, handler)
}

/**
 * RFC 5861 §3: one background revalidation per entry at a time, never tied to the caller; with fleet
 * locks (fleet.ts), one per entry across every process sharing the store.
 */
export function revalidateInBackground(ctx: CacheContext, exchange: Exchange, found: Found, responseDirectives: ResponseDirectives): void {
  const once = () => new Promise<void>((resolve) => revalidate(ctx, exchange, found, responseDirectives, 'stale', resolve))
  void ctx.revalidations.run(found.id, () => oncePerFleet(ctx, found.id, once))
}

/** The origin says the stored response is still current: refresh it, store it, serve its body (§4.3.4). */
function onNotModified(ctx: CacheContext, exchange: Exchange, found: Found, responseDirectives: ResponseDirectives, raw: Headers, status: number, requestTime: number, fwd: RevalidationReason, settle: (() => void) | undefined): void {
  const { entry } = found
  // A 304 without Date gets one as it arrives (RFC 9110 §6.6.1): the merge then replaces the stored
  // Date, and the refreshed age and an Expires-based lifetime count from this validation.
  const validation = toCacheResponse(304, withReceivedDate(raw, ctx.clock.now()), '')
  ctx.publish(channels.revalidate, exchange, found.id, status)
  if (!notModifiedMatches(entry.headers, validation.headers)) {
    // The 304 describes a representation we do not hold: ask again without conditions.
    if (settle !== undefined) return settle()
    return forwardAndRecord(ctx, exchange, { ...exchange.opts, headers: withoutPreconditions(exchange.req.headers) }, { pointer: found.pointer, fwd, detail: 'validator-mismatch', requestTime: ctx.clock.now() })
  }
  const { plan, refreshed } = planRefresh(entry, found.pointer?.names, validation.headers, exchange.req, requestTime, ctx.clock.now(), exchange.plan)
  if (!plan.store) void ctx.entries.remove(found.id)
  else if (!(validatedOnEveryUse(entry, responseDirectives, exchange.reuse) && refreshChangesNothing(entry, refreshed, ctx.clock.now()))) void saveEntry(ctx, exchange.key, refreshed, plan, found.pointer, entry)
  if (settle !== undefined) return settle()
  const age = currentAge(refreshed, ctx.clock.now())
  const reply = { ...refreshed, headers: withResponseCookies(refreshed.headers, validation.headers) }
  serveEntry(ctx, exchange, found, reply, age, { kind: 'forward', fwd, status, ttl: refreshed.lifetime - age })
}

/** A Downstream with no caller: it only tells `settle` when the response it would have passed on ends. */
function backgroundDownstream(settle: () => void): Downstream {
  const downstream = new Downstream({ onResponseEnd: settle, onResponseError: settle })
  downstream.start({})
  return downstream
}
