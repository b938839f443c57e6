/**
 * Request collapsing: concurrent misses for one entry share one trip to the origin. The first leads
 * (goes to the origin and records); the others wait for the leader's entry and are served it
 * (RFC 9211 §2.6 `collapsed`). If the leader's response is not stored, or varies on values a follower
 * does not share, the follower goes to the origin after all; the leader says so as soon as it knows
 * (at response start, or when its body outgrows maxEntrySize), and for a while afterwards misses for
 * that entry neither lead nor follow (hit-for-miss.ts). A follower whose caller aborts ends at once.
 */
import { channels } from '../diagnostics.js'
import { currentAge, type StoredEntry, type VaryPointer } from '../entry.js'
import { decideWithoutEntry } from '../policy/reuse.js'
import type { Lookup } from '../storage/entry-repository.js'
import { COUNT, type CacheContext, type Exchange } from './context.js'
import { forwardAndRecord, type Recording } from './miss.js'
import { recover } from './passthrough.js'
import { gatewayTimeout, serveEntry } from './serve.js'

/** Nothing usable was found for `exchange`: a 504 under only-if-cached, else join or lead the origin fetch. */
export function fetchMiss(ctx: CacheContext, exchange: Exchange, found: Exclude<Lookup, { kind: 'entry' }>): void {
  if (decideWithoutEntry(exchange.requestDirectives) === 'gateway-timeout') return gatewayTimeout(ctx, exchange)
  const recording: Recording = {
    pointer: found.kind === 'unavailable' ? undefined : found.pointer,
    fwd: found.kind === 'vary-miss' ? 'vary-miss' : 'miss',
    detail: found.kind === 'unavailable' ? (ctx.store.state === 'open' ? 'store-unavailable' : 'store-error') : undefined,
    requestTime: ctx.clock.now(),
  }
  // Hit-for-miss: its last response was not stored, so nobody would be served what a leader fetched.
  const alone = ctx.hitForMiss.holds(exchange.key.id, recording.requestTime)
  const leader = alone ? undefined : ctx.flights.get(exchange.key.id)
  if (leader !== undefined) return void follow(ctx, exchange, leader, recording).catch((err: unknown) => recover(ctx, exchange, err))
  ctx.count(COUNT.miss)
  ctx.publish(channels.miss, exchange, exchange.key.id, recording.detail ?? recording.fwd)
  if (alone) return forwardAndRecord(ctx, exchange, exchange.opts, recording)
  void ctx.flights.run(exchange.key.id, () => new Promise((settle) => forwardAndRecord(ctx, exchange, exchange.opts, { ...recording, settle })))
}

async function follow(ctx: CacheContext, exchange: Exchange, leader: Promise<StoredEntry | undefined>, recording: Recording): Promise<void> {
  const { downstream } = exchange
  // No source is attached while it waits, so an abort would otherwise go unnoticed until the leader ends.
  const unsubscribe = downstream.controller.onAbort((reason) => downstream.error(reason))
  const entry = await leader.finally(unsubscribe)
  if (downstream.controller.aborted) return downstream.error(downstream.controller.reason)
  if (entry !== undefined && ctx.entries.vary.matches(entry, exchange.req.headers)) {
    ctx.count(COUNT.hit)
    ctx.publish(channels.hit, exchange, exchange.key.id, 'collapsed')
    const detail = recording.detail !== undefined ? { detail: recording.detail } : {}
    const at: { id: string; pointer: VaryPointer | undefined } = { id: exchange.key.id, pointer: recording.pointer }
    // The leader's entry still holds its body in memory, so this replay never waits on the store.
    return serveEntry(ctx, exchange, at, entry, currentAge(entry, ctx.clock.now()), { kind: 'forward', fwd: recording.fwd, status: entry.status, collapsed: true, ...detail })
  }
  ctx.count(COUNT.miss)
  ctx.publish(channels.miss, exchange, exchange.key.id, recording.detail ?? recording.fwd)
  forwardAndRecord(ctx, exchange, exchange.opts, { ...recording, requestTime: ctx.clock.now() })
}
