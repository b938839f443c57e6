/**
 * The life of RedisStore's own connection (lib/stores/redis-connection.ts): a close() bounded by its
 * grace on the store's clock, that waits for commands in flight, and that leaves no connection open
 * even when it comes while the client is still connecting, against a redis-server of each test's own.
 */
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { StoreError, StoreTimeoutError } from '../../lib/errors.js'
import { ConnectAttempts } from '../../lib/stores/redis-own-clients.js'
import { RedisStore } from '../../lib/stores/redis-store.js'
import { ManualClock } from '../helpers/clock.js'
import { startRedis, type RedisServer } from '../helpers/redis-server.js'
import { eventually } from '../helpers/client.js'
import { collect, sleep, storedResponse } from './store-contract.js'

/** Pauses `own` with a GET in flight, then starts close(): what the close tests watch. */
async function closeWithCommandInFlight(store: RedisStore, own: RedisServer): Promise<{ pending: Promise<unknown>; closing: Promise<void>; state: { closed: boolean } }> {
  await store.ready()
  own.pause()
  const pending = store.get(['a1'])
  const state = { closed: false }
  const closing = store.close().then(() => {
    state.closed = true
  })
  return { pending, closing, state }
}

/**
 * Runs `body` with a redis-server of its own, paused once the store is ready, and a store on it whose
 * clock is `clock` and whose commandTimeout is 3 s; resumes, closes and stops them afterwards.
 */
async function withPausedServer(namespace: string, body: (store: RedisStore, own: RedisServer, clock: ManualClock) => Promise<void>, beforePause: (store: RedisStore) => void = () => {}): Promise<void> {
  const own = await startRedis()
  const clock = new ManualClock()
  const store = new RedisStore({ url: own.url, namespace, clock, commandTimeout: 3000 })
  try {
    await store.ready()
    beforePause(store)
    own.pause()
    await body(store, own, clock)
  } finally {
    own.resume()
    await store.close()
    await own.stop()
  }
}

describe('RedisStore connection', () => {
  it('closes after its grace period while Redis is paused, and a late reply cannot crash it', async function () {
    this.timeout(10_000)
    const own = await startRedis()
    const clock = new ManualClock()
    const store = new RedisStore({ url: own.url, namespace: 'paused', clock })
    try {
      const { pending, closing, state } = await closeWithCommandInFlight(store, own)
      clock.advance(999)
      await sleep(20)
      assert.equal(state.closed, false, 'closed before the grace period ended, with a command pending')
      clock.advance(1)
      await closing
      await assert.rejects(pending, StoreError)
      own.resume()
      // Would the GET's reply reach a client that gave up on it, node-redis throws from its parser.
      await sleep(100)
    } finally {
      own.resume()
      await own.stop()
    }
  })

  it('fails an admin call Redis does not answer with StoreTimeoutError once commandTimeout passes on its clock: the admin API cannot hang', async function () {
    this.timeout(10_000)
    await withPausedServer('hung', async (store, _own, clock) => {
      const outcomes = new Map<string, unknown>()
      const watch = (name: string, call: Promise<unknown>): void => void call.then((value) => outcomes.set(name, value), (error: unknown) => outcomes.set(name, error))
      watch('stats', store.stats())
      watch('delete', store.delete('http://origin.test/a'))
      watch('deleteTags', store.deleteTags(['t']))
      watch('ids', collect(store.ids()))
      // cache()'s own calls are bounded by cache()'s commandTimeout (GuardedStore), not here.
      let got = false
      void store.get(['a1']).finally(() => (got = true))
      // Each call has sent its first command (a walk's first SCAN follows a step of its own).
      await sleep(20)
      clock.advance(2999)
      await sleep(20)
      assert.deepEqual([...outcomes.keys()], [], 'settled before commandTimeout passed')
      clock.advance(1)
      await eventually(() => outcomes.size === 4).catch(() => assert.fail(`settled: ${[...outcomes.keys()].join(', ')}`))
      assert.equal(got, false, 'a get() was given up by the store')
      for (const [name, error] of outcomes) {
        assert.ok(error instanceof StoreTimeoutError, `${name}: ${String(error)}`)
        assert.equal(error.code, 'URC_ERR_STORE_TIMEOUT')
        assert.equal(error.timeoutMs, 3000)
      }
    })
  })

  it('bounds the removal an admin delete makes, not only its reads: delete(url) fails with StoreTimeoutError while writes wait', async function () {
    this.timeout(10_000)
    const own = await startRedis()
    const clock = new ManualClock()
    const store = new RedisStore({ url: own.url, namespace: 'admin-remove', clock, commandTimeout: 3000 })
    const url = 'https://example.com/a'
    try {
      await store.ready()
      await store.set([{ id: 'ab', value: storedResponse(url), ttlMs: 600_000, index: { url, tags: [], storedAt: Date.now() } }])
      await own.cli('CLIENT', 'PAUSE', '10000', 'WRITE')
      const result: { outcome?: unknown } = {}
      const settled = (): unknown => result.outcome
      void store.delete(url).then((count) => (result.outcome = count), (error: unknown) => (result.outcome = error))
      // The index read and the entry's head answer; the UNLINK waits, which Redis shows as a blocked
      // client (its deadline started as it was sent).
      await eventually(async () => /\bcmd=unlink\b/.test(await own.cli('CLIENT', 'LIST')), 5000)
      clock.advance(2999)
      await sleep(20)
      assert.equal(settled(), undefined, 'settled before commandTimeout passed')
      clock.advance(1)
      await eventually(() => settled() !== undefined)
      const outcome = settled()
      assert.ok(outcome instanceof StoreTimeoutError, String(outcome))
      assert.equal(outcome.operation, 'remove')
    } finally {
      await own.cli('CLIENT', 'UNPAUSE')
      await store.close()
      await own.stop()
    }
  })

  it('counts a flush that Redis answers late once: the flush is left to finish, not given up at commandTimeout', async function () {
    this.timeout(10_000)
    await withPausedServer(
      'late-flush',
      async (_store, own, clock) => {
        // The flush goes out to a Redis that does not answer; well past commandTimeout, a second flush
        // would send the same counts again had the first been given up and its counts put back.
        clock.advance(1000)
        await sleep(20)
        clock.advance(3000)
        await sleep(20)
        clock.advance(1000)
        await sleep(20)
        own.resume()
        await eventually(async () => (await own.cli('HGET', 'late-flush:stats', 'hits')) === '1')
        clock.advance(1000)
        await sleep(50)
        assert.equal(await own.cli('HGET', 'late-flush:stats', 'hits'), '1')
      },
      (store) => store.count({ hits: 1 }),
    )
  })

  it('closing a store right after construction leaves no connection open, its own or its retries', async function () {
    this.timeout(10_000)
    const own = await startRedis()
    const connections = async (): Promise<number> => (await own.cli('CLIENT', 'LIST')).split('\n').filter(Boolean).length
    try {
      const before = await connections()
      // The clock never moves: close() must not need its grace to end a connect it interrupted.
      for (let i = 0; i < 5; i++) await new RedisStore({ url: own.url, namespace: 'closed-early', clock: new ManualClock() }).close()
      await sleep(200)
      assert.equal((await connections()) - before, 0, 'connections left open by stores closed while connecting')
    } finally {
      await own.stop()
    }
  })

  it('sees a socket attempt end at its connect or error, not at an earlier error repeated by failed commands', async () => {
    const client = new EventEmitter()
    const attempts = new ConnectAttempts(client)
    assert.equal(attempts.opening, true, 'connect() opens the first socket')
    client.emit('connect')
    assert.equal(attempts.opening, false)
    // The connection drops: node-redis reports it, starts another attempt, then fails the pending PING
    // of `pingInterval` with the same error.
    const dropped = new Error('socket closed unexpectedly')
    client.emit('error', dropped)
    client.emit('reconnecting')
    client.emit('error', dropped)
    assert.equal(attempts.opening, true, 'the repeated error ended the new attempt')
    let settled = false
    void attempts.settled().then(() => (settled = true))
    client.emit('error', new Error('connect ECONNREFUSED'))
    await Promise.resolve()
    assert.deepEqual([attempts.opening, settled], [false, true])
  })

  it('close waits for a command in flight and no longer once it is answered', async function () {
    this.timeout(10_000)
    const own = await startRedis()
    // The clock never moves: only the command's answer can end close()'s wait.
    const store = new RedisStore({ url: own.url, namespace: 'draining', clock: new ManualClock() })
    try {
      const { pending, closing, state } = await closeWithCommandInFlight(store, own)
      await sleep(50)
      assert.equal(state.closed, false, 'closed with a command in flight')
      own.resume()
      assert.deepEqual(await pending, [undefined])
      await closing
      await assert.rejects(store.get(['a1']), StoreError)
    } finally {
      own.resume()
      await own.stop()
    }
  })
})
