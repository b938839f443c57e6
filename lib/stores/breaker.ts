/**
 * The circuit breaker GuardedStore keeps for reads and another for writes (guarded-store.ts explains
 * why they are apart): consecutive failures open it, and after a cooldown that grows with each failed
 * probe, one probe call may close it again.
 */
import type { Clock } from '../clock.js'

/**
 * `closed`: calls reach the store. `open`: calls return at once without touching it.
 * `half-open`: the cooldown ended and one probe call is in flight; other calls are skipped meanwhile.
 */
export type BreakerState = 'closed' | 'open' | 'half-open'

/**
 * How a call was let through. `past`: not by the breaker but past it (GuardedStore lets the chunk reads
 * of a response under way through while it is open); its outcome moves no state, whatever the state
 * is by the time it ends.
 */
export type Admission = 'call' | 'probe' | 'skip' | 'past'

/** One circuit breaker: consecutive failures open it; after a cooldown (growing, capped) one probe may close it. */
export class Breaker {
  #state: BreakerState = 'closed'
  #failures = 0
  #cooldown: number
  #retryAt = 0
  /** The store reported itself disconnected when the breaker last opened. */
  #openedDisconnected = false

  constructor(
    readonly settings: {
      readonly threshold: number
      readonly baseCooldown: number
      readonly maxCooldown: number
      readonly clock: Clock
      /** The store's own view of its connection, when it has one (RedisStore.isReady). */
      readonly connected: () => boolean | undefined
      /** Called each time the breaker opens, with the time of the next probe. */
      readonly onOpen: (retryAt: number) => void
    },
  ) {
    this.#cooldown = settings.baseCooldown
  }

  get state(): BreakerState {
    return this.#state
  }

  admit(): Admission {
    switch (this.#state) {
      case 'closed':
        return 'call'
      case 'half-open':
        return 'skip'
      case 'open':
        // A store that was disconnected when the breaker opened and reports itself connected again
        // (RedisStore after a restart) is probed at once rather than after the cooldown. A stalled
        // store stays connected, so it still waits the cooldown out.
        if (this.settings.clock.now() < this.#retryAt && !(this.#openedDisconnected && this.settings.connected() === true)) return 'skip'
        this.#state = 'half-open'
        return 'probe'
    }
  }

  settle(admission: Admission, healthy: boolean): void {
    if (admission === 'probe') this.#settleProbe(healthy)
    else if (admission === 'call') this.#settleCall(healthy)
  }

  /** An ordinary call. One admitted before the breaker opened and ending after moves no state. */
  #settleCall(healthy: boolean): void {
    if (healthy) {
      if (this.#state === 'closed') this.#failures = 0
      return
    }
    if (this.#state !== 'closed') return
    this.#failures++
    if (this.#failures >= this.settings.threshold) this.#open()
  }

  #settleProbe(healthy: boolean): void {
    if (healthy) {
      this.#state = 'closed'
      this.#failures = 0
      this.#cooldown = this.settings.baseCooldown
      return
    }
    this.#cooldown = Math.min(this.#cooldown * 2, this.settings.maxCooldown)
    this.#open()
  }

  #open(): void {
    this.#openedDisconnected = this.settings.connected() === false
    this.#state = 'open'
    this.#retryAt = this.settings.clock.now() + this.#cooldown
    this.settings.onOpen(this.#retryAt)
  }
}
