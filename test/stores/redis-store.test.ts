import assert from 'node:assert/strict'
import { createClient } from 'redis'
import { encodeRecord } from '../../lib/codec/frame.js'
import { CacheError, InvalidOptionError, StoreError } from '../../lib/errors.js'
import { GuardedStore } from '../../lib/stores/guarded-store.js'
import { RedisStore, type RedisStoreOptions } from '../../lib/stores/redis-store.js'
import { ManualClock } from '../helpers/clock.js'
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js'
import { collect, decode, sleep, storeContract, storedResponse, text } from './store-contract.js'

let server: RedisServer
let namespaces = 0

before(async function () {
  this.timeout(10_000)
  server = await startRedis()
})

after(async () => {
  await server?.stop()
})

/** A store on the fixture server under a namespace no other test uses. */
async function openStore(options: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const store = new RedisStore({ url: server.url, namespace: `test${++namespaces}`, ...options } as RedisStoreOptions)
  await store.ready()
  return store
}

/** Polls `check` every few ms of real time (Redis I/O), failing after `limitMs`. */
async function until(check: () => Promise<boolean>, message: string, limitMs = 3000): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!(await check())) {
    assert.ok(Date.now() < deadline, message)
    await sleep(10)
  }
}

// The contract checks expiry at ttlMs exactly; the default ttlOffset (an hour) is tested below.
storeContract('RedisStore', async () => {
  const clock = new ManualClock()
  const store = await openStore({ ttlOffset: 0, clock })
  return { store, clock, expiry: 'server', cleanup: () => store.close() }
})

describe('RedisStore', () => {
  const stores: RedisStore[] = []
  async function track(store: Promise<RedisStore>): Promise<RedisStore> {
    stores.push(await store)
    return stores[stores.length - 1] as RedisStore
  }
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
  })

  it('keeps every key under the namespace, hash-tagged, with a TTL from ttlMs', async () => {
    const store = await track(openStore({ namespace: 'layout', ttlOffset: 0 }))
    await store.set([
      { id: 'ab12', value: text('pointer'), ttlMs: 60_000 },
      { id: 'ab12.cd34', value: text('variant'), ttlMs: 30_000 },
    ])
    assert.deepEqual((await server.cli('--scan', '--pattern', 'layout*')).split('\n').sort(), [
      'layout:{ab12}',
      'layout:{ab12}:cd34',
    ])
    const pointerTtl = Number(await server.cli('PTTL', 'layout:{ab12}'))
    const variantTtl = Number(await server.cli('PTTL', 'layout:{ab12}:cd34'))
    assert.ok(pointerTtl > 55_000 && pointerTtl <= 60_000, `PTTL ${pointerTtl}`)
    assert.ok(variantTtl > 25_000 && variantTtl <= 30_000, `PTTL ${variantTtl}`)
    assert.equal(await server.cli('GET', 'layout:{ab12}:cd34'), 'variant')
  })

  it('keeps values an hour past their ttlMs by default (ttlOffset 3600, room to revalidate)', async () => {
    const store = await track(openStore({ namespace: 'default-offset' }))
    await store.set([{ id: 'ab12', value: text('v'), ttlMs: 60_000 }])
    const pttl = Number(await server.cli('PTTL', 'default-offset:{ab12}'))
    assert.ok(pttl > 3_655_000 && pttl <= 3_660_000, `PTTL ${pttl}`)
  })

  it('sets no TTL with ttl: false', async () => {
    const store = await track(openStore({ namespace: 'nottl', ttl: false }))
    await store.set([
      { id: 'a1', value: text('kept'), ttlMs: 1000 },
      { id: 'a2', value: text('kept too'), ttlMs: 0 },
    ])
    assert.equal(await server.cli('PTTL', 'nottl:{a1}'), '-1')
    assert.equal(await server.cli('PTTL', 'nottl:{a2}'), '-1')
  })

  it('sets no TTL for a value without ttlMs, and clears the TTL it had', async () => {
    const store = await track(openStore({ namespace: 'cleared' }))
    await store.set([{ id: 'a1', value: text('old'), ttlMs: 60_000 }])
    await store.set([{ id: 'a1', value: text('new'), ttlMs: undefined }])
    assert.equal(await server.cli('PTTL', 'cleared:{a1}'), '-1')
  })

  it('adds ttlOffset seconds to the TTL', async () => {
    const store = await track(openStore({ namespace: 'offset', ttlOffset: 100 }))
    await store.set([
      { id: 'a1', value: text('x'), ttlMs: 1000 },
      { id: 'a2', value: text('stale but kept'), ttlMs: -5000 },
    ])
    const ttl = Number(await server.cli('PTTL', 'offset:{a1}'))
    assert.ok(ttl > 96_000 && ttl <= 101_000, `PTTL ${ttl}`)
    const staleTtl = Number(await server.cli('PTTL', 'offset:{a2}'))
    assert.ok(staleTtl > 90_000 && staleTtl <= 95_000, `PTTL ${staleTtl}`)
  })

  it('reads with one GET or one MGET and writes with one MULTI', async () => {
    const store = await track(openStore({ namespace: 'commands' }))
    await server.cli('CONFIG', 'RESETSTAT')
    await store.set([
      { id: 'a1', value: text('x'), ttlMs: 60_000 },
      { id: 'a1.b1', value: text('y'), ttlMs: 60_000 },
    ])
    await store.get(['a1'])
    await store.get(['a1', 'a1.b1', 'a1.b2'])
    const stats = await server.cli('INFO', 'commandstats')
    const calls = (command: string): number => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    assert.deepEqual(
      { get: calls('get'), mget: calls('mget'), multi: calls('multi'), exec: calls('exec'), set: calls('set') },
      { get: 1, mget: 1, multi: 1, exec: 1, set: 2 },
    )
  })

  it('clears only its own namespace', async () => {
    const store = await track(openStore({ namespace: 'mine' }))
    // `t*` would match `tx:…` if the pattern were not escaped.
    const globby = await track(openStore({ namespace: 't*' }))
    await server.cli('SET', 'foreign', 'keep')
    await server.cli('SET', 'mine2:{ab}', 'keep')
    await server.cli('SET', 'mine:meta', 'keep')
    await server.cli('SET', 'tx:{ab}', 'keep')
    await store.set([{ id: 'ab', value: text('x'), ttlMs: undefined }])
    await globby.set([{ id: 'ab', value: text('y'), ttlMs: undefined }])
    await store.clear()
    await globby.clear()
    for (const key of ['foreign', 'mine2:{ab}', 'mine:meta', 'tx:{ab}']) {
      assert.equal(await server.cli('GET', key), 'keep', key)
    }
    assert.equal(await server.cli('EXISTS', 'mine:{ab}', 't*:{ab}'), '0')
  })

  it('ignores keys of other namespaces in ids(), scan() and stats()', async () => {
    const store = await track(openStore({ namespace: 'listed' }))
    await server.cli('SET', 'listed2:{ab}', 'not mine')
    await server.cli('SET', 'listed:{zz}', 'not an id')
    await store.set([{ id: 'cd', value: text('mine'), ttlMs: undefined }])
    assert.deepEqual(await collect(store.ids()), ['cd'])
    assert.deepEqual(
      (await collect(store.scan())).map((entry) => [entry.id, decode(entry.value)]),
      [['cd', 'mine']],
    )
    const stats = await store.stats()
    // 'mine' is no response, so it counts in bytes only.
    assert.deepEqual([stats.entries, stats.bytes], [0, 4])
  })

  it('lists and clears more keys than one SCAN batch', async function () {
    this.timeout(10_000)
    const store = await track(openStore({ namespace: 'many' }))
    const ids = Array.from({ length: 1200 }, (_, index) => index.toString(16).padStart(4, '0'))
    for (let start = 0; start < ids.length; start += 100) {
      await store.set(ids.slice(start, start + 100).map((id) => ({ id, value: storedResponse(`https://example.com/${id}`), ttlMs: undefined })))
    }
    assert.equal(new Set(await collect(store.ids())).size, 1200)
    assert.equal((await store.stats()).entries, 1200)
    await store.clear()
    assert.equal(await server.cli('EVAL', "return #redis.call('KEYS', 'many:*')", '0'), '0')
  })

  it('flushes count() to the stats hash with one MULTI of HINCRBY a second later', async () => {
    const clock = new ManualClock()
    const store = await track(openStore({ namespace: 'flush', clock }))
    await server.cli('CONFIG', 'RESETSTAT')
    store.count({ hits: 1, misses: 2 })
    store.count({ hits: 1, staleServed: 0 })
    assert.equal(await server.cli('EXISTS', 'flush:stats'), '0', 'no I/O on count()')
    clock.advance(999)
    assert.equal(await server.cli('EXISTS', 'flush:stats'), '0', 'flushed before a second passed')
    clock.advance(1)
    await until(async () => (await server.cli('HGET', 'flush:stats', 'hits')) === '2', 'not flushed once a second passed')
    assert.equal(await server.cli('HGET', 'flush:stats', 'misses'), '2')
    assert.equal(clock.pending, 0, 'no timer armed while no counts wait')
    const stats = await server.cli('INFO', 'commandstats')
    const calls = (command: string): number => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    assert.deepEqual({ multi: calls('multi'), hincrby: calls('hincrby'), exec: calls('exec') }, { multi: 1, hincrby: 2, exec: 1 })
  })

  it('flushes the buffered counts on close()', async () => {
    const store = await openStore({ namespace: 'flush-on-close' })
    store.count({ errors: 3 })
    await store.close()
    assert.equal(await server.cli('HGET', 'flush-on-close:stats', 'errors'), '3')
  })

  it('keeps the counts of a failed flush for the next one, and reports the failure through the guard', async function () {
    this.timeout(15_000)
    const own = await startRedis()
    const clock = new ManualClock()
    const store = new RedisStore({ url: own.url, namespace: 'retry', clock })
    const reports: CacheError[] = []
    // The guard subscribes its reporter to the store's background failures (CacheStore.onBackgroundError).
    const guarded = new GuardedStore(store, { commandTimeout: 1000, report: (error) => reports.push(error), clock })
    try {
      await store.ready()
      guarded.count({ hits: 7 })
      await own.kill()
      await until(async () => !store.isReady, 'the client did not notice the server went away')
      // The flush due a second later fails: the server is gone.
      clock.advance(1000)
      await until(async () => reports.length > 0, 'the failed flush was not reported')
      assert.ok(reports[0] instanceof StoreError && reports[0].operation === 'flush', `reported ${reports[0]?.message}`)
      assert.equal(guarded.state, 'closed', 'a background failure is reported, not counted by the breaker')
      guarded.count({ hits: 1 })
      await own.restart()
      // Each failed flush re-arms the timer for a second later; move the clock until one goes through.
      await until(async () => {
        clock.advance(1000)
        return (await own.cli('HGET', 'retry:stats', 'hits')) === '8'
      }, 'counts lost or not flushed after the restart', 8000)
    } finally {
      await store.close()
      await own.stop()
    }
  })

  it('hands a failed flush to every onBackgroundError listener until each unsubscribes, and retries it', async () => {
    const clock = new ManualClock()
    const store = await track(openStore({ namespace: 'listeners', clock }))
    const seen: string[] = []
    const first = store.onBackgroundError((error) => seen.push(`first ${error.code}`))
    store.onBackgroundError(() => {
      throw new Error('a broken listener does not stop the others')
    })
    store.onBackgroundError((error) => seen.push(`third ${error.code}`))
    // A stats "hash" of the wrong type makes HINCRBY fail: a failure of the flush alone.
    await server.cli('SET', 'listeners:stats', 'not a hash')
    store.count({ hits: 1 })
    clock.advance(1000)
    await until(async () => seen.length === 2, 'the listeners did not hear of the failed flush')
    assert.deepEqual(seen, ['first URC_ERR_STORE', 'third URC_ERR_STORE'])
    first()
    clock.advance(1000)
    await until(async () => seen.length === 3, 'the retry did not fail again')
    assert.equal(seen[2], 'third URC_ERR_STORE')
    await server.cli('DEL', 'listeners:stats')
    clock.advance(1000)
    await until(async () => (await server.cli('HGET', 'listeners:stats', 'hits')) === '1', 'the counts were not kept for the retry')
    assert.equal(seen.length, 3)
  })

  it('lists entries by reading metadata with GETRANGE, never the bodies', async () => {
    const store = await track(openStore({ namespace: 'no-bodies' }))
    const now = Date.now()
    const body = new Uint8Array(4 * 1024 * 1024).fill(1)
    const ids = ['b1', 'b2', 'b3']
    await store.set(
      ids.map((id) => ({
        id,
        value: encodeRecord({
          kind: 'entry', key: id, url: `https://example.com/${id}`, method: 'GET', status: 200, statusText: 'OK', headers: {},
          vary: undefined, requestTime: now, responseTime: now, initialAge: 0, lifetime: 60, body,
        }),
        ttlMs: undefined,
      })),
    )
    await server.cli('CONFIG', 'RESETSTAT')
    const listed = await collect(store.entries())
    const info = (await server.cli('INFO', 'stats')) + (await server.cli('INFO', 'commandstats'))
    assert.deepEqual(listed.map((entry) => entry.bodySize), [body.length, body.length, body.length])
    const sent = Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1])
    assert.ok(sent < 64 * 1024, `Redis sent ${sent} bytes to list three 4 MiB entries`)
    assert.match(info, /cmdstat_getrange:calls=3,/)
    assert.doesNotMatch(info, /cmdstat_(get|mget):/)
  })

  it('rejects a malformed id with StoreError', async () => {
    const store = await track(openStore())
    await assert.rejects(store.get(['NOT-HEX']), StoreError)
    await assert.rejects(store.set([{ id: 'ab}', value: text('x'), ttlMs: undefined }]), StoreError)
    // The store does not count its own failures: the guard reports them and the cache counts them with count().
    assert.equal((await store.stats()).errors, 0)
  })

  it('leaves a borrowed client open after close and detaches its listeners', async () => {
    const client = createClient({ url: server.url })
    client.on('error', () => {})
    await client.connect()
    try {
      const errorListeners = client.listenerCount('error')
      const store = new RedisStore({ client, namespace: 'borrowed' })
      await store.set([{ id: 'a1', value: text('via borrowed'), ttlMs: 60_000 }])
      assert.deepEqual((await store.get(['a1'])).map(decode), ['via borrowed'])
      await store.close()
      assert.equal(client.isOpen, true)
      assert.equal(await client.ping(), 'PONG')
      assert.equal(client.listenerCount('error'), errorListeners)
      await assert.rejects(store.get(['a1']), StoreError)
    } finally {
      await client.quit()
    }
  })

  it('connects a borrowed client the user did not connect', async () => {
    const client = createClient({ url: server.url })
    const store = new RedisStore({ client, namespace: 'unconnected' })
    try {
      await store.ready()
      await store.set([{ id: 'a1', value: text('connected for you'), ttlMs: undefined }])
      assert.deepEqual((await store.get(['a1'])).map(decode), ['connected for you'])
      await store.close()
      assert.equal(client.isReady, true)
    } finally {
      await store.close()
      await client.quit()
    }
  })

  it('fails fast with StoreError when Redis is unreachable, without an uncaught error', async () => {
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown): void => {
      uncaught.push(error)
    }
    process.on('uncaughtException', onUncaught)
    process.on('unhandledRejection', onUncaught)
    const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, namespace: 'unreachable' })
    try {
      await assert.rejects(store.ready(100), StoreError)
      const started = Date.now()
      await assert.rejects(store.get(['a1']), (error: unknown) => error instanceof StoreError && /ECONNREFUSED/.test(error.message))
      await assert.rejects(store.set([{ id: 'a1', value: text('x'), ttlMs: undefined }]), StoreError)
      await assert.rejects(store.remove(['a1']), StoreError)
      await assert.rejects(collect(store.ids()), StoreError)
      assert.ok(Date.now() - started < 100, `took ${Date.now() - started} ms`)
      assert.equal(store.isReady, false)
    } finally {
      await store.close()
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onUncaught)
    }
    assert.deepEqual(uncaught, [])
  })

  it('reconnects after the server restarts', async function () {
    this.timeout(10_000)
    const own = await startRedis()
    const store = new RedisStore({ url: own.url, namespace: 'restart' })
    try {
      await store.ready()
      await store.set([{ id: 'a1', value: text('before'), ttlMs: undefined }])
      await own.restart()
      // The client may not have seen the old connection drop yet: retry until a read goes through.
      const deadline = Date.now() + 5000
      let values: (Uint8Array | undefined)[] | undefined
      while (values === undefined) {
        try {
          values = await store.get(['a1'])
        } catch (error) {
          if (Date.now() > deadline) throw error
          await sleep(50)
        }
      }
      // `--save ''`: the restarted server starts empty.
      assert.deepEqual(values, [undefined])
    } finally {
      await store.close()
      await own.stop()
    }
  })

  const invalid: [name: string, options: Record<string, unknown>, option: string][] = [
    ['a namespace with a brace', { namespace: 'a{b' }, 'namespace'],
    ['an empty namespace', { namespace: '' }, 'namespace'],
    ['ttl not a boolean', { ttl: 1 }, 'ttl'],
    ['a negative ttlOffset', { ttlOffset: -1 }, 'ttlOffset'],
    ['a NaN ttlOffset', { ttlOffset: Number.NaN }, 'ttlOffset'],
    ['a commandTimeout of 0', { commandTimeout: 0 }, 'commandTimeout'],
    ['a commandTimeout that is not a number', { commandTimeout: '5s' }, 'commandTimeout'],
    ['a misspelt commandTimeout', { url: 'redis://127.0.0.1:1', commandTimout: 100 }, 'commandTimout'],
    ['a client that is not a node-redis client', { client: {} }, 'client'],
    ['a URL that is not redis://', { url: 'http://127.0.0.1:1' }, 'url'],
    ['a URL that does not parse', { url: 'nope' }, 'url'],
    ['a misspelt namespace, which node-redis would ignore', { url: 'redis://127.0.0.1:1', namespce: 'a' }, 'namespce'],
    ['a misspelt localCache', { url: 'redis://127.0.0.1:1', localcache: { maxSize: 1024 } }, 'localcache'],
    ['client options next to client', { client: createClient(), url: 'redis://127.0.0.1:1' }, 'url'],
  ]
  for (const [name, options, option] of invalid) {
    it(`rejects ${name} with InvalidOptionError naming \`${option}\``, () => {
      assert.throws(
        () => new RedisStore(options as RedisStoreOptions),
        (error: unknown) => error instanceof InvalidOptionError && error.option === option,
      )
    })
  }
})
