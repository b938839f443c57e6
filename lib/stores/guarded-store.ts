/**
 * The only home of fail-open. Every store call the interceptor makes goes through a GuardedStore,
 * which bounds it in time, reports what went wrong, and stops calling a store that keeps failing.
 * Callers see a miss (get) or `false` (set, remove) instead of an error; nothing here throws.
 */
import { CacheError, InvalidOptionError, StoreError, StoreTimeoutError, StoreUnavailableError } from '../errors.js'
import type { CacheStore, StoreWrite } from './types.js'

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
  /** Receives every failure, and StoreUnavailableError each time the breaker opens. */
  readonly report: (error: CacheError) => void
  /** Clock for the cooldown, in ms since the epoch. @default Date.now */
  readonly now?: () => number
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
  readonly #now: () => number
  #state: BreakerState = 'closed'
  #failures = 0
  #cooldown: number
  #retryAt = 0
  /** The store reported itself disconnected when the breaker last opened. */
  #openedDisconnected = false

  constructor(store: CacheStore, options: GuardOptions) {
    this.store = store
    const { commandTimeout, failureThreshold = 3, cooldown = 1000, report, now = Date.now } = options
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
    if (typeof now !== 'function') throw new InvalidOptionError('now', 'a function', now)
    this.#timeout = commandTimeout
    this.#threshold = failureThreshold
    this.#baseCooldown = cooldown
    this.#maxCooldown = Math.max(MAX_COOLDOWN_MS, cooldown)
    this.#cooldown = cooldown
    this.#report = report
    this.#now = now
  }

  get state(): BreakerState {
    return this.#state
  }

  /** The values at `ids`, or undefined when the store is unavailable (the caller treats it as a miss). */
  async get(ids: readonly string[]): Promise<(Uint8Array | undefined)[] | undefined> {
    const outcome = await this.#call('get', () => this.store.get(ids))
    return outcome.ok ? outcome.value : undefined
  }

  /** Whether the writes were committed. */
  /** One chunk of a stored body; undefined when unavailable or missing (the replay then aborts). */
  async getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    const outcome = await this.#call('getRange', () => this.store.getRange(id, offset, length))
    return outcome.ok ? outcome.value : undefined
  }

  async set(writes: readonly StoreWrite[]): Promise<boolean> {
    return (await this.#call('set', () => this.store.set(writes))).ok
  }

  /** Whether the ids were removed. */
  async remove(ids: readonly string[]): Promise<boolean> {
    return (await this.#call('remove', () => this.store.remove(ids))).ok
  }

  async #call<T>(operation: string, invoke: () => Promise<T>): Promise<Outcome<T>> {
    const admission = this.#admit()
    if (admission === 'skip') return SKIPPED
    const outcome = await this.#race(operation, invoke)
    if (admission === 'probe') this.#settleProbe(outcome)
    else this.#settleCall(outcome)
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
        if (this.#now() < this.#retryAt && !(this.#openedDisconnected && this.#connected() === true)) return 'skip'
        this.#state = 'half-open'
        return 'probe'
    }
  }

  /** An ordinary call. One admitted before the breaker opened and ending after moves no state. */
  #settleCall(outcome: Outcome<unknown>): void {
    if (outcome.ok) {
      if (this.#state === 'closed') this.#failures = 0
      return
    }
    if (outcome.error !== undefined) this.#emit(outcome.error)
    if (this.#state !== 'closed') return
    this.#failures++
    if (this.#failures >= this.#threshold) this.#open()
  }

  #settleProbe(outcome: Outcome<unknown>): void {
    if (outcome.ok) {
      this.#state = 'closed'
      this.#failures = 0
      this.#cooldown = this.#baseCooldown
      return
    }
    if (outcome.error !== undefined) this.#emit(outcome.error)
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
    this.#retryAt = this.#now() + this.#cooldown
    this.#emit(new StoreUnavailableError(this.#retryAt))
  }

  /**
   * Settles with the store's outcome or a timeout, whichever comes first. The store promise always
   * has handlers attached, so its late rejection after a timeout is never unhandled.
   */
  #race<T>(operation: string, invoke: () => Promise<T>): Promise<Outcome<T>> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        resolve({ ok: false, error: new StoreTimeoutError(operation, this.#timeout) })
      }, this.#timeout)
      timer.unref()
      let promise: Promise<T>
      try {
        promise = Promise.resolve(invoke())
      } catch (error) {
        promise = Promise.reject(error)
      }
      promise.then(
        (value) => {
          clearTimeout(timer)
          resolve({ ok: true, value })
        },
        (error: unknown) => {
          clearTimeout(timer)
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
