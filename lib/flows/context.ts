/**
 * What every flow is handed: the cache's services, built once by cache() (CacheContext), and one
 * request's facts (Exchange). A flow is a few functions over these two; it holds no state of its own
 * beyond what the context lends it (the collapse table, the background revalidations).
 */
import type { Dispatcher } from 'undici'
import type { Clock } from '../clock.js'
import { staleAt, type StoredEntry } from '../entry.js'
import { channels, createReporter } from '../diagnostics.js'
import { CacheError } from '../errors.js'
import type { Downstream } from '../handlers/downstream.js'
import { copyHeaders, headerRecord } from '../headers.js'
import type { CacheRequest } from '../http.js'
import { createKeyer, type RequestKey } from '../key.js'
import type { ResolvedOptions } from '../options.js'
import type { RequestDirectives } from '../policy/directives.js'
import type { PlanOptions } from '../policy/entry-plan.js'
import type { Preconditions } from '../policy/preconditions.js'
import type { ReuseOptions } from '../policy/reuse.js'
import type { CacheOutcomeInfo, ResolvedRequestOptions } from '../request-options.js'
import { SingleFlight } from '../single-flight.js'
import { HitForMiss } from './hit-for-miss.js'
import { appendCacheStatus, formatCacheStatus, outcomeKind, type CacheOutcome } from '../status.js'
import { EntryRepository, type EntryLocation } from '../storage/entry-repository.js'
import { GuardedStore } from '../stores/guarded-store.js'
import type { CacheCounters } from '../stores/types.js'
import { redactUrl } from '../url-normalize.js'

export type Dispatch = Dispatcher.Dispatch
export type DispatchOptions = Dispatcher.DispatchOptions
export type Headers = Record<string, string | string[] | undefined>

/** One request on the cached path. */
export interface Exchange {
  readonly next: Dispatch
  readonly opts: DispatchOptions
  readonly req: CacheRequest
  /** The request's own Cache-Control / Pragma directives (honoured whatever `cacheControl` is). */
  readonly requestDirectives: RequestDirectives
  /** The caller's own If-None-Match or If-Modified-Since, evaluated when a stored 200 is served (serve.ts). */
  readonly preconditions: Preconditions | undefined
  readonly key: RequestKey
  readonly downstream: Downstream
  /** The request's `cache` option (or mode header), resolved. */
  readonly request: ResolvedRequestOptions
  /** The stale windows for this request: the cache-wide ones, or the request's own. */
  readonly reuse: ReuseOptions
  /** The store plan options for this request's response: the cache-wide ones, or with its own lifetime. */
  readonly plan: PlanOptions
}

/** What a miss's leader shares with its followers: the entry, and where it is stored when it was read back. */
export interface Shared {
  readonly entry: StoredEntry
  /** Set for an entry another process stored (its body may live apart, under this id); unset for one recorded here. */
  readonly at?: EntryLocation | undefined
}

/** Counter deltas, allocated once. */
export const COUNT = {
  hit: { hits: 1 },
  staleHit: { hits: 1, staleServed: 1 },
  staleServed: { staleServed: 1 },
  miss: { misses: 1 },
  revalidation: { revalidations: 1 },
  error: { errors: 1 },
} as const satisfies Record<string, Partial<CacheCounters>>

type Channel = (typeof channels)[keyof typeof channels]

/** The cache's services, shared by every request of one cache() interceptor. */
export class CacheContext {
  readonly options: ResolvedOptions
  readonly clock: Clock
  readonly store: GuardedStore
  readonly entries: EntryRepository
  /**
   * Misses on their way to the origin, by primary id: identical requests wait for them (collapse.ts).
   * Each settles with the entry once it is recorded (or found stored by another process: fleet.ts),
   * or undefined when the response is not stored.
   */
  readonly flights = new SingleFlight<Shared | undefined>()
  /** Background revalidations under way, one per entry (RFC 5861 §3). */
  readonly revalidations = new SingleFlight<void>()
  /** Entries whose last response was not stored: for a while their misses skip collapsing (hit-for-miss.ts). */
  readonly hitForMiss = new HitForMiss()
  readonly key: (req: CacheRequest, body?: Uint8Array) => RequestKey
  readonly #reporter: (error: CacheError) => void

  constructor(options: ResolvedOptions) {
    this.options = options
    this.clock = options.clock
    this.key = createKeyer(options.key)
    this.#reporter = createReporter(options.onError, options.clock)
    this.store = new GuardedStore(options.store, { commandTimeout: options.commandTimeout, report: (error) => this.report(error), clock: options.clock, readOnly: options.readOnly })
    this.entries = new EntryRepository(this.store, { report: (error) => this.report(error), clock: options.clock, secretHeaders: options.secretHeaders, digest: options.secretDigest })
  }

  /** Counts the failure and hands it to onError and the diagnostics channel (rate-limited). */
  report(error: CacheError): void {
    this.count(COUNT.error)
    this.#reporter(error)
  }

  /** Adds to the store's counters; the guard owns the call, so it never throws. */
  count(delta: Partial<CacheCounters>): void {
    this.store.count(delta)
  }

  /**
   * Publishes one cache event with the redacted URL (url-normalize.ts: ignored parameters and userinfo
   * removed), the same URL an entry stores, so a subscriber that logs events logs no secret. Nothing
   * is built unless someone listens (NODE_DEBUG subscribes, diagnostics.ts).
   */
  publish(channel: Channel, exchange: Exchange, id: string, reason: string | number): void {
    if (channel.hasSubscribers) channel.publish({ url: redactUrl(exchange.req.url, this.options.key.ignoredParams), id, reason })
  }

  /**
   * Adds our Cache-Status member, to a copy of `headers` unless the caller `owns` them, and tells the
   * request's `onOutcome` callback (if any) what happened. `about` names the request and the stored
   * entry the response comes from or is stored as, where there is one.
   */
  withStatus(headers: Headers, outcome: CacheOutcome, owns = false, about?: OutcomeSubject): Headers {
    if (about?.request?.onOutcome !== undefined) this.#tellOutcome(about.request.onOutcome, outcome, about)
    const name = this.options.cacheStatusName
    if (name === undefined) return headers
    const key = this.options.cacheStatusKey ? about?.key?.id : undefined
    const value = appendCacheStatus(headers['cache-status'], formatCacheStatus(name, outcome, key))
    if (!owns) return Object.assign(headerRecord<string | string[] | undefined>(), headers, { 'cache-status': value })
    headers['cache-status'] = value
    return headers
  }

  /** Requests whose onOutcome was called: once each, at the response the caller gets (not a later fallback). */
  readonly #told = new WeakSet<ResolvedRequestOptions>()

  #tellOutcome(onOutcome: (info: CacheOutcomeInfo) => void, outcome: CacheOutcome, about: OutcomeSubject): void {
    if (about.request === undefined || this.#told.has(about.request)) return
    this.#told.add(about.request)
    const { entry } = about
    const info: CacheOutcomeInfo = {
      outcome: outcomeKind(outcome),
      key: about.key?.id,
      storedAt: entry === undefined ? undefined : new Date(entry.responseTime),
      expiresAt: entry === undefined ? undefined : entry.lifetime === Infinity ? null : new Date(staleAt(entry)),
      stored: outcome.kind === 'forward' && outcome.stored === true,
    }
    try {
      onOutcome(info)
    } catch (err) {
      this.report(asCacheError(err, 'the onOutcome callback threw'))
    }
  }
}

/** The request and entry a response is about, for Cache-Status' key and the onOutcome callback. */
export interface OutcomeSubject {
  readonly key?: RequestKey | undefined
  readonly request?: ResolvedRequestOptions | undefined
  readonly entry?: Pick<StoredEntry, 'responseTime' | 'initialAge' | 'lifetime'> | undefined
}

/**
 * Dispatches to the next layer and returns what it returned (false asks the caller to wait for
 * 'drain', undici's backpressure). If it throws, the caller's handler gets the error, `onThrow` runs,
 * and the request counts as handled.
 */
export function send(exchange: Pick<Exchange, 'next' | 'downstream'>, opts: DispatchOptions, handler: Dispatcher.DispatchHandler, onThrow?: () => void): boolean {
  try {
    return exchange.next(opts, handler)
  } catch (err) {
    exchange.downstream.error(err)
    onThrow?.()
    return true
  }
}

/** `err` as a CacheError: itself when it is one, else wrapped with `message` and kept as the cause. */
export function asCacheError(err: unknown, message: string): CacheError {
  return err instanceof CacheError ? err : new CacheError(`${message}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}

/** The caller's request headers as a plain record undici accepts, for requests the cache sends in its place. */
export function plainHeaders(headers: CacheRequest['headers']): Record<string, string | string[]> {
  return copyHeaders(headers)
}
