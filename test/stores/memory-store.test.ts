import assert from 'node:assert/strict'
import { CacheError, InvalidOptionError } from '../../lib/errors.js'
import { GuardedStore } from '../../lib/stores/guarded-store.js'
import { MemoryStore, type MemoryStoreOptions } from '../../lib/stores/memory-store.js'
import { ValueTooLargeError } from '../../lib/errors.js'
import { ManualClock } from '../helpers/clock.js'
import { collect, decode, storeContract, text } from './store-contract.js'

// The contract checks expiry at ttlMs exactly; the default ttlOffset (an hour) is tested below.
storeContract('MemoryStore', async () => {
  const clock = new ManualClock()
  const store = new MemoryStore({ ttlOffset: 0, clock })
  return { store, clock, expiry: 'clock', cleanup: () => store.close() }
})

describe('MemoryStore', () => {
  it('evicts the least recently used values once maxSize bytes are held', async () => {
    const store = new MemoryStore({ maxSize: 1000, maxEntrySize: 400 })
    const value = (fill: number): Uint8Array => new Uint8Array(300).fill(fill)
    await store.set([{ id: 'a1', value: value(1), ttlMs: undefined }])
    await store.set([{ id: 'a2', value: value(2), ttlMs: undefined }])
    await store.set([{ id: 'a3', value: value(3), ttlMs: undefined }])
    await store.get(['a1'])
    await store.set([{ id: 'a4', value: value(4), ttlMs: undefined }])
    assert.deepEqual((await collect(store.ids())).sort(), ['a1', 'a3', 'a4'])
    const stats = await store.stats()
    assert.equal(stats.bytes, 900)
    // Raw bytes, not responses: held, but nothing entries() would list.
    assert.equal(stats.entries, 0)
  })

  it('stores nothing from a set that holds a value over maxEntrySize, and rejects it with ValueTooLargeError', async () => {
    const store = new MemoryStore({ maxSize: 1000, maxEntrySize: 100 })
    await store.set([{ id: 'b1', value: text('old'), ttlMs: undefined }])
    await assert.rejects(
      store.set([
        { id: 'b1', value: text('small'), ttlMs: undefined },
        { id: 'b1.c1', value: new Uint8Array(101), ttlMs: undefined },
      ]),
      (error: unknown) =>
        error instanceof ValueTooLargeError && error.code === 'URC_ERR_VALUE_TOO_LARGE' && error.id === 'b1.c1' && error.size === 101 && error.limit === 100 && error.option === 'maxEntrySize',
    )
    assert.deepEqual((await store.get(['b1', 'b1.c1'])).map(decode), ['old', undefined])
    await store.set([{ id: 'b2', value: new Uint8Array(100), ttlMs: undefined }])
    assert.equal((await store.get(['b2']))[0]?.byteLength, 100)
    assert.equal((await store.stats()).writes, 2, 'the refused set wrote nothing')
  })

  it('stores nothing from a set whose values add up to more than maxSize', async () => {
    const store = new MemoryStore({ maxSize: 1000, maxEntrySize: 400 })
    const writes = [1, 2, 3].map((n) => ({ id: `b${n}`, value: new Uint8Array(400), ttlMs: undefined }))
    await assert.rejects(store.set(writes), (error: unknown) => error instanceof ValueTooLargeError && error.option === 'maxSize' && error.size === 1200)
    assert.deepEqual(await collect(store.ids()), [])
  })

  it('has an over-limit write reported through the guard, whose breaker stays closed', async () => {
    const store = new MemoryStore({ maxSize: 1000, maxEntrySize: 100 })
    const reports: CacheError[] = []
    const guarded = new GuardedStore(store, { commandTimeout: 1000, failureThreshold: 1, report: (error) => reports.push(error), clock: new ManualClock() })
    assert.equal(await guarded.set([{ id: 'b1', value: new Uint8Array(101), ttlMs: undefined }]), false)
    assert.deepEqual(reports.map((error) => error.constructor), [ValueTooLargeError])
    // One large response says nothing of the store's health: with failureThreshold 1 a store failure
    // would have opened the breaker.
    assert.equal(guarded.state, 'closed')
    assert.equal(await guarded.set([{ id: 'b1', value: text('fits'), ttlMs: undefined }]), true)
  })

  it('keeps values past their ttlMs with ttl: false', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ ttl: false, clock })
    await store.set([
      { id: 'c1', value: text('kept'), ttlMs: 50 },
      { id: 'c2', value: text('kept too'), ttlMs: 0 },
    ])
    clock.advance(3_600_000)
    assert.deepEqual((await store.get(['c1', 'c2'])).map(decode), ['kept', 'kept too'])
  })

  it('keeps values ttlOffset seconds past their ttlMs', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ ttlOffset: 0.3, clock })
    await store.set([
      { id: 'd1', value: text('offset'), ttlMs: 50 },
      { id: 'd2', value: text('offset saves it'), ttlMs: -50 },
    ])
    clock.advance(249)
    assert.deepEqual((await store.get(['d1', 'd2'])).map(decode), ['offset', 'offset saves it'])
    clock.advance(50)
    assert.deepEqual((await store.get(['d1', 'd2'])).map(decode), ['offset', undefined], 'd2 kept 300 ms past a ttlMs of -50')
    clock.advance(100)
    assert.deepEqual(await store.get(['d1', 'd2']), [undefined, undefined])
  })

  it('rejects a clock that is not a Clock with InvalidOptionError naming `clock`', () => {
    assert.throws(
      () => new MemoryStore({ clock: Date.now } as unknown as MemoryStoreOptions),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'clock',
    )
  })

  it('defaults maxEntrySize to the smaller of 16 MiB and maxSize / 4', () => {
    assert.equal(new MemoryStore().maxSize, 256 * 1024 * 1024)
    assert.equal(new MemoryStore().maxEntrySize, 16 * 1024 * 1024)
    assert.equal(new MemoryStore({ maxSize: 1000 }).maxEntrySize, 250)
  })

  const invalid: [string, MemoryStoreOptions | Record<string, unknown>, string][] = [
    ['maxSize 0', { maxSize: 0 }, 'maxSize'],
    ['maxSize fractional', { maxSize: 10.5 }, 'maxSize'],
    ['maxSize string', { maxSize: '1mb' }, 'maxSize'],
    ['maxEntrySize over maxSize', { maxSize: 100, maxEntrySize: 101 }, 'maxEntrySize'],
    ['maxEntrySize negative', { maxEntrySize: -1 }, 'maxEntrySize'],
    ['ttl not a boolean', { ttl: 'yes' }, 'ttl'],
    ['ttlOffset negative', { ttlOffset: -1 }, 'ttlOffset'],
    ['ttlOffset infinite', { ttlOffset: Infinity }, 'ttlOffset'],
    ['unknown option', { max: 10 }, 'max'],
  ]
  for (const [name, options, option] of invalid) {
    it(`rejects ${name} with InvalidOptionError naming \`${option}\``, () => {
      assert.throws(
        () => new MemoryStore(options as MemoryStoreOptions),
        (error: unknown) => error instanceof InvalidOptionError && error.option === option,
      )
    })
  }
})
