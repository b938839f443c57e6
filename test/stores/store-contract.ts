/**
 * The behaviour every CacheStore shares, data calls and admin API alike. Each store file runs this
 * suite before its own tests. `makeStore` must give an empty store with the default expiry settings
 * (`ttl: true`, `ttlOffset: 0`), running on the fixture's ManualClock.
 */
import assert from 'node:assert/strict'
import { encodeRecord } from '../../lib/codec/frame.js'
import { InvalidOptionError, StoreError } from '../../lib/errors.js'
import type { CacheStore, StoreStats } from '../../lib/stores/types.js'
import type { ManualClock } from '../helpers/clock.js'
import { deleteContract } from './delete-contract.js'

export interface StoreFixture {
  readonly store: CacheStore
  readonly cleanup: () => Promise<void>
  /** The store's clock (its `clock` option): the admin API judges staleness by it. */
  readonly clock: ManualClock
  /**
   * What expires values: `clock` when expiry follows the store's clock (MemoryStore), `server` when a
   * server expires them on its own time (Redis PX), so the suite must wait for real.
   */
  readonly expiry: 'clock' | 'server'
}

/** A short TTL on a clock the suite moves: any length costs nothing. */
const CLOCK_TTL_MS = 1000
/**
 * A short TTL on the Redis server's clock: long enough for the round trips between a set and the
 * next call to land well inside it, on a loaded 2-core machine too (at 50 ms one run in a loaded
 * suite saw a value expire between two writes), short enough to wait out twice per test.
 */
const SERVER_TTL_MS = 250

export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`${name}: CacheStore contract`, () => {
    let fixture: StoreFixture
    let store: CacheStore
    let shortTtl: number

    beforeEach(async () => {
      fixture = await makeStore()
      store = fixture.store
      shortTtl = fixture.expiry === 'clock' ? CLOCK_TTL_MS : SERVER_TTL_MS
    })

    /** Lets `ms` pass for the store's expiry: on its clock, or for real on the server's. */
    async function elapse(ms: number): Promise<void> {
      if (fixture.expiry === 'clock') fixture.clock.advance(ms)
      else await sleep(ms)
    }

    afterEach(async () => {
      await fixture.cleanup()
    })

    it('gives undefined for a missing id', async () => {
      assert.deepEqual(await store.get(['a0']), [undefined])
    })

    it('gives an empty array for no ids and accepts empty writes and removals', async () => {
      assert.deepEqual(await store.get([]), [])
      await store.set([])
      await store.remove([])
    })

    it('round-trips every byte value', async () => {
      const value = Uint8Array.from({ length: 256 }, (_, index) => index)
      await store.set([{ id: 'a1', value, ttlMs: undefined }])
      const [stored] = await store.get(['a1'])
      assert.ok(stored instanceof Uint8Array)
      assert.deepEqual(bytes(stored), bytes(value))
    })

    it('round-trips a 3 MiB value', async () => {
      const value = patterned(3 * 1024 * 1024)
      await store.set([{ id: 'a2', value, ttlMs: 60_000 }])
      const [stored] = await store.get(['a2'])
      assert.ok(stored !== undefined)
      assert.equal(stored.byteLength, value.byteLength)
      assert.ok(Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(Buffer.from(value)))
    })

    it('gets several ids in order, with undefined for the holes', async () => {
      await store.set([
        { id: 'b1', value: text('first'), ttlMs: undefined },
        { id: 'b1.c3', value: text('third'), ttlMs: undefined },
      ])
      const values = await store.get(['b1', 'b1.c2', 'b1.c3', 'b1.c4'])
      assert.deepEqual(values.map(decode), ['first', undefined, 'third', undefined])
    })

    it('makes every write of one set visible', async () => {
      await store.set([
        { id: 'c1', value: text('pointer'), ttlMs: 60_000 },
        { id: 'c1.d1', value: text('variant'), ttlMs: 60_000 },
      ])
      assert.deepEqual((await store.get(['c1', 'c1.d1'])).map(decode), ['pointer', 'variant'])
    })

    it('replaces a value on overwrite and drops its old TTL', async () => {
      await store.set([{ id: 'd1', value: text('old'), ttlMs: shortTtl }])
      await store.set([{ id: 'd1', value: text('new'), ttlMs: undefined }])
      await elapse(shortTtl * 2)
      assert.deepEqual((await store.get(['d1'])).map(decode), ['new'])
    })

    it('expires a value after its ttlMs, not before', async () => {
      await store.set([
        { id: 'e1', value: text('short'), ttlMs: shortTtl },
        { id: 'e2', value: text('long'), ttlMs: 60_000 },
      ])
      assert.deepEqual((await store.get(['e1'])).map(decode), ['short'])
      if (fixture.expiry === 'clock') {
        // On a clock the suite moves, the boundary is exact.
        await elapse(shortTtl - 1)
        assert.deepEqual((await store.get(['e1'])).map(decode), ['short'], 'value expired before its ttlMs')
        await elapse(2)
      } else {
        await elapse(shortTtl * 2)
      }
      assert.deepEqual(await store.get(['e1']), [undefined], 'value outlived its ttlMs')
      assert.deepEqual((await store.get(['e2'])).map(decode), ['long'])
    })

    for (const ttlMs of [0, -1, -60_000]) {
      it(`does not store a value whose ttlMs is ${ttlMs}`, async () => {
        await store.set([{ id: 'f1', value: text('expired'), ttlMs }])
        assert.deepEqual(await store.get(['f1']), [undefined])
      })
    }

    it('deletes the old value when an already expired one replaces it', async () => {
      await store.set([{ id: 'f2', value: text('older response'), ttlMs: 60_000 }])
      await store.set([{ id: 'f2', value: text('newer, already stale'), ttlMs: 0 }])
      assert.deepEqual(await store.get(['f2']), [undefined])
    })

    it('removes ids and ignores unknown ones', async () => {
      await store.set([
        { id: 'a3', value: text('gone'), ttlMs: undefined },
        { id: 'a4', value: text('kept'), ttlMs: undefined },
      ])
      await store.remove(['a3', 'ffff', 'a3.b5'])
      assert.deepEqual((await store.get(['a3', 'a4'])).map(decode), [undefined, 'kept'])
    })

    it('lists exactly the ids written, through ids() and scan()', async () => {
      const written = { a5: 'one', 'a5.b6': 'two', '0123456789abcdef': 'three' }
      await store.set(Object.entries(written).map(([id, value]) => ({ id, value: text(value), ttlMs: 60_000 })))
      assert.deepEqual((await collect(store.ids())).sort(), Object.keys(written).sort())
      const scanned = (await collect(store.scan())).map((entry) => [entry.id, entry.size, decode(entry.value)])
      assert.deepEqual(
        scanned.sort(),
        Object.entries(written)
          .map(([id, value]) => [id, value.length, value])
          .sort(),
      )
    })

    it('empties the store on clear', async () => {
      await store.set([
        { id: 'a7', value: text('x'), ttlMs: undefined },
        { id: 'a7.b8', value: text('y'), ttlMs: 60_000 },
      ])
      await store.clear()
      assert.deepEqual(await collect(store.ids()), [])
      assert.deepEqual(await store.get(['a7', 'a7.b8']), [undefined, undefined])
    })

    it('counts writes, deletes, stored responses and bytes, and adds up the counters reported with count()', async () => {
      const response = storedResponse('https://example.com/counted')
      await store.set([
        { id: 'a8', value: text('12345'), ttlMs: undefined },
        { id: 'a9', value: response, ttlMs: 60_000 },
        { id: 'a9.b1', value: text('123'), ttlMs: 60_000 },
      ])
      // Only the expiry changes: not a write.
      await store.set([{ id: 'a9', value: undefined, ttlMs: 30_000 }])
      // Reads are not counted by the store: hits and misses are the cache's verdicts, sent with count().
      await store.get(['a8', 'aa'])
      await store.remove(['a8', 'ab'])
      store.count({ hits: 2, misses: 1 })
      store.count({ hits: 1, revalidations: 1, staleServed: 1, errors: 1 })
      const stats = await store.stats()
      // `entries` counts what entries() lists: the response, not the value that does not decode.
      assert.deepEqual(pick(stats), {
        hits: 3, misses: 1, revalidations: 1, staleServed: 1, errors: 1, writes: 3, deletes: 1, entries: 1, bytes: response.length + 3,
      })
    })

    it('ignores counts that are not whole numbers, and never throws from count()', async () => {
      const loose = store.count.bind(store) as (delta: unknown) => void
      for (const delta of [{ hits: 0.5 }, { misses: Number.NaN }, { errors: '3' }, { staleServed: Infinity }, null, 'hits', { unknown: 1 }]) {
        assert.doesNotThrow(() => loose(delta), JSON.stringify(delta))
      }
      store.count({ hits: 1, misses: 0.5 })
      const stats = await store.stats()
      assert.deepEqual([stats.hits, stats.misses, stats.revalidations, stats.staleServed, stats.errors], [1, 0, 0, 0, 0])
    })

    it('resets the counters on clear', async () => {
      await store.set([{ id: 'a1', value: text('x'), ttlMs: undefined }])
      await store.remove(['a1'])
      store.count({ hits: 4, errors: 2 })
      await store.clear()
      const stats = await store.stats()
      assert.deepEqual([stats.hits, stats.errors, stats.writes, stats.deletes], [0, 0, 0, 0])
    })

    it('reads a range of a value, shorter at its end, and undefined for a missing id', async () => {
      await store.set([{ id: 'a6', value: text('0123456789'), ttlMs: undefined }])
      assert.equal(decode(await store.getRange('a6', 2, 3)), '234')
      assert.equal(decode(await store.getRange('a6', 8, 5)), '89')
      assert.equal(await store.getRange('a6.b1', 0, 5), undefined)
    })

    it('resets only the expiry of a write without a value, and ignores it for a missing id', async () => {
      await store.set([{ id: 'ae', value: text('kept'), ttlMs: shortTtl }])
      await store.set([
        { id: 'ae', value: undefined, ttlMs: 60_000 },
        { id: 'af', value: undefined, ttlMs: 60_000 },
      ])
      await elapse(shortTtl * 2)
      assert.deepEqual((await store.get(['ae', 'af'])).map(decode), ['kept', undefined])
    })

    it('keeps its own copy of a written value', async () => {
      const value = text('original')
      const pending = store.set([{ id: 'ac', value, ttlMs: undefined }])
      value.fill(0x21)
      await pending
      value.fill(0x22)
      const [stored] = await store.get(['ac'])
      assert.equal(decode(stored), 'original')
    })

    it('lists stored responses through keys() and entries(), leaving out values that are no response', async () => {
      const now = fixture.clock.now()
      await store.set([
        { id: 'b2', value: storedResponse('https://example.com/one', { now, lifetime: 60 }), ttlMs: undefined },
        { id: 'b3', value: storedResponse('https://example.com/two?q=1', { now, lifetime: 120, status: 203 }), ttlMs: 60_000 },
        { id: 'b4', value: text('raw bytes'), ttlMs: undefined },
      ])
      assert.deepEqual((await collect(store.keys())).sort(), ['b2', 'b3'])
      const entries = (await collect(store.entries())).sort((a, b) => a.id.localeCompare(b.id))
      assert.deepEqual(
        entries.map((entry) => [entry.id, entry.url, entry.method, entry.status, entry.bodySize, entry.storedAt.getTime(), entry.expiresAt?.getTime(), entry.stale, entry.varies]),
        [
          ['b2', 'https://example.com/one', 'GET', 200, 4, now, now + 60_000, false, []],
          ['b3', 'https://example.com/two?q=1', 'GET', 203, 4, now, now + 120_000, false, []],
        ],
      )
    })

    it("judges staleness by the store's clock, and deleteExpired() removes stale entries and undecodable values", async () => {
      const now = fixture.clock.now()
      await store.set([
        { id: 'b5', value: storedResponse('https://example.com/fresh', { now, lifetime: 60 }), ttlMs: undefined },
        { id: 'b6', value: storedResponse('https://example.com/stale', { now, lifetime: 1 }), ttlMs: undefined },
        { id: 'b7', value: text('not a record'), ttlMs: undefined },
      ])
      assert.deepEqual((await collect(store.entries())).map((entry) => entry.stale), [false, false])
      fixture.clock.advance(1000)
      const stale = Object.fromEntries((await collect(store.entries())).map((entry) => [entry.id, entry.stale]))
      assert.deepEqual(stale, { b5: false, b6: true })
      assert.equal(await store.deleteExpired(), 2)
      assert.deepEqual(await collect(store.ids()), ['b5'])
    })

    it('deletes every entry of a URL and method with delete(url), and says how many went', async () => {
      const now = fixture.clock.now()
      const index = (url: string) => ({ url, tags: [], storedAt: now })
      await store.set([
        { id: 'b8', value: storedResponse('https://example.com/gone', { now }), ttlMs: undefined, index: index('https://example.com/gone') },
        { id: 'b9', value: storedResponse('https://example.com/kept', { now }), ttlMs: undefined, index: index('https://example.com/kept') },
      ])
      assert.equal(await store.delete('https://EXAMPLE.com:443/gone'), 1)
      assert.equal(await store.delete(new URL('https://example.com/gone')), 0)
      assert.equal(await store.delete('https://example.com/kept', { method: 'POST' }), 0)
      assert.deepEqual(await collect(store.ids()), ['b9'])
      // HEAD shares the GET entry (RFC 9110 §9.3.2).
      assert.equal(await store.delete('https://example.com/kept', { method: 'HEAD' }), 1)
      assert.deepEqual(await collect(store.ids()), [])
      await assert.rejects(store.delete('/relative'), (error: unknown) => error instanceof InvalidOptionError && error.option === 'url')
    })

    it('refuses calls with StoreError after close, and closes twice without error', async () => {
      await store.close()
      await store.close()
      await assert.rejects(store.get(['ad']), StoreError)
      await assert.rejects(store.set([{ id: 'ad', value: text('late'), ttlMs: undefined }]), StoreError)
      await assert.rejects(store.remove(['ad']), StoreError)
    })
  })

  deleteContract(name, makeStore)
}

/** An encoded response record with the body `body`, as the cache stores one at `url`, received at `now` and fresh for `lifetime` seconds. */
export function storedResponse(url: string, options: { now?: number; lifetime?: number; status?: number } = {}): Uint8Array {
  const { now = Date.now(), lifetime = 60, status = 200 } = options
  return encodeRecord({
    kind: 'entry', key: url, url, method: 'GET', status, statusText: 'OK', headers: {},
    vary: undefined, requestTime: now, responseTime: now, initialAge: 0, lifetime, body: text('body'),
  })
}

export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value)
}

export function decode(value: Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : new TextDecoder().decode(value)
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function bytes(value: Uint8Array): number[] {
  return [...value]
}

function patterned(length: number): Uint8Array {
  const value = new Uint8Array(length)
  for (let index = 0; index < length; index++) value[index] = (index * 31 + (index >> 8)) & 0xff
  return value
}

function pick(stats: StoreStats): StoreStats {
  const { hits, misses, revalidations, staleServed, errors, writes, deletes, entries, bytes } = stats
  return { hits, misses, revalidations, staleServed, errors, writes, deletes, entries, bytes }
}
