import assert from 'node:assert/strict'
import { CacheError, InvalidOptionError } from '../../lib/errors.js'
import { GuardedStore } from '../../lib/stores/guarded-store.js'
import { MemoryStore, type MemoryStoreOptions } from '../../lib/stores/memory-store.js'
import { ValueTooLargeError } from '../../lib/errors.js'
import { ManualClock } from '../helpers/clock.js'
import { collect, decode, storeContract, storedResponse, text } from './store-contract.js'
import { INDEX_VIEW } from '../../lib/stores/memory-index.js'

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

describe('MemoryStore indexes', () => {
  const url = (n: number | string): string => `https://example.com/${n}`
  const index = (n: number | string, tags: readonly string[] = [], storedAt = 1): { url: string; tags: readonly string[]; storedAt: number } => ({ url: url(n), tags, storedAt })
  /** Ids, URLs and tags indexed (the age list's slots are MemoryIndex's to bound, tested there). */
  const held = (store: MemoryStore): { records: number; urls: number; tags: number } => {
    const { records, urls, tags } = store[INDEX_VIEW].sizes
    return { records, urls, tags }
  }

  it('indexes a write with index, and a later write to the id replaces its record', async () => {
    const store = new MemoryStore()
    await store.set([{ id: 'e1', value: text('one'), ttlMs: 60_000, index: index(1, ['t1', 't2'], 5) }])
    assert.deepEqual(store[INDEX_VIEW].fields('e1'), index(1, ['t1', 't2'], 5))
    await store.set([{ id: 'e1', value: text('two'), ttlMs: 60_000, index: index(2, ['t3'], 9) }])
    assert.deepEqual(store[INDEX_VIEW].fields('e1'), index(2, ['t3'], 9))
    assert.deepEqual(held(store), { records: 1, urls: 1, tags: 1 }, 'the old URL and tags went')
    // A write that only resets the expiry (a body refreshed by a 304) leaves the record alone.
    await store.set([{ id: 'e1', value: undefined, ttlMs: 120_000 }])
    assert.deepEqual(store[INDEX_VIEW].fields('e1'), index(2, ['t3'], 9))
  })

  it('drops the record when a write without index (a vary pointer) or an expired one replaces the entry', async () => {
    const store = new MemoryStore({ ttlOffset: 0 })
    await store.set([
      { id: 'e2', value: text('entry'), ttlMs: 60_000, index: index(2, ['t']) },
      { id: 'e3', value: text('entry'), ttlMs: 60_000, index: index(3, ['t']) },
    ])
    await store.set([{ id: 'e2', value: text('pointer'), ttlMs: 60_000 }])
    await store.set([{ id: 'e3', value: text('already stale'), ttlMs: -1, index: index(3, ['t']) }])
    assert.equal(store[INDEX_VIEW].fields('e2'), undefined)
    assert.equal(store[INDEX_VIEW].fields('e3'), undefined)
    assert.deepEqual(held(store), { records: 0, urls: 0, tags: 0 })
  })

  it('records nothing for a set refused as too large', async () => {
    const store = new MemoryStore({ maxSize: 1000, maxEntrySize: 100 })
    await assert.rejects(store.set([{ id: 'e4', value: new Uint8Array(101), ttlMs: undefined, index: index(4) }]), ValueTooLargeError)
    assert.equal(store[INDEX_VIEW].fields('e4'), undefined)
  })

  it('drops records with remove(), clear() and close()', async () => {
    const store = new MemoryStore()
    const writes = [5, 6, 7].map((n) => ({ id: `e${n}`, value: text('entry'), ttlMs: undefined, index: index(n, ['t']) }))
    await store.set(writes)
    await store.remove(['e5'])
    assert.deepEqual([5, 6, 7].map((n) => store[INDEX_VIEW].fields(`e${n}`) !== undefined), [false, true, true])
    await store.clear()
    assert.deepEqual(store[INDEX_VIEW].sizes, { records: 0, urls: 0, tags: 0, ageSlots: 0 })
    await store.set(writes)
    await store.close()
    assert.deepEqual(store[INDEX_VIEW].sizes, { records: 0, urls: 0, tags: 0, ageSlots: 0 })
  })

  it('drops the record of an evicted value', async () => {
    const store = new MemoryStore({ maxSize: 1000, maxEntrySize: 400 })
    for (const n of [1, 2, 3, 4]) await store.set([{ id: `v${n}`, value: new Uint8Array(300), ttlMs: undefined, index: index(n, [`t${n}`]) }])
    assert.deepEqual(await collect(store.ids()), ['v4', 'v3', 'v2'])
    assert.equal(store[INDEX_VIEW].fields('v1'), undefined)
    assert.deepEqual(held(store), { records: 3, urls: 3, tags: 3 })
  })

  it('drops the record of an expired value once lru-cache notices it, or a delete finds it dangling', async () => {
    const clock = new ManualClock()
    const store = new MemoryStore({ ttlOffset: 0, clock })
    const now = clock.now()
    for (const n of [1, 2, 3]) {
      await store.set([{ id: `x${n}`, value: storedResponse(url(`x${n}`), { now }), ttlMs: 1000, index: index(`x${n}`, ['gone'], now) }])
    }
    clock.advance(1001)
    // Expired but not yet noticed: lru-cache still holds the bytes, and the record with them.
    assert.equal(store[INDEX_VIEW].sizes.records, 3)
    assert.deepEqual(await store.get(['x1']), [undefined])
    assert.equal(store[INDEX_VIEW].fields('x1'), undefined)
    assert.equal(await store.deleteTags(['gone']), 0)
    assert.deepEqual(held(store), { records: 0, urls: 0, tags: 0 })
    await store.set([{ id: 'x4', value: text('entry'), ttlMs: 1000, index: index('x4') }])
    clock.advance(1001)
    await store.stats()
    assert.equal(store[INDEX_VIEW].fields('x4'), undefined, 'stats() purges what expired')
  })

  it('holds no more records than the LRU holds values while evicting, removing and rewriting', async () => {
    const store = new MemoryStore({ maxSize: 10_000, maxEntrySize: 1000 })
    for (let n = 0; n < 3000; n++) {
      // Tags distinct per write, storedAt out of order, and now and then a rewrite or a pointer over an entry.
      const id = n % 7 === 0 ? `w${n - 7}` : `w${n}`
      const write = n % 11 === 0 ? { id, value: new Uint8Array(40), ttlMs: undefined } : { id, value: new Uint8Array(400), ttlMs: undefined, index: index(n, [`t${n}`, 'shared'], n % 113) }
      await store.set([write])
      if (n % 13 === 0) await store.remove([`w${n - 1}`])
      if (n % 100 !== 99) continue
      const ids = new Set(await collect(store.ids()))
      const values = ids.size
      for (let k = 0; k <= n; k++) if (!ids.has(`w${k}`)) assert.equal(store[INDEX_VIEW].fields(`w${k}`), undefined, `w${k} is gone but indexed`)
      const { records, urls, tags, ageSlots } = store[INDEX_VIEW].sizes
      // Of 3000 writes, only what fits in maxSize is held (at most 10_000 bytes of 40-byte pointers).
      assert.ok(values <= 250, `${values} values held`)
      assert.ok(records <= values, `${records} records for ${values} values`)
      assert.ok(urls <= records && tags <= records + 1, `${urls} URLs and ${tags} tags for ${records} records`)
      assert.ok(ageSlots <= 2 * records + 65, `${ageSlots} age slots for ${records} records`)
    }
    assert.ok(store[INDEX_VIEW].sizes.records > 0)
  })
})

