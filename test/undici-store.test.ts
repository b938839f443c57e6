/**
 * toUndiciCacheStore (issue 15): our stores behind undici's own CacheStore interface. The first
 * cases are those of undici's test/cache-interceptor/cache-store-test-utils.js, written again for the
 * adapter (a write is awaited to 'finish', since our commit is asynchronous); then what undici's
 * suite leaves out (Vary, deletes, abandoned writes, faithful fields), undici's interceptors.cache()
 * on a real origin, and fail-open against a stalled Redis.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { toUndiciCacheStore, type CacheError, type CacheStore, type UndiciStoreOptions } from '../lib/index.js'
import { ManualClock } from './helpers/clock.js'
import { startOrigin, type Origin } from './helpers/origin.js'
import { releaseRedis, storeKinds, useRedis } from './helpers/stores.js'
import { Agent, interceptors, request } from './helpers/undici.js'

type Adapter = ReturnType<typeof toUndiciCacheStore>
type Key = Parameters<Adapter['get']>[0]
type Value = Parameters<Adapter['createWriteStream']>[1]

const START = Date.UTC(2026, 0, 1)

function keyOf(path: string, headers: Record<string, string | string[]> = {}, method = 'GET'): Key {
  return { origin: 'http://localhost', path, method, headers }
}

function valueOf(overrides: Partial<Value> = {}, now = START): Value {
  return { statusCode: 200, statusMessage: '', headers: { foo: 'bar' }, cacheControlDirectives: {}, cachedAt: now, staleAt: now + 10_000, deleteAt: now + 20_000, ...overrides }
}

/** Writes `chunks`, ends the stream, and waits until the adapter committed them. */
async function writeBody(stream: Writable | undefined, chunks: readonly string[]): Promise<void> {
  assert.ok(stream, 'createWriteStream returned a stream')
  for (const chunk of chunks) stream.write(Buffer.from(chunk))
  stream.end()
  await once(stream, 'finish')
}

/** undici's compareGetResults: the body, and every field the value was written with. */
function assertResult(actual: Awaited<ReturnType<Adapter['get']>>, expected: Value, body: string): void {
  assert.ok(actual, 'a stored response')
  assert.ok(Buffer.isBuffer(actual.body))
  assert.equal(actual.body.toString(), body)
  for (const [name, value] of Object.entries(expected)) assert.deepStrictEqual(actual[name as keyof typeof actual], value, name)
}

for (const kind of storeKinds) {
  describe(`toUndiciCacheStore (${kind.name} store)`, () => {
    let clock: ManualClock
    let errors: CacheError[]

    before(async () => {
      if (kind.name === 'redis') await useRedis()
    })
    after(async () => {
      if (kind.name === 'redis') await releaseRedis()
    })
    beforeEach(() => {
      clock = new ManualClock(START)
      errors = []
    })

    async function adapt(options: UndiciStoreOptions = {}): Promise<{ adapter: Adapter; store: CacheStore }> {
      const store = await kind.make({ clock })
      const adapter = toUndiciCacheStore(store, { clock, commandTimeout: 2000, onError: (error) => errors.push(error), ...options })
      return { adapter, store }
    }

    describe("undici's cache-store-test-utils cases", () => {
      it('matches the interface', async () => {
        const { adapter } = await adapt()
        for (const method of ['get', 'createWriteStream', 'delete'] as const) assert.equal(typeof adapter[method], 'function')
      })

      it('caches a request and tells two resources apart', async () => {
        const { adapter } = await adapt()
        const key = keyOf('/')
        const value = valueOf()
        assert.equal(await adapter.get(key), undefined)
        await writeBody(adapter.createWriteStream(key, value), ['asd', '123'])
        assertResult(await adapter.get(structuredClone(key)), value, 'asd123')

        const another = keyOf('/asd')
        const anotherValue = valueOf({ headers: { foo: 'baz' } })
        assert.equal(await adapter.get(another), undefined)
        await writeBody(adapter.createWriteStream(another, anotherValue), ['qwe'])
        assertResult(await adapter.get(structuredClone(another)), anotherValue, 'qwe')
        assertResult(await adapter.get(key), value, 'asd123')
        assert.deepEqual(errors, [])
      })

      it('returns a stale response before deleteAt, and nothing after it', async () => {
        const { adapter } = await adapt()
        const key = keyOf('/')
        const value = valueOf({ staleAt: START + 1000, deleteAt: START + 5000 })
        await writeBody(adapter.createWriteStream(key, value), ['asd', '123'])
        clock.advance(1500)
        assertResult(await adapter.get(key), value, 'asd123')
        clock.advance(6000)
        assert.equal(await adapter.get(key), undefined)
      })

      it('overwrites a stale response', async () => {
        const { adapter } = await adapt()
        const key = keyOf('/')
        await writeBody(adapter.createWriteStream(key, valueOf({ staleAt: START + 1000, deleteAt: START + 5000 })), ['asd', '123'])
        clock.advance(1500)
        const value2 = valueOf({ headers: { foo: 'baz' }, cachedAt: clock.now(), staleAt: clock.now() + 1000, deleteAt: clock.now() + 5000 })
        await writeBody(adapter.createWriteStream(key, value2), ['foo', '123'])
        assertResult(await adapter.get(key), value2, 'foo123')
      })

      it('uses vary to decide which response to return', async () => {
        const { adapter } = await adapt()
        const key = keyOf('/', { 'some-header': 'hello world' })
        const value = valueOf({ vary: { 'some-header': 'hello world' } })
        await writeBody(adapter.createWriteStream(key, value), ['asd', '123'])
        assertResult(await adapter.get(structuredClone(key)), value, 'asd123')

        const another = keyOf('/', { 'some-header': 'hello world2' })
        const anotherValue = valueOf({ vary: { 'some-header': 'hello world2' } })
        assert.equal(await adapter.get(another), undefined)
        await writeBody(adapter.createWriteStream(another, anotherValue), ['qwe'])
        assertResult(await adapter.get(structuredClone(key)), value, 'asd123')
        assertResult(await adapter.get(structuredClone(another)), anotherValue, 'qwe')
      })
    })

    describe('beyond the shared cases', () => {
      it("shares a store with the cache's own entries: the admin calls neither list nor delete its values", async () => {
        const { adapter, store } = await adapt()
        const key = keyOf('/shared')
        const stream = adapter.createWriteStream(key, valueOf())
        stream?.end(Buffer.from('kept'))
        if (stream !== undefined) await once(stream, 'finish')
        const ids: string[] = []
        for await (const id of store.keys()) ids.push(id)
        assert.deepEqual(ids, [])
        assert.equal(await store.deleteExpired(), 0)
        assert.equal((await adapter.get(key))?.body.toString(), 'kept')
      })

      it('does not return a value before its write stream finishes', async () => {
        const { adapter } = await adapt()
        const key = keyOf('/pending')
        const stream = adapter.createWriteStream(key, valueOf())
        assert.ok(stream)
        stream.write(Buffer.from('half'))
        assert.equal(await adapter.get(key), undefined)
        stream.end(Buffer.from(' and half'))
        await once(stream, 'finish')
        assert.equal((await adapter.get(key))?.body.toString(), 'half and half')
      })

      it('stores nothing for a write stream destroyed, errored or past maxEntrySize', async () => {
        const { adapter } = await adapt({ maxEntrySize: 8 })
        const destroyed = adapter.createWriteStream(keyOf('/destroyed'), valueOf())
        destroyed?.write(Buffer.from('part'))
        destroyed?.destroy()
        const errored = adapter.createWriteStream(keyOf('/errored'), valueOf())
        errored?.on('error', () => {})
        errored?.write(Buffer.from('part'))
        errored?.destroy(new Error('origin went away'))
        const large = adapter.createWriteStream(keyOf('/large'), valueOf())
        large?.write(Buffer.from('0123456789'))
        large?.end()
        // 'close', not once(): once() rejects on the errored stream's 'error'.
        await Promise.all([destroyed, errored, large].map((stream) => new Promise((resolve) => stream?.on('close', resolve))))
        for (const path of ['/destroyed', '/errored', '/large']) assert.equal(await adapter.get(keyOf(path)), undefined, path)
      })

      it('keeps every CacheValue field as undici wrote it', async () => {
        const { adapter } = await adapt()
        const key = keyOf('/fields', { 'accept-language': 'en', cookie: ['a=1', 'b=2'] })
        const value = valueOf({
          statusCode: 203,
          statusMessage: 'Non-Authoritative Information',
          headers: { 'set-cookie': ['x=1', 'y=2'], etag: '"v1"', __proto__: 'data' } as Record<string, string | string[]>,
          vary: { 'accept-language': 'en', cookie: ['a=1', 'b=2'], 'x-absent': null },
          etag: '"v1"',
          cacheControlDirectives: { 'max-age': 10, public: true, 'no-cache': ['set-cookie'], 'stale-while-revalidate': 5 },
          cachedAt: START - 0.5,
          staleAt: START + 10_000.25,
        })
        await writeBody(adapter.createWriteStream(key, value), [''])
        const result = await adapter.get(key)
        assertResult(result, value, '')
        assert.equal(Object.getPrototypeOf(result?.headers), Object.prototype)
        assert.equal(await adapter.get(keyOf('/fields', { 'accept-language': 'en', cookie: 'a=1' })), undefined)
      })

      it('matches the method, and delete(key) removes every variant of the path whatever its method', async () => {
        const { adapter } = await adapt()
        await writeBody(adapter.createWriteStream(keyOf('/res', { a: '1' }), valueOf({ vary: { a: '1' } })), ['one'])
        await writeBody(adapter.createWriteStream(keyOf('/res', { a: '2' }), valueOf({ vary: { a: '2' } })), ['two'])
        await writeBody(adapter.createWriteStream(keyOf('/res', {}, 'OPTIONS'), valueOf()), ['options'])
        await writeBody(adapter.createWriteStream(keyOf('/other'), valueOf()), ['other'])
        assert.equal(await adapter.get(keyOf('/res', {}, 'HEAD')), undefined)
        assert.equal((await adapter.get(keyOf('/res', {}, 'OPTIONS')))?.body.toString(), 'options')
        // undici invalidates with the unsafe request's own key (RFC 9111 §4.4).
        await adapter.delete(keyOf('/res', {}, 'POST'))
        for (const key of [keyOf('/res', { a: '1' }), keyOf('/res', { a: '2' }), keyOf('/res', {}, 'OPTIONS')]) assert.equal(await adapter.get(key), undefined)
        assert.equal((await adapter.get(keyOf('/other')))?.body.toString(), 'other')
      })

      it('writes nothing for a response already past deleteAt, and expires the value with it', async () => {
        const { adapter, store } = await adapt()
        await writeBody(adapter.createWriteStream(keyOf('/dead'), valueOf({ staleAt: START - 2, deleteAt: START - 1 })), ['x'])
        assert.equal(await adapter.get(keyOf('/dead')), undefined)
        const ids: string[] = []
        for await (const id of store.ids()) ids.push(id)
        assert.deepEqual(ids, [])
      })

      it('reads an unreadable value as a miss, reports it and removes it', async () => {
        const { adapter, store } = await adapt()
        await writeBody(adapter.createWriteStream(keyOf('/corrupt'), valueOf()), ['x'])
        const ids: string[] = []
        for await (const id of store.ids()) ids.push(id)
        assert.equal(ids.length, 1)
        await store.set([{ id: ids[0]!, value: Uint8Array.from([0x55, 1, 0, 1, 0xff]), ttlMs: 60_000 }])
        assert.equal(await adapter.get(keyOf('/corrupt')), undefined)
        assert.equal(errors[0]?.code, 'URC_ERR_CORRUPT_ENTRY')
        assert.deepEqual(await store.get(ids), [undefined])
      })

      it('rejects unknown and malformed options by name', async () => {
        const store = await kind.make()
        assert.throws(() => toUndiciCacheStore(store, { ttl: 1 } as UndiciStoreOptions), { code: 'URC_ERR_INVALID_OPTION', option: 'ttl' })
        assert.throws(() => toUndiciCacheStore(store, { commandTimeout: -1 }), { option: 'commandTimeout' })
        assert.throws(() => toUndiciCacheStore({} as CacheStore), { option: 'store' })
      })

      it('serves a MISS, then a hit, through undici interceptors.cache() on a real origin', async () => {
        const origin: Origin = await startOrigin((_req, res, index) => {
          const body = `response ${index}`
          res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-length': Buffer.byteLength(body) })
          res.end(body)
        })
        const store = await kind.make()
        const agent = new Agent().compose(interceptors.cache({ store: toUndiciCacheStore(store, { onError: (error) => errors.push(error) }) }))
        try {
          const first = await request(`${origin.url}/page`, { dispatcher: agent })
          assert.equal(await first.body.text(), 'response 1')
          // The commit follows the response's end; wait for it rather than race it.
          for (let i = 0; i < 50 && (await toUndiciCacheStore(store).get({ origin: origin.url, method: 'GET', path: '/page', headers: {} })) === undefined; i++) {
            await new Promise((resolve) => setTimeout(resolve, 10))
          }
          const second = await request(`${origin.url}/page`, { dispatcher: agent })
          assert.equal(await second.body.text(), 'response 1')
          assert.ok(second.headers['age'] !== undefined, 'a cached response carries Age')
          assert.equal(origin.count('/page'), 1)
          assert.deepEqual(errors, [])
        } finally {
          await agent.close()
          await origin.close()
        }
      })

      if (kind.name === 'redis') {
        it('get resolves undefined within the command timeout while Redis is stalled, and reports it', async () => {
          const store = await kind.make()
          const adapter = toUndiciCacheStore(store, { commandTimeout: 100, onError: (error) => errors.push(error) })
          await writeBody(adapter.createWriteStream(keyOf('/stall'), valueOf({ cachedAt: Date.now(), staleAt: Date.now() + 60_000, deleteAt: Date.now() + 60_000 })), ['x'])
          const redis = kind.redis()
          redis.pause()
          try {
            const started = Date.now()
            assert.equal(await adapter.get(keyOf('/stall')), undefined)
            assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`)
            await adapter.delete(keyOf('/stall'))
            await writeBody(adapter.createWriteStream(keyOf('/stall'), valueOf()), ['y'])
          } finally {
            redis.resume()
          }
          assert.equal(errors[0]?.code, 'URC_ERR_STORE_TIMEOUT')
        })
      }
    })
  })
}
