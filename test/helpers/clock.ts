/**
 * A Clock that only moves when a test says so: `advance(ms)` runs the timers that fall due, in order.
 * Tests where time is the subject (staleness, expiry, cooldowns, flush intervals) use it instead of
 * sleeping.
 */
import type { Clock } from '../../lib/clock.js'

interface Timer {
  readonly at: number
  readonly seq: number
  readonly callback: () => void
}

export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #timers: Timer[] = []

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimer(ms: number, callback: () => void): () => void {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback }
    this.#timers.push(timer)
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer)
    }
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time. */
  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (due === undefined) break
      this.#timers = this.#timers.filter((t) => t !== due)
      this.#now = Math.max(this.#now, due.at)
      due.callback()
    }
    this.#now = target
  }

  /** Moves time forward in seconds (RFC 9111 counts ages in seconds). */
  advanceSeconds(seconds: number): void {
    this.advance(seconds * 1000)
  }
}

/**
 * A ManualClock whose now() can jump ahead without firing timers, as the system clock does while the
 * event loop is blocked: the timers due meanwhile then fire late, on the next advance().
 */
export class StallingClock extends ManualClock {
  #lag = 0
  override now(): number {
    return super.now() + this.#lag
  }
  stall(ms: number): void {
    this.#lag += ms
  }
}
