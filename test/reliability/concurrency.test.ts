/**
 * Issue 5, concurrency: identical requests for a cold URL that arrive together reach the origin once
 * and all get the whole body (request coalescing within a process), Vary keeps concurrent variants
 * apart, and concurrent writers of one key leave one whole entry, never a mix of two responses.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { decodeRecord } from '../../lib/codec/frame.js'
import { INLINE_BODY_LIMIT } from '../../lib/entry.js'
import { RedisStore, type CacheStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { freshNamespace, sleep, storedIds, untilReady, watchProcess } from '../helpers/faults.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

const COLD_CALLERS = 20
const ORIGIN_DELAY_MS = 50

/**
 * Distinct bodies of distinct lengths for the one contested URL; a torn entry would match none. The
 * third is over INLINE_BODY_LIMIT: RedisStore keeps it apart from its entry, so writers race on two keys.
 */
const contested = [Buffer.alloc(1000, 'a'), Buffer.alloc(70_000, 'b'), Buffer.alloc(INLINE_BODY_LIMIT + 50_000, 'c'), Buffer.alloc(5, 'd')]

for (const kind of storeKinds) {
  describe(`concurrency (${kind.name} store)`, () => {
    const coldBody = randomBytes(256 * 1024)

    const origin = suiteOrigin(kind, (req, res, index) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname.startsWith('/cold')) {
        return void setTimeout(() => {
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': coldBody.byteLength })
          res.end(coldBody)
        }, ORIGIN_DELAY_MS)
      }
      if (url.pathname.startsWith('/vary')) {
        const text = `language=${String(req.headers['accept-language'])};`.repeat(500)
        return void setTimeout(() => {
          res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language', 'content-length': Buffer.byteLength(text) })
          res.end(text)
        }, ORIGIN_DELAY_MS)
      }
      if (url.pathname === '/contested') {
        const body = contested[index % contested.length]!
        return void setTimeout(() => {
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.byteLength })
          res.end(body)
        }, index % 7)
      }
      res.writeHead(404, { 'content-length': 0 })
      res.end()
    })

    it(`${COLD_CALLERS} concurrent requests for a cold URL reach the origin once, and every caller gets the whole body`, async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        const path = '/cold-a'
        const replies = await Promise.all(Array.from({ length: COLD_CALLERS }, () => send(dispatcher, `${origin.url}${path}`)))
        for (const reply of replies) {
          assert.equal(reply.status, 200)
          assert.ok(reply.body.equals(coldBody), `a caller got ${reply.body.byteLength} bytes`)
        }
        assert.equal(origin.count(path), 1, `${origin.count(path)} of ${COLD_CALLERS} requests reached the origin`)
      } finally {
        await close()
      }
    })

    it('concurrent requests with different Vary values each get their own variant', async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        const languages = ['en', 'fr', 'de']
        const sends = Array.from({ length: 18 }, (_, i) => {
          const language = languages[i % languages.length]!
          return send(dispatcher, `${origin.url}/vary-a`, { headers: { 'accept-language': language } }).then((reply) => ({ language, reply }))
        })
        for (const { language, reply } of await Promise.all(sends)) {
          assert.equal(reply.status, 200)
          assert.equal(reply.text, `language=${language};`.repeat(500))
        }
        // And once stored, each language still gets its own.
        for (const language of languages) {
          const reply = await send(dispatcher, `${origin.url}/vary-a`, { headers: { 'accept-language': language } })
          assert.equal(reply.text, `language=${language};`.repeat(500))
        }
      } finally {
        await close()
      }
    })

    it('concurrent writers of one key (two cache instances) leave one whole entry', async () => {
      const [storeA, storeB] = await twoHandles()
      const a = cachedAgent({ store: storeA })
      const b = cachedAgent({ store: storeB })
      const watch = watchProcess()
      try {
        const url = `${origin.url}/contested`
        for (let round = 0; round < 8; round++) {
          // Request no-cache: each response is fetched again and written over the last (RFC 9111 §5.2.1.4).
          const sends = Array.from({ length: 8 }, (_, i) => send(i % 2 === 0 ? a.dispatcher : b.dispatcher, url, { headers: { 'cache-control': 'no-cache' } }))
          for (const reply of await Promise.all(sends)) {
            assert.equal(reply.status, 200)
            assert.ok(contested.some((body) => body.equals(reply.body)), `a caller got ${reply.body.byteLength} bytes matching no response`)
          }
          await assertOneWholeEntry(storeA)
        }
        await sleep(100)
        await assertOneWholeEntry(storeA)
        const hit = await send(a.dispatcher, url)
        assert.match(hit.cacheStatus ?? '', /; hit;/)
        assert.ok(contested.some((body) => body.equals(hit.body)))
        assert.deepEqual(watch.events, [])
      } finally {
        watch.stop()
        await a.close()
        await b.close()
        if (kind.name === 'redis') await Promise.all([storeA.close(), storeB.close()])
      }
    })

    /** Two handles on the same stored data: as two processes sharing one Redis, or one shared MemoryStore. */
    async function twoHandles(): Promise<[CacheStore, CacheStore]> {
      if (kind.name === 'memory') {
        const store = await kind.make()
        return [store, store]
      }
      const url = kind.redis().url
      const namespace = freshNamespace('writers')
      const pair: [CacheStore, CacheStore] = [new RedisStore({ url, namespace }), new RedisStore({ url, namespace })]
      await Promise.all(pair.map((store) => untilReady(store)))
      return pair
    }
  })
}

/**
 * The store holds exactly one entry record, it decodes, and its body is one response's body byte for
 * byte. A body stored apart from its entry (large bodies, under `<entry id>~<generation>`) is read
 * from there; a replaced one may linger for readers still streaming it, so only entry ids are counted.
 */
async function assertOneWholeEntry(store: CacheStore): Promise<void> {
  const ids = await storedIds(store)
  const entryIds = ids.filter((id) => !id.includes('~'))
  assert.equal(entryIds.length, 1, `ids: ${ids.join(', ')}`)
  const value = (await store.get(entryIds))[0]
  assert.ok(value !== undefined)
  const record = decodeRecord(value)
  assert.ok(record?.kind === 'entry', 'the stored value decodes to an entry')
  const body = await bodyOf(store, record.body)
  assert.ok(contested.some((candidate) => candidate.equals(body)), `stored body of ${body.byteLength} bytes matches no response`)
  assert.equal(record.headers['content-length'], String(body.byteLength))
}

async function bodyOf(store: CacheStore, body: unknown): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body)
  const ref = body as { readonly id: string; readonly size: number }
  const bytes = (await store.get([ref.id]))[0]
  assert.ok(bytes !== undefined, `external body ${ref.id} is missing`)
  assert.equal(bytes.byteLength, ref.size)
  return Buffer.from(bytes)
}
