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
import type { Dispatcher } from 'undici'
import { channels, createReporter, debug } from './diagnostics.js'
import { currentAge, staleAt, type StoredEntry, type VaryPointer } from './entry.js'
import { CacheError } from './errors.js'
import { hasInvalidHeaderChar, type HeaderRecord } from './headers.js'
import { EntryRepository, type Lookup } from './entries.js'
import { requestKey, redactUrl, type RequestKey } from './key.js'
import { toCacheRequest, toCacheResponse, type CacheRequest, type CacheResponse } from './message.js'
import { resolveOptions, type CacheOptions, type ResolvedOptions } from './options.js'
import { conditionalHeaders, isConditional } from './policy/conditional.js'
import { parseRequestDirectives, parseResponseDirectives, type RequestDirectives, type ResponseDirectives } from './policy/directives.js'
import { correctedInitialAge, decideLifetime } from './policy/freshness.js'
import { userExpiration } from './policy/expire-after.js'
import { invalidationTargets, SAFE_METHODS } from './policy/invalidation.js'
import { decide, decideWithoutEntry, NO_REQUEST_DIRECTIVES, NO_RESPONSE_DIRECTIVES, staleWindow } from './policy/reuse.js'
import { isErrorOutcome, mergeNotModified, notModifiedMatches, staleIfErrorAllowed } from './policy/revalidation.js'
import { storable, worthStoring } from './policy/storable.js'
import { headersToStore, replayHeaders } from './policy/stored-headers.js'
import { parseVary } from './policy/vary.js'
import { contentLength, Recorder } from './recorder.js'
import { Replay } from './replay.js'
import { SingleFlight } from './single-flight.js'
import { appendCacheStatus, formatCacheStatus, type CacheOutcome } from './status.js'
import { GuardedStore } from './stores/guarded-store.js'
import { Downstream } from './handlers/downstream.js'
import { RecordHandler, type RecordHooks } from './handlers/record-handler.js'
import { RevalidateHandler } from './handlers/revalidate-handler.js'

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

  constructor(o: ResolvedOptions) {
    this.#o = o
    this.#report = createReporter(o.onError)
    this.#store = new GuardedStore(o.store, { commandTimeout: o.commandTimeout, report: this.#report })
    this.#entries = new EntryRepository(this.#store, this.#report, o.key.ignoredHeaders)
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
    if (CREDENTIAL_HEADERS.some((name) => req.headers[name] !== undefined)) return this.#bypass(next, opts, handler, 'bypass', 'credentials')

    let key: RequestKey
    try {
      key = requestKey(req, o.key, requestBody(req.method, opts.body))
    } catch (err) {
      this.#report(asCacheError(err, 'key function failed'))
      return this.#bypass(next, opts, handler, 'bypass', 'key-error')
    }

    const downstream = new Downstream(handler)
    downstream.start({})
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
        this.#publish(channels.hit, x, found.id, decision.stale ? 'max-stale' : 'fresh')
        return this.#replay(x, entry, decision.age, { kind: 'hit', ttl: decision.ttl, ...(decision.stale ? { detail: 'max-stale' } : {}) })
      case 'stale-while-revalidate':
        this.#publish(channels.stale, x, found.id, 'stale-while-revalidate')
        this.#replay(x, entry, decision.age, { kind: 'hit', ttl: decision.ttl, detail: 'stale-while-revalidate' })
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
    this.#publish(channels.miss, x, x.key.id, detail ?? fwd)
    this.#forwardAndRecord(x, pointer, fwd, detail, x.opts)
  }

  #forwardAndRecord(x: Exchange, pointer: VaryPointer | undefined, fwd: 'miss' | 'vary-miss' | 'stale' | 'request', detail: string | undefined, opts: DispatchOptions): void {
    const handler = new RecordHandler(x.downstream, this.#recordHooks(x, pointer, fwd, detail, Date.now()))
    this.#send(x, opts, handler)
  }

  /** Hooks that decide, at response start, whether a forwarded response is stored (policy/ decides). */
  #recordHooks(x: Exchange, pointer: VaryPointer | undefined, fwd: 'miss' | 'vary-miss' | 'stale' | 'request', detail: string | undefined, requestTime: number): RecordHooks {
    let plan: StorePlan | undefined
    return {
      begin: (status, headers, statusText) => {
        const res = toCacheResponse(status, headers, statusText)
        plan = this.#planStore(x, res, requestTime, Date.now())
        let recorder = plan === undefined ? undefined : new Recorder(this.#o.maxEntrySize, contentLength(headers['content-length']))
        if (recorder !== undefined && !recorder.recording) recorder = plan = undefined
        const outcome: CacheOutcome = { kind: 'forward', fwd, status, stored: plan !== undefined, ...(detail !== undefined ? { detail } : {}) }
        return { headers: this.#withStatus(headers, outcome), recorder }
      },
      commit: (body) => {
        if (plan === undefined) return
        const entry: StoredEntry = { ...plan.entry, body }
        this.#save(x.key, entry, plan.varyNames, pointer, plan.resD)
      },
      // Not an error: an oversized, cut-off or aborted response is simply not stored.
      discard: (reason) => debug('response for %s not stored: %s', redactUrl(x.req.url, this.#o.key.ignoredParams), reason),
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

  #save(key: RequestKey, entry: StoredEntry, varyNames: readonly string[] | undefined, pointer: VaryPointer | undefined, resD: ResponseDirectives): void {
    const now = Date.now()
    const window = staleWindow(resD, this.#o.reuse)
    // The store keeps the entry while it is fresh or usable stale (RFC 5861 windows); `ttl: false`
    // stores ignore this and keep it for revalidation.
    const ttlMs = entry.lifetime === Infinity || window === Infinity ? undefined : Math.max(0, staleAt(entry) - now) + window * 1000
    void this.#entries.save(key, entry, varyNames, pointer, ttlMs, now).then((ok) => {
      if (ok && channels.store.hasSubscribers) channels.store.publish({ url: entry.url, id: key.id, size: entry.body.byteLength })
    })
  }

  /** Sends the stale entry's conditional request (RFC 9111 §4.3.1) and handles what comes back. */
  /** `settle` is given for a background revalidation, whose Downstream has no caller behind it. */
  #revalidate(x: Exchange, found: Extract<Lookup, { kind: 'entry' }>, resD: ResponseDirectives, fwd: 'stale' | 'request', settle?: () => void): void {
    const { entry } = found
    const requestTime = Date.now()
    const headers = { ...plainHeaders(x.req.headers), ...conditionalHeaders(entry.headers) }
    const opts: DispatchOptions = { ...x.opts, headers }
    const exchange: Exchange = settle === undefined ? x : { ...x, downstream: backgroundDownstream(settle) }
    const { downstream } = exchange
    const handler = new RevalidateHandler(downstream, {
      staleAllowed: (outcome) => isErrorOutcome(outcome) && staleIfErrorAllowed(entry, resD, x.reqD, this.#o.reuse, Date.now()),
      notModified: (raw) => this.#onNotModified(exchange, found, raw, requestTime, fwd, settle),
      serveStale: (outcome) => {
        if (settle !== undefined) return settle()
        this.#publish(channels.stale, x, found.id, 'stale-if-error')
        const status = outcome === 'error' ? {} : { status: outcome }
        this.#replay(x, entry, currentAge(entry, Date.now()), { kind: 'forward', fwd: 'stale', ...status, detail: 'stale-if-error' })
      },
      forward: () => new RecordHandler(downstream, this.#recordHooks(exchange, found.pointer, fwd, undefined, requestTime)),
    })
    this.#send(exchange, opts, handler)
  }

  /** A 304 answered our conditional request: merge, refresh, store, serve the stored body (§4.3.4). */
  #onNotModified(x: Exchange, found: Extract<Lookup, { kind: 'entry' }>, raw: Headers, requestTime: number, fwd: 'stale' | 'request', settle: (() => void) | undefined): void {
    const { entry } = found
    const o = this.#o
    const res304 = toCacheResponse(304, raw, '')
    this.#publish(channels.revalidate, x, found.id, 304)
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
    if (lifetime.kind === 'store' && !resD.noStore) this.#save(x.key, refreshed, found.pointer?.names, found.pointer, effective)
    else void this.#entries.remove(found.id)
    if (settle !== undefined) return settle()
    const age = currentAge(refreshed, Date.now())
    this.#replay(x, refreshed, age, { kind: 'forward', fwd, status: 304, ttl: refreshed.lifetime - age })
  }

  /** RFC 5861 §3: one background revalidation per entry at a time, never tied to the caller. */
  #revalidateInBackground(x: Exchange, found: Extract<Lookup, { kind: 'entry' }>, resD: ResponseDirectives): void {
    void this.#revalidations.run(found.id, () => new Promise<void>((resolve) => this.#revalidate(x, found, resD, 'stale', resolve)))
  }

  #replay(x: Exchange, entry: StoredEntry, age: number, outcome: CacheOutcome): void {
    const headers = replayHeaders(entry.headers, age)
    const body = x.req.method === 'HEAD' ? undefined : entry.body
    new Replay(x.downstream, body).start(entry.status, entry.statusText, this.#withStatus(headers, outcome) as Record<string, string | string[]>)
  }

  /** RFC 9111 §5.2.1.7: only-if-cached with nothing usable stored. */
  #gatewayTimeout(x: Exchange): void {
    const headers = this.#withStatus({ 'content-length': '0' }, { kind: 'synthetic', detail: 'only-if-cached' })
    new Replay(x.downstream, undefined).start(504, 'Gateway Timeout', headers as Record<string, string | string[]>)
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
        ids.push(requestKey({ method: 'GET', url, headers: {} }, this.#o.key).id)
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

  #send(x: Exchange, opts: DispatchOptions, handler: Handler): void {
    try {
      x.next(opts, handler)
    } catch (err) {
      x.downstream.error(err)
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

  #withStatus(headers: Headers, outcome: CacheOutcome): Headers {
    const name = this.#o.cacheStatusName
    if (name === undefined) return headers
    return { ...headers, 'cache-status': appendCacheStatus(headers['cache-status'], formatCacheStatus(name, outcome)) }
  }

  #publish(channel: typeof channels.hit, x: Exchange, id: string, reason: string | number): void {
    if (channel.hasSubscribers) channel.publish({ url: x.req.url.href, id, reason })
  }
}

interface StorePlan {
  readonly entry: Omit<StoredEntry, 'body'>
  readonly varyNames: readonly string[] | undefined
  readonly resD: ResponseDirectives
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

/** The request body bytes that become part of the key for cached non-GET methods. */
function requestBody(method: string, body: DispatchOptions['body']): Uint8Array | undefined {
  if (method === 'GET' || method === 'HEAD' || body == null) return undefined
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof Uint8Array) return body
  throw new CacheError('request body is a stream; only string and byte bodies can be part of a cache key')
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
