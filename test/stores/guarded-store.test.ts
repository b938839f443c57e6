import assert from 'node:assert/strict'
import { systemClock } from '../../lib/clock.js'
import {
  CacheError,
  InvalidOptionError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
  StoreWritesUnavailableError,
} from '../../lib/errors.js'
import { GuardedStore, type GuardOptions } from '../../lib/stores/guarded-store.js'
import type { CacheCounters, CacheStore, EntryInfo, StoreStats } from '../../lib/stores/types.js'
import { ManualClock, StallingClock } from '../helpers/clock.js'
import { text } from './store-contract.js'

/** What the fake store does with its next call. */
type Behaviour =
  | { readonly kind: 'ok' }
  | { readonly kind: 'reject'; readonly error: unknown }
  | { readonly kind: 'throw'; readonly error: unknown }
  | { readonly kind: 'hang' }
  /** Settles when the test calls store.settle(): a store that answers when the test says. */
  | { readonly kind: 'held' }

const OK: Behaviour = { kind: 'ok' }
const HANG: Behaviour = { kind: 'hang' }
const HELD: Behaviour = { kind: 'held' }
const boom = (message = 'boom'): Behaviour => ({ kind: 'reject', error: new Error(message) })

/** A CacheStore whose get/set/remove/count do what the test says; it counts the calls that reached it. */
class FakeStore implements CacheStore {
  behaviour: Behaviour = OK
  calls = 0
  /** Like RedisStore.isReady; undefined for stores that do not say. */
  isReady: boolean | undefined
  /** Thrown by count() when set. */
  countThrows: unknown
  readonly counted: Partial<CacheCounters>[] = []
  readonly #held: { resolve: () => void; reject: (error: unknown) => void }[] = []
  readonly #listeners = new Set<(error: CacheError) => void>()

  get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return this.#act(() => ids.map((id) => text(id)))
  }
  set(): Promise<void> {
    return this.#act(() => undefined)
  }
  remove(): Promise<void> {
    return this.#act(() => undefined)
  }
  /** The id `gone` holds nothing. */
  getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#act(() => (id === 'gone' ? undefined : text(id).subarray(offset, offset + length)))
  }
  count(delta: Partial<CacheCounters>): void {
    if (this.countThrows !== undefined) throw this.countThrows
    this.counted.push(delta)
  }
  async *ids(): AsyncIterable<string> {}
  async *scan(): AsyncIterable<never> {}
  async *keys(): AsyncIterable<string> {}
  async *entries(): AsyncIterable<EntryInfo> {}
  /** Through the behaviour: GuardedStore.deleteUrls calls it on the request path. */
  delete(): Promise<number> {
    return this.#act(() => 1)
  }
  async deletePrefix(): Promise<number> {
    return 0
  }
  async deleteTags(): Promise<number> {
    return 0
  }
  async deleteOlderThan(): Promise<number> {
    return 0
  }
  async deleteExpired(): Promise<number> {
    return 0
  }
  async clear(): Promise<void> {}
  async stats(): Promise<StoreStats> {
    return { hits: 0, misses: 0, revalidations: 0, staleServed: 0, writes: 0, deletes: 0, errors: 0, entries: 0, bytes: 0 }
  }
  async close(): Promise<void> {}
  onBackgroundError(listener: (error: CacheError) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Fails background work, as RedisStore's counter flush does. */
  failInBackground(error: CacheError): void {
    for (const listener of this.#listeners) listener(error)
  }

  /** Settles the oldest held call: answered, or rejected with `error`. */
  settle(error?: unknown): void {
    const held = this.#held.shift()
    assert.ok(held !== undefined, 'no call is held')
    if (error === undefined) held.resolve()
    else held.reject(error)
  }

  /** Settles the newest held call, as settle() does the oldest. */
  settleNewest(error?: unknown): void {
    const held = this.#held.pop()
    assert.ok(held !== undefined, 'no call is held')
    if (error === undefined) held.resolve()
    else held.reject(error)
  }

  #act<T>(value: () => T): Promise<T> {
    this.calls++
    const behaviour = this.behaviour
    switch (behaviour.kind) {
      case 'ok':
        return Promise.resolve(value())
      case 'reject':
        return Promise.reject(behaviour.error)
      case 'throw':
        throw behaviour.error
      case 'hang':
        return new Promise(() => {})
      case 'held':
        return new Promise<void>((resolve, reject) => this.#held.push({ resolve, reject })).then(value)
    }
  }
}

interface Harness {
  readonly store: FakeStore
  readonly guarded: GuardedStore
  readonly reports: CacheError[]
  /** The guard's clock, starting at 0 ms. */
  readonly clock: StallingClock
}

function harness(options: Partial<GuardOptions> = {}): Harness {
  const store = new FakeStore()
  const reports: CacheError[] = []
  const clock = new StallingClock(0)
  const guarded = new GuardedStore(store, { commandTimeout: 40, report: (error) => reports.push(error), clock, ...options })
  return { store, reports, clock, guarded }
}

/** Moves the harness clock to `ms` (firing the timers due on the way). */
function at(h: Harness, ms: number): void {
  h.clock.advance(ms - h.clock.now())
}

/** Lets settled promises run their handlers (and unhandled rejections surface). */
async function ticks(): Promise<void> {
  for (let index = 0; index < 3; index++) await new Promise((resolve) => setImmediate(resolve))
}

/** Whether `promise` has settled by now. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false
  const mark = (): void => {
    done = true
  }
  promise.then(mark, mark)
  await ticks()
  return done
}

const write = [{ id: 'ab', value: text('x'), ttlMs: undefined }]

/** Fails `count` get calls (the store rejects), leaving the reports to the caller. */
async function failGets(h: Harness, count: number): Promise<void> {
  h.store.behaviour = boom()
  for (let index = 0; index < count; index++) assert.equal(await h.guarded.get(['ab']), undefined)
}

/** Fails `count` set calls as a Redis at maxmemory under noeviction does. */
async function failSets(h: Harness, count: number): Promise<void> {
  h.store.behaviour = boom("OOM command not allowed when used memory > 'maxmemory'.")
  for (let index = 0; index < count; index++) assert.equal(await h.guarded.set(write), false)
}

describe('GuardedStore', () => {
  let unhandled: unknown[]
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  beforeEach(() => {
    unhandled = []
    process.on('unhandledRejection', onUnhandled)
  })
  afterEach(async () => {
    // Late settlements of timed-out calls land within a few ticks; give them the chance to misbehave.
    await ticks()
    process.off('unhandledRejection', onUnhandled)
    assert.deepEqual(unhandled, [], 'unhandled rejections')
  })

  it('passes results through while the store answers', async () => {
    const h = harness()
    assert.deepEqual((await h.guarded.get(['a1', 'b2']))?.map((value) => new TextDecoder().decode(value)), ['a1', 'b2'])
    assert.equal(await h.guarded.set(write), true)
    assert.equal(await h.guarded.remove(['ab']), true)
    assert.equal(h.guarded.state, 'closed')
    assert.deepEqual(h.reports, [])
  })

  it('waits for a slow store that answers within commandTimeout', async () => {
    const h = harness({ commandTimeout: 200 })
    h.store.behaviour = HELD
    const call = h.guarded.get(['ab'])
    h.clock.advance(199)
    h.store.settle()
    assert.equal((await call)?.length, 1)
    assert.deepEqual(h.reports, [])
  })

  it('gives up on a call that never settles after commandTimeout and reports StoreTimeoutError', async () => {
    const h = harness({ commandTimeout: 40, failureThreshold: 10 })
    h.store.behaviour = HANG
    const get = h.guarded.get(['ab'])
    h.clock.advance(39)
    assert.equal(await settled(get), false, 'gave up before commandTimeout')
    h.clock.advance(1)
    assert.equal(await get, undefined)
    const set = h.guarded.set(write)
    h.clock.advance(40)
    assert.equal(await set, false)
    const remove = h.guarded.remove(['ab'])
    h.clock.advance(40)
    assert.equal(await remove, false)
    assert.deepEqual(
      h.reports.map((error) => [error.constructor, (error as StoreTimeoutError).operation, (error as StoreTimeoutError).timeoutMs]),
      [
        [StoreTimeoutError, 'get', 40],
        [StoreTimeoutError, 'set', 40],
        [StoreTimeoutError, 'remove', 40],
      ],
    )
  })

  it('deletes URLs through store.delete, one command timeout per URL, gated by the read breaker (RFC 9111 §4.4)', async () => {
    const h = harness({ commandTimeout: 40, failureThreshold: 1 })
    assert.equal(await h.guarded.deleteUrls([], {}), true)
    assert.equal(h.store.calls, 0, 'no URL, no call')
    assert.equal(await h.guarded.deleteUrls(['https://example.com/a', 'https://example.com/b'], {}), true)
    assert.equal(h.store.calls, 2)
    h.store.behaviour = HANG
    const hung = h.guarded.deleteUrls(['https://example.com/a', 'https://example.com/b'], {})
    h.clock.advance(79)
    assert.equal(await settled(hung), false, 'two URLs get two command timeouts')
    h.clock.advance(1)
    assert.equal(await hung, false)
    assert.deepEqual(h.reports.map((error) => [error.constructor, (error as StoreTimeoutError).operation]), [[StoreTimeoutError, 'delete'], [StoreUnavailableError, undefined]])
    h.store.behaviour = OK
    const before = h.store.calls
    assert.equal(await h.guarded.deleteUrls(['https://example.com/a'], {}), false, 'skipped while the read breaker is open')
    assert.equal(h.store.calls, before)
  })

  it('reports a rejection as StoreError with the cause', async () => {
    const h = harness()
    const cause = new Error('READONLY You can not write against a read only replica')
    h.store.behaviour = { kind: 'reject', error: cause }
    assert.equal(await h.guarded.set(write), false)
    const [report] = h.reports
    assert.ok(report instanceof StoreError)
    assert.equal(report.operation, 'set')
    assert.equal(report.cause, cause)
  })

  it('reports a CacheError from the store as it is', async () => {
    const h = harness()
    const error = new StoreError('get', { cause: new Error('connection refused') })
    h.store.behaviour = { kind: 'reject', error }
    assert.equal(await h.guarded.get(['ab']), undefined)
    assert.equal(h.reports[0], error)
  })

  it('treats a store method that throws synchronously as a failed call', async () => {
    const h = harness()
    h.store.behaviour = { kind: 'throw', error: new TypeError('not a function') }
    assert.equal(await h.guarded.remove(['ab']), false)
    assert.ok(h.reports[0] instanceof StoreError)
  })

  it('counts a timed-out call once, and its late rejection is handled', async () => {
    const h = harness({ commandTimeout: 20 })
    h.store.behaviour = HELD
    const call = h.guarded.get(['ab'])
    h.clock.advance(20)
    assert.equal(await call, undefined)
    h.store.settle(new Error('late failure'))
    await ticks()
    assert.deepEqual(
      h.reports.map((error) => error.constructor),
      [StoreTimeoutError],
    )
  })

  it('opens the breaker after failureThreshold consecutive failures and reports it once', async () => {
    const h = harness({ failureThreshold: 3 })
    await failGets(h, 2)
    assert.equal(h.guarded.state, 'closed')
    await failGets(h, 1)
    assert.equal(h.guarded.state, 'open')
    assert.deepEqual(
      h.reports.map((error) => error.constructor),
      [StoreError, StoreError, StoreError, StoreUnavailableError],
    )
    assert.equal((h.reports[3] as StoreUnavailableError).retryAt, 1000)
  })

  it('skips the store at once while open', async () => {
    const h = harness({ failureThreshold: 3 })
    await failGets(h, 3)
    const calls = h.store.calls
    // A call let through would hang: the clock does not move while they are awaited.
    h.store.behaviour = HANG
    at(h, 999)
    assert.equal(await h.guarded.get(['ab']), undefined)
    assert.equal(await h.guarded.set(write), false)
    assert.equal(await h.guarded.remove(['ab']), false)
    assert.equal(h.store.calls, calls)
    assert.equal(h.reports.length, 4, 'skipped calls report nothing new')
  })

  it('resets the failure count on success', async () => {
    const h = harness({ failureThreshold: 3 })
    await failGets(h, 2)
    h.store.behaviour = OK
    assert.ok(await h.guarded.get(['ab']))
    await failGets(h, 2)
    assert.equal(h.guarded.state, 'closed')
  })

  it('lets one probe through after the cooldown and closes when it succeeds', async () => {
    const h = harness({ failureThreshold: 2, cooldown: 1000 })
    await failGets(h, 2)
    h.store.behaviour = OK
    at(h, 1000)
    const calls = h.store.calls
    assert.ok(await h.guarded.get(['ab']))
    assert.equal(h.store.calls, calls + 1)
    assert.equal(h.guarded.state, 'closed')
    assert.equal(await h.guarded.set(write), true)
  })

  it('probes before the cooldown ends when a store that was disconnected reports itself connected again', async () => {
    const h = harness({ failureThreshold: 2, cooldown: 10_000 })
    h.store.isReady = false
    await failGets(h, 2)
    assert.equal(h.guarded.state, 'open')
    at(h, 100)
    const calls = h.store.calls
    assert.equal(await h.guarded.get(['ab']), undefined, 'still disconnected: skipped')
    assert.equal(h.store.calls, calls)
    h.store.isReady = true
    h.store.behaviour = OK
    assert.ok(await h.guarded.get(['ab']), 'reconnected: probed at once')
    assert.equal(h.guarded.state, 'closed')
  })

  it('waits the cooldown out for a store that stayed connected (a stall, not a restart)', async () => {
    const h = harness({ failureThreshold: 2, cooldown: 10_000 })
    h.store.isReady = true
    await failGets(h, 2)
    h.store.behaviour = OK
    at(h, 100)
    const calls = h.store.calls
    assert.equal(await h.guarded.get(['ab']), undefined)
    assert.equal(h.store.calls, calls)
  })

  it('skips other calls while the probe is in flight', async () => {
    const h = harness({ failureThreshold: 1, commandTimeout: 50 })
    await failGets(h, 1)
    at(h, 1000)
    h.store.behaviour = HELD
    const probe = h.guarded.get(['ab'])
    assert.equal(h.guarded.state, 'half-open')
    const calls = h.store.calls
    assert.equal(await h.guarded.get(['cd']), undefined)
    assert.equal(h.store.calls, calls)
    h.store.settle()
    assert.ok(await probe)
    assert.equal(h.guarded.state, 'closed')
  })

  it('re-opens after a failed probe with a cooldown doubled each time, capped at 30 s', async () => {
    const h = harness({ failureThreshold: 1, cooldown: 1000, commandTimeout: 20 })
    await failGets(h, 1)
    const retryAts = [(h.reports.at(-1) as StoreUnavailableError).retryAt]
    h.store.behaviour = HANG
    for (let probe = 0; probe < 6; probe++) {
      const retryAt = retryAts.at(-1) as number
      at(h, retryAt - 1)
      const calls = h.store.calls
      assert.equal(await h.guarded.get(['ab']), undefined)
      assert.equal(h.store.calls, calls, 'no probe before the cooldown ends')
      at(h, retryAt)
      const probe = h.guarded.get(['ab'])
      h.clock.advance(20)
      assert.equal(await probe, undefined)
      assert.equal(h.store.calls, calls + 1, 'one probe once it ends')
      assert.equal(h.guarded.state, 'open')
      const [timeout, unavailable] = h.reports.slice(-2)
      assert.ok(timeout instanceof StoreTimeoutError)
      assert.ok(unavailable instanceof StoreUnavailableError)
      retryAts.push(unavailable.retryAt)
    }
    // Each cooldown runs from the probe's failure: its start (the last retryAt) plus commandTimeout.
    const cooldowns = retryAts.slice(1).map((retryAt, index) => retryAt - (retryAts[index] as number) - 20)
    assert.deepEqual(cooldowns, [2000, 4000, 8000, 16000, 30000, 30000])
  })

  it('starts over from the initial cooldown once a probe succeeds', async () => {
    const h = harness({ failureThreshold: 1, cooldown: 1000 })
    await failGets(h, 1)
    at(h, 1000)
    await failGets(h, 1)
    at(h, 3000)
    h.store.behaviour = OK
    assert.ok(await h.guarded.get(['ab']))
    await failGets(h, 1)
    assert.equal((h.reports.at(-1) as StoreUnavailableError).retryAt, 4000)
  })

  describe('reads apart from writes (issue 11)', () => {
    it('write failures open only the write breaker: reads still reach the store', async () => {
      const h = harness({ failureThreshold: 3 })
      await failSets(h, 3)
      assert.equal(h.guarded.writeState, 'open')
      assert.equal(h.guarded.state, 'closed')
      assert.deepEqual(
        h.reports.map((error) => error.constructor),
        [StoreError, StoreError, StoreError, StoreWritesUnavailableError],
      )
      assert.equal((h.reports[3] as StoreWritesUnavailableError).retryAt, 1000)
      h.store.behaviour = OK
      const calls = h.store.calls
      assert.ok(await h.guarded.get(['ab']), 'a read goes on')
      assert.deepEqual(await h.guarded.getRange('ab', 0, 1), { kind: 'bytes', bytes: text('a') })
      assert.equal(h.store.calls, calls + 2)
      assert.equal(await h.guarded.set(write), false, 'a write is skipped')
      assert.equal(h.store.calls, calls + 2)
      // A full Redis still deletes: an invalidation must not be skipped while hits are served.
      assert.equal(await h.guarded.remove(['ab']), true)
      assert.equal(h.store.calls, calls + 3)
    })

    it('reads that keep succeeding do not close the write breaker; a write probe after the cooldown does', async () => {
      const h = harness({ failureThreshold: 2, cooldown: 1000 })
      await failSets(h, 2)
      h.store.behaviour = OK
      for (let index = 0; index < 5; index++) assert.ok(await h.guarded.get(['ab']))
      assert.equal(h.guarded.writeState, 'open')
      at(h, 1000)
      assert.equal(await h.guarded.set(write), true)
      assert.equal(h.guarded.writeState, 'closed')
    })

    it('read failures open the read breaker, which skips writes too', async () => {
      const h = harness({ failureThreshold: 2 })
      await failGets(h, 2)
      assert.equal(h.guarded.state, 'open')
      assert.equal(h.guarded.writeState, 'open')
      h.store.behaviour = OK
      const calls = h.store.calls
      assert.equal(await h.guarded.set(write), false)
      assert.equal(h.store.calls, calls)
      assert.ok(!h.reports.some((error) => error instanceof StoreWritesUnavailableError), 'the write breaker itself never opened')
    })

    it('a write failure does not count against reads, nor a read failure against writes', async () => {
      const h = harness({ failureThreshold: 2 })
      await failSets(h, 1)
      await failGets(h, 1)
      await failSets(h, 1)
      assert.equal(h.guarded.state, 'closed', 'one read failure')
      assert.equal(h.guarded.writeState, 'open', 'two write failures in a row')
    })

    it('a write that times out counts against reads too: a stalled store, not a full one', async () => {
      const h = harness({ failureThreshold: 2, commandTimeout: 40 })
      h.store.behaviour = HANG
      const set = h.guarded.set(write)
      h.clock.advance(40)
      assert.equal(await set, false)
      const get = h.guarded.get(['ab'])
      h.clock.advance(40)
      assert.equal(await get, undefined)
      assert.equal(h.guarded.state, 'open', 'a write timeout and a read timeout in a row')
    })
  })

  describe('getRange outcomes (issue 11)', () => {
    it('tells the bytes, a missing id, a timeout and a failure apart', async () => {
      const h = harness({ commandTimeout: 40, failureThreshold: 10 })
      assert.deepEqual(await h.guarded.getRange('abcd', 1, 2), { kind: 'bytes', bytes: text('bc') })
      assert.deepEqual(await h.guarded.getRange('gone', 0, 2), { kind: 'missing' })
      h.store.behaviour = HANG
      const timedOut = h.guarded.getRange('abcd', 0, 2)
      h.clock.advance(40)
      assert.deepEqual(await timedOut, { kind: 'timeout' })
      h.store.behaviour = boom()
      assert.deepEqual(await h.guarded.getRange('abcd', 0, 2), { kind: 'unavailable' })
      assert.deepEqual(
        h.reports.map((error) => error.constructor),
        [StoreTimeoutError, StoreError],
        'a missing id is no store failure',
      )
    })

    it('a read skipped by the open breaker is unavailable', async () => {
      const h = harness({ failureThreshold: 1 })
      await failGets(h, 1)
      assert.deepEqual(await h.guarded.getRange('abcd', 0, 2), { kind: 'unavailable' })
    })

    it('a chunk of a response under way reaches the store while the breaker is open, and moves no state', async () => {
      const h = harness({ failureThreshold: 1, commandTimeout: 40, cooldown: 1000 })
      await failGets(h, 1)
      assert.equal(h.guarded.state, 'open')
      h.store.behaviour = OK
      const calls = h.store.calls
      assert.deepEqual(await h.guarded.getRange('abcd', 1, 2, 40, true), { kind: 'bytes', bytes: text('bc') })
      assert.equal(h.store.calls, calls + 1)
      assert.equal(h.guarded.state, 'open', 'a read under way is no probe: it does not close the breaker')
      assert.deepEqual(await h.guarded.getRange('abcd', 1, 2), { kind: 'unavailable' }, 'a first chunk is still skipped')
      h.store.behaviour = boom()
      assert.deepEqual(await h.guarded.getRange('abcd', 1, 2, 40, true), { kind: 'unavailable' })
      // A failed read under way does not put the probe off: it comes when the first cooldown ends.
      h.store.behaviour = OK
      at(h, 1000)
      assert.deepEqual(await h.guarded.get(['ab']), [text('ab')])
      assert.equal(h.guarded.state, 'closed')
    })

    it('a read under way that fails after a probe closed the breaker does not count against it', async () => {
      const h = harness({ failureThreshold: 1, commandTimeout: 2000, cooldown: 1000 })
      await failGets(h, 1)
      h.store.behaviour = HELD
      const underway = h.guarded.getRange('abcd', 1, 2, 2000, true)
      at(h, 1000)
      const probe = h.guarded.get(['ab'])
      // The probe answers first and closes the breaker; then the read under way fails.
      h.store.settleNewest()
      assert.deepEqual(await probe, [text('ab')])
      assert.equal(h.guarded.state, 'closed')
      h.store.settleNewest(new Error('late failure'))
      assert.deepEqual(await underway, { kind: 'unavailable' })
      assert.equal(h.guarded.state, 'closed', 'a failure past the breaker reopened it')
    })

    it('waits the budget the caller gives instead of commandTimeout', async () => {
      const h = harness({ commandTimeout: 40 })
      h.store.behaviour = HANG
      const read = h.guarded.getRange('abcd', 0, 2, 160)
      h.clock.advance(159)
      assert.equal(await settled(read), false, 'gave up before its own budget')
      h.clock.advance(1)
      assert.deepEqual(await read, { kind: 'timeout' })
      assert.equal((h.reports[0] as StoreTimeoutError).timeoutMs, 160)
    })
  })

  describe('stalls of our own event loop (issue 11)', () => {
    it('a timer that fires late after the loop stalled gives the call a fresh window rather than a timeout', async () => {
      const h = harness({ commandTimeout: 40 })
      h.store.behaviour = HELD
      const call = h.guarded.get(['ab'])
      // The loop is blocked for 300 ms: the timer due at 40 fires when it comes back, 300 ms late.
      h.clock.stall(300)
      h.clock.advance(40)
      assert.equal(await settled(call), false, 'timed out after a stall of its own loop')
      h.store.settle()
      assert.equal((await call)?.length, 1)
      assert.deepEqual(h.reports, [])
    })

    it('a store that stays silent still times out after the fresh window, and stalls buy at most one', async () => {
      const h = harness({ commandTimeout: 40 })
      h.store.behaviour = HANG
      const once = h.guarded.get(['ab'])
      h.clock.stall(300)
      h.clock.advance(40)
      h.clock.advance(40)
      assert.equal(await once, undefined)
      const stalled = h.guarded.get(['ab'])
      for (let index = 0; index < 2; index++) {
        h.clock.stall(300)
        h.clock.advance(40)
      }
      assert.equal(await stalled, undefined)
      assert.deepEqual(
        h.reports.map((error) => error.constructor),
        [StoreTimeoutError, StoreTimeoutError],
      )
    })

    it('a timer a little late (ordinary loop lag) is a timeout as before', async () => {
      const h = harness({ commandTimeout: 40 })
      h.store.behaviour = HANG
      const call = h.guarded.get(['ab'])
      h.clock.stall(24)
      h.clock.advance(40)
      assert.equal(await call, undefined)
      assert.ok(h.reports[0] instanceof StoreTimeoutError)
    })
  })

  it('passes counts to the store with count(), and reports a store.count that throws instead of throwing', async () => {
    const h = harness({ failureThreshold: 1 })
    h.guarded.count({ hits: 1 })
    assert.deepEqual(h.store.counted, [{ hits: 1 }])
    const cause = new TypeError('count is broken')
    h.store.countThrows = cause
    assert.doesNotThrow(() => h.guarded.count({ misses: 1 }))
    const [report] = h.reports
    assert.ok(report instanceof StoreError)
    assert.equal(report.operation, 'count')
    assert.equal(report.cause, cause)
    // count() does no I/O: its failure is reported, not counted by the breaker.
    assert.equal(h.guarded.state, 'closed')
  })

  it('does not recurse when the report of a failed count() counts the error again', async () => {
    const store = new FakeStore()
    store.countThrows = new Error('always')
    const reports: CacheError[] = []
    // The interceptor's reporter counts every error it reports (CacheCounters.errors).
    const guarded: GuardedStore = new GuardedStore(store, {
      commandTimeout: 40,
      clock: new ManualClock(0),
      report: (error) => {
        reports.push(error)
        guarded.count({ errors: 1 })
      },
    })
    guarded.count({ hits: 1 })
    assert.equal(reports.length, 1)
    guarded.count({ hits: 1 })
    assert.equal(reports.length, 2, 'each failed count() is reported once')
  })

  it("reports failures of the store's background work, without moving the breaker", async () => {
    const h = harness({ failureThreshold: 1 })
    const error = new StoreError('flush', { cause: new Error('connection lost') })
    h.store.failInBackground(error)
    assert.deepEqual(h.reports, [error])
    assert.equal(h.guarded.state, 'closed')
  })

  it('never throws when the report callback throws', async () => {
    const store = new FakeStore()
    store.behaviour = boom()
    const guarded = new GuardedStore(store, {
      commandTimeout: 40,
      failureThreshold: 1,
      report: () => {
        throw new Error('onError is broken')
      },
    })
    assert.equal(await guarded.get(['ab']), undefined)
    assert.equal(guarded.state, 'open')
  })

  it('bounds calls with one unref\'d timer on the system clock, not a timer per call', async () => {
    const h = harness({ commandTimeout: 10_000, clock: systemClock })
    const created: NodeJS.Timeout[] = []
    const realSetTimeout = globalThis.setTimeout
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      const timer = realSetTimeout(...args)
      created.push(timer)
      return timer
    }) as typeof setTimeout
    try {
      await h.guarded.get(['ab'])
      await h.guarded.set(write)
      await Promise.all([h.guarded.get(['ab']), h.guarded.remove(['ab'])])
    } finally {
      globalThis.setTimeout = realSetTimeout
    }
    // Armed for the first call's deadline; the calls after it wait in the same list.
    assert.equal(created.length, 1)
    assert.equal(created[0]?.hasRef(), false, 'never keeps the process alive')
    clearTimeout(created[0])
  })

  it('a wall clock set back does not hold a call past commandTimeout', async () => {
    let now = 1_000_000
    const timers: { ms: number; callback: () => void }[] = []
    const clock = { now: () => now, setTimer: (ms: number, callback: () => void) => (timers.push({ ms, callback }), () => {}) }
    const h = harness({ commandTimeout: 40, failureThreshold: 10, clock })
    h.store.behaviour = HANG
    const first = h.guarded.get(['ab'])
    now += 20
    const second = h.guarded.get(['ab'])
    // An hour back, then the shared timer fires for the first call: the second is not left waiting for
    // the hour the clock went back (no timer armed past commandTimeout; it may time out with the first).
    now -= 3_600_000
    timers.shift()?.callback()
    assert.equal(await first, undefined)
    assert.ok(timers.every((timer) => timer.ms <= 40), `armed for ${timers.map((timer) => timer.ms).join(', ')} ms`)
    timers.shift()?.callback()
    assert.equal(await second, undefined)
    assert.equal(h.reports.filter((error) => error instanceof StoreTimeoutError).length, 2)
  })

  it('times out each call at its own deadline when they share a timer', async () => {
    const h = harness({ commandTimeout: 40, failureThreshold: 10 })
    h.store.behaviour = HANG
    const first = h.guarded.get(['ab'])
    at(h, 15)
    const second = h.guarded.get(['ab'])
    at(h, 39)
    assert.equal(await settled(first), false)
    at(h, 40)
    assert.equal(await first, undefined)
    assert.equal(await settled(second), false, 'the second call has 40 ms of its own')
    at(h, 54)
    assert.equal(await settled(second), false)
    at(h, 55)
    assert.equal(await second, undefined)
    assert.equal(h.reports.filter((error) => error instanceof StoreTimeoutError).length, 2)
  })

  it('a call that settled leaves the shared timer to the calls still waiting', async () => {
    const h = harness({ commandTimeout: 40, failureThreshold: 10 })
    h.store.behaviour = HELD
    const first = h.guarded.get(['ab'])
    at(h, 10)
    h.store.behaviour = HANG
    const second = h.guarded.get(['ab'])
    h.store.settle()
    assert.equal((await first)?.length, 1)
    at(h, 40)
    assert.equal(await settled(second), false, 'the timer armed for the first call does not end the second')
    at(h, 50)
    assert.equal(await second, undefined)
    assert.deepEqual(h.reports.map((error) => error.constructor), [StoreTimeoutError])
  })

  const invalid: [name: string, options: Record<string, unknown>, option: string][] = [
    ['commandTimeout 0', { commandTimeout: 0 }, 'commandTimeout'],
    ['commandTimeout missing', { commandTimeout: undefined }, 'commandTimeout'],
    ['failureThreshold 0', { failureThreshold: 0 }, 'failureThreshold'],
    ['failureThreshold fractional', { failureThreshold: 1.5 }, 'failureThreshold'],
    ['cooldown negative', { cooldown: -1 }, 'cooldown'],
    ['report missing', { report: undefined }, 'report'],
    ['clock not a Clock', { clock: Date.now }, 'clock'],
  ]
  for (const [name, options, option] of invalid) {
    it(`rejects ${name} with InvalidOptionError naming \`${option}\``, () => {
      const base = { commandTimeout: 40, report: () => {} }
      assert.throws(
        () => new GuardedStore(new FakeStore(), { ...base, ...options } as unknown as GuardOptions),
        (error: unknown) => error instanceof InvalidOptionError && error.option === option,
      )
    })
  }
})
