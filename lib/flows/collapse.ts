/**
 * Request collapsing: concurrent misses for one entry share one trip to the origin. The first leads
 * (goes to the origin and records); the others wait for the leader's entry and are served it
 * (RFC 9211 §2.6 `collapsed`). If the leader's response is not stored, may not answer another
 * request unvalidated (`no-cache`, stale on arrival), or varies on values a follower does not share,
 * the follower goes to the origin after all; the leader says so as soon as it knows
 * (at response start, or when its body outgrows maxEntrySize), and for a while afterwards misses for
 * that entry neither lead nor follow (hit-for-miss.ts). A follower whose caller aborts ends at once.
 * Across processes sharing the store, the leader first takes the entry's fleet lock or waits for the
 * process that holds it (fleet.ts); what it gets, its followers get too.
 */
import { channels } from '../diagnostics.js'
import { currentAge } from '../entry.js'
import { answersWaitingRequest, wantsOwnAnswer } from '../policy/cache-mode.js'
import { effectiveResponseDirectives } from '../policy/directives.js'
import { carriesPreconditions } from '../policy/preconditions.js'
import { decideWithoutEntry } from '../policy/reuse.js'
import type { EntryLocation, Lookup } from '../storage/entry-repository.js'
import { COUNT, type CacheContext, type Exchange, type Shared } from './context.js'
import { ALONE, fleetLocks, fleetTurn } from './fleet.js'
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
  // A request that wants the origin's own answer (no-cache, max-age=0) shares none either.
  const alone = ctx.hitForMiss.holds(exchange.key.id, recording.requestTime) || wantsOwnAnswer(exchange.request.mode, exchange.requestDirectives)
  const leader = alone ? undefined : ctx.flights.get(exchange.key.id)
  if (leader !== undefined) return void follow(ctx, exchange, leader, recording).catch((err: unknown) => recover(ctx, exchange, err))
  // The caller's own preconditions go to the origin with it (RFC 9111 §4.3.2: nothing stored to
  // evaluate them against), and its 304 could serve nobody else: it never leads. (It may follow: the
  // entry a leader fetched is evaluated for it as any stored one.)
  if (alone || carriesPreconditions(exchange.req.headers)) return goAlone(ctx, exchange, recording)
  // A store that just failed the lookup is not asked for a lock too (fail-open: no second timeout).
  const fleet = found.kind !== 'unavailable' && fleetLocks(ctx)
  ctx.flights.run(exchange.key.id, () => lead(ctx, exchange, recording, fleet)).catch((err: unknown) => recover(ctx, exchange, err))
}

/** Goes to the origin and records the response as `recording` says, counted as a miss. */
function goAlone(ctx: CacheContext, exchange: Exchange, recording: Recording): void {
  ctx.count(COUNT.miss)
  ctx.publish(channels.miss, exchange, exchange.key.id, recording.detail ?? recording.fwd)
  forwardAndRecord(ctx, exchange, exchange.opts, recording)
}

/** This process's leader: takes the fleet lock or waits for its holder's entry, then fetches if it must. */
async function lead(ctx: CacheContext, exchange: Exchange, recording: Recording, fleet: boolean): Promise<Shared | undefined> {
  // Without fleet locks the origin request leaves in this tick, as it did before they existed.
  const turn = fleet ? await fleetTurn(ctx, exchange) : ALONE
  if (turn.kind === 'aborted') {
    exchange.downstream.error(exchange.downstream.controller.reason)
    return undefined
  }
  if (turn.kind === 'found' && reusableFor(ctx, exchange, turn.found.entry)) {
    const shared = { entry: turn.found.entry, at: turn.found }
    serveShared(ctx, exchange, shared, recording, 'fleet')
    return shared
  }
  // After a wait for another process, the request leaves for the origin now (RFC 9111 §4.2.3 request_time);
  // what it found stored there, of no use to it, is replaced.
  const stored = turn.kind === 'lead' ? turn.stored : undefined
  const replacing = turn.kind === 'found' ? { pointer: turn.found.pointer ?? recording.pointer, replaces: turn.found.entry } : {}
  return new Promise((resolve) => {
    const settle = (entry: Shared['entry'] | undefined): void => resolve(entry === undefined ? undefined : { entry })
    goAlone(ctx, exchange, { ...recording, ...replacing, requestTime: ctx.clock.now(), settle, stored })
  })
}

/**
 * Whether the entry a leader fetched, or another process stored while this one waited, may answer this
 * request (policy/cache-mode.ts answersWaitingRequest). A leader whose response may answer no one
 * releases its followers at its response start (miss.ts); this is the follower's own say (min-fresh).
 */
function reusableFor(ctx: CacheContext, exchange: Exchange, entry: Shared['entry']): boolean {
  const responseDirectives = effectiveResponseDirectives(entry.headers, ctx.options.cacheControl)
  return answersWaitingRequest(entry, responseDirectives, exchange.request.mode, exchange.requestDirectives, exchange.reuse, ctx.clock.now())
}

async function follow(ctx: CacheContext, exchange: Exchange, leader: Promise<Shared | undefined>, recording: Recording): Promise<void> {
  const { downstream } = exchange
  // No source is attached while it waits, so an abort would otherwise go unnoticed until the leader ends.
  const unsubscribe = downstream.controller.onAbort((reason) => downstream.error(reason))
  const shared = await leader.finally(unsubscribe)
  if (downstream.controller.aborted) return downstream.error(downstream.controller.reason)
  if (shared !== undefined && ctx.entries.vary.matches(shared.entry, exchange.req.headers) && reusableFor(ctx, exchange, shared.entry)) return serveShared(ctx, exchange, shared, recording)
  goAlone(ctx, exchange, { ...recording, requestTime: ctx.clock.now() })
}

/**
 * Serves the entry a leader fetched (or, `fleet`, another process did) as a collapsed response
 * (RFC 9211 §2.6: no trip to the origin of its own), `detail=fleet` when it came through the store.
 */
function serveShared(ctx: CacheContext, exchange: Exchange, shared: Shared, recording: Recording, detail = recording.detail): void {
  const { entry } = shared
  ctx.count(COUNT.hit)
  ctx.publish(channels.hit, exchange, exchange.key.id, 'collapsed')
  const details = detail !== undefined ? { detail } : {}
  // An entry recorded here still holds its body in memory; one read back may keep its body apart, under its own id.
  const at: EntryLocation = shared.at ?? { id: exchange.key.id, pointer: recording.pointer }
  serveEntry(ctx, exchange, at, entry, currentAge(entry, ctx.clock.now()), { kind: 'forward', fwd: recording.fwd, status: entry.status, collapsed: true, ...details })
}
