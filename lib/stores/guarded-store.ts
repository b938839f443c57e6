/**
 * The only home of fail-open. Every store call the interceptor makes goes through a GuardedStore,
 * which bounds it in time, reports what went wrong, and stops calling a store that keeps failing.
 * Callers see a miss (get) or `false` (set, remove) instead of an error; nothing here throws.
 * count() is guarded too, and failures of the store's own background work (RedisStore's counter
 * flush, CacheStore.onBackgroundError) are reported through the same reporter.
 */
import { resolveClock, type Clock } from '../clock.js'
import { CacheError, InvalidOptionError, StoreError, StoreTimeoutError, StoreUnavailableError, ValueTooLargeError } from '../errors.js'
import type { CacheCounters, CacheStore, StoreWrite } from './types.js'

export interface GuardOptions {
  /**
   * Milliseconds a store call may take before it counts as failed. node-redis v4 has no command
   * timeout of its own, and an AbortSignal corrupts its queue (node-redis issue 2498), so this timer
   * is the only bound on a stalled Redis.
   */
  readonly commandTimeout: number
  /** Consecutive failures (errors or timeouts) that open the breaker. @default 3 */
  readonly failureThreshold?: number
  /**
   * Milliseconds the open breaker skips the store before one probe call; doubled after each failed
   * probe, up to 30 s (or the initial cooldown, if larger), and reset once a probe succeeds.
   * @default 1000
   */
  readonly cooldown?: number
  /**
   * Receives every failure (of calls, of count(), and of the store's background work), and
   * StoreUnavailableError each time the breaker opens.
   */
  readonly report: (error: CacheError) => void
  /** Times commandTimeout and the cooldown. @default the system clock (clock.ts systemClock) */
  readonly clock?: Clock
}

/**
 * `closed`: calls reach the store. `open`: calls return at once without touching it.
 * `half-open`: the cooldown ended and one probe call is in flight; other calls are skipped meanwhile.
 */
export type BreakerState = 'closed' | 'open' | 'half-open'

const MAX_COOLDOWN_MS = 30_000

type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: CacheError | undefined }

/** A call the breaker did not let through: no error to report, it was reported when the breaker opened. */
const SKIPPED: Outcome<never> = { ok: false, error: undefined }

export class GuardedStore {
  readonly store: CacheStore
  readonly #timeout: number
  readonly #threshold: number
  readonly #baseCooldown: number
  readonly #maxCooldown: number
  readonly #report: (error: CacheError) => void
  readonly #clock: Clock
  /** Set while count() reports a throwing store.count, whose report counts an error again. */
  #countFailing = false
  #state: BreakerState = 'closed'
  #failures = 0
  #cooldown: number
  #retryAt = 0
  /** The store reported itself disconnected when the breaker last opened. */
  #openedDisconnected = false

  constructor(store: CacheStore, options: GuardOptions) {
    this.store = store
    const { commandTimeout, failureThreshold = 3, cooldown = 1000, report } = options
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
    this.#timeout = commandTimeout
    this.#threshold = failureThreshold
    this.#baseCooldown = cooldown
    this.#maxCooldown = Math.max(MAX_COOLDOWN_MS, cooldown)
    this.#cooldown = cooldown
    this.#report = report
    // Subscribed for the store's lifetime: a cache() is made once and lives as long as its store.
    store.onBackgroundError?.((error) => this.#emit(error))
  }

  get state(): BreakerState {
    return this.#state
  }

  /** The values at `ids`, or undefined when the store is unavailable (the caller treats it as a miss). */
  async get(ids: readonly string[]): Promise<(Uint8Array | undefined)[] | undefined> {
    const outcome = await this.#call('get', () => this.store.get(ids))
    return outcome.ok ? outcome.value : undefined
  }

  /** One chunk of a stored body; undefined when unavailable or missing (the replay then aborts). */
  async getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    const outcome = await this.#call('getRange', () => this.store.getRange(id, offset, length))
    return outcome.ok ? outcome.value : undefined
  }

  /** Whether the writes were committed. */
  async set(writes: readonly StoreWrite[]): Promise<boolean> {
    return (await this.#call('set', () => this.store.set(writes))).ok
  }

  /** Whether the ids were removed. */
  async remove(ids: readonly string[]): Promise<boolean> {
    return (await this.#call('remove', () => this.store.remove(ids))).ok
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

  async #call<T>(operation: string, invoke: () => Promise<T>): Promise<Outcome<T>> {
    const admission = this.#admit()
    if (admission === 'skip') return SKIPPED
    const outcome = await this.#race(operation, invoke)
    if (!outcome.ok && outcome.error !== undefined) this.#emit(outcome.error)
    // A store that refuses a value (ValueTooLargeError) answered: the refusal is reported, and the
    // call still counts as healthy for the breaker, since one large response says nothing of the store.
    const healthy = outcome.ok || outcome.error instanceof ValueTooLargeError
    if (admission === 'probe') this.#settleProbe(healthy)
    else this.#settleCall(healthy)
    return outcome
  }

  #admit(): 'call' | 'probe' | 'skip' {
    switch (this.#state) {
      case 'closed':
        return 'call'
      case 'half-open':
        return 'skip'
      case 'open':
        // A store that was disconnected when the breaker opened and reports itself connected again
        // (RedisStore after a restart) is probed at once rather than after the cooldown. A stalled
        // store stays connected, so it still waits the cooldown out.
        if (this.#clock.now() < this.#retryAt && !(this.#openedDisconnected && this.#connected() === true)) return 'skip'
        this.#state = 'half-open'
        return 'probe'
    }
  }

  /** An ordinary call. One admitted before the breaker opened and ending after moves no state. */
  #settleCall(healthy: boolean): void {
    if (healthy) {
      if (this.#state === 'closed') this.#failures = 0
      return
    }
    if (this.#state !== 'closed') return
    this.#failures++
    if (this.#failures >= this.#threshold) this.#open()
  }

  #settleProbe(healthy: boolean): void {
    if (healthy) {
      this.#state = 'closed'
      this.#failures = 0
      this.#cooldown = this.#baseCooldown
      return
    }
    this.#cooldown = Math.min(this.#cooldown * 2, this.#maxCooldown)
    this.#open()
  }

  /** The wrapped store's own view of its connection, when it has one (RedisStore.isReady). */
  #connected(): boolean | undefined {
    const ready = (this.store as { readonly isReady?: unknown }).isReady
    return typeof ready === 'boolean' ? ready : undefined
  }

  #open(): void {
    this.#openedDisconnected = this.#connected() === false
    this.#state = 'open'
    this.#retryAt = this.#clock.now() + this.#cooldown
    this.#emit(new StoreUnavailableError(this.#retryAt))
  }

  /**
   * Settles with the store's outcome or a timeout, whichever comes first. The store promise always
   * has handlers attached, so its late rejection after a timeout is never unhandled.
   */
  #race<T>(operation: string, invoke: () => Promise<T>): Promise<Outcome<T>> {
    return new Promise((resolve) => {
      const cancel = this.#clock.setTimer(this.#timeout, () => {
        resolve({ ok: false, error: new StoreTimeoutError(operation, this.#timeout) })
      })
      let promise: Promise<T>
      try {
        promise = Promise.resolve(invoke())
      } catch (error) {
        promise = Promise.reject(error)
      }
      promise.then(
        (value) => {
          cancel()
          resolve({ ok: true, value })
        },
        (error: unknown) => {
          cancel()
          resolve({ ok: false, error: error instanceof CacheError ? error : new StoreError(operation, { cause: error }) })
        },
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
