/**
 * Issue 5: Redis full (`maxmemory` reached under `noeviction`) refuses writes with OOM. New responses
 * then pass through unstored with no error to the caller (onError hears a StoreError), and entries
 * stored before Redis filled up are still served as hits, since reads keep working.
 */
import assert from 'node:assert/strict'
import { RedisStore, StoreError } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { errorLog, freshNamespace, storedIds, untilReady, watchProcess } from '../helpers/faults.js'
import { fullRedisSuite } from '../helpers/outage.js'

describe('Redis full (maxmemory 2mb, noeviction)', () => {
  const full = fullRedisSuite()

  it('passes new responses through unstored, reports StoreError, and keeps serving what was stored before', async () => {
    const store = new RedisStore({ url: full.redis.url, namespace: freshNamespace() })
    const { errors, onError } = errorLog()
    const watch = watchProcess()
    const { dispatcher, close } = cachedAgent({ store, commandTimeout: 500, onError })
    try {
      await untilReady(store)
      await send(dispatcher, `${full.origin.url}/kept`)
      assert.match((await send(dispatcher, `${full.origin.url}/kept`)).cacheStatus ?? '', /; hit;/)
      const storedBefore = await storedIds(store)
      assert.equal(storedBefore.length, 1)

      // Junk keys under a prefix of their own (this server is ours alone) until a write is refused.
      for (let round = 0; ; round++) {
        assert.ok(round < 20, 'Redis never refused a write')
        await full.redis.cli('DEBUG', 'POPULATE', '5000', `junk${round}`, '100')
        if (/^OOM/.test(await full.redis.cli('SET', 'oom-probe', 'x'))) break
      }

      const before = full.origin.count()
      for (let i = 0; i < 4; i++) {
        const path = `/new-${i % 2}`
        const reply = await send(dispatcher, `${full.origin.url}${path}`)
        assert.equal(reply.status, 200)
        assert.equal(reply.text, `body of ${path}`)
        assert.match(reply.cacheStatus ?? '', /; fwd=miss/)
      }
      assert.equal(full.origin.count() - before, 4, 'each request for the new URLs reached the origin')
      assert.deepEqual(await storedIds(store), storedBefore)

      const kept = await send(dispatcher, `${full.origin.url}/kept`)
      assert.equal(kept.text, 'body of /kept')
      assert.match(kept.cacheStatus ?? '', /; hit;/)
      assert.equal(full.origin.count('/kept'), 1)

      const storeErrors = errors.filter((e) => e instanceof StoreError)
      assert.ok(storeErrors.length > 0, `onError got ${errors.map((e) => e.code).join(', ')}`)
      assert.match(String((storeErrors[0]!.cause as Error | undefined)?.message), /OOM|EXECABORT/)
      assert.deepEqual(watch.events, [])
    } finally {
      watch.stop()
      await close()
      await store.close()
    }
  })
})
