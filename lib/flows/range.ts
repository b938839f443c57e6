/**
 * A GET for one byte range (RFC 9110 §14; policy/ranges.ts). It is answered, as a 206 with the stored
 * headers, from the stored complete response when that is fresh and holds the range, else from the
 * stored partial response, which lives under its own key (key.ts partialKey) so that it never answers
 * a request for the complete response (RFC 9111 §3.3). Otherwise the request goes to the origin as it
 * is, and what comes back is recorded:
 *
 * - a 200 (an origin that ignores Range) as the complete response, as any miss is;
 * - a 206 as the partial response, combined with the stored one when both carry the same strong
 *   ETag and their ranges touch (§3.4); once the parts cover the whole representation, the union is
 *   stored as the complete 200 (RFC 9110 §15.3.7.3);
 * - anything else not at all: a 416 or an error to one range says nothing of the complete response.
 *
 * Not collapsed: concurrent range requests each go to the origin.
 */
import { channels, debug } from '../diagnostics.js'
import { bodySize, isInline, type StoredEntry } from '../entry.js'
import type { ForwardHooks } from '../handlers/forward-handler.js'
import { ForwardHandler } from '../handlers/forward-handler.js'
import { partialKey, type RequestKey } from '../key.js'
import { toCacheResponse } from '../message.js'
import { effectiveResponseDirectives } from '../policy/directives.js'
import { combinable, combine, contains, isWhole, parseContentRange, resolveRange, spanLength, wholeHeaders, type ContentRange, type Part, type RangeRequest } from '../policy/ranges.js'
import { decideForMode, decideWithoutEntryForMode } from '../policy/cache-mode.js'
import { contentLength, Recorder } from '../recorder.js'
import type { Found, Lookup } from '../storage/entry-repository.js'
import { redactUrl } from '../url-normalize.js'
import { COUNT, send, type CacheContext, type Exchange } from './context.js'
import { planFor, recordingHooks, saveEntry } from './miss.js'
import { gatewayTimeout, servePart } from './serve.js'

/** What the lookups found: the complete response's slot and the partial one's. */
interface Slots {
  readonly complete: Lookup
  readonly partial: Lookup | undefined
  readonly partKey: RequestKey
}


/** Answers `exchange`, whose request asks for `wanted`, from the cache or the origin. */
export async function serveRange(ctx: CacheContext, exchange: Exchange, wanted: RangeRequest): Promise<void> {
  const { downstream } = exchange
  const partKey = partialKey(exchange.key)
  // Both slots are read concurrently (they share a hash slot, so a cluster serves them alike).
  const [complete, partial] = await Promise.all([ctx.entries.find(exchange.key, exchange.req.headers), ctx.entries.find(partKey, exchange.req.headers)])
  if (downstream.controller.aborted) return downstream.error(downstream.controller.reason)
  const { mode } = exchange.request
  // Fetch `reload` and `no-cache` never take a stored response as it is: the range goes to the origin
  // (a validation carrying this Range could only refresh a part), and what comes back is stored.
  if (mode === 'reload' || mode === 'no-cache') return forward(ctx, exchange, { complete, partial, partKey })
  // RFC 9110 §14.2: a cache may answer a range from the complete response it holds.
  const size = complete.kind === 'entry' ? bodySize(complete.entry) : 0
  if (complete.kind === 'entry' && complete.entry.status === 200 && answer(ctx, exchange, complete, wanted, { first: 0, last: size - 1, complete: size })) return
  const stored = partial.kind === 'entry' ? storedRange(partial.entry) : undefined
  if (partial.kind === 'entry' && stored !== undefined && answer(ctx, exchange, partial, wanted, stored)) return

  // RFC 9111 §5.2.1.7: only-if-cached (directive or mode), and nothing stored holds the range.
  if (decideWithoutEntryForMode(mode, exchange.requestDirectives) === 'gateway-timeout') return gatewayTimeout(ctx, exchange)
  forward(ctx, exchange, { complete, partial, partKey })
}

/**
 * Serves `wanted` from `found`, whose body holds bytes `held` of the representation, if the entry may
 * be used as it is (a fresh hit, RFC 9111 §4.2) and holds every byte asked for; false otherwise.
 */
function answer(ctx: CacheContext, exchange: Exchange, found: Found, wanted: RangeRequest, held: ContentRange): boolean {
  const { entry } = found
  const span = resolveRange(wanted, held.complete)
  if (span === undefined || !contains(held, span)) return false
  const decision = decideForMode(exchange.request.mode, entry, effectiveResponseDirectives(entry.headers, ctx.options.cacheControl), exchange.requestDirectives, exchange.reuse, ctx.clock.now())
  // Stale-while-revalidate and revalidation are left to a request for the whole response: a
  // revalidation carrying this Range could only refresh a part.
  if (decision.kind !== 'hit') return false
  ctx.count(decision.stale ? COUNT.staleHit : COUNT.hit)
  ctx.publish(channels.hit, exchange, found.id, decision.stale ? 'max-stale' : 'fresh')
  const detail = !decision.stale ? undefined : exchange.request.mode === 'default' ? 'max-stale' : exchange.request.mode
  const outcome = { kind: 'hit', ttl: decision.ttl, ...(detail !== undefined ? { detail } : {}) } as const
  servePart(ctx, exchange, found, entry, decision.age, { span, offset: held.first, complete: held.complete }, outcome, () => forward(ctx, exchange, { complete: { kind: 'unavailable' }, partial: undefined, partKey: partialKey(exchange.key) }))
  return true
}

/** The range a stored partial entry holds; undefined for anything else under that key. */
function storedRange(entry: StoredEntry): ContentRange | undefined {
  const range = entry.status === 206 ? parseContentRange(entry.headers) : undefined
  return range !== undefined && spanLength(range) === bodySize(entry) ? range : undefined
}

/** Sends the request as it is; a 200 is recorded as a complete response, a 206 as a partial one. */
function forward(ctx: CacheContext, exchange: Exchange, slots: Slots): void {
  const requestTime = ctx.clock.now()
  ctx.count(COUNT.miss)
  ctx.publish(channels.miss, exchange, exchange.key.id, 'miss')
  const pointer = slots.complete.kind === 'unavailable' ? undefined : slots.complete.pointer
  const replaces = slots.complete.kind === 'entry' ? slots.complete.entry : undefined
  const whole = recordingHooks(ctx, exchange, { pointer, fwd: 'miss', requestTime, replaces })
  const part = partHooks(ctx, exchange, slots, requestTime)
  const other: ForwardHooks = { begin: (status, headers) => ({ headers: ctx.withStatus(headers, { kind: 'forward', fwd: 'miss', status }, false, { key: exchange.key, request: exchange.request }) }) }
  let chosen: ForwardHooks | undefined
  send(
    exchange,
    exchange.opts,
    new ForwardHandler(exchange.downstream, {
      begin: (status, headers, statusText) => {
        chosen = status === 200 ? whole : status === 206 ? part : other
        return chosen.begin(status, headers, statusText)
      },
      commit: (body) => chosen?.commit?.(body),
      discard: (reason) => chosen?.discard?.(reason),
    }),
  )
}

/** Records a 206 under the partial key, combined with the stored part where §3.4 allows. */
function partHooks(ctx: CacheContext, exchange: Exchange, slots: Slots, requestTime: number): ForwardHooks {
  const partExchange: Exchange = { ...exchange, key: slots.partKey }
  let plan: Extract<ReturnType<typeof planFor>, { store: true }> | undefined
  let range: ContentRange | undefined
  return {
    begin: (status, headers, statusText) => {
      const planned = planFor(ctx, partExchange, toCacheResponse(status, headers, statusText), requestTime)
      range = parseContentRange(planned.store ? planned.entry.headers : {})
      plan = planned.store && range !== undefined ? planned : undefined
      const recorder = plan === undefined ? undefined : new Recorder(ctx.options.maxEntrySize, contentLength(headers['content-length']))
      if (recorder !== undefined && !recorder.recording) plan = undefined
      const stored = plan !== undefined && ctx.store.writeState !== 'open'
      const about = { key: exchange.key, request: exchange.request, entry: plan?.entry }
      return { headers: ctx.withStatus(headers, { kind: 'forward', fwd: 'miss', status, stored }, false, about), recorder: plan === undefined ? undefined : recorder }
    },
    commit: (body) => {
      if (plan === undefined || range === undefined) return
      // A body that is not exactly its Content-Range cannot say which bytes it holds.
      if (body.byteLength !== spanLength(range)) return debug('partial response for %s not stored: length differs from Content-Range', redactUrl(exchange.req.url, ctx.options.key.ignoredParams))
      const merged = mergeWithStored(ctx, slots.partial, { range, headers: plan.entry.headers, body })
      if (isWhole(merged.range)) return storeWhole(ctx, exchange, slots, plan, merged)
      const entry: StoredEntry = { ...plan.entry, headers: merged.headers, body: merged.body }
      const replaces = slots.partial?.kind === 'entry' ? slots.partial.entry : undefined
      void saveEntry(ctx, slots.partKey, entry, plan, slots.partial?.kind === 'unavailable' ? undefined : slots.partial?.pointer, replaces)
    },
  }
}

/** The new part, combined with the stored partial entry when they are parts of one representation (§3.4) and the union fits. */
function mergeWithStored(ctx: CacheContext, found: Lookup | undefined, incoming: Part): Part {
  if (found?.kind !== 'entry' || !isInline(found.entry.body)) return incoming
  const range = storedRange(found.entry)
  if (range === undefined) return incoming
  const stored: Part = { range, headers: found.entry.headers, body: found.entry.body }
  if (!combinable(stored, incoming)) return incoming
  const merged = combine(stored, incoming)
  return merged.body.byteLength <= ctx.options.maxEntrySize ? merged : incoming
}

/**
 * Parts that cover the whole representation are a complete response (RFC 9110 §15.3.7.3): stored as
 * the 200 under the request's own key, with the newest part's headers (§3.4) and the complete length;
 * the partial entry it was made from goes.
 */
function storeWhole(ctx: CacheContext, exchange: Exchange, slots: Slots, plan: Extract<ReturnType<typeof planFor>, { store: true }>, merged: Part): void {
  const { complete, partial } = slots
  const entry: StoredEntry = { ...plan.entry, key: exchange.key.canonical, status: 200, statusText: 'OK', headers: wholeHeaders(merged.headers, merged.range.complete), body: merged.body }
  const pointer = complete.kind === 'unavailable' ? undefined : complete.pointer
  void saveEntry(ctx, exchange.key, entry, plan, pointer, complete.kind === 'entry' ? complete.entry : undefined)
  if (partial?.kind === 'entry') void ctx.entries.remove(partial.id)
}
