/**
 * The only home of fail-open. Every store call the interceptor makes goes through a GuardedStore,
 * which bounds it in time, reports what went wrong, and stops calling a store that keeps failing.
 * Callers see a miss (get), an outcome (getRange) or `false` (set, remove) instead of an error;
 * nothing here throws. count() is guarded too, and failures of the store's own background work
 * (RedisStore's counter flush, CacheStore.onBackgroundError) are reported through the same reporter.
 *
 * Reads and writes have separate health (DESIGN.md "breaker (reads apart from writes)", issue 11). A
 * Redis at `maxmemory` under `noeviction` refuses every write with OOM and still answers every read,
 * so failed writes (set) open only the write breaker. Failed reads open the read breaker, which skips
 * writes too: a store that cannot answer a read (stalled, disconnected) cannot take a write either.
 * A write that times out counts against reads as well, since that is a stalled store, not a full one.
 * remove() goes with the reads: a full Redis still deletes, and an invalidation (RFC 9111 §4.4)
 * skipped while hits are served would serve what the origin just changed. For the same reason the
 * `readOnly` option, which lives here so that no write path needs a check of its own, stops set()
 * and not remove().
 */
import { Deadline, Deadlines, resolveClock, type Clock } from '../clock.js'
import {
  CacheError,
  InvalidOptionError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  StoreWritesUnavailableError,
  ValueTooLargeError,
} from '../errors.js'
import { Breaker, type BreakerState } from './breaker.js'
import type { CacheCounters, CacheStore, DeleteOptions, ClaimResult, LockPurpose, LockState, StoreWrite } from './types.js'

export type { BreakerState } from './breaker.js'

export interface GuardOptions {
  /** Never write (the cache's `readOnly` option); removes still go through. @default false */
  readonly readOnly?: boolean
  /**
   * Milliseconds a store call may take before it counts as failed. node-redis v4 has no command
   * timeout of its own, and an AbortSignal corrupts its queue (node-redis issue 2498), so this timer
   * is the only bound on a stalled Redis.
   */
  readonly commandTimeout: number
  /** Consecutive failures (errors or timeouts) that open a breaker (of reads, or of writes). @default 3 */
  readonly failureThreshold?: number
  /**
   * Milliseconds the open breaker skips the store before one probe call; doubled after each failed
   * probe, up to 30 s (or the initial cooldown, if larger), and reset once a probe succeeds.
   * @default 1000
   */
  readonly cooldown?: number
  /**
   * Receives every failure (of calls, of count(), and of the store's background work),
   * StoreUnavailableError each time the read breaker opens, and StoreWritesUnavailableError each time
   * the write breaker does.
   */
  readonly report: (error: CacheError) => void
  /** Times commandTimeout and the cooldown. @default the system clock (clock.ts systemClock) */
  readonly clock?: Clock
}

/**
 * What getRange found: the bytes, nothing stored at the id (`missing`: the caller may conclude the
 * entry is broken), or no answer, which says nothing of the entry: `timeout` (no answer within the
 * call's budget; worth asking again with a longer one) or `unavailable` (the store failed, or the
 * breaker skipped it). Failures are reported here; the caller must not report them again.
 */
export type RangeRead =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'missing' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'unavailable' }

const MAX_COOLDOWN_MS = 30_000

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: CacheError | undefined }

/** A call the breaker did not let through: no error to report, it was reported when the breaker opened. */
const SKIPPED: Outcome<never> = { ok: false, error: undefined }
const MISSING: RangeRead = { kind: 'missing' }
const TIMEOUT: RangeRead = { kind: 'timeout' }
const UNAVAILABLE: RangeRead = { kind: 'unavailable' }

export class GuardedStore {
  readonly store: CacheStore
  /** Milliseconds a call may take (GuardOptions.commandTimeout), unless the caller gives it a budget of its own. */
  readonly commandTimeout: number
  readonly #report: (error: CacheError) => void
  readonly #clock: Clock
  readonly #reads: Breaker
  readonly #writes: Breaker
  /** Set while count() reports a throwing store.count, whose report counts an error again. */
  #countFailing = false
  /** The deadlines of calls under way, one list per budget (commandTimeout, and the longer ones callers ask for). */
  readonly #deadlines = new Map<number, Deadlines>()
  /**
   * The `readOnly` option (options.ts): set() returns false without reaching the store and writeState
   * reads `open`, so a response is still planned and recorded (collapsed requests share it) but never
   * written, and Cache-Status never says `stored`.
   */
  readonly readOnly: boolean

  constructor(store: CacheStore, options: GuardOptions) {
    this.store = store
    const { commandTimeout, failureThreshold = 3, cooldown = 1000, report } = options
    this.readOnly = options.readOnly === true
    if (typeof commandTimeout !== 'number' || !Number.isFinite(commandTimeout) || commandTimeout <= 0) {
      throw new InvalidOptionError('commandTimeout', 'a positive number of milliseconds', commandTimeout)
    }
    if (typeof failureThreshold !== 'number' || !Number.isSafeInteger(failureThreshold) || failureThreshold < 1) {
      throw new InvalidOptionError('failureThreshold', 'a positive integer', failureThreshold)
    }
    if (typeof cooldown !== 'number' || !Number.isFinite(cooldown) || cooldown <= 0) {
      throw new InvalidOptionError('cooldown', 'a positive number of milliseconds', cooldown)
    }
    if (typeof report !== 'function') throw new InvalidOptionError('report', 'a function', report)
    this.#clock = resolveClock(options.clock)
    this.commandTimeout = commandTimeout
    this.#report = report
    const settings = {
      threshold: failureThreshold,
      baseCooldown: cooldown,
      maxCooldown: Math.max(MAX_COOLDOWN_MS, cooldown),
      clock: this.#clock,
      connected: () => this.#connected(),
    }
    this.#reads = new Breaker({ ...settings, onOpen: (retryAt) => this.#emit(new StoreUnavailableError(retryAt)) })
    this.#writes = new Breaker({ ...settings, onOpen: (retryAt) => this.#emit(new StoreWritesUnavailableError(retryAt)) })
    // Subscribed for the store's lifetime: a cache() is made once and lives as long as its store.
    store.onBackgroundError?.((error) => this.#emit(error))
  }

  /** The read breaker: the store's health as a whole (while it is not closed, writes are skipped too). */
  get state(): BreakerState {
    return this.#reads.state
  }

  /** What a set() meets: `open` while readOnly, the read breaker while that is not closed, else the write breaker. */
  get writeState(): BreakerState {
    if (this.readOnly) return 'open'
    return this.#reads.state !== 'closed' ? this.#reads.state : this.#writes.state
  }

  /** The values at `ids`, or undefined when the store is unavailable (the caller treats it as a miss). */
  get(ids: readonly string[]): Promise<(Uint8Array | undefined)[] | undefined> {
    return this.#call(this.#reads, 'get', () => this.store.get(ids)).then(valueOrUndefined)
  }

  /**
   * One chunk of a stored body, within `timeoutMs` (default commandTimeout); see RangeRead. A chunk of
   * a response `underway` (streaming to its caller already) is asked for even while the read breaker
   * is open, and then moves no state: the breaker spares new requests a failing store, and skipping
   * this read would cut a started response short (on a loaded machine, three slow chunk reads of
   * other responses opened it and aborted every large hit under way).
   */
  getRange(id: string, offset: number, length: number, timeoutMs = this.commandTimeout, underway = false): Promise<RangeRead> {
    return this.#call(this.#reads, 'getRange', () => this.store.getRange(id, offset, length), timeoutMs, underway).then(rangeRead)
  }

  /** Whether the writes were committed. */
  async set(writes: readonly StoreWrite[]): Promise<boolean> {
    if (this.readOnly) return false
    return (await this.#call(this.#writes, 'set', () => this.store.set(writes))).ok
  }

  /** Whether the ids were removed. Gated by the read breaker, not the write one (see above). */
  async remove(ids: readonly string[]): Promise<boolean> {
    return (await this.#call(this.#reads, 'remove', () => this.store.remove(ids))).ok
  }

  /**
   * store.delete(url, options) for each URL (CacheStore.delete: every variant and partition, through
   * the store's URL index), for the RFC 9111 §4.4 invalidation. Whether all went. Gated by the read
   * breaker, as remove() is; one command timeout per URL, since each takes a few round trips (index,
   * metadata, removal, unindex).
   */
  async deleteUrls(urls: readonly string[], options: DeleteOptions): Promise<boolean> {
    if (urls.length === 0) return true
    const all = () => Promise.all(urls.map((url) => this.store.delete(url, options)))
    return (await this.#call(this.#reads, 'delete', all, this.commandTimeout * urls.length)).ok
  }

  /** Whether the store offers fleet locks (CacheStore.claim); MemoryStore does not need them. */
  get locks(): boolean {
    const { claim, peek, release } = this.store
    return typeof claim === 'function' && typeof peek === 'function' && typeof release === 'function'
  }

  /**
   * Takes a fleet lock; `unknown` when the store has none or gave no answer (failed, slow, breaker
   * open). Fail-open: `unknown` means "go on alone", never "wait". A claim writes, so it goes with the
   * writes (a full Redis refuses it with OOM and must not look down for reads).
   */
  async claim(id: string, purpose: LockPurpose, token: string, ttlMs: number): Promise<ClaimResult | 'unknown'> {
    if (this.store.claim === undefined) return 'unknown'
    const outcome = await this.#call(this.#writes, 'claim', () => this.store.claim!(id, purpose, token, ttlMs))
    return outcome.ok ? outcome.value : 'unknown'
  }

  /** A fleet lock's state; `unknown` as for claim(), which a waiter takes as "stop waiting". */
  async peek(id: string, purpose: LockPurpose): Promise<LockState | 'unknown'> {
    if (this.store.peek === undefined) return 'unknown'
    const outcome = await this.#call(this.#reads, 'peek', () => this.store.peek!(id, purpose))
    return outcome.ok ? outcome.value : 'unknown'
  }

  /**
   * Ends a fleet lock; a failure leaves it to expire by its TTL, so the caller only learns whether it
   * went. Gated by the read breaker, as remove() is: waiters poll until it goes, so it is sent whenever
   * the store still answers (a full Redis still deletes: redis-locks.ts falls back to a delete).
   */
  async release(id: string, purpose: LockPurpose, token: string, outcome: 'stored' | 'not-stored', ttlMs: number): Promise<boolean> {
    if (this.store.release === undefined) return false
    return (await this.#call(this.#reads, 'release', () => this.store.release!(id, purpose, token, outcome, ttlMs))).ok
  }

  /**
   * Adds cache-level events to the store's counters (CacheStore.count). Never throws: a store.count
   * that throws is reported as StoreError (operation `count`). Not gated by the breaker, since it does
   * no I/O; a store flushes counts on its own schedule.
   */
  count(delta: Partial<CacheCounters>): void {
    try {
      this.store.count(delta)
    } catch (error) {
      // The report counts the error with count() again; a store.count that throws every time would
      // recurse, so a failure while reporting one is dropped.
      if (this.#countFailing) return
      this.#countFailing = true
      try {
        this.#emit(error instanceof CacheError ? error : new StoreError('count', { cause: error }))
      } finally {
        this.#countFailing = false
      }
    }
  }

  /** Promise chains rather than async functions: this runs for every store call, and each async layer costs. */
  #call<T>(breaker: Breaker, operation: string, invoke: () => Promise<T>, timeoutMs = this.commandTimeout, underway = false): Promise<Outcome<T>> {
    // Writes wait for reads to be healthy: while the read breaker is not closed the store is down as a whole.
    let admission = breaker === this.#writes && this.#reads.state !== 'closed' ? 'skip' : breaker.admit()
    if (admission === 'skip' && underway) admission = 'past'
    if (admission === 'skip') return Promise.resolve(SKIPPED)
    return this.#race(operation, invoke, timeoutMs).then((outcome) => {
      if (outcome.ok) {
        breaker.settle(admission, true)
        return outcome
      }
      if (outcome.error !== undefined) this.#emit(outcome.error)
      // A store that refuses a value (ValueTooLargeError) answered: the refusal is reported, and the
      // call still counts as healthy for the breaker, since one large response says nothing of the store.
      breaker.settle(admission, outcome.error instanceof ValueTooLargeError)
      // A write that got no answer in time says the store is stalled, not full (a full Redis refuses at
      // once): the read breaker counts it too, so a stall is noticed as soon as it was before the split.
      if (breaker === this.#writes && outcome.error instanceof StoreTimeoutError) this.#reads.settle('call', false)
      return outcome
    })
  }

  /** The wrapped store's own view of its connection, when it has one (RedisStore.isReady). */
  #connected(): boolean | undefined {
    const ready = (this.store as { readonly isReady?: unknown }).isReady
    return typeof ready === 'boolean' ? ready : undefined
  }

  /**
   * Settles with the store's outcome or a timeout after `timeoutMs` (longer after a stall of our own
   * loop: Deadlines), whichever comes first. The store promise always has handlers attached, so
   * its late rejection after a timeout is never unhandled.
   */
  #race<T>(operation: string, invoke: () => Promise<T>, timeoutMs: number): Promise<Outcome<T>> {
    let deadlines = this.#deadlines.get(timeoutMs)
    if (deadlines === undefined) this.#deadlines.set(timeoutMs, (deadlines = new Deadlines(this.#clock, timeoutMs)))
    return new Promise((resolve) => {
      const call = new BoundedCall<T>(operation, deadlines, resolve)
      deadlines.add(call)
      let promise: Promise<T>
      try {
        promise = Promise.resolve(invoke())
      } catch (error) {
        promise = Promise.reject(error)
      }
      promise.then(
        (value) => call.fulfilled(value),
        (error: unknown) => call.rejected(error),
      )
    })
  }

  #emit(error: CacheError): void {
    try {
      this.#report(error)
    } catch {
      // A throwing onError must not turn fail-open into a failed request; there is nowhere left to send it.
    }
  }
}

function valueOrUndefined<T>(outcome: Outcome<T>): T | undefined {
  return outcome.ok ? outcome.value : undefined
}

function rangeRead(outcome: Outcome<Uint8Array | undefined>): RangeRead {
  if (outcome.ok) return outcome.value === undefined ? MISSING : { kind: 'bytes', bytes: outcome.value }
  return outcome.error instanceof StoreTimeoutError ? TIMEOUT : UNAVAILABLE
}

/**
 * One store call under way and its deadline: settles with the store's outcome or a timeout, whichever
 * comes first (Deadlines gives it a fresh window after a stall of this process's event loop).
 */
class BoundedCall<T> extends Deadline {
  #done = false

  constructor(readonly operation: string, readonly deadlines: Deadlines, readonly resolve: (outcome: Outcome<T>) => void) {
    super()
  }

  fulfilled(value: T): void {
    this.#settle({ ok: true, value })
  }

  rejected(error: unknown): void {
    this.#settle({ ok: false, error: error instanceof CacheError ? error : new StoreError(this.operation, { cause: error }) })
  }

  expire(): void {
    this.#settle({ ok: false, error: new StoreTimeoutError(this.operation, this.deadlines.ms) })
  }

  #settle(outcome: Outcome<T>): void {
    if (this.#done) return
    this.#done = true
    this.deadlines.remove(this)
    this.resolve(outcome)
  }
}
