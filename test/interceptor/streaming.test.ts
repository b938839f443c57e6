/**
 * Large bodies: stored apart from their entry and streamed back in checked chunks (issue #6), against
 * a real Redis so the key layout, TTLs and GETRANGE reads are the real ones.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { request } from '../helpers/undici.js'
import { INLINE_BODY_LIMIT } from '../../lib/entry.js'
import { RedisStore, type CacheError } from '../../lib/index.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { releaseRedis, storeKinds, useRedis } from '../helpers/stores.js'
import { entryKeys } from '../helpers/redis-server.js'

const MiB = 1024 * 1024
/** Just over what an entry keeps inline in Redis: stored apart, in chunks. */
const OVER_INLINE = INLINE_BODY_LIMIT + 300_000

describe('large bodies (Redis store)', () => {
  let origin: Origin
  /** The time the cache and the origin's Date read; the 304 test moves it. */
  let clock = new ManualClock(Date.now())
  const bodies = new Map<string, Buffer>()
  const bodyFor = (path: string, size: number): Buffer => {
    let body = bodies.get(path)
    if (body === undefined) bodies.set(path, (body = randomBytes(size)))
    return body
  }

  before(async () => {
    await useRedis()
    origin = await startOrigin((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const size = Number(url.searchParams.get('size') ?? MiB)
      const body = bodyFor(url.pathname, size)
      const etag = `"${createHash('sha1').update(body).digest('hex')}"`
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag, 'cache-control': 'max-age=600' })
        return res.end()
      }
      const cc = url.searchParams.get('cc') ?? 'max-age=600'
      res.writeHead(200, { 'cache-control': cc, etag, 'content-length': body.byteLength, date: new Date(clock.now()).toUTCString() })
      res.end(body)
    })
  })
  after(async () => {
    await origin.close()
    await releaseRedis()
  })

  const redisKind = () => storeKinds.find((k) => k.name === 'redis')!
  const keysOf = (store: RedisStore): Promise<string[]> => entryKeys(redisKind().redis(), store.namespace)
  /** The entry and body keys once the write, committed after the response ended, has landed. */
  const committedKeys = async (store: RedisStore): Promise<string[]> => {
    await eventually(async () => (await keysOf(store)).length === 2)
    return keysOf(store)
  }

  for (const size of [3 * MiB, 10 * MiB]) {
    it(`a ${size / MiB} MiB body is stored as an entry plus a body key and replays byte for byte`, async () => {
      const store = (await redisKind().make()) as RedisStore
      const { dispatcher, close } = cachedAgent({ store, maxEntrySize: 32 * MiB })
      const path = `/big-${size}?size=${size}`
      try {
        const first = await send(dispatcher, `${origin.url}${path}`)
        const second = await send(dispatcher, `${origin.url}${path}`)
        assert.equal(origin.count(path), 1)
        assert.ok(first.body.equals(bodies.get(`/big-${size}`)!))
        assert.ok(second.body.equals(first.body))
        assert.match(second.cacheStatus ?? '', /; hit; /)
        const keys = await keysOf(store)
        assert.equal(keys.length, 2)
        assert.match(keys[0]!, /^test-[0-9a-f]+:\{[0-9a-f]{32}\}$/)
        assert.match(keys[1]!, /^test-[0-9a-f]+:\{[0-9a-f]{32}\}~[0-9a-f]{16}$/)
        const redis = redisKind().redis()
        assert.equal(Number(await redis.cli('STRLEN', keys[1]!)), size)
        const [entryTtl, bodyTtl] = await Promise.all(keys.map(async (key) => Number(await redis.cli('TTL', key))))
        assert.ok(Math.abs(entryTtl! - bodyTtl!) <= 1, `entry TTL ${entryTtl}, body TTL ${bodyTtl}`)
      } finally {
        await close()
      }
    })
  }

  it('a slow reader gets the whole body (pause/resume through the chunked replay)', async () => {
    const store = await redisKind().make()
    const { dispatcher, close } = cachedAgent({ store })
    const path = '/slow?size=3000000'
    try {
      await send(dispatcher, `${origin.url}${path}`)
      const res = await request(`${origin.url}${path}`, { dispatcher })
      const chunks: Buffer[] = []
      await pipeline(
        res.body,
        new Writable({
          highWaterMark: 1024,
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk)
            setImmediate(cb)
          },
        }),
      )
      assert.ok(Buffer.concat(chunks).equals(bodies.get('/slow')!))
      assert.match(String(res.headers['cache-status']), /; hit; /)
    } finally {
      await close()
    }
  })

  it('a corrupt first chunk is a miss: served from the origin, reported, and the entry replaced', async () => {
    const store = (await redisKind().make()) as RedisStore
    const errors: CacheError[] = []
    const { dispatcher, close } = cachedAgent({ store, onError: (e) => errors.push(e) })
    const path = `/corrupt-first?size=${OVER_INLINE}`
    try {
      await send(dispatcher, `${origin.url}${path}`)
      const bodyKey = (await committedKeys(store)).find((key) => key.includes('~'))!
      await redisKind().redis().cli('SETRANGE', bodyKey, '10', 'XXXX')
      const reply = await send(dispatcher, `${origin.url}${path}`)
      assert.ok(reply.body.equals(bodies.get('/corrupt-first')!))
      assert.match(reply.cacheStatus ?? '', /fwd=miss; fwd-status=200; stored; detail=body-unreadable/)
      assert.equal(origin.count(path), 2)
      assert.ok(errors.some((e) => e.code === 'URC_ERR_CORRUPT_ENTRY'))
      const healed = await send(dispatcher, `${origin.url}${path}`)
      assert.ok(healed.body.equals(bodies.get('/corrupt-first')!))
      assert.match(healed.cacheStatus ?? '', /; hit; /)
    } finally {
      await close()
    }
  })

  it('a corrupt later chunk, with an origin that ignores Range: the response fails instead of splicing bytes, and the entry is dropped', async () => {
    const store = (await redisKind().make()) as RedisStore
    const { dispatcher, close } = cachedAgent({ store })
    const path = '/corrupt-late?size=2000000'
    try {
      await send(dispatcher, `${origin.url}${path}`)
      const bodyKey = (await committedKeys(store)).find((key) => key.includes('~'))!
      await redisKind().redis().cli('SETRANGE', bodyKey, String(1_500_000), 'XXXX')
      // The replay asks for the rest with Range + If-Range; this origin answers 200 (the whole body), which cannot be spliced.
      await assert.rejects(send(dispatcher, `${origin.url}${path}`), /broke at byte 1310720 and the origin could not supply the rest \(status 200\)/)
      const next = await send(dispatcher, `${origin.url}${path}`)
      assert.ok(next.body.equals(bodies.get('/corrupt-late')!))
      assert.match(next.cacheStatus ?? '', /fwd=miss/)
    } finally {
      await close()
    }
  })

  it('invalidation removes the body key with the entry', async () => {
    const store = (await redisKind().make()) as RedisStore
    const { dispatcher, close } = cachedAgent({ store })
    try {
      await send(dispatcher, `${origin.url}/doomed?size=${OVER_INLINE}`)
      assert.equal((await committedKeys(store)).length, 2)
      await send(dispatcher, `${origin.url}/doomed?size=${OVER_INLINE}`, { method: 'DELETE' })
      assert.deepEqual(await keysOf(store), [])
    } finally {
      await close()
    }
  })

  it('a 304 refresh keeps the stored body and extends its TTL with the entry', async () => {
    // Fresh for 5 s, so kept for that plus the default ttlOffset (an hour) until the 304 refreshes it.
    clock = new ManualClock(Date.now())
    const store = (await redisKind().make()) as RedisStore
    const { dispatcher, close } = cachedAgent({ store, clock })
    const path = `/refresh?size=${OVER_INLINE}&cc=max-age%3D5`
    try {
      await send(dispatcher, `${origin.url}${path}`)
      const redis = redisKind().redis()
      const before = await committedKeys(store)
      const ttlsBefore = await Promise.all(before.map(async (key) => Number(await redis.cli('TTL', key))))
      for (const ttl of ttlsBefore) assert.ok(ttl > 3595 && ttl <= 3605, `TTL ${ttl} before: 5 s of freshness plus the offset`)
      clock.advanceSeconds(6)
      const revalidated = await send(dispatcher, `${origin.url}${path}`)
      assert.match(revalidated.cacheStatus ?? '', /fwd=stale; fwd-status=304/)
      assert.ok(revalidated.body.equals(bodies.get('/refresh')!))
      const after = await keysOf(store)
      assert.deepEqual(after, before, 'same entry and body keys')
      const ttls = await Promise.all(after.map(async (key) => Number(await redis.cli('TTL', key))))
      for (const ttl of ttls) assert.ok(ttl > 4190 && ttl <= 4200, `TTL ${ttl} after: the 304's max-age=600 plus the offset`)
    } finally {
      await close()
    }
  })
})
