/**
 * Issue 11: Redis full (`maxmemory` reached under `noeviction`) refuses every write with OOM but still
 * answers reads. The failing writes used to open the one breaker, which then skipped reads too: hot
 * hits fell to 7% under 16-way concurrency. Writes and reads now have separate health: refused writes
 * open only the write side, what was stored before keeps being served, and invalidations (deletes,
 * which a full Redis still takes) still apply.
 */
import assert from 'node:assert/strict'
import { StoreWritesUnavailableError } from '../../lib/errors.js'
import { RedisStore, StoreError, StoreUnavailableError } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { errorLog, freshNamespace, storedIds, untilReady, watchProcess } from '../helpers/faults.js'
import { fullRedisSuite } from '../helpers/outage.js'

const CONCURRENCY = 16
const ROUNDS = 4
const HOT = ['/hot-0', '/hot-1', '/hot-2', '/hot-3']

describe('Redis full: reads keep flowing while writes are refused (issue 11)', () => {
  const full = fullRedisSuite()

  it(`under ${CONCURRENCY}-way concurrency every hot request stays a hit while every write fails with OOM`, async () => {
    const store = new RedisStore({ url: full.redis.url, namespace: freshNamespace('full') })
    const { errors, onError } = errorLog()
    const watch = watchProcess()
    const { dispatcher, close } = cachedAgent({ store, commandTimeout: 500, onError })
    try {
      await untilReady(store)
      for (const path of HOT) await send(dispatcher, `${full.origin.url}${path}`)
      const storedBefore = (await storedIds(store)).sort()
      assert.equal(storedBefore.length, HOT.length)

      for (let round = 0; ; round++) {
        assert.ok(round < 20, 'Redis never refused a write')
        await full.redis.cli('DEBUG', 'POPULATE', '5000', `junk${round}`, '100')
        if (/^OOM/.test(await full.redis.cli('SET', 'oom-probe', 'x'))) break
      }

      let hot = 0
      let hits = 0
      for (let round = 0; round < ROUNDS; round++) {
        // Half the callers ask for hot URLs, half for new ones whose writes Redis refuses.
        const paths = Array.from({ length: CONCURRENCY }, (_, i) => (i % 2 === 0 ? HOT[(i / 2) % HOT.length]! : `/new-${round}-${i}`))
        const replies = await Promise.all(paths.map((path) => send(dispatcher, `${full.origin.url}${path}`).then((reply) => ({ path, reply }))))
        for (const { path, reply } of replies) {
          assert.equal(reply.text, `body of ${path}`)
          if (!path.startsWith('/hot')) continue
          hot++
          if (/; hit;/.test(reply.cacheStatus ?? '')) hits++
        }
      }
      assert.equal(hits, hot, `${hits} of ${hot} hot requests were hits`)
      for (const path of HOT) assert.equal(full.origin.count(path), 1, `${path} reached the origin again`)
      assert.deepEqual((await storedIds(store)).sort(), storedBefore)

      const oom = errors.filter((e) => e instanceof StoreError && /OOM|EXECABORT/.test(String((e.cause as Error | undefined)?.message)))
      assert.ok(oom.length > 0, `onError got ${errors.map((e) => e.code).join(', ')}`)
      // Refused writes open the write side: later writes are skipped rather than sent to a full Redis.
      assert.ok(oom.length < ROUNDS * (CONCURRENCY / 2), `${oom.length} writes were still sent to a full Redis`)
      assert.ok(errors.some((e) => e instanceof StoreWritesUnavailableError))
      assert.ok(!errors.some((e) => e instanceof StoreUnavailableError), 'reads were never skipped')

      // A full Redis still deletes: an invalidation (RFC 9111 §4.4) is not skipped with the writes.
      assert.equal((await send(dispatcher, `${full.origin.url}/hot-0`, { method: 'DELETE' })).status, 200)
      const after = await send(dispatcher, `${full.origin.url}/hot-0`)
      assert.match(after.cacheStatus ?? '', /; fwd=miss/, 'the invalidated entry is gone')
      assert.equal(full.origin.count('/hot-0'), 3, 'the DELETE and the GET after it reached the origin')
      assert.deepEqual(watch.events, [])
    } finally {
      watch.stop()
      await close()
      await store.close()
    }
  })
})
