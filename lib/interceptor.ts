/**
 * `cache(options)`: resolves options once and returns an undici interceptor. Per request it only routes:
 * every rule it applies comes from policy/, every byte it reads or writes goes through entries.ts.
 *
 * Order of operations for one request (see DESIGN.md "One request, step by step"):
 * 1. pass-through: upgrades/CONNECT, bad URLs or header values (undici reports those itself);
 * 2. unsafe methods not cached: forwarded, and a non-error response invalidates (RFC 9111 §4.4);
 * 3. bypass: methods not cached, request `no-store`, the caller's own conditional or range request,
 *    credentials; forwarded untouched, nothing stored;
 * 4. key → lookup → policy/reuse decision → replay, revalidate, serve stale, 504, or forward and record.
 */
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import { channels, createReporter, debug } from './diagnostics.js'
import { bodySize, currentAge, isInline, staleAt, type StoredEntry, type VaryPointer } from './entry.js'
import { CacheError } from './errors.js'
import { hasInvalidHeaderChar, type HeaderRecord } from './headers.js'
import { EntryRepository, type Lookup } from './entries.js'
import { createKeyer, redactUrl, type RequestKey } from './key.js'
import { toCacheRequest, toCacheResponse, type CacheRequest, type CacheResponse } from './message.js'
import { resolveOptions, type CacheOptions, type ResolvedOptions } from './options.js'
import { conditionalHeaders, isConditional } from './policy/conditional.js'
import { parseRequestDirectives, parseResponseDirectives, type RequestDirectives, type ResponseDirectives } from './policy/directives.js'
import { correctedInitialAge, decideLifetime } from './policy/freshness.js'
import { userExpiration } from './policy/expire-after.js'
import { invalidationTargets, SAFE_METHODS } from './policy/invalidation.js'
import { decide, decideWithoutEntry, NO_REQUEST_DIRECTIVES, NO_RESPONSE_DIRECTIVES, staleWindow } from './policy/reuse.js'
import { headResponseMatches, isErrorOutcome, mergeNotModified, notModifiedMatches, staleIfErrorAllowed } from './policy/revalidation.js'
import { storable, worthStoring } from './policy/storable.js'
import { headersToStore, replayHeaders } from './policy/stored-headers.js'
import { parseVary } from './policy/vary.js'
import { parseHttpDate } from './policy/http-date.js'
import { contentLength, Recorder } from './recorder.js'
import { EMPTY_SOURCE, inlineSource, Replay } from './replay.js'
import { SingleFlight } from './single-flight.js'
import { appendCacheStatus, formatCacheStatus, type CacheOutcome } from './status.js'
import { GuardedStore } from './stores/guarded-store.js'
import type { CacheCounters } from './stores/types.js'
import { Downstream } from './handlers/downstream.js'
import { RecordHandler, type RecordHooks } from './handlers/record-handler.js'
import { RevalidateHandler } from './handlers/revalidate-handler.js'
import { ContinueHandler } from './handlers/continue-handler.js'

type Dispatch = Dispatcher.Dispatch
type DispatchOptions = Dispatcher.DispatchOptions
type Handler = Dispatcher.DispatchHandler
type Headers = Record<string, string | string[] | undefined>

/** Request headers that make a request one the cache must not answer or store for someone else. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie'] as const

/**
 * Creates the cache interceptor: `new Agent().compose(cache({ store }))`.
 * Throws InvalidOptionError for a bad option; never throws per request.
 */
export function cache(options?: CacheOptions): Dispatcher.DispatcherComposeInterceptor {
  const resolved = resolveOptions(options)
  const core = new CacheCore(resolved)
  return (next) => (opts, handler) => core.dispatch(next, opts, handler)
}

/** What one request needs on the cached path, computed once in dispatch(). */
interface Exchange {
  readonly next: Dispatch
  readonly opts: DispatchOptions
  readonly req: CacheRequest
  readonly reqD: RequestDirectives
  readonly key: RequestKey
  readonly downstream: Downstream
}

class CacheCore {
  readonly #o: ResolvedOptions
  readonly #report: (error: CacheError) => void
  readonly #store: GuardedStore
  readonly #entries: EntryRepository
  readonly #revalidations = new SingleFlight<void>()
  /** Misses being fetched from the origin, by primary id: concurrent requests for one share the trip. */
  readonly #flights = new Map<string, Flight>()
  readonly #count: (delta: Partial<CacheCounters>) => void
  readonly #key: (req: CacheRequest, body?: Uint8Array) => RequestKey

  constructor(o: ResolvedOptions) {
    this.#o = o
    this.#key = createKeyer(o.key)
    const store = o.store
    this.#count = (delta) => {
      try {
        store.count(delta)
      } catch (err) {
        debug('store.count threw: %o', err)
      }
    }
    const reporter = createReporter(o.onError)
    this.#report = (error) => {
      this.#count(ERROR)
      reporter(error)
    }
    this.#store = new GuardedStore(o.store, { commandTimeout: o.commandTimeout, report: this.#report })
    this.#entries = new EntryRepository(this.#store, this.#report, o.secretHeaders, o.secretDigest)
  }

  dispatch(next: Dispatch, opts: DispatchOptions, handler: Handler): boolean {
    const method = (opts.method ?? 'GET').toUpperCase()
    if (opts.upgrade != null || method === 'CONNECT') return next(opts, handler)
    let req: CacheRequest
    try {
      req = toCacheRequest(opts)
    } catch {
      return next(opts, handler)
    }
    if (hasBadHeader(req.headers)) return next(opts, handler)

    const o = this.#o
    if (!o.methods.has(req.method)) {
      if (!SAFE_METHODS.has(req.method)) return this.#forwardUnsafe(next, opts, handler, req)
      return this.#bypass(next, opts, handler, 'method', undefined)
    }
    const reqD = o.cacheControl ? parseRequestDirectives(req.headers) : NO_REQUEST_DIRECTIVES
    if (reqD.noStore) return this.#bypass(next, opts, handler, 'bypass', 'no-store')
    if (isConditional(req.headers)) return this.#bypass(next, opts, handler, 'bypass', 'conditional')
    if (req.headers['range'] !== undefined) return this.#bypass(next, opts, handler, 'bypass', 'range')
    if (!o.credentialsPartitioned && CREDENTIAL_HEADERS.some((name) => req.headers[name] !== undefined)) {
      return this.#bypass(next, opts, handler, 'bypass', 'credentials')
    }
    const body = requestBody(req.method, opts.body)
    if (body === FORM_BODY) return this.#bypass(next, opts, handler, 'bypass', 'body-form')
    const downstream = new Downstream(handler)
    downstream.start({})
    if (body !== STREAM_BODY) return this.#begin(next, opts, req, reqD, body, downstream)

    // A streamed body of a cached non-GET method (fetch() sends every body as one): read it, bounded,
    // to key on it, then send the bytes read in its place.
    void readBody(opts.body as AsyncIterable<Uint8Array | string>, MAX_KEYED_BODY).then(
      (read) => {
        if (read.kind === 'bytes') return this.#begin(next, { ...opts, body: read.bytes }, req, reqD, read.bytes, downstream)
        this.#forwardUntouched(next, { ...opts, body: Readable.from(read.rest) }, downstream, 'bypass', 'body-too-large')
      },
      (err: unknown) => downstream.error(err),
    )
    return true
  }

  /** Keys the request and starts the cached path: lookup, then replay, revalidate or forward. */
  #begin(next: Dispatch, opts: DispatchOptions, req: CacheRequest, reqD: RequestDirectives, body: Uint8Array | undefined, downstream: Downstream): boolean {
    let key: RequestKey
    try {
      key = this.#key(req, body)
    } catch (err) {
      this.#report(asCacheError(err, 'key function failed'))
      return this.#forwardUntouched(next, opts, downstream, 'bypass', 'key-error')
    }
    const exchange: Exchange = { next, opts, req, reqD, key, downstream }
    this.#serve(exchange).catch((err: unknown) => this.#recover(exchange, err))
    return true
  }

  async #serve(x: Exchange): Promise<void> {
    const found = await this.#entries.find(x.key, x.req.headers)
    if (x.downstream.controller.aborted) return x.downstream.error(x.downstream.controller.reason)

    if (found.kind !== 'entry') return this.#onMiss(x, found)
    const { entry } = found
    const o = this.#o
    const resD = o.cacheControl ? parseResponseDirectives(entry.headers) : NO_RESPONSE_DIRECTIVES
    const now = Date.now()
    const decision = decide(entry, resD, x.reqD, o.reuse, now)
    switch (decision.kind) {
      case 'hit':
        this.#count(decision.stale ? STALE_HIT : HIT)
        this.#publish(channels.hit, x, found.id, decision.stale ? 'max-stale' : 'fresh')
        return this.#replay(x, found, entry, decision.age, { kind: 'hit', ttl: decision.ttl, ...(decision.stale ? { detail: 'max-stale' } : {}) })
      case 'stale-while-revalidate':
        this.#count(STALE_HIT)
        this.#publish(channels.stale, x, found.id, 'stale-while-revalidate')
        this.#replay(x, found, entry, decision.age, { kind: 'hit', ttl: decision.ttl, detail: 'stale-while-revalidate' })
        return this.#revalidateInBackground(x, found, resD)
      case 'revalidate':
        return this.#revalidate(x, found, resD, decision.reason === 'stale' || decision.reason === 'invalid-freshness' ? 'stale' : 'request')
      case 'gateway-timeout':
        return this.#gatewayTimeout(x)
    }
  }

  #onMiss(x: Exchange, found: Exclude<Lookup, { kind: 'entry' }>): void {
    if (decideWithoutEntry(x.reqD, this.#o.reuse) === 'gateway-timeout') return this.#gatewayTimeout(x)
    const pointer = found.kind === 'unavailable' ? undefined : found.pointer
    const fwd = found.kind === 'vary-miss' ? 'vary-miss' : 'miss'
    const detail = found.kind === 'unavailable' ? (this.#store.state === 'open' ? 'store-unavailable' : 'store-error') : undefined
    const leader = this.#flights.get(x.key.id)
    if (leader !== undefined) return void this.#follow(x, leader, pointer, fwd, detail)
    this.#count(MISS)
    this.#publish(channels.miss, x, x.key.id, detail ?? fwd)
    this.#forwardAndRecord(x, pointer, fwd, detail, x.opts, this.#lead(x.key.id))
  }

  /** Opens the flight other requests for `id` wait on while this one goes to the origin. */
  #lead(id: string): Flight {
    const flight = new Flight(() => {
      if (this.#flights.get(id) === flight) this.#flights.delete(id)
    })
    this.#flights.set(id, flight)
    return flight
  }

  /**
   * Request collapsing: wait for the identical request already on its way to the origin and serve its
   * response (RFC 9211 §2.6 `collapsed`). If that response is not stored, or varies on values this
   * request does not share, go to the origin after all.
   */
  async #follow(x: Exchange, flight: Flight, pointer: VaryPointer | undefined, fwd: 'miss' | 'vary-miss', detail: string | undefined): Promise<void> {
    const entry = await flight.done
    if (x.downstream.controller.aborted) return x.downstream.error(x.downstream.controller.reason)
    if (entry !== undefined && this.#entries.matchesVary(entry, x.req.headers)) {
      this.#count(HIT)
      this.#publish(channels.hit, x, x.key.id, 'collapsed')
      const age = currentAge(entry, Date.now())
      // The leader's entry still holds its body in memory, so this replay never waits on the store.
      return this.#replay(x, { id: x.key.id, pointer }, entry, age, { kind: 'forward', fwd, status: entry.status, collapsed: true, ...(detail !== undefined ? { detail } : {}) })
    }
    this.#count(MISS)
    this.#publish(channels.miss, x, x.key.id, detail ?? fwd)
    this.#forwardAndRecord(x, pointer, fwd, detail, x.opts, undefined)
  }

  #forwardAndRecord(x: Exchange, pointer: VaryPointer | undefined, fwd: 'miss' | 'vary-miss' | 'stale' | 'request', detail: string | undefined, opts: DispatchOptions, flight?: Flight): void {
    const handler = new RecordHandler(x.downstream, this.#recordHooks(x, pointer, fwd, detail, Date.now(), flight))
    if (!this.#send(x, opts, handler)) flight?.settle(undefined)
  }

  /**
   * Hooks that decide, at response start, whether a forwarded response is stored (policy/ decides),
   * and settle the flight collapsed requests wait on: with the entry once committed, else undefined.
   */
  #recordHooks(x: Exchange, pointer: VaryPointer | undefined, fwd: 'miss' | 'vary-miss' | 'stale' | 'request', detail: string | undefined, requestTime: number, flight?: Flight, replaces?: StoredEntry): RecordHooks {
    let plan: StorePlan | undefined
    return {
      begin: (status, headers, statusText) => {
        const res = toCacheResponse(status, headers, statusText)
        plan = this.#planStore(x, res, requestTime, Date.now())
        let recorder = plan === undefined ? undefined : new Recorder(this.#o.maxEntrySize, contentLength(headers['content-length']))
        if (recorder !== undefined && !recorder.recording) recorder = plan = undefined
        if (plan === undefined) flight?.settle(undefined)
        // While the breaker is open the write will be skipped: recorded only for collapsed requests.
        const stored = plan !== undefined && this.#store.state !== 'open'
        const outcome: CacheOutcome = { kind: 'forward', fwd, status, stored, ...(detail !== undefined ? { detail } : {}) }
        return { headers: this.#withStatus(headers, outcome), recorder }
      },
      commit: (body) => {
        if (plan === undefined) return
        const entry: StoredEntry = { ...plan.entry, body }
        flight?.settle(entry)
        this.#save(x.key, entry, plan.varyNames, pointer, plan.resD, replaces)
      },
      // Not an error: an oversized, cut-off or aborted response is simply not stored.
      discard: (reason) => {
        flight?.settle(undefined)
        if (plan !== undefined) debug('response for %s not stored: %s', redactUrl(x.req.url, this.#o.key.ignoredParams), reason)
      },
    }
  }

  /** Policy at response start: undefined when the response is not to be stored. */
  #planStore(x: Exchange, res: CacheResponse, requestTime: number, responseTime: number): StorePlan | undefined {
    const o = this.#o
    const { req } = x
    const resD = parseResponseDirectives(res.headers)
    if (!storable(req, x.reqD, res, resD, o.storable).storable) return undefined
    const vary = parseVary(res.headers)
    if (vary.kind === 'any') return undefined
    const user = userExpiration(req.url, o.urlRules, o.expireAfter)
    const effective = o.cacheControl ? resD : NO_RESPONSE_DIRECTIVES
    const lifetime = decideLifetime({ res, directives: resD, responseTime, cacheControl: o.cacheControl, user })
    if (lifetime.kind === 'do-not-cache') return undefined
    if (!worthStoring(lifetime.lifetime, res, effective, staleWindow(effective, o.reuse))) return undefined
    if (o.filter !== undefined && !this.#userFilter(res, req)) return undefined
    const varyNames = vary.kind === 'fields' ? vary.names : undefined
    return {
      resD: effective,
      varyNames,
      entry: {
        kind: 'entry',
        key: x.key.canonical,
        url: redactUrl(req.url, o.key.ignoredParams),
        method: req.method === 'HEAD' ? 'GET' : req.method,
        status: res.status,
        statusText: res.statusText,
        headers: headersToStore(res.headers, resD, o.key.ignoredHeaders),
        vary: varyNames === undefined ? undefined : this.#entries.varyValues(varyNames, req.headers),
        requestTime,
        responseTime,
        initialAge: correctedInitialAge(res, requestTime, responseTime),
        lifetime: lifetime.lifetime,
      },
    }
  }

  #userFilter(res: CacheResponse, req: CacheRequest): boolean {
    try {
      return this.#o.filter!(res, req) === true
    } catch (err) {
      this.#report(asCacheError(err, 'filter function failed'))
      return false
    }
  }

  /** `replaces`: the entry this one supersedes, whose external body (if any) is then retired. */
  #save(key: RequestKey, entry: StoredEntry, varyNames: readonly string[] | undefined, pointer: VaryPointer | undefined, resD: ResponseDirectives, replaces?: StoredEntry): void {
    const now = Date.now()
    const window = staleWindow(resD, this.#o.reuse)
    // The store keeps the entry while it is fresh or usable stale (RFC 5861 windows); `ttl: false`
    // stores ignore this and keep it for revalidation.
    const ttlMs = entry.lifetime === Infinity || window === Infinity ? undefined : Math.max(0, staleAt(entry) - now) + window * 1000
    void this.#entries.save(key, entry, varyNames, pointer, ttlMs, now, replaces).then((ok) => {
      if (ok && channels.store.hasSubscribers) channels.store.publish({ url: entry.url, id: key.id, size: bodySize(entry) })
    })
  }

  /** Sends the stale entry's conditional request (RFC 9111 §4.3.1) and handles what comes back. */
  /** `settle` is given for a background revalidation, whose Downstream has no caller behind it. */
  #revalidate(x: Exchange, found: Extract<Lookup, { kind: 'entry' }>, resD: ResponseDirectives, fwd: 'stale' | 'request', settle?: () => void): void {
    const { entry } = found
    const requestTime = Date.now()
    const conditions = conditionalHeaders(entry.headers)
    this.#count(Object.keys(conditions).length > 0 ? REVALIDATION : MISS)
    const headers = { ...plainHeaders(x.req.headers), ...conditions }
    const opts: DispatchOptions = { ...x.opts, headers }
    const exchange: Exchange = settle === undefined ? x : { ...x, downstream: backgroundDownstream(settle) }
    const { downstream } = exchange
    const handler = new RevalidateHandler(downstream, {
      staleAllowed: (outcome) => isErrorOutcome(outcome) && staleIfErrorAllowed(entry, resD, x.reqD, this.#o.reuse, Date.now()),
      // RFC 9111 §4.3.5: a 200 to HEAD that describes the stored representation freshens it like a 304.
      freshens: (status, raw) => x.req.method === 'HEAD' && status === 200 && headResponseMatches(entry.headers, toCacheResponse(status, raw, '').headers),
      notModified: (raw, status) => this.#onNotModified(exchange, found, raw, status, requestTime, fwd, settle),
      serveStale: (outcome) => {
        if (settle !== undefined) return settle()
        this.#count(STALE_SERVED)
        this.#publish(channels.stale, x, found.id, 'stale-if-error')
        const status = outcome === 'error' ? {} : { status: outcome }
        this.#replay(x, found, entry, currentAge(entry, Date.now()), { kind: 'forward', fwd: 'stale', ...status, detail: 'stale-if-error' })
      },
      forward: () => {
        // §4.3.5: any other answer to HEAD says the stored GET responses are not current: drop them
        // (tracked, so this process's next read waits for it).
        if (x.req.method === 'HEAD') void this.#entries.invalidate([x.key.id])
        return new RecordHandler(downstream, this.#recordHooks(exchange, found.pointer, fwd, undefined, requestTime, undefined, entry))
      },
    })
    this.#send(exchange, opts, handler)
  }

  /** A 304 answered our conditional request: merge, refresh, store, serve the stored body (§4.3.4). */
  #onNotModified(x: Exchange, found: Extract<Lookup, { kind: 'entry' }>, raw: Headers, status: number, requestTime: number, fwd: 'stale' | 'request', settle: (() => void) | undefined): void {
    const { entry } = found
    const o = this.#o
    const res304 = toCacheResponse(304, raw, '')
    this.#publish(channels.revalidate, x, found.id, status)
    if (!notModifiedMatches(entry.headers, res304.headers)) {
      // The 304 describes a representation we do not hold: ask again without conditions.
      if (settle !== undefined) return settle()
      return this.#forwardAndRecord(x, found.pointer, fwd, 'validator-mismatch', { ...x.opts, headers: plainHeaders(x.req.headers) })
    }
    const responseTime = Date.now()
    const merged: CacheResponse = { status: entry.status, statusText: entry.statusText, headers: mergeNotModified(entry.headers, res304.headers) }
    const resD = parseResponseDirectives(merged.headers)
    const user = userExpiration(x.req.url, o.urlRules, o.expireAfter)
    const lifetime = decideLifetime({ res: merged, directives: resD, responseTime, cacheControl: o.cacheControl, user })
    const refreshed: StoredEntry = {
      ...entry,
      headers: headersToStore(merged.headers, resD, o.key.ignoredHeaders),
      requestTime,
      responseTime,
      initialAge: correctedInitialAge(res304, requestTime, responseTime),
      lifetime: lifetime.kind === 'store' ? lifetime.lifetime : 0,
    }
    const effective = o.cacheControl ? resD : NO_RESPONSE_DIRECTIVES
    if (lifetime.kind === 'store' && !(resD.noStore && !resD.mustUnderstand)) this.#save(x.key, refreshed, found.pointer?.names, found.pointer, effective, entry)
    else void this.#entries.remove(found.id)
    if (settle !== undefined) return settle()
    const age = currentAge(refreshed, Date.now())
    this.#replay(x, found, refreshed, age, { kind: 'forward', fwd, status, ttl: refreshed.lifetime - age })
  }

  /** RFC 5861 §3: one background revalidation per entry at a time, never tied to the caller. */
  #revalidateInBackground(x: Exchange, found: Extract<Lookup, { kind: 'entry' }>, resD: ResponseDirectives): void {
    void this.#revalidations.run(found.id, () => new Promise<void>((resolve) => this.#revalidate(x, found, resD, 'stale', resolve)))
  }

  /**
   * Serves `entry`. An inline body starts at once; an external one once its first chunk is read and
   * checked, and if it cannot be, the request goes to the origin as a miss instead.
   */
  #replay(x: Exchange, at: { readonly id: string; readonly pointer: VaryPointer | undefined }, entry: StoredEntry, age: number, outcome: CacheOutcome): void {
    // replayHeaders returns a fresh record, so Cache-Status is set on it in place.
    const headers = this.#withStatus(replayHeaders(entry.headers, age), outcome, true) as Record<string, string | string[]>
    const withBody = x.req.method !== 'HEAD'
    if (!withBody || isInline(entry.body)) {
      const source = withBody && isInline(entry.body) ? inlineSource(entry.body) : EMPTY_SOURCE
      return new Replay(x.downstream, source).start(entry.status, entry.statusText, headers)
    }
    void this.#entries.openBody(at.id, entry, withBody).then((source) => {
      if (x.downstream.controller.aborted) return x.downstream.error(x.downstream.controller.reason)
      if (source === undefined) return this.#forwardAndRecord(x, at.pointer, 'miss', 'body-unreadable', x.opts)
      new Replay(x.downstream, source, (sent) => this.#finishFromOrigin(x, entry, sent)).start(entry.status, entry.statusText, headers)
    })
  }

  /**
   * A stored body broke after the response started: ask the origin for the rest of the same
   * representation (Range + If-Range on a strong validator, RFC 9110 §14.2, §13.1.5). False when the
   * entry has no strong validator to make that safe; the response is then aborted.
   */
  #finishFromOrigin(x: Exchange, entry: StoredEntry, sent: number): boolean {
    const validator = ifRangeValidator(entry.headers)
    if (validator === undefined) return false
    const headers = { ...plainHeaders(x.req.headers), range: `bytes=${sent}-`, 'if-range': validator }
    this.#send(x, { ...x.opts, method: 'GET', headers }, new ContinueHandler(x.downstream, sent, bodySize(entry)))
    return true
  }

  /** RFC 9111 §5.2.1.7: only-if-cached with nothing usable stored. */
  #gatewayTimeout(x: Exchange): void {
    const headers = this.#withStatus({ 'content-length': '0' }, { kind: 'synthetic', detail: 'only-if-cached' })
    new Replay(x.downstream, EMPTY_SOURCE).start(504, 'Gateway Timeout', headers as Record<string, string | string[]>)
  }

  /** Unsafe method: forward, and on a non-error response invalidate the URIs it names (§4.4). */
  #forwardUnsafe(next: Dispatch, opts: DispatchOptions, handler: Handler, req: CacheRequest): boolean {
    const downstream = new Downstream(handler)
    downstream.start({})
    const hooks: RecordHooks = {
      begin: (status, headers, statusText) => {
        const targets = invalidationTargets(req, toCacheResponse(status, headers, statusText))
        const out = this.#withStatus(headers, { kind: 'forward', fwd: 'method', status })
        // The caller sees the response only once the invalidation is done, so its next read, from
        // this process or any other sharing the store, cannot find what the write made obsolete.
        return targets.length > 0 ? { headers: out, recorder: undefined, hold: this.#invalidate(targets) } : { headers: out, recorder: undefined }
      },
      commit: () => {},
      discard: () => {},
    }
    const handlerOut = new RecordHandler(downstream, hooks)
    try {
      return next(opts, handlerOut)
    } catch (err) {
      downstream.error(err)
      return true
    }
  }

  #invalidate(urls: readonly URL[]): Promise<void> {
    const ids: string[] = []
    for (const url of urls) {
      try {
        ids.push(this.#key({ method: 'GET', url, headers: {} }).id)
      } catch (err) {
        this.#report(asCacheError(err, 'key function failed during invalidation'))
      }
    }
    return this.#entries.invalidate(ids)
  }

  /** Forwarded untouched and never stored; only the Cache-Status header is added. */
  #bypass(next: Dispatch, opts: DispatchOptions, handler: Handler, fwd: 'bypass' | 'method', detail: string | undefined): boolean {
    if (this.#o.cacheStatusName === undefined) return next(opts, handler)
    const downstream = new Downstream(handler)
    downstream.start({})
    return this.#forwardUntouched(next, opts, downstream, fwd, detail)
  }

  #forwardUntouched(next: Dispatch, opts: DispatchOptions, downstream: Downstream, fwd: 'bypass' | 'method', detail: string | undefined): boolean {
    const outcome = (status: number): CacheOutcome => ({ kind: 'forward', fwd, status, ...(detail !== undefined ? { detail } : {}) })
    const hooks: RecordHooks = {
      begin: (status, headers) => ({ headers: this.#withStatus(headers, outcome(status)), recorder: undefined }),
      commit: () => {},
      discard: () => {},
    }
    try {
      return next(opts, new RecordHandler(downstream, hooks))
    } catch (err) {
      downstream.error(err)
      return true
    }
  }

  /** Dispatches to the next layer; false when it threw (the caller has the error). */
  #send(x: Exchange, opts: DispatchOptions, handler: Handler): boolean {
    try {
      x.next(opts, handler)
      return true
    } catch (err) {
      x.downstream.error(err)
      return false
    }
  }

  /** A bug on the cached path must not fail the request: fall back to the origin if nothing was sent. */
  #recover(x: Exchange, err: unknown): void {
    this.#report(asCacheError(err, 'internal error on the cached path'))
    if (x.downstream.responding || x.downstream.done) return x.downstream.error(err)
    const downstream = x.downstream
    const hooks: RecordHooks = {
      begin: (status, headers) => ({ headers: this.#withStatus(headers, { kind: 'forward', fwd: 'bypass', status, detail: 'internal-error' }), recorder: undefined }),
      commit: () => {},
      discard: () => {},
    }
    this.#send(x, x.opts, new RecordHandler(downstream, hooks))
  }

  /** Adds our Cache-Status member; to a copy of `headers` unless the caller `owns` them. */
  #withStatus(headers: Headers, outcome: CacheOutcome, owns = false): Headers {
    const name = this.#o.cacheStatusName
    if (name === undefined) return headers
    const value = appendCacheStatus(headers['cache-status'], formatCacheStatus(name, outcome))
    if (!owns) return { ...headers, 'cache-status': value }
    headers['cache-status'] = value
    return headers
  }

  #publish(channel: typeof channels.hit, x: Exchange, id: string, reason: string | number): void {
    if (channel.hasSubscribers) channel.publish({ url: x.req.url.href, id, reason })
  }
}

/** Counter deltas, allocated once. */
const HIT: Partial<CacheCounters> = { hits: 1 }
const STALE_HIT: Partial<CacheCounters> = { hits: 1, staleServed: 1 }
const STALE_SERVED: Partial<CacheCounters> = { staleServed: 1 }
const MISS: Partial<CacheCounters> = { misses: 1 }
const REVALIDATION: Partial<CacheCounters> = { revalidations: 1 }
const ERROR: Partial<CacheCounters> = { errors: 1 }

/** One origin fetch that collapsed requests wait on; settles once, with the stored entry or undefined. */
class Flight {
  readonly done: Promise<StoredEntry | undefined>
  #resolve!: (entry: StoredEntry | undefined) => void
  #settled = false

  constructor(onSettle: () => void) {
    this.done = new Promise((resolve) => {
      this.#resolve = resolve
    })
    void this.done.then(onSettle)
  }

  settle(entry: StoredEntry | undefined): void {
    if (this.#settled) return
    this.#settled = true
    this.#resolve(entry)
  }
}

interface StorePlan {
  readonly entry: Omit<StoredEntry, 'body'>
  readonly varyNames: readonly string[] | undefined
  readonly resD: ResponseDirectives
}

/**
 * The validator If-Range may carry (RFC 9110 §13.1.5): a strong entity tag (weak ones are not
 * allowed), else a Last-Modified date, but only one that is strong in the sense of §8.8.2.2: at least
 * a second older than the response's Date.
 */
function ifRangeValidator(headers: HeaderRecord): string | undefined {
  const etag = typeof headers['etag'] === 'string' ? headers['etag'] : undefined
  if (etag !== undefined) return etag.startsWith('"') ? etag : undefined
  const lastModified = typeof headers['last-modified'] === 'string' ? headers['last-modified'] : undefined
  const modified = parseHttpDate(lastModified)
  const date = parseHttpDate(typeof headers['date'] === 'string' ? headers['date'] : undefined)
  return modified !== undefined && date !== undefined && date - modified >= 1000 ? lastModified : undefined
}

/** A Downstream with no caller: it only tells `settle` when the response it would have passed on ends. */
function backgroundDownstream(settle: () => void): Downstream {
  const downstream = new Downstream({ onResponseEnd: settle, onResponseError: settle })
  downstream.start({})
  return downstream
}

function hasBadHeader(headers: HeaderRecord): boolean {
  for (const value of Object.values(headers)) {
    if (value === undefined) continue
    if (typeof value === 'string' ? hasInvalidHeaderChar(value) : value.some(hasInvalidHeaderChar)) return true
  }
  return false
}

/** A body that must be read before it can be keyed (a stream or async iterable). */
const STREAM_BODY = Symbol('stream body')
/** A body the cache does not key on (FormData: its multipart boundary differs per request). */
const FORM_BODY = Symbol('form body')
/** Largest streamed request body read to key on; a larger one is sent on untouched and not cached. */
const MAX_KEYED_BODY = 1024 * 1024

/** The request body bytes that become part of the key for cached non-GET methods. */
function requestBody(method: string, body: DispatchOptions['body']): Uint8Array | undefined | typeof STREAM_BODY | typeof FORM_BODY {
  if (method === 'GET' || method === 'HEAD' || body == null) return undefined
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof Uint8Array) return body
  if (typeof body === 'object' && Symbol.asyncIterator in body) return STREAM_BODY
  return FORM_BODY
}

type ReadBody = { readonly kind: 'bytes'; readonly bytes: Buffer } | { readonly kind: 'too-large'; readonly rest: AsyncIterable<Uint8Array | string> }

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops and returns a replacement body that
 * yields what was read and then the rest, so the request still goes out whole.
 */
async function readBody(body: AsyncIterable<Uint8Array | string>, limit: number): Promise<ReadBody> {
  const iterator = body[Symbol.asyncIterator]()
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const step = await iterator.next()
    if (step.done === true) return { kind: 'bytes', bytes: Buffer.concat(chunks, size) }
    const chunk = typeof step.value === 'string' ? Buffer.from(step.value) : Buffer.from(step.value.buffer, step.value.byteOffset, step.value.byteLength)
    chunks.push(chunk)
    size += chunk.byteLength
    if (size > limit) {
      const rest = async function* (): AsyncGenerator<Uint8Array | string> {
        yield* chunks
        for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) yield next.value
      }
      return { kind: 'too-large', rest: rest() }
    }
  }
}

function plainHeaders(headers: HeaderRecord): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = typeof value === 'string' ? value : [...value]
  }
  return out
}

function asCacheError(err: unknown, message: string): CacheError {
  return err instanceof CacheError ? err : new CacheError(`${message}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
}
