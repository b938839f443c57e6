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
