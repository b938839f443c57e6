/**
 * Serving a stored entry to the caller: its headers with Age (RFC 9111 §5.1) and our Cache-Status,
 * then its body, or a 304 when the caller's own preconditions say it holds the entry already
 * (§4.3.2). An inline body starts at once; an external one once its first chunk is read and checked,
 * and if it cannot be, the request goes to the origin as a miss instead. Also the cache's own
 * 504s: nothing usable stored under only-if-cached (§5.2.1.7), and a stored response that must not be
 * used unvalidated whose validation got no answer (§4.2.4).
 */
import type { Dispatcher } from 'undici'
import { EMPTY_SOURCE, externalSliceSource, externalSource, inlineSource } from '../body-source.js'
import { bodySize, isInline, type StoredEntry } from '../entry.js'
import { Downstream } from '../handlers/downstream.js'
import { ResumeHandler } from '../handlers/resume-handler.js'
import { ifRangeValidator } from '../policy/conditional.js'
import { holdsStored, notModifiedHeaders, withoutPreconditions } from '../policy/preconditions.js'
import { partHeaders, type Span } from '../policy/ranges.js'
import { replayHeaders } from '../policy/stored-headers.js'
import { Replay } from '../replay.js'
import type { CacheOutcome } from '../status.js'
import type { EntryLocation } from '../storage/entry-repository.js'
import { send, type CacheContext, type Exchange } from './context.js'
import { forwardAndRecord } from './miss.js'
import { recover } from './passthrough.js'

type Fields = Record<string, string | string[]>

/** Serves `entry` (found at `at`) to `exchange`'s caller, at `age` seconds old, saying `outcome` in Cache-Status. */
export function serveEntry(ctx: CacheContext, exchange: Exchange, at: EntryLocation, entry: StoredEntry, age: number, outcome: CacheOutcome): void {
  // Built only once the response is sure to be this one (an unreadable body turns it into a miss).
  // replayHeaders returns a fresh record, so Cache-Status is set on it in place.
  const headers = (): Fields => ctx.withStatus(replayHeaders(entry.headers, age), outcome, true, { key: exchange.key, request: exchange.request, entry }) as Fields
  // RFC 9111 §4.3.2: the caller holds this response already (its If-None-Match or If-Modified-Since
  // says so): a 304 with the stored response's metadata, and no body to read.
  if (exchange.preconditions !== undefined && holdsStored(exchange.preconditions, entry)) {
    return new Replay(exchange.downstream, EMPTY_SOURCE).start(304, 'Not Modified', notModifiedHeaders(headers()))
  }
  const { body } = entry
  // RFC 9110 §9.3.2: a response to HEAD carries no content.
  if (exchange.req.method === 'HEAD' || isInline(body)) {
    const source = exchange.req.method !== 'HEAD' && isInline(body) ? inlineSource(body) : EMPTY_SOURCE
    return new Replay(exchange.downstream, source).start(entry.status, entry.statusText, headers())
  }
  ctx.entries.openBody(at.id, body).then(
    (opened) => {
      if (exchange.downstream.controller.aborted) return exchange.downstream.error(exchange.downstream.controller.reason)
      if (opened === undefined) return forwardAndRecord(ctx, exchange, exchange.opts, { pointer: at.pointer, fwd: 'miss', detail: 'body-unreadable', requestTime: ctx.clock.now() })
      new Replay(exchange.downstream, externalSource(opened), (sent) => finishFromOrigin(exchange, entry, sent)).start(entry.status, entry.statusText, headers())
    },
    (err: unknown) => recover(ctx, exchange, err),
  )
}

/**
 * Serves bytes `span` of a representation `complete` bytes long from `entry`, whose body holds that
 * representation from byte `offset` on: a 206 with the stored headers, Content-Range and Content-Length
 * describing the span (RFC 9110 §15.3.7.1; RFC 9111 §3.4). A body stored apart whose first chunk
 * cannot be read calls `unreadable` instead; a later chunk that cannot be read aborts the response.
 */
export function servePart(ctx: CacheContext, exchange: Exchange, at: EntryLocation, entry: StoredEntry, age: number, part: { span: Span; offset: number; complete: number }, outcome: CacheOutcome, unreadable: () => void): void {
  const { span, offset, complete } = part
  const headers = ctx.withStatus(partHeaders(replayHeaders(entry.headers, age), span, complete), outcome, true, { key: exchange.key, request: exchange.request, entry }) as Fields
  const [first, last] = [span.first - offset, span.last - offset]
  const { body } = entry
  if (isInline(body)) return new Replay(exchange.downstream, inlineSource(body.subarray(first, last + 1))).start(206, 'Partial Content', headers)
  ctx.entries.openBody(at.id, body, Math.floor(first / body.chunkSize)).then(
    (opened) => {
      if (exchange.downstream.controller.aborted) return exchange.downstream.error(exchange.downstream.controller.reason)
      if (opened === undefined) return unreadable()
      new Replay(exchange.downstream, externalSliceSource(opened, body.chunkSize, first, last)).start(206, 'Partial Content', headers)
    },
    (err: unknown) => recover(ctx, exchange, err),
  )
}

const ONLY_IF_CACHED: CacheOutcome = { kind: 'synthetic', detail: 'only-if-cached' }

/**
 * The cache's own 504 (Gateway Timeout): only-if-cached with nothing usable stored (RFC 9111 §5.2.1.7),
 * or a stored response that must not be used unvalidated whose validation got no answer (§4.2.4,
 * §5.2.2.2), which `outcome` then describes.
 */
export function gatewayTimeout(ctx: CacheContext, exchange: Pick<Exchange, 'downstream' | 'request'> & Partial<Pick<Exchange, 'key'>>, outcome: CacheOutcome = ONLY_IF_CACHED): void {
  const headers = ctx.withStatus({ 'content-length': '0' }, outcome, false, { key: exchange.key, request: exchange.request }) as Fields
  new Replay(exchange.downstream, EMPTY_SOURCE).start(504, 'Gateway Timeout', headers)
}

/**
 * A request the cache would leave to the origin (policy/bypass.ts) that says only-if-cached: it never
 * goes there (RFC 9111 §5.2.1.7: a stored response or a 504), so it gets the cache's 504.
 */
export function refuseOnlyIfCached(ctx: CacheContext, handler: Dispatcher.DispatchHandler, request: Exchange['request']): boolean {
  const downstream = new Downstream(handler)
  downstream.start({})
  gatewayTimeout(ctx, { downstream, request })
  return true
}

/**
 * A stored body broke after the response started: ask the origin for the rest of the same
 * representation (Range + If-Range on a strong validator, RFC 9110 §14.2, §13.1.5). False when the
 * entry has no strong validator to make that safe; the response is then aborted.
 */
function finishFromOrigin(exchange: Exchange, entry: StoredEntry, sent: number): boolean {
  const validator = ifRangeValidator(entry.headers)
  if (validator === undefined) return false
  const headers = { ...withoutPreconditions(exchange.req.headers), range: `bytes=${sent}-`, 'if-range': validator }
  send(exchange, { ...exchange.opts, method: 'GET', headers }, new ResumeHandler(exchange.downstream, sent, bodySize(entry)))
  return true
}
