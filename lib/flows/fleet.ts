/**
 * Fleet-wide collapsing: the per-process leader of a miss (collapse.ts) asks the store for the entry's
 * fleet lock before going to the origin, so that processes sharing a RedisStore fetch a missing entry
 * once. The holder goes to the origin and releases the lock once its response is stored (or known not
 * to be); the others poll the lock with a growing delay until it is freed (then they read the entry),
 * says `not-stored` (then they go to the origin at once), or `collapseTimeout` passes. A holder that
 * dies frees it by its TTL (the same `collapseTimeout`). Background revalidations take a lock of their
 * own: one per entry per fleet. Fail-open throughout: a store without locks, or one that fails or is
 * slow (GuardedStore answers `unknown`), means going on alone at once, never waiting.
 */
import { randomBytes } from 'node:crypto'
import type { Found } from '../storage/entry-repository.js'
import type { LockPurpose } from '../stores/types.js'
import type { CacheContext, Exchange } from './context.js'

/** Poll delays: the first soon (a fast origin answers in milliseconds), doubling up to the last. */
const FIRST_POLL_MS = 5
const LAST_POLL_MS = 100

/** What the per-process leader of a miss does next. */
export type FleetTurn =
  /** It holds the lock: go to the origin, and call `stored` once the response is stored or known not to be. */
  | { readonly kind: 'lead'; readonly stored: (ok: boolean) => void }
  /** Go to the origin without the lock (no locks, store trouble, not storable, deadline passed). */
  | { readonly kind: 'alone' }
  /** Another process stored the entry while this one waited. */
  | { readonly kind: 'found'; readonly found: Found }
  /** The caller went away while waiting; its downstream has the error already. */
  | { readonly kind: 'aborted' }

export const ALONE: FleetTurn = { kind: 'alone' }
const ABORTED: FleetTurn = { kind: 'aborted' }

/**
 * Whether fleet collapsing is on: `collapseTimeout` is not 0 and the store offers locks. Not while
 * `readOnly`: such a process stores nothing, so as a holder it would only make the others wait for it
 * and then go to the origin after all.
 */
export function fleetLocks(ctx: CacheContext): boolean {
  return ctx.options.collapseTimeout > 0 && !ctx.store.readOnly && ctx.store.locks
}

/** Claims the miss lock of `exchange`'s entry, or waits for whoever holds it (see above). */
export async function fleetTurn(ctx: CacheContext, exchange: Exchange): Promise<FleetTurn> {
  const ttl = ctx.options.collapseTimeout
  if (!fleetLocks(ctx)) return ALONE
  const { id } = exchange.key
  const token = newToken()
  const deadline = ctx.clock.now() + ttl
  let delay = FIRST_POLL_MS
  for (;;) {
    const claim = await ctx.store.claim(id, 'miss', token, ttl)
    if (claim === 'claimed') return afterClaim(ctx, exchange, releaser(ctx, id, 'miss', token, ttl))
    if (claim !== 'held') return ALONE
    // Someone else is fetching it: wait until its lock is gone, says not-stored, or time is up.
    for (;;) {
      const wait = Math.min(delay, deadline - ctx.clock.now())
      if (wait <= 0) return ALONE
      if (!(await sleep(ctx, exchange, wait))) return ABORTED
      delay = Math.min(delay * 2, LAST_POLL_MS)
      const state = await ctx.store.peek(id, 'miss')
      if (state === 'free') break
      if (state !== 'held') return ALONE
    }
    const found = await ctx.entries.find(exchange.key, exchange.req.headers)
    if (exchange.downstream.controller.aborted) return ABORTED
    if (found.kind === 'entry') return { kind: 'found', found }
    // Freed without an entry for this request: its holder died (TTL), or stored another Vary variant,
    // or the entry is already gone again. Try to lead this time; a new holder means waiting again.
    if (found.kind === 'unavailable' || ctx.clock.now() >= deadline) return ALONE
  }
}

/**
 * Looks once more before leading: the lookup that found nothing ran before the claim, and a holder may
 * have stored the entry and released its lock between the two (one round trip more per fleet miss,
 * against a second origin request).
 */
async function afterClaim(ctx: CacheContext, exchange: Exchange, stored: (ok: boolean) => void): Promise<FleetTurn> {
  const found = await ctx.entries.find(exchange.key, exchange.req.headers)
  if (found.kind !== 'entry') return { kind: 'lead', stored }
  stored(true)
  return exchange.downstream.controller.aborted ? ABORTED : { kind: 'found', found }
}

/**
 * Runs `revalidate` unless another process holds the entry's revalidation lock (then this one skips
 * its background revalidation: RFC 5861 §3 asks for one, not one per process). Without an answer from
 * the store it revalidates, as a process alone would.
 */
export async function oncePerFleet(ctx: CacheContext, id: string, revalidate: () => Promise<void>): Promise<void> {
  const ttl = ctx.options.collapseTimeout
  if (!fleetLocks(ctx)) return revalidate()
  const token = newToken()
  const claim = await ctx.store.claim(id, 'revalidate', token, ttl)
  if (claim === 'held' || claim === 'not-stored') return
  await revalidate()
  if (claim === 'claimed') await ctx.store.release(id, 'revalidate', token, 'stored', ttl)
}

/** The lock's release, once: `true` frees it, `false` leaves the not-stored marker for its TTL. */
function releaser(ctx: CacheContext, id: string, purpose: LockPurpose, token: string, ttl: number): (ok: boolean) => void {
  let released = false
  return (ok) => {
    if (released) return
    released = true
    void ctx.store.release(id, purpose, token, ok ? 'stored' : 'not-stored', ttl)
  }
}

/** A token no other holder has, so a release never ends someone else's lock. */
function newToken(): string {
  return randomBytes(12).toString('hex')
}

/** Waits `ms` on the cache's clock; false when the caller aborted first. */
function sleep(ctx: CacheContext, exchange: Exchange, ms: number): Promise<boolean> {
  const { controller } = exchange.downstream
  if (controller.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const unsubscribe = controller.onAbort(() => {
      cancel()
      resolve(false)
    })
    const cancel = ctx.clock.setTimer(ms, () => {
      unsubscribe()
      resolve(true)
    })
  })
}
