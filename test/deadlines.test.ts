/**
 * Deadlines (lib/clock.ts): the one timer behind GuardedStore's and RedisConnection's bounds, and the
 * one home of the fresh window a deadline gets when its timer fired late because this process's event
 * loop stalled (issue 11).
 */
import assert from 'node:assert/strict'
import { Deadline, Deadlines } from '../lib/clock.js'
import { StallingClock } from './helpers/clock.js'

class Recorded extends Deadline {
  expiredAt: number | undefined
  constructor(readonly clock: StallingClock) {
    super()
  }
  expire(): void {
    this.expiredAt = this.clock.now()
  }
}

describe('Deadlines', () => {
  it('expires each deadline once its duration has passed, in the order they were added', () => {
    const clock = new StallingClock(0)
    const deadlines = new Deadlines(clock, 100)
    const first = new Recorded(clock)
    const second = new Recorded(clock)
    deadlines.add(first)
    clock.advance(30)
    deadlines.add(second)
    clock.advance(69)
    assert.equal(first.expiredAt, undefined)
    clock.advance(1)
    assert.equal(first.expiredAt, 100)
    assert.equal(second.expiredAt, undefined)
    clock.advance(30)
    assert.equal(second.expiredAt, 130)
    assert.equal(clock.pending, 0, 'no timer left armed')
  })

  it('never expires a deadline removed first', () => {
    const clock = new StallingClock(0)
    const deadlines = new Deadlines(clock, 100)
    const removed = new Recorded(clock)
    const kept = new Recorded(clock)
    deadlines.add(removed)
    deadlines.add(kept)
    deadlines.remove(removed)
    clock.advance(100)
    assert.equal(removed.expiredAt, undefined)
    assert.equal(kept.expiredAt, 100)
  })

  it('gives a deadline found due only after a stall one fresh window from when the loop came back', () => {
    const clock = new StallingClock(0)
    const deadlines = new Deadlines(clock, 100)
    const deadline = new Recorded(clock)
    deadlines.add(deadline)
    // The loop is blocked for 300 ms: the timer due at 100 fires on its return, at 400.
    clock.stall(300)
    clock.advance(100)
    assert.equal(deadline.expiredAt, undefined, 'expired on a stall of its own loop')
    clock.advance(99)
    assert.equal(deadline.expiredAt, undefined)
    clock.advance(1)
    assert.equal(deadline.expiredAt, 500, 'the fresh window is the full duration')
  })

  it('gives at most one fresh window, and none for ordinary lag (under a quarter of the duration)', () => {
    const clock = new StallingClock(0)
    const deadlines = new Deadlines(clock, 100)
    const twice = new Recorded(clock)
    deadlines.add(twice)
    clock.stall(300)
    clock.advance(100)
    clock.stall(300)
    clock.advance(100)
    assert.equal(twice.expiredAt, 800, 'a second stall buys nothing more')

    const lagged = new Recorded(clock)
    deadlines.add(lagged)
    clock.stall(24)
    clock.advance(100)
    assert.equal(lagged.expiredAt, 924)
  })
})
