/**
 * Serving a stored entry to the caller: its headers with Age (RFC 9111 §5.1) and our Cache-Status,
 * then its body. An inline body starts at once; an external one once its first chunk is read and
 * checked, and if it cannot be, the request goes to the origin as a miss instead. Also the cache's own
 * answer when nothing usable is stored under only-if-cached (a 504, §5.2.1.7).
 */
import { EMPTY_SOURCE, externalSource, inlineSource } from '../body-source.js'
import { bodySize, isInline, type StoredEntry } from '../entry.js'
import { ResumeHandler } from '../handlers/resume-handler.js'
import { ifRangeValidator } from '../policy/conditional.js'
import { replayHeaders } from '../policy/stored-headers.js'
import { Replay } from '../replay.js'
import type { CacheOutcome } from '../status.js'
import type { EntryLocation } from '../storage/entry-repository.js'
import { plainHeaders, send, type CacheContext, type Exchange } from './context.js'
import { forwardAndRecord } from './miss.js'
import { recover } from './passthrough.js'

type Fields = Record<string, string | string[]>

/** Serves `entry` (found at `at`) to `exchange`'s caller, at `age` seconds old, saying `outcome` in Cache-Status. */
export function serveEntry(ctx: CacheContext, exchange: Exchange, at: EntryLocation, entry: StoredEntry, age: number, outcome: CacheOutcome): void {
  // replayHeaders returns a fresh record, so Cache-Status is set on it in place.
  const headers = ctx.withStatus(replayHeaders(entry.headers, age), outcome, true) as Fields
  const { body } = entry
  // RFC 9110 §9.3.2: a response to HEAD carries no content.
  if (exchange.req.method === 'HEAD' || isInline(body)) {
    const source = exchange.req.method !== 'HEAD' && isInline(body) ? inlineSource(body) : EMPTY_SOURCE
    return new Replay(exchange.downstream, source).start(entry.status, entry.statusText, headers)
  }
  ctx.entries.openBody(at.id, body).then(
    (opened) => {
      if (exchange.downstream.controller.aborted) return exchange.downstream.error(exchange.downstream.controller.reason)
      if (opened === undefined) return forwardAndRecord(ctx, exchange, exchange.opts, { pointer: at.pointer, fwd: 'miss', detail: 'body-unreadable', requestTime: ctx.clock.now() })
      new Replay(exchange.downstream, externalSource(opened), (sent) => finishFromOrigin(exchange, entry, sent)).start(entry.status, entry.statusText, headers)
    },
    (err: unknown) => recover(ctx, exchange, err),
  )
}

/** RFC 9111 §5.2.1.7: only-if-cached with nothing usable stored. */
export function gatewayTimeout(ctx: CacheContext, exchange: Exchange): void {
  const headers = ctx.withStatus({ 'content-length': '0' }, { kind: 'synthetic', detail: 'only-if-cached' }) as Fields
  new Replay(exchange.downstream, EMPTY_SOURCE).start(504, 'Gateway Timeout', headers)
}

/**
 * A stored body broke after the response started: ask the origin for the rest of the same
 * representation (Range + If-Range on a strong validator, RFC 9110 §14.2, §13.1.5). False when the
 * entry has no strong validator to make that safe; the response is then aborted.
 */
function finishFromOrigin(exchange: Exchange, entry: StoredEntry, sent: number): boolean {
  const validator = ifRangeValidator(entry.headers)
  if (validator === undefined) return false
  const headers = { ...plainHeaders(exchange.req.headers), range: `bytes=${sent}-`, 'if-range': validator }
  send(exchange, { ...exchange.opts, method: 'GET', headers }, new ResumeHandler(exchange.downstream, sent, bodySize(entry)))
  return true
}
