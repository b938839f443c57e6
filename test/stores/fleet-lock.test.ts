/**
 * Fleet locks (issue 16): RedisStore's claim / peek / release against a real redis-server, the lock
 * key's place in the layout (never an entry, same cluster slot as its entry), and GuardedStore's
 * fail-open answer (`unknown`) for a store without locks, one that fails, and one that never answers.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { RedisStore, type CacheStore } from '../../lib/index.js'
import { GuardedStore } from '../../lib/stores/guarded-store.js'
import { clusterSlot, idFromKey, lockKey, redisKey } from '../../lib/stores/redis-layout.js'
import { MemoryStore } from '../../lib/stores/memory-store.js'
import { redisConnection, releaseRedis, useRedis } from '../helpers/stores.js'
import { collect } from './store-contract.js'

const ID = 'ab12'.repeat(8)

describe('fleet lock key layout', () => {
  for (const id of [ID, `${ID}.cd34`, `${ID}~7f`]) {
    it(`the lock of ${id} shares its entry's slot and is no entry id`, () => {
      for (const purpose of ['miss', 'revalidate']) {
        const key = lockKey('ns', id, purpose)
        assert.equal(idFromKey('ns', key), undefined, key)
        assert.equal(clusterSlot(key), clusterSlot(redisKey('ns', id)))
      }
    })
  }
})

describe('fleet locks (redis store)', () => {
  let store: RedisStore
  before(async () => {
    await useRedis()
    store = new RedisStore({ ...redisConnection(), namespace: `lock-${randomBytes(4).toString('hex')}` })
    await store.ready()
  })
  after(async () => {
    await store.close()
    await releaseRedis()
  })

  it('claim takes a free lock once; peek and a second claim see it held', async () => {
    assert.equal(await store.peek(ID, 'miss'), 'free')
    assert.equal(await store.claim(ID, 'miss', 'aa', 5000), 'claimed')
    assert.equal(await store.claim(ID, 'miss', 'bb', 5000), 'held')
    assert.equal(await store.peek(ID, 'miss'), 'held')
    // Each purpose is its own lock.
    assert.equal(await store.peek(ID, 'revalidate'), 'free')
    await store.release(ID, 'miss', 'aa', 'stored', 5000)
    assert.equal(await store.peek(ID, 'miss'), 'free')
  })

  it('release by another token touches nothing; not-stored leaves a marker that blocks claims until it expires', async () => {
    const id = 'ef56'.repeat(8)
    assert.equal(await store.claim(id, 'miss', 'aa', 5000), 'claimed')
    await store.release(id, 'miss', 'bb', 'stored', 5000)
    assert.equal(await store.peek(id, 'miss'), 'held')
    // Redis times the marker for real: long enough for two round trips on a loaded machine.
    await store.release(id, 'miss', 'aa', 'not-stored', 600)
    assert.equal(await store.peek(id, 'miss'), 'not-stored')
    assert.equal(await store.claim(id, 'miss', 'cc', 5000), 'not-stored')
    await new Promise((resolve) => setTimeout(resolve, 700))
    assert.equal(await store.claim(id, 'miss', 'cc', 5000), 'claimed')
  })

  it('a release after the store closed is quiet and leaves the lock to its TTL', async () => {
    const other = new RedisStore({ ...redisConnection(), namespace: store.namespace })
    await other.ready()
    const id = '89ab'.repeat(8)
    assert.equal(await other.claim(id, 'miss', 'aa', 5000), 'claimed')
    await other.close()
    await other.release(id, 'miss', 'aa', 'stored', 5000)
    assert.equal(await store.peek(id, 'miss'), 'held')
  })

  it('a lock expires by its TTL (a holder that dies frees it)', async () => {
    const id = '0123'.repeat(8)
    assert.equal(await store.claim(id, 'miss', 'aa', 100), 'claimed')
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(await store.peek(id, 'miss'), 'free')
  })

  it('locks never show in ids(), keys() or entries()', async () => {
    const id = '4567'.repeat(8)
    assert.equal(await store.claim(id, 'miss', 'aa', 5000), 'claimed')
    assert.equal(await store.claim(id, 'revalidate', 'aa', 5000), 'claimed')
    assert.deepEqual(await collect(store.ids()), [])
    assert.deepEqual(await collect(store.keys()), [])
    assert.deepEqual(await collect(store.entries()), [])
    // clear() removes them with the rest of the namespace.
    await store.clear()
    assert.equal(await store.peek(id, 'miss'), 'free')
  })
})

describe('fleet locks through GuardedStore (fail-open)', () => {
  const guard = (store: CacheStore, commandTimeout = 50): GuardedStore => new GuardedStore(store, { commandTimeout, report: () => {} })

  it('a store without locks (MemoryStore) answers unknown: go on alone', async () => {
    const guarded = guard(new MemoryStore())
    assert.equal(guarded.locks, false)
    assert.equal(await guarded.claim(ID, 'miss', 'aa', 1000), 'unknown')
    assert.equal(await guarded.peek(ID, 'miss'), 'unknown')
    assert.equal(await guarded.release(ID, 'miss', 'aa', 'stored', 1000), false)
  })

  it('a failing or silent store answers unknown within commandTimeout, never throws', async () => {
    const memory = new MemoryStore()
    const failing = Object.assign(Object.create(memory) as CacheStore, {
      claim: () => Promise.reject(new Error('boom')),
      peek: () => Promise.reject(new Error('boom')),
      release: () => Promise.reject(new Error('boom')),
    })
    const silent = Object.assign(Object.create(memory) as CacheStore, {
      claim: () => new Promise(() => {}),
      peek: () => new Promise(() => {}),
      release: () => new Promise(() => {}),
    })
    for (const store of [failing, silent]) {
      const guarded = guard(store)
      assert.equal(guarded.locks, true)
      const started = Date.now()
      assert.equal(await guarded.claim(ID, 'miss', 'aa', 1000), 'unknown')
      assert.equal(await guarded.peek(ID, 'miss'), 'unknown')
      assert.equal(await guarded.release(ID, 'miss', 'aa', 'stored', 1000), false)
      assert.ok(Date.now() - started < 1000)
    }
  })
})
