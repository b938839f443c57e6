/**
 * A miss goes to the origin, and its response is recorded while it streams to the caller: at response
 * start policy/entry-plan.ts decides whether and how it is stored; the body is teed into a bounded
 * recorder; after a clean, length-checked end the entry is committed (never awaited by the caller).
 * A revalidation whose origin sent a new response ends here too, and so does an unsafe method the cache
 * stores (POST in `methods`), which invalidates as flows/unsafe.ts does (RFC 9111 §4.4).
 */
import { bodySize, type StoredEntry, type VaryPointer } from '../entry.js'
import { channels, debug } from '../diagnostics.js'
import { ForwardHandler, type ForwardHooks } from '../handlers/forward-handler.js'
import type { CacheRequest, CacheResponse } from '../http.js'
import type { RequestKey } from '../key.js'
import { redactUrl } from '../url-normalize.js'
import { toCacheResponse } from '../message.js'
import { answersWaitingRequest } from '../policy/cache-mode.js'
import { effectiveResponseDirectives, NO_REQUEST_DIRECTIVES } from '../policy/directives.js'
import { planResponse, retentionMs, type NotStoredReason, type StorePlan } from '../policy/entry-plan.js'
import { invalidationTargets } from '../policy/invalidation.js'
import { withReceivedDate } from '../policy/stored-headers.js'
import { contentLength, Recorder } from '../recorder.js'
import type { ForwardReason } from '../status.js'
import { asCacheError, send, type CacheContext, type DispatchOptions, type Exchange } from './context.js'
import { invalidate } from './unsafe.js'

type Stored = Extract<StorePlan, { store: true }>

/** How one forwarded response is recorded. */
export interface Recording {
  /** The pointer the lookup found, when the URL varies: a new variant is added to it. */
  readonly pointer: VaryPointer | undefined
  readonly fwd: Extract<ForwardReason, 'miss' | 'vary-miss' | 'stale' | 'request'>
  readonly detail?: string | undefined
  /** When the request left for the origin (`request_time`, RFC 9111 §4.2.3). */
  readonly requestTime: number
  /** Called once: with the entry as soon as it is recorded, or undefined when it will not be (collapse.ts waits on it). */
  readonly settle?: ((entry: StoredEntry | undefined) => void) | undefined
  /** The stored entry this response replaces (after a revalidation); its external body is retired. */
  readonly replaces?: StoredEntry | undefined
  /**
   * Called once the response is in the store (true) or known not to be (false): the fleet lock's
   * holder (fleet.ts) releases it then, so processes waiting on the store read the entry, not a gap.
   */
  readonly stored?: ((ok: boolean) => void) | undefined
}

/** Forwards `opts` for `exchange` and records the response as `recording` says. */
export function forwardAndRecord(ctx: CacheContext, exchange: Exchange, opts: DispatchOptions, recording: Recording): void {
  send(exchange, opts, recordingHandler(ctx, exchange, recording), () => {
    recording.settle?.(undefined)
    recording.stored?.(false)
  })
}

/** The handler that passes the origin's response to `exchange`'s caller and records it. */
export function recordingHandler(ctx: CacheContext, exchange: Exchange, recording: Recording): ForwardHandler {
  return new ForwardHandler(exchange.downstream, recordingHooks(ctx, exchange, recording))
}

/** recordingHandler's hooks, for a flow that records some responses this way and others its own (flows/range.ts). */
export function recordingHooks(ctx: CacheContext, exchange: Exchange, recording: Recording): ForwardHooks {
  const settle = recording.settle ?? (() => {})
  const stored = recording.stored ?? (() => {})
  const id = exchange.key.id
  let plan: Stored | undefined
  return {
    begin: (status, received, statusText) => {
      // Stored and passed on with a Date (RFC 9110 §6.6.1), the same for both.
      const headers = withReceivedDate(received, ctx.clock.now())
      const res = toCacheResponse(status, headers, statusText)
      const planned = planFor(ctx, exchange, res, recording.requestTime)
      // RFC 9111 §3.3: a partial response is stored only under its own key (flows/range.ts), never
      // where it could answer a request for the complete one.
      plan = planned.store && planned.entry.status !== 206 ? planned : undefined
      let recorder = plan === undefined ? undefined : new Recorder(ctx.options.maxEntrySize, contentLength(headers['content-length']))
      // Known too large from its Content-Length: not stored, and collapsed requests need not wait for it.
      if (recorder !== undefined && !recorder.recording) recorder = plan = undefined
      if (plan === undefined) {
        settle(undefined)
        stored(false)
        // Remembered for a while (hit-for-miss.ts). A HEAD is never stored, but that says nothing of
        // the GET it shares an entry with; nor does a 304, which answers the caller's preconditions.
        if (planned.store || (planned.reason !== 'method' && status !== 304)) ctx.hitForMiss.mark(id, ctx.clock.now())
      } else {
        ctx.hitForMiss.clear(id)
        // Stored, to be validated before any use, but no answer for those waiting on it (collapse.ts,
        // fleet.ts): they go to the origin now, side by side, not after its body.
        const directives = effectiveResponseDirectives(plan.entry.headers, ctx.options.cacheControl)
        if (!answersWaitingRequest(plan.entry, directives, 'default', NO_REQUEST_DIRECTIVES, exchange.reuse, ctx.clock.now())) {
          settle(undefined)
          stored(false)
        }
      }
      // While the write breaker is open the write will be skipped: recorded only for collapsed requests.
      const storing = plan !== undefined && ctx.store.writeState !== 'open'
      const detail = recording.detail !== undefined ? { detail: recording.detail } : {}
      const about = { key: exchange.key, request: exchange.request, entry: plan?.entry }
      const out = { headers: ctx.withStatus(headers, { kind: 'forward', fwd: recording.fwd, status, stored: storing, ...detail }, false, about), recorder }
      // RFC 9111 §4.4 for an unsafe method the cache also stores (POST in `methods`), as flows/unsafe.ts
      // does for the others: the caller sees the response once what it made obsolete is gone.
      const targets = invalidationTargets(exchange.req, res)
      return targets.length > 0 ? { ...out, hold: invalidate(ctx, exchange.req, targets) } : out
    },
    commit: (body) => {
      if (plan === undefined) return
      const entry: StoredEntry = { ...plan.entry, body }
      settle(entry)
      void saveEntry(ctx, exchange.key, entry, plan, recording.pointer, recording.replaces).then(stored)
    },
    // Not an error: an oversized, cut-off or aborted response is simply not stored. An oversized one
    // is said mid-body: collapsed requests go to the origin at once, and later ones for a while.
    discard: (reason) => {
      settle(undefined)
      stored(false)
      if (plan === undefined) return
      if (reason === 'too-large') ctx.hitForMiss.mark(id, ctx.clock.now())
      debug('response for %s not stored: %s', redactUrl(exchange.req.url, ctx.options.key.ignoredParams), reason)
      plan = undefined
    },
  }
}

/**
 * Commits `entry` as `plan` says, without the caller waiting. `pointer` is the Vary pointer the lookup
 * found; `replaces` the entry this one supersedes.
 */
export function saveEntry(ctx: CacheContext, key: RequestKey, entry: StoredEntry, plan: Pick<Stored, 'varyNames' | 'retention' | 'tags'>, pointer: VaryPointer | undefined, replaces?: StoredEntry): Promise<boolean> {
  const ttlMs = retentionMs(plan.retention, ctx.clock.now())
  return ctx.entries.save(key, entry, plan.varyNames, pointer, ttlMs, replaces, plan.tags).then(
    (ok) => {
      if (ok && channels.store.hasSubscribers) channels.store.publish({ url: entry.url, id: key.id, size: bodySize(entry) })
      return ok
    },
    (err: unknown) => {
      ctx.report(asCacheError(err, 'saving an entry failed'))
      return false
    },
  )
}

/** The plan for a response that is stored under `exchange.key`, or why it is not (policy says no, or the user's filter does). */
export function planFor(ctx: CacheContext, exchange: Exchange, res: CacheResponse, requestTime: number): Stored | { readonly store: false; readonly reason: NotStoredReason | 'filter' } {
  const { req, requestDirectives, key } = exchange
  const options = ctx.options
  const request = {
    req,
    requestDirectives,
    canonicalKey: key.canonical,
    storedUrl: redactUrl(req.url, options.key.ignoredParams),
    varyValues: (names: readonly string[]) => ctx.entries.vary.valuesFor(names, req.headers),
  }
  const plan = planResponse(request, res, requestTime, ctx.clock.now(), exchange.plan)
  if (!plan.store) {
    if (plan.reason === 'bad-tags') debug('response for %s not stored: its %s field breaks the tag bounds', request.storedUrl, exchange.plan.tagsHeader)
    return plan
  }
  if (options.filter !== undefined && !userFilter(ctx, options.filter, res, req)) return { store: false, reason: 'filter' }
  return plan
}

function userFilter(ctx: CacheContext, filter: (response: CacheResponse, request: CacheRequest) => boolean, res: CacheResponse, req: CacheRequest): boolean {
  try {
    return filter(res, req) === true
  } catch (err) {
    ctx.report(asCacheError(err, 'filter function failed'))
    return false
  }
}
