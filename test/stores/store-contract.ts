/**
 * The behaviour every CacheStore shares. Each store file runs this suite before its own tests.
 * `makeStore` must give an empty store with the default expiry settings (`ttl: true`, `ttlOffset: 0`).
 */
import assert from 'node:assert/strict'
import { encodeRecord } from '../../lib/codec.js'
import { StoreError } from '../../lib/errors.js'
import type { CacheStore, StoreStats } from '../../lib/stores/types.js'

export interface StoreFixture {
  readonly store: CacheStore
  readonly cleanup: () => Promise<void>
}

const SHORT_TTL_MS = 150
const EXPIRY_WAIT_LIMIT_MS = 3000

export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`${name}: CacheStore contract`, () => {
    let fixture: StoreFixture
    let store: CacheStore

    beforeEach(async () => {
      fixture = await makeStore()
      store = fixture.store
    })

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
      await store.set([{ id: 'd1', value: text('old'), ttlMs: SHORT_TTL_MS }])
      await store.set([{ id: 'd1', value: text('new'), ttlMs: undefined }])
      await sleep(SHORT_TTL_MS * 2)
      assert.deepEqual((await store.get(['d1'])).map(decode), ['new'])
    })

    it('expires a value after its ttlMs', async () => {
      await store.set([
        { id: 'e1', value: text('short'), ttlMs: SHORT_TTL_MS },
        { id: 'e2', value: text('long'), ttlMs: 60_000 },
      ])
      assert.deepEqual((await store.get(['e1'])).map(decode), ['short'])
      const started = Date.now()
      while ((await store.get(['e1']))[0] !== undefined) {
        assert.ok(Date.now() - started < EXPIRY_WAIT_LIMIT_MS, 'value outlived its ttlMs')
        await sleep(25)
      }
      assert.ok(Date.now() - started >= SHORT_TTL_MS - 50, 'value expired too early')
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
      await store.set([{ id: 'ae', value: text('kept'), ttlMs: SHORT_TTL_MS }])
      await store.set([
        { id: 'ae', value: undefined, ttlMs: 60_000 },
        { id: 'af', value: undefined, ttlMs: 60_000 },
      ])
      await sleep(SHORT_TTL_MS * 2)
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

    it('refuses calls with StoreError after close, and closes twice without error', async () => {
      await store.close()
      await store.close()
      await assert.rejects(store.get(['ad']), StoreError)
      await assert.rejects(store.set([{ id: 'ad', value: text('late'), ttlMs: undefined }]), StoreError)
      await assert.rejects(store.remove(['ad']), StoreError)
    })
  })
}

/** An encoded response record, as the cache stores one at `url`. */
export function storedResponse(url: string): Uint8Array {
  const now = Date.now()
  return encodeRecord({
    kind: 'entry', key: url, url, method: 'GET', status: 200, statusText: 'OK', headers: {},
    vary: undefined, requestTime: now, responseTime: now, initialAge: 0, lifetime: 60, body: text('body'),
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
