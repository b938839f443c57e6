/**
 * The targeted deletes every CacheStore shares (delete, deletePrefix, deleteTags, deleteOlderThan):
 * they find entries through the indexes written with StoreWrite.index, never by walking the store.
 * storeContract (store-contract.ts) runs this suite for each store.
 */
import assert from 'node:assert/strict'
import { crc32 } from 'node:zlib'
import { encodeRecord } from '../../lib/codec/frame.js'
import type { StoredEntry } from '../../lib/entry.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { STORED_TAGS_FIELD } from '../../lib/policy/tags.js'
import type { CacheStore, StoreWrite } from '../../lib/stores/types.js'
import type { StoreFixture } from './store-contract.js'
import { collect, text } from './store-contract.js'

interface Indexed {
  readonly url: string
  readonly tags?: readonly string[]
  /** Seconds before the clock's now the response was received. @default 0 */
  readonly age?: number
  readonly method?: string
  /** The canonical key: a different one for the same URL is another partition. @default the URL */
  readonly key?: string
  /** The id of its body stored apart, if it has one. */
  readonly bodyId?: string
}

export function deleteContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`${name}: indexed deletes`, () => {
    let fixture: StoreFixture
    let store: CacheStore

    beforeEach(async () => {
      fixture = await makeStore()
      store = fixture.store
    })

    afterEach(async () => {
      await fixture.cleanup()
    })

    /** The writes of a response stored at `id` and indexed as `entry` says, body first when stored apart. */
    function writes(id: string, entry: Indexed): StoreWrite[] {
      const now = fixture.clock.now()
      const storedAt = now - (entry.age ?? 0) * 1000
      const body = text('body')
      const record: StoredEntry = {
        kind: 'entry', key: entry.key ?? entry.url, url: entry.url, method: entry.method ?? 'GET', status: 200, statusText: 'OK',
        headers: entry.tags === undefined ? {} : { [STORED_TAGS_FIELD]: entry.tags.join(' ') }, vary: undefined, requestTime: storedAt, responseTime: storedAt, initialAge: 0, lifetime: 600,
        body: entry.bodyId === undefined ? body : { id: entry.bodyId, size: body.length, chunkSize: 256 * 1024, crcs: [crc32(body)] },
      }
      const own: StoreWrite = { id, value: encodeRecord(record), ttlMs: 600_000, index: { url: entry.url, tags: entry.tags ?? [], storedAt } }
      return entry.bodyId === undefined ? [own] : [{ id: entry.bodyId, value: body, ttlMs: 600_000 }, own]
    }

    async function put(entries: Record<string, Indexed>): Promise<void> {
      for (const [id, entry] of Object.entries(entries)) await store.set(writes(id, entry))
    }

    async function held(): Promise<string[]> {
      return (await collect(store.ids())).sort()
    }

    it('delete(url) removes that URL in every method and partition, or in one method when asked', async () => {
      await put({
        c1: { url: 'https://example.com/a' },
        c2: { url: 'https://example.com/a', key: '["partition","user 2"]' },
        c3: { url: 'https://example.com/a', method: 'POST', key: '["post"]' },
        c4: { url: 'https://example.com/b' },
      })
      assert.equal(await store.delete('https://example.com/a', { method: 'POST' }), 1)
      assert.deepEqual(await held(), ['c1', 'c2', 'c4'])
      // Normalized as the cache keys URLs: scheme and host case, default port.
      assert.equal(await store.delete('HTTPS://Example.COM:443/a'), 2)
      assert.deepEqual(await held(), ['c4'])
      assert.equal(await store.delete('https://example.com/a'), 0)
      await assert.rejects(store.delete('/relative'), (error: unknown) => error instanceof InvalidOptionError && error.option === 'url')
    })

    it('delete(url) removes every variant with its vary pointer and its body stored apart', async () => {
      const url = 'https://example.com/varies'
      const pointer = encodeRecord({ kind: 'vary', key: url, names: ['accept-language'], generation: '00112233aabbccdd', variants: ['d0.aa', 'd0.bb'], deleteAt: null })
      await store.set([{ id: 'd0', value: pointer, ttlMs: 600_000 }])
      await put({ 'd0.aa': { url, bodyId: 'd0.aa~01' }, 'd0.bb': { url }, d1: { url: 'https://example.com/other' } })
      assert.deepEqual(await held(), ['d0', 'd0.aa', 'd0.aa~01', 'd0.bb', 'd1'])
      assert.equal(await store.delete(url), 2)
      assert.deepEqual(await held(), ['d1'])
    })

    it('deleteTags() removes every entry filed under any of the tags, bodies included, and counts each once', async () => {
      await put({
        e1: { url: 'https://example.com/users/42', tags: ['user:42', 'team:7'], bodyId: 'e1~0a' },
        e2: { url: 'https://example.com/teams/7', tags: ['team:7'] },
        e3: { url: 'https://example.com/users/43', tags: ['user:43'] },
      })
      assert.equal(await store.deleteTags(['user:42', 'team:7']), 2)
      assert.deepEqual(await held(), ['e3'])
      assert.equal(await store.deleteTags(['user:42']), 0)
      assert.equal(await store.deleteTags(['never-stored']), 0)
      assert.equal(await store.deleteTags([]), 0)
      await assert.rejects(store.deleteTags('user:43' as never), (error: unknown) => error instanceof InvalidOptionError && error.option === 'tags')
      assert.deepEqual(await held(), ['e3'])
    })

    it('deletePrefix() removes every URL under the prefix, on that origin only', async () => {
      await put({
        f1: { url: 'https://api.example.com/users/1' },
        f2: { url: 'https://api.example.com/users/2?x=1' },
        f3: { url: 'https://api.example.com/users' },
        f4: { url: 'https://api.example.com/teams/1' },
        f5: { url: 'https://other.example.com/users/1' },
        f6: { url: 'http://api.example.com/users/1' },
      })
      assert.equal(await store.deletePrefix('https://API.example.com:443/users/'), 2)
      assert.deepEqual(await held(), ['f3', 'f4', 'f5', 'f6'])
      assert.equal(await store.deletePrefix(new URL('https://api.example.com')), 2)
      assert.deepEqual(await held(), ['f5', 'f6'])
      for (const bad of ['/users/', 'ftp://api.example.com/', 'not a url']) {
        await assert.rejects(store.deletePrefix(bad), (error: unknown) => error instanceof InvalidOptionError && error.option === 'prefix')
      }
    })

    it('deleteOlderThan() removes the entries received longer ago than that, by the store clock', async () => {
      await put({ a1: { url: 'https://example.com/1', age: 120 }, a2: { url: 'https://example.com/2', age: 30 }, a3: { url: 'https://example.com/3' } })
      assert.equal(await store.deleteOlderThan(60), 1)
      assert.deepEqual(await held(), ['a2', 'a3'])
      fixture.clock.advance(1000)
      assert.equal(await store.deleteOlderThan(0.5), 2)
      assert.deepEqual(await held(), [])
      for (const bad of [-1, Number.NaN, Infinity, '60']) {
        await assert.rejects(store.deleteOlderThan(bad as number), (error: unknown) => error instanceof InvalidOptionError && error.option === 'seconds')
      }
    })

    it('follows a rewrite: an id written again under another URL and tags goes with the new ones only', async () => {
      await put({ b1: { url: 'https://example.com/old', tags: ['old'], age: 7200 } })
      await put({ b1: { url: 'https://example.com/new', tags: ['new'], age: 7200 } })
      assert.equal(await store.delete('https://example.com/old'), 0)
      assert.equal(await store.deleteTags(['old']), 0)
      assert.deepEqual(await held(), ['b1'])
      // Passing it over for the old URL and tag kept it in the age index.
      assert.equal(await store.deleteOlderThan(3600), 1)
      assert.deepEqual(await held(), [])
      await put({ b2: { url: 'https://example.com/old', tags: ['old'] } })
      await put({ b2: { url: 'https://example.com/new', tags: ['new'] } })
      assert.equal(await store.deleteTags(['new']), 1)
      assert.deepEqual(await held(), [])
    })

    it('deletePrefix() keeps a query part as given, so it prefixes the stored query and nothing else', async () => {
      await put({
        c1: { url: 'https://example.com/p?a=1&b=2' },
        c2: { url: 'https://example.com/p?ab=1' },
        c3: { url: 'https://example.com/people' },
        c4: { url: 'https://example.com/p' },
      })
      assert.equal(await store.deletePrefix('https://example.com/p?a'), 2)
      assert.deepEqual(await held(), ['c3', 'c4'])
      assert.equal(await store.deletePrefix('https://example.com/p?'), 0, 'a ? left at the end still prefixes queries only')
      assert.deepEqual(await held(), ['c3', 'c4'])
    })

    it('finds entries removed by other means dangling, and deletes nothing for them', async () => {
      await put({ 91: { url: 'https://example.com/i', tags: ['t'], age: 100 }, 92: { url: 'https://example.com/i', tags: ['t'], key: '["other"]', age: 100 } })
      await store.remove(['91'])
      assert.equal(await store.deleteTags(['t']), 1)
      await put({ 93: { url: 'https://example.com/i', tags: ['t'], age: 100 } })
      await store.remove(['93'])
      assert.equal(await store.delete('https://example.com/i'), 0)
      assert.equal(await store.deleteOlderThan(10), 0)
      assert.equal(await store.deletePrefix('https://example.com/'), 0)
    })
  })
}
