/**
 * The core promise of issue #2, against both stores: a second identical request is served from the
 * cache, byte for byte, with Age and Cache-Status, and the origin sees it once.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Agent, fetch, getGlobalDispatcher, setGlobalDispatcher } from '../helpers/undici.js'
import { cache } from '../../lib/index.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { fixed } from '../helpers/origin.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import { entryKeys, indexKeys } from '../helpers/redis-server.js'

for (const kind of storeKinds) {
  describe(`hit and miss (${kind.name} store)`, () => {
    const body = randomBytes(3 * 1024 * 1024)

    const origin = suiteOrigin(kind, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/no-store') {
        res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 2 })
        return res.end('ns')
      }
      if (url.pathname === '/must-understand') {
        res.writeHead(200, { 'cache-control': 'max-age=60, must-understand, no-store', 'content-length': 2 })
        return res.end('mu')
      }
      if (url.pathname === '/big') {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.byteLength })
        return res.end(body)
      }
      if (url.pathname === '/chunked') {
        res.writeHead(200, { 'cache-control': 'max-age=60' })
        res.write('part one, ')
        return setTimeout(() => res.end('part two'), 5)
      }
      const text = `hello ${url.pathname}${url.search}`
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text), etag: '"v1"' })
      res.end(text)
    })

    it('serves the second fetch from the cache: one origin request, identical body, Age and Cache-Status hit', async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        const first = await fetch(`${origin.url}/a`, { dispatcher })
        const firstBody = Buffer.from(await first.arrayBuffer())
        assert.equal(first.headers.get('cache-status'), 'undici-redis-cache; fwd=miss; fwd-status=200; stored')
        const second = await fetch(`${origin.url}/a`, { dispatcher })
        const secondBody = Buffer.from(await second.arrayBuffer())
        assert.equal(origin.count('/a'), 1)
        assert.deepEqual(secondBody, firstBody)
        assert.equal(secondBody.toString(), 'hello /a')
        assert.match(second.headers.get('cache-status') ?? '', /^undici-redis-cache; hit; ttl=(5[7-9]|60)$/)
        assert.match(second.headers.get('age') ?? '', /^\d+$/)
        assert.equal(second.headers.get('etag'), '"v1"')
        assert.equal(second.headers.get('content-type'), 'text/plain')
      } finally {
        await close()
      }
    })

    it('round-trips a 3 MiB body intact', async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        const first = await send(dispatcher, `${origin.url}/big`)
        const second = await send(dispatcher, `${origin.url}/big`)
        assert.equal(origin.count('/big'), 1)
        assert.ok(first.body.equals(body))
        assert.ok(second.body.equals(body))
        assert.match(second.cacheStatus ?? '', /; hit; /)
      } finally {
        await close()
      }
    })

    it('stores a chunked response (no Content-Length) once it ended', async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        await send(dispatcher, `${origin.url}/chunked`)
        const second = await send(dispatcher, `${origin.url}/chunked`)
        assert.equal(second.text, 'part one, part two')
        assert.equal(origin.count('/chunked'), 1)
      } finally {
        await close()
      }
    })

    it('never stores a no-store response (RFC 9111 §5.2.2.5)', async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        const first = await send(dispatcher, `${origin.url}/no-store`)
        const second = await send(dispatcher, `${origin.url}/no-store`)
        assert.equal(first.text, 'ns')
        assert.equal(second.text, 'ns')
        assert.equal(origin.count('/no-store'), 2)
        assert.equal(second.cacheStatus, 'undici-redis-cache; fwd=miss; fwd-status=200')
        const ids: string[] = []
        for await (const id of store.ids()) ids.push(id)
        assert.deepEqual(ids, [])
      } finally {
        await close()
      }
    })

    it('stores a 200 marked must-understand despite its no-store: this cache knows 200 (RFC 9111 §5.2.2.3)', async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        await send(dispatcher, `${origin.url}/must-understand`)
        const second = await send(dispatcher, `${origin.url}/must-understand`)
        assert.equal(second.text, 'mu')
        assert.match(second.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/must-understand'), 1)
      } finally {
        await close()
      }
    })

    it('caches fetch through setGlobalDispatcher', async () => {
      const store = await kind.make()
      const previous = getGlobalDispatcher()
      const agent = new Agent()
      setGlobalDispatcher(agent.compose(cache({ store })))
      try {
        const first = await (await fetch(`${origin.url}/global`)).text()
        const second = await fetch(`${origin.url}/global`)
        assert.equal(await second.text(), first)
        assert.match(second.headers.get('cache-status') ?? '', /; hit; /)
        assert.equal(origin.count('/global'), 1)
      } finally {
        setGlobalDispatcher(previous)
        await agent.close()
      }
    })

    it('keeps different query strings apart and treats reordered parameters as one URL', async () => {
      const store = await kind.make()
      const { dispatcher, close } = cachedAgent({ store })
      try {
        assert.equal((await send(dispatcher, `${origin.url}/q?a=1&b=2`)).text, 'hello /q?a=1&b=2')
        assert.equal((await send(dispatcher, `${origin.url}/q?a=2`)).text, 'hello /q?a=2')
        const reordered = await send(dispatcher, `${origin.url}/q?b=2&a=1`)
        assert.equal(reordered.text, 'hello /q?a=1&b=2')
        assert.match(reordered.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.requests.filter((r) => r.url.startsWith('/q')).length, 2)
      } finally {
        await close()
      }
    })
  })
}

describe('hit and miss: Redis layout', () => {
  const origin = suiteOrigin(storeKinds.find((k) => k.name === 'redis')!, fixed('layout', { 'cache-control': 'max-age=120' }))

  it('writes only keys under the namespace, each with a TTL from the freshness lifetime, its index keys too', async () => {
    const kind = storeKinds.find((k) => k.name === 'redis')!
    const store = await kind.make()
    const { dispatcher, close } = cachedAgent({ store })
    try {
      await send(dispatcher, `${origin.url}/one`)
      await send(dispatcher, `${origin.url}/two`)
      await send(dispatcher, `${origin.url}/one`)
      const redis = kind.redis()
      const namespace = (store as unknown as { namespace: string }).namespace
      const scan = async () => (await redis.cli('--scan', '--pattern', `${namespace}:*`)).split('\n').filter(Boolean)
      // Writes are committed after each response ends, off the caller's path.
      await eventually(async () => (await entryKeys(redis, namespace)).length === 2)
      const keys = await entryKeys(redis, namespace)
      assert.equal(keys.length, 2)
      for (const key of keys) {
        assert.match(key, new RegExp(`^${namespace}:\\{[0-9a-f]{32}\\}$`))
        // max-age=120 plus the default ttlOffset of an hour, kept for revalidation.
        const ttl = Number(await redis.cli('TTL', key))
        assert.ok(ttl > 3700 && ttl <= 3720, `TTL ${ttl}`)
      }
      // Every other key is an index key (issue 14), living at least as long as the entries it lists, or
      // the counters' hash, which the store flushes about once a second (so on a slow run it is there).
      const index = await indexKeys(redis, namespace)
      const listed = (await scan()).filter((key) => key !== `${namespace}:stats`)
      assert.deepEqual(listed.sort(), [...keys, ...index].sort())
      assert.ok(index.length >= 3, `index keys ${index.join(' ')}`)
      for (const key of index) assert.ok(Number(await redis.cli('TTL', key)) >= 3700, `TTL of ${key}`)
      assert.equal(origin.count(), 2)
    } finally {
      await close()
    }
  })
})
