/**
 * Issue 5: a stored value that is not what we wrote (random bytes, a truncated copy, an unknown format
 * version, hostile CBOR with `__proto__` keys, a metadata length of 0xFFFFFFFF) is a miss served from
 * the origin, is replaced by a good entry, reaches onError as a CorruptEntryError, crashes nothing and
 * pollutes no prototype. Redis values are overwritten behind the store's back with a raw client; the
 * MemoryStore's through its own set().
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Decoder, Encoder } from 'cbor-x'
import { commandOptions, createClient } from 'redis'
import { decodeRecord, HEADER_BYTES } from '../../lib/codec/frame.js'
import { INLINE_BODY_LIMIT } from '../../lib/entry.js'
import { CorruptEntryError, type CacheStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { errorLog, storedIds, watchProcess } from '../helpers/faults.js'
import { sendBytes, startOrigin, type Origin } from '../helpers/origin.js'
import { releaseRedis, storeKinds, useRedis, type StoreKind } from '../helpers/stores.js'
import { entryKeys } from '../helpers/redis-server.js'

const cbor = { useRecords: false, mapsAsObjects: true, structuredClone: false, bundleStrings: false, pack: false, useFloat32: 0 } as const
const decoder = new Decoder(cbor)
const encoder = new Encoder(cbor)

/** The metadata map of a real stored value, as plain JSON-safe data. */
function metadataOf(real: Buffer): Record<string, unknown> {
  const length = real.readUInt32BE(2)
  return decoder.decode(real.subarray(HEADER_BYTES, HEADER_BYTES + length)) as Record<string, unknown>
}

/** A value in the stored layout, with `metadataJson` (which may hold own `__proto__` keys) as its CBOR map. */
function withMetadata(real: Buffer, metadataJson: string): Buffer {
  const crafted: unknown = JSON.parse(metadataJson)
  const meta = Buffer.from(encoder.encode(crafted))
  assert.ok(meta.includes('__proto__'), 'the crafted CBOR really carries a __proto__ key')
  const length = real.readUInt32BE(2)
  const head = Buffer.from([real[0]!, real[1]!, 0, 0, 0, 0])
  head.writeUInt32BE(meta.length, 2)
  return Buffer.concat([head, meta, real.subarray(HEADER_BYTES + length)])
}

interface Corruption {
  readonly name: string
  make(real: Buffer): Buffer
}

const corruptions: readonly Corruption[] = [
  { name: 'random bytes', make: (real) => randomBytes(real.length) },
  { name: 'a truncated copy of the real value', make: (real) => Buffer.from(real.subarray(0, Math.floor(real.length / 2))) },
  {
    name: 'the real value with its format version byte set to 99',
    make: (real) => {
      const copy = Buffer.from(real)
      copy[0] = 99
      return copy
    },
  },
  {
    name: 'CBOR metadata with a top-level __proto__ key',
    make: (real) => withMetadata(real, JSON.stringify(metadataOf(real)).replace(/^\{/, '{"__proto__":{"polluted":"top"},')),
  },
  {
    name: 'CBOR metadata with a __proto__ response header',
    make: (real) => withMetadata(real, JSON.stringify(metadataOf(real)).replace('"headers":{', '"headers":{"__proto__":{"polluted":"header"},')),
  },
  {
    name: 'a metadata length field of 0xFFFFFFFF',
    make: (real) => {
      const copy = Buffer.from(real)
      copy.writeUInt32BE(0xffffffff, 2)
      return copy
    },
  },
]

/** Over the size stored inline with the entry (lib/entry.ts INLINE_BODY_LIMIT): the body gets an id of its own. */
const LARGE = randomBytes(INLINE_BODY_LIMIT + 300 * 1024)

/** Reads and overwrites one stored value behind the cache's back. */
interface Tamper {
  read(): Promise<Buffer>
  write(value: Buffer): Promise<void>
}

for (const kind of storeKinds) {
  describe(`corrupt entries (${kind.name} store)`, () => {
    let origin: Origin
    let raw: ReturnType<typeof createClient> | undefined

    before(async () => {
      if (kind.name === 'redis') {
        const redis = await useRedis()
        raw = createClient({ url: redis.url })
        raw.on('error', () => {})
        await raw.connect()
      }
      origin = await startOrigin((req, res) => {
        if (req.url === '/large') {
          // The range request that finishes a broken replay meets an interim response first (RFC 9110
          // §15.2): the rest of the body still comes from the 206 after it.
          if (req.headers['range'] !== undefined) res.writeEarlyHints({ link: '</a.css>; rel=preload' })
          return sendBytes(req, res, LARGE, { 'cache-control': 'max-age=60', etag: '"large-v1"' })
        }
        if (req.url === '/large-untagged') {
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': LARGE.byteLength })
          return res.end(LARGE)
        }
        const text = `the one true body of ${req.url}`
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(text), etag: '"e1"' })
        res.end(text)
      })
    })
    after(async () => {
      await origin.close()
      await raw?.disconnect()
      if (kind.name === 'redis') await releaseRedis()
    })

    async function tamper(store: CacheStore): Promise<Tamper> {
      const ids = await storedIds(store)
      assert.equal(ids.length, 1)
      const id = ids[0]!
      if (kind.name === 'memory') {
        return {
          read: async () => Buffer.from((await store.get([id]))[0]!),
          write: (value) => store.set([{ id, value, ttlMs: undefined }]),
        }
      }
      const namespace = (store as unknown as { namespace: string }).namespace
      const keys = await entryKeys((kind as StoreKind).redis(), namespace)
      assert.equal(keys.length, 1)
      const key = keys[0]!
      return {
        read: async () => (await raw!.get(commandOptions({ returnBuffers: true }), key))!,
        write: async (value) => void (await raw!.set(key, value)),
      }
    }

    for (const corruption of corruptions) {
      it(`${corruption.name}: a miss served from the origin, replaced by a good entry, reported as CorruptEntryError`, async () => {
        const store = await kind.make()
        const { errors, onError } = errorLog()
        const watch = watchProcess()
        const { dispatcher, close } = cachedAgent({ store, onError })
        const path = `/corrupt-${corruptions.indexOf(corruption)}`
        const url = `${origin.url}${path}`
        const expected = `the one true body of ${path}`
        try {
          await send(dispatcher, url)
          const t = await tamper(store)
          const real = await t.read()
          assert.ok(decodeRecord(real) !== undefined)
          await t.write(corruption.make(real))

          const first = await send(dispatcher, url)
          assert.equal(first.status, 200)
          assert.equal(first.text, expected)
          assert.match(first.cacheStatus ?? '', /; fwd=miss; fwd-status=200; stored/)
          assert.equal(origin.count(path), 2)

          const second = await send(dispatcher, url)
          assert.equal(second.text, expected)
          assert.match(second.cacheStatus ?? '', /; hit;/)
          assert.equal(origin.count(path), 2)
          const healed = decodeRecord(await t.read())
          assert.ok(healed?.kind === 'entry' && healed.body instanceof Uint8Array && Buffer.from(healed.body).toString() === expected)

          const corrupt = errors.filter((e) => e instanceof CorruptEntryError)
          assert.equal(corrupt.length, 1, `onError got ${errors.map((e) => e.code).join(', ') || 'nothing'}`)
          assert.equal(corrupt[0]!.code, 'URC_ERR_CORRUPT_ENTRY')
          assert.deepEqual(Object.keys(Object.prototype), [])
          assert.equal(({} as Record<string, unknown>)['polluted'], undefined)
          assert.deepEqual(watch.events, [])
        } finally {
          watch.stop()
          await close()
        }
      })
    }

    // RedisStore keeps a body over INLINE_BODY_LIMIT under its own key and reads it back in chunks; damage in the
    // first chunk is seen before anything is sent, damage further on only once the caller has headers
    // and part of the body. (MemoryStore keeps every body inline: CacheStore.inProcess.)
    if (kind.name === 'redis') {
      const flip = (at: (length: number) => number) => (body: Buffer) => Buffer.from(body.map((byte, i) => (i === at(body.length) ? byte ^ 0xff : byte)))
      const damageStoredBody = async (store: CacheStore, damage: (body: Buffer) => Buffer): Promise<void> => {
        const bodyIds = (await storedIds(store)).filter((id) => id.includes('~'))
        assert.equal(bodyIds.length, 1, 'the large body is stored under an id of its own')
        const real = Buffer.from((await store.get(bodyIds))[0]!)
        assert.ok(real.equals(LARGE))
        await store.set([{ id: bodyIds[0]!, value: damage(real), ttlMs: undefined }])
      }

      for (const [name, damage] of [
        ['truncated (its last chunk short)', (body: Buffer) => Buffer.from(body.subarray(0, body.length - 1000))],
        ['with a byte flipped in its last chunk', flip((length) => length - 10)],
      ] as const) {
        it(`a large entry whose body is ${name}: the caller still gets every byte (the rest by Range + If-Range from the origin), the entry is dropped and refilled`, async () => {
          const store = await kind.make()
          const { errors, onError } = errorLog()
          const watch = watchProcess()
          const { dispatcher, close } = cachedAgent({ store, onError })
          const url = `${origin.url}/large`
          const ranged = () => origin.requests.filter((r) => r.url === '/large' && r.headers['range'] !== undefined).length
          const rangedBefore = ranged()
          try {
            await send(dispatcher, url)
            await damageStoredBody(store, damage)
            const first = await send(dispatcher, url)
            assert.equal(first.status, 200)
            assert.ok(first.body.equals(LARGE), `got ${first.body.byteLength} bytes`)
            assert.match(first.cacheStatus ?? '', /; hit;/, 'the headers were already sent from the cache')
            assert.equal(ranged() - rangedBefore, 1)
            assert.ok(errors.some((e) => e instanceof CorruptEntryError), `onError got ${errors.map((e) => e.code).join(', ') || 'nothing'}`)
            const second = await send(dispatcher, url)
            assert.ok(second.body.equals(LARGE))
            assert.match(second.cacheStatus ?? '', /fwd=miss/, 'the broken entry was dropped')
            assert.match((await send(dispatcher, url)).cacheStatus ?? '', /; hit;/)
            assert.deepEqual(watch.events, [])
          } finally {
            watch.stop()
            await close()
          }
        })
      }

      it('a large entry without a strong validator whose later chunk breaks: the response fails (never wrong bytes), then the next request refills it', async () => {
        const store = await kind.make()
        const { onError } = errorLog()
        const { dispatcher, close } = cachedAgent({ store, onError })
        const url = `${origin.url}/large-untagged`
        try {
          await send(dispatcher, url)
          await damageStoredBody(store, flip((length) => length - 10))
          await assert.rejects(send(dispatcher, url), /could not be read/)
          const next = await send(dispatcher, url)
          assert.ok(next.body.equals(LARGE))
          assert.match(next.cacheStatus ?? '', /fwd=miss/)
        } finally {
          await close()
        }
      })

      for (const [name, damage, suffix] of [['with a byte flipped in its first chunk', flip(() => 10), '']] as const) {
        it(`a large entry whose separately stored body is ${name}: a miss served from the origin, then a hit, reported as CorruptEntryError${suffix}`, async () => {
          const store = await kind.make()
          const { errors, onError } = errorLog()
          const watch = watchProcess()
          const { dispatcher, close } = cachedAgent({ store, onError })
          const url = `${origin.url}/large`
          const before = origin.count('/large')
          try {
            await send(dispatcher, url)
            const bodyIds = (await storedIds(store)).filter((id) => id.includes('~'))
            assert.equal(bodyIds.length, 1, 'the large body is stored under an id of its own')
            const real = Buffer.from((await store.get(bodyIds))[0]!)
            assert.ok(real.equals(LARGE))
            await store.set([{ id: bodyIds[0]!, value: damage(real), ttlMs: undefined }])

            const first = await send(dispatcher, url)
            assert.equal(first.status, 200)
            assert.ok(first.body.equals(LARGE), `got ${first.body.byteLength} bytes`)
            assert.match(first.cacheStatus ?? '', /; fwd=miss/)
            const second = await send(dispatcher, url)
            assert.ok(second.body.equals(LARGE))
            assert.match(second.cacheStatus ?? '', /; hit;/)
            assert.equal(origin.count('/large') - before, 2)
            assert.ok(errors.some((e) => e instanceof CorruptEntryError), `onError got ${errors.map((e) => e.code).join(', ') || 'nothing'}`)
            assert.deepEqual(watch.events, [])
          } finally {
            watch.stop()
            await close()
          }
        })
      }
    }
  })
}
