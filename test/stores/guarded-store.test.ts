import assert from 'node:assert/strict'
import {
  CacheError,
  InvalidOptionError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../../lib/errors.js'
import { GuardedStore, type GuardOptions } from '../../lib/stores/guarded-store.js'
import type { CacheStore, StoreStats } from '../../lib/stores/types.js'
import { sleep, text } from './store-contract.js'

/** What the fake store does with its next call. */
type Behaviour =
  | { readonly kind: 'ok' }
  | { readonly kind: 'reject'; readonly error: unknown }
  | { readonly kind: 'throw'; readonly error: unknown }
  | { readonly kind: 'hang' }
  | { readonly kind: 'slow'; readonly ms: number; readonly then: 'ok' | 'reject' }

const OK: Behaviour = { kind: 'ok' }
const HANG: Behaviour = { kind: 'hang' }
const boom = (message = 'boom'): Behaviour => ({ kind: 'reject', error: new Error(message) })

/** A CacheStore whose get/set/remove do what the test says; it counts the calls that reached it. */
class FakeStore implements CacheStore {
  behaviour: Behaviour = OK
  calls = 0
  /** Like RedisStore.isReady; undefined for stores that do not say. */
  isReady: boolean | undefined

  get(ids: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return this.#act(() => ids.map((id) => text(id)))
  }
  set(): Promise<void> {
    return this.#act(() => undefined)
  }
  remove(): Promise<void> {
    return this.#act(() => undefined)
  }
  getRange(id: string, offset: number, length: number): Promise<Uint8Array | undefined> {
    return this.#act(() => text(id).subarray(offset, offset + length))
  }
  count(): void {}
  async *ids(): AsyncIterable<string> {}
  async *scan(): AsyncIterable<never> {}
  async clear(): Promise<void> {}
  async stats(): Promise<StoreStats> {
    return { hits: 0, misses: 0, revalidations: 0, staleServed: 0, writes: 0, deletes: 0, errors: 0, entries: 0, bytes: 0 }
  }
  async close(): Promise<void> {}

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
      case 'slow':
        return sleep(behaviour.ms).then(() => {
          if (behaviour.then === 'reject') throw new Error('late failure')
          return value()
        })
    }
  }
}

interface Harness {
  readonly store: FakeStore
  readonly guarded: GuardedStore
  readonly reports: CacheError[]
  /** The injected clock, in ms. */
  time: number
}

function harness(options: Partial<GuardOptions> = {}): Harness {
  const store = new FakeStore()
  const reports: CacheError[] = []
  const h: Harness = {
    store,
    reports,
    time: 0,
    guarded: new GuardedStore(store, {
      commandTimeout: 40,
      report: (error) => reports.push(error),
      now: () => h.time,
      ...options,
    }),
  }
  return h
}

const write = [{ id: 'ab', value: text('x'), ttlMs: undefined }]

/** Fails `count` get calls (the store rejects), leaving the reports to the caller. */
async function failGets(h: Harness, count: number): Promise<void> {
  h.store.behaviour = boom()
  for (let index = 0; index < count; index++) assert.equal(await h.guarded.get(['ab']), undefined)
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
    await sleep(20)
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
    h.store.behaviour = { kind: 'slow', ms: 30, then: 'ok' }
    assert.equal((await h.guarded.get(['ab']))?.length, 1)
    assert.deepEqual(h.reports, [])
  })

  it('gives up on a call that never settles after commandTimeout and reports StoreTimeoutError', async () => {
    const h = harness({ commandTimeout: 40, failureThreshold: 10 })
    h.store.behaviour = HANG
    const started = Date.now()
    assert.equal(await h.guarded.get(['ab']), undefined)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 35 && elapsed < 140, `took ${elapsed} ms`)
    assert.equal(await h.guarded.set(write), false)
    assert.equal(await h.guarded.remove(['ab']), false)
    assert.deepEqual(
      h.reports.map((error) => [error.constructor, (error as StoreTimeoutError).operation, (error as StoreTimeoutError).timeoutMs]),
      [
        [StoreTimeoutError, 'get', 40],
        [StoreTimeoutError, 'set', 40],
        [StoreTimeoutError, 'remove', 40],
      ],
    )
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
    h.store.behaviour = { kind: 'slow', ms: 60, then: 'reject' }
    assert.equal(await h.guarded.get(['ab']), undefined)
    await sleep(80)
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
    h.store.behaviour = HANG
    h.time = 999
    const started = Date.now()
    assert.equal(await h.guarded.get(['ab']), undefined)
    assert.equal(await h.guarded.set(write), false)
    assert.equal(await h.guarded.remove(['ab']), false)
    assert.ok(Date.now() - started < 20)
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
    h.time = 1000
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
    h.time = 100
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
    h.time = 100
    const calls = h.store.calls
    assert.equal(await h.guarded.get(['ab']), undefined)
    assert.equal(h.store.calls, calls)
  })

  it('skips other calls while the probe is in flight', async () => {
    const h = harness({ failureThreshold: 1, commandTimeout: 50 })
    await failGets(h, 1)
    h.time = 1000
    h.store.behaviour = { kind: 'slow', ms: 20, then: 'ok' }
    const probe = h.guarded.get(['ab'])
    assert.equal(h.guarded.state, 'half-open')
    const calls = h.store.calls
    assert.equal(await h.guarded.get(['cd']), undefined)
    assert.equal(h.store.calls, calls)
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
      h.time = retryAt - 1
      const calls = h.store.calls
      assert.equal(await h.guarded.get(['ab']), undefined)
      assert.equal(h.store.calls, calls, 'no probe before the cooldown ends')
      h.time = retryAt
      assert.equal(await h.guarded.get(['ab']), undefined)
      assert.equal(h.store.calls, calls + 1, 'one probe once it ends')
      assert.equal(h.guarded.state, 'open')
      const [timeout, unavailable] = h.reports.slice(-2)
      assert.ok(timeout instanceof StoreTimeoutError)
      assert.ok(unavailable instanceof StoreUnavailableError)
      retryAts.push(unavailable.retryAt)
    }
    const cooldowns = retryAts.slice(1).map((retryAt, index) => retryAt - (retryAts[index] as number))
    assert.deepEqual(cooldowns, [2000, 4000, 8000, 16000, 30000, 30000])
  })

  it('starts over from the initial cooldown once a probe succeeds', async () => {
    const h = harness({ failureThreshold: 1, cooldown: 1000 })
    await failGets(h, 1)
    h.time = 1000
    await failGets(h, 1)
    h.time = 3000
    h.store.behaviour = OK
    assert.ok(await h.guarded.get(['ab']))
    await failGets(h, 1)
    assert.equal((h.reports.at(-1) as StoreUnavailableError).retryAt, 4000)
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

  it('uses an unref\'d timer per call and clears it once the store answers', async () => {
    const h = harness({ commandTimeout: 10_000 })
    const created: NodeJS.Timeout[] = []
    const cleared = new Set<unknown>()
    const realSetTimeout = globalThis.setTimeout
    const realClearTimeout = globalThis.clearTimeout
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      const timer = realSetTimeout(...args)
      created.push(timer)
      return timer
    }) as typeof setTimeout
    globalThis.clearTimeout = ((timer: Parameters<typeof clearTimeout>[0]) => {
      cleared.add(timer)
      realClearTimeout(timer)
    }) as typeof clearTimeout
    try {
      await h.guarded.get(['ab'])
      await h.guarded.set(write)
    } finally {
      globalThis.setTimeout = realSetTimeout
      globalThis.clearTimeout = realClearTimeout
    }
    assert.equal(created.length, 2)
    for (const timer of created) {
      assert.equal(timer.hasRef(), false)
      assert.ok(cleared.has(timer))
    }
  })

  const invalid: [name: string, options: Record<string, unknown>, option: string][] = [
    ['commandTimeout 0', { commandTimeout: 0 }, 'commandTimeout'],
    ['commandTimeout missing', { commandTimeout: undefined }, 'commandTimeout'],
    ['failureThreshold 0', { failureThreshold: 0 }, 'failureThreshold'],
    ['failureThreshold fractional', { failureThreshold: 1.5 }, 'failureThreshold'],
    ['cooldown negative', { cooldown: -1 }, 'cooldown'],
    ['report missing', { report: undefined }, 'report'],
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
