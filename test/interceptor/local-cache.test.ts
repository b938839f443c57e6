/**
 * cache() over a RedisStore with `localCache` (issue 16), end to end against a real redis-server and
 * node:http origin: hits, small and large (stored apart, read in ranges), come from the process with
 * no command to Redis; a value corrupted in Redis after it was kept is still a miss once the
 * corrupting write's invalidation arrived (the tier never keeps bytes Redis no longer holds); and
 * another process's §4.4 invalidation reaches this one's tier.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { INLINE_BODY_LIMIT } from '../../lib/entry.js'
import { RedisStore, type CacheError } from '../../lib/index.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { sendBytes, startOrigin, type Origin } from '../helpers/origin.js'
import { entryKeys, startRedis, type RedisServer } from '../helpers/redis-server.js'

const LARGE = randomBytes(INLINE_BODY_LIMIT + 256 * 1024)
let redis: RedisServer
let origin: Origin
let version = 1

before(async function () {
  this.timeout(10_000)
  // A redis-server of its own, also under URC_STORE=cluster: a local tier needs one server (RedisStore refuses it on a cluster).
  redis = await startRedis()
  origin = await startOrigin((req, res) => {
    if (req.url === '/large') return sendBytes(req, res, LARGE, { 'cache-control': 'max-age=60' })
    if (req.method === 'POST') return void res.writeHead(204).end()
    sendBytes(req, res, Buffer.from(`v${version} of ${req.url}`), { 'cache-control': 'max-age=60' })
  })
})

after(async () => {
  await origin.close()
  await redis.stop()
})

async function commandCalls(name: string): Promise<number> {
  return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(await redis.cli('INFO', 'commandstats'))?.[1] ?? 0)
}

async function tieredStore(namespace: string): Promise<RedisStore> {
  const store = new RedisStore({ url: redis.url, namespace, localCache: { maxSize: 32 * 1024 * 1024 } })
  await store.ready()
  await eventually(() => store.localCacheStats()?.live === true, 3000)
  return store
}

describe('cache() with a local tier', () => {
  it('serves hits, inline and stored apart, without a command to Redis', async () => {
    const store = await tieredStore(`lc-${randomBytes(4).toString('hex')}`)
    const { dispatcher, close } = cachedAgent({ store })
    try {
      for (const path of ['/small', '/large']) {
        assert.equal((await send(dispatcher, `${origin.url}${path}`)).cacheStatus?.includes('fwd=miss'), true)
        await eventually(async () => (await send(dispatcher, `${origin.url}${path}`)).cacheStatus?.includes('hit') === true)
      }
      // A round of hits that sends Redis nothing. A late write of a priming miss, or the tier emptied
      // by a heartbeat a loaded machine read too late, may cost one round a read; never three.
      const rounds: number[][] = []
      for (let round = 0; round < 3 && !rounds.some(([get, getRange]) => get === 0 && getRange === 0); round++) {
        const before = [await commandCalls('get'), await commandCalls('getrange')]
        for (let i = 0; i < 3; i++) {
          const small = await send(dispatcher, `${origin.url}/small`)
          const large = await send(dispatcher, `${origin.url}/large`)
          assert.equal(small.text, 'v1 of /small')
          assert.ok(large.body.equals(LARGE))
          assert.match(large.cacheStatus ?? '', /hit/)
        }
        rounds.push([(await commandCalls('get')) - before[0]!, (await commandCalls('getrange')) - before[1]!])
      }
      assert.ok(rounds.some(([get, getRange]) => get === 0 && getRange === 0), `Redis reads per round: ${JSON.stringify(rounds)}`)
    } finally {
      await close()
      await store.close()
    }
  })

  it('a value corrupted in Redis after it was kept is a miss once its invalidation arrived', async () => {
    const namespace = `lc-${randomBytes(4).toString('hex')}`
    const store = await tieredStore(namespace)
    const errors: CacheError[] = []
    const { dispatcher, close } = cachedAgent({ store, onError: (error) => errors.push(error) })
    try {
      await send(dispatcher, `${origin.url}/corrupt`)
      await eventually(async () => (await send(dispatcher, `${origin.url}/corrupt`)).cacheStatus?.includes('hit') === true)
      const [key] = await entryKeys(redis, namespace)
      assert.ok(key !== undefined)
      const kept = store.localCacheStats()?.entries ?? 0
      // The body's last bytes, which its CRC covers.
      const length = Number(await redis.cli('STRLEN', key))
      await redis.cli('SETRANGE', key, String(length - 4), 'XXXX')
      await eventually(() => (store.localCacheStats()?.entries ?? 0) < kept)
      const reply = await send(dispatcher, `${origin.url}/corrupt`)
      assert.equal(reply.text, 'v1 of /corrupt')
      assert.match(reply.cacheStatus ?? '', /fwd=miss/)
      assert.ok(errors.some((error) => error.code === 'URC_ERR_CORRUPT_ENTRY'))
    } finally {
      await close()
      await store.close()
    }
  })

  it("another process's unsafe request invalidates this process's kept entry (RFC 9111 §4.4)", async () => {
    const namespace = `lc-${randomBytes(4).toString('hex')}`
    const [mine, theirs] = [await tieredStore(namespace), await tieredStore(namespace)]
    const a = cachedAgent({ store: mine })
    const b = cachedAgent({ store: theirs })
    try {
      await send(a.dispatcher, `${origin.url}/shared`)
      await eventually(async () => (await send(a.dispatcher, `${origin.url}/shared`)).cacheStatus?.includes('hit') === true)
      version++
      await send(b.dispatcher, `${origin.url}/shared`, { method: 'POST', body: 'x' })
      await eventually(async () => (await send(a.dispatcher, `${origin.url}/shared`)).text === `v${version} of /shared`)
      for (let i = 0; i < 5; i++) assert.equal((await send(a.dispatcher, `${origin.url}/shared`)).text, `v${version} of /shared`)
    } finally {
      await Promise.all([a.close(), b.close()])
      await Promise.all([mine.close(), theirs.close()])
    }
  })
})
