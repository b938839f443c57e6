/**
 * The one source of time for the cache, its stores, its reporter and its timers, so that tests (and
 * users with their own notion of time) can move it instead of sleeping. Policy never reads it: policy
 * functions take `now` as a parameter (STYLE.md habit 2); the layers that call them read the clock.
 */
import { InvalidOptionError } from './errors.js'

/** Cancels a timer set with Clock.setTimer; harmless after the timer fired. */
export type CancelTimer = () => void

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /**
   * Runs `callback` once after `ms` milliseconds. The timer never keeps the process alive (the
   * system clock unref()s it): every timer of this package is housekeeping, never a reason to stay up.
   */
  setTimer(ms: number, callback: () => void): CancelTimer
}

export const systemClock: Clock = {
  now: Date.now,
  setTimer(ms, callback) {
    const timer = setTimeout(callback, ms)
    timer.unref()
    return () => clearTimeout(timer)
  },
}

/**
 * The `clock` option of the stores (and of cache()): `value` when it is a Clock, the system clock when
 * it is undefined. Throws InvalidOptionError naming `option` otherwise.
 */
export function resolveClock(value: unknown, option = 'clock'): Clock {
  if (value === undefined) return systemClock
  const candidate = value as Partial<Clock> | null
  if (typeof candidate === 'object' && candidate !== null && typeof candidate.now === 'function' && typeof candidate.setTimer === 'function') {
    return value as Clock
  }
  throw new InvalidOptionError(option, 'a Clock ({ now(), setTimer(ms, callback) })', value)
}

/**
 * A deadline whose timer fires this late (a quarter of its duration, and at least
 * STALL_MIN_LATENESS_MS) measures a stall of this process's event loop (a GC pause, a long synchronous
 * task), not of what it bounds: the answer may be waiting unread on the socket, since Node runs due
 * timers before it polls for I/O (issue 11). The deadline then gets one fresh window, counted from
 * when the loop came back.
 */
const STALL_LATENESS = 0.25
const STALL_MIN_LATENESS_MS = 25

/**
 * One deadline in a Deadlines list: `expire()` runs once it falls due, unless it was removed first.
 * Subclassed by what it bounds (GuardedStore's and RedisConnection's calls), so a deadline costs one
 * object, not a timer and the closures around it.
 */
export abstract class Deadline {
  /** When it falls due, on the clock (set by Deadlines.add). */
  due = 0
  prev: Deadline | undefined
  next: Deadline | undefined
  linked = false
  /** Whether it was given its fresh window after a stall already (STALL_LATENESS). */
  extended = false
  abstract expire(): void
}

/**
 * Deadlines of one duration over a Clock, with one timer armed at a time instead of a timer set and
 * cleared per deadline: GuardedStore bounds every store call with one, and nearly every call settles
 * long before it does. Deadlines of one duration fall due in the order they were added, so they wait
 * in a list in that order; a removed one is unlinked at once, so nothing is kept for it. The timer is
 * armed for the oldest deadline waiting when it was armed; if that one was removed since, the timer
 * finds nothing due and re-arms itself for the oldest one left. A deadline found due only after a
 * stall of the event loop gets one fresh window first (STALL_LATENESS).
 */
export class Deadlines {
  readonly ms: number
  readonly #clock: Clock
  #head: Deadline | undefined
  #tail: Deadline | undefined
  /** When the armed timer falls due; undefined while none is armed. */
  #armedFor: number | undefined
  #firing = false

  constructor(clock: Clock, ms: number) {
    this.#clock = clock
    this.ms = ms
  }

  /** Starts `deadline`: due `ms` from now. */
  add(deadline: Deadline): void {
    deadline.due = this.#clock.now() + this.ms
    deadline.linked = true
    deadline.prev = this.#tail
    deadline.next = undefined
    if (this.#tail === undefined) this.#head = deadline
    else this.#tail.next = deadline
    this.#tail = deadline
    if (this.#armedFor === undefined && !this.#firing) this.#arm(deadline.due)
  }

  /** Stops `deadline` (harmless once it expired or was removed). */
  remove(deadline: Deadline): void {
    if (!deadline.linked) return
    deadline.linked = false
    const { prev, next } = deadline
    if (prev === undefined) this.#head = next
    else prev.next = next
    if (next === undefined) this.#tail = prev
    else next.prev = prev
    deadline.prev = deadline.next = undefined
  }

  #arm(due: number): void {
    // Never longer than `ms`: a deadline further away than that was set before the clock went back.
    this.#clock.setTimer(Math.min(this.ms, Math.max(0, due - this.#clock.now())), () => this.#fire())
    this.#armedFor = due
  }

  #fire(): void {
    // The timer waited until #armedFor: a clock set back meanwhile must not hold those deadlines back.
    const now = this.#clock.now()
    const cutoff = Math.max(now, this.#armedFor ?? -Infinity)
    this.#armedFor = undefined
    this.#firing = true
    const stalled = Math.max(this.ms * STALL_LATENESS, STALL_MIN_LATENESS_MS)
    try {
      // An expire() may add a deadline again: it goes to the tail, due after the cutoff, as does one
      // given a fresh window. A deadline more than `ms` ahead was set on a clock that has gone back
      // since: it has waited its turn already.
      while (this.#head !== undefined && (this.#head.due <= cutoff || this.#head.due - now > this.ms)) {
        const deadline = this.#head
        this.remove(deadline)
        if (!deadline.extended && now - deadline.due >= stalled) {
          deadline.extended = true
          this.add(deadline)
        } else {
          deadline.expire()
        }
      }
    } finally {
      this.#firing = false
    }
    if (this.#head !== undefined) this.#arm(this.#head.due)
  }
}
