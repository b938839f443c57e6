/**
 * Issue 11: right after `new RedisStore({ url })` the first request reported "client is not connected"
 * to onError and said `stored; detail=store-error`, since the client connects in the background and
 * commands failed fast until it was ready. Startup is quiet now: a call made before the first connect
 * waits for it (the guard's commandTimeout still bounds the wait); once the client has connected, or
 * its first attempt has failed, calls fail fast again while it is not ready.
 */
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { RedisStore, StoreError } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { errorLog, freshNamespace, timed, watchProcess } from '../helpers/faults.js'
import { freshBodyOfUrl, startOrigin, type Origin } from '../helpers/origin.js'
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js'

describe('RedisStore startup (issue 11)', () => {
  let redis: RedisServer
  let origin: Origin

  before(async () => {
    redis = await startRedis()
    origin = await startOrigin(freshBodyOfUrl)
  })
  after(async () => {
    await origin.close()
    await redis.stop()
  })

  it('the first request right after new RedisStore({ url }) reports nothing, is stored, and the next is a hit', async () => {
    const store = new RedisStore({ url: redis.url, namespace: freshNamespace('startup') })
    const { errors, onError } = errorLog()
    const watch = watchProcess()
    // The subject is the wait for the first connect, not cache()'s budget: a loaded machine can take
    // longer than the default 200 ms to connect, and without the wait the call fails at once anyway.
    const { dispatcher, close } = cachedAgent({ store, onError, commandTimeout: 2000 })
    try {
      const first = await send(dispatcher, `${origin.url}/first`)
      assert.equal(first.text, 'body of /first')
      assert.match(first.cacheStatus ?? '', /; fwd=miss; fwd-status=200; stored$/)
      assert.deepEqual(errors.map((e) => `${e.code}: ${e.message}`), [])
      assert.match((await send(dispatcher, `${origin.url}/first`)).cacheStatus ?? '', /; hit;/)
      assert.deepEqual(watch.events, [])
    } finally {
      watch.stop()
      await close()
      await store.close()
    }
  })

  it('a store call made before the first connect waits for it; after a disconnect calls fail fast again', async () => {
    const own = await startRedis()
    const store = new RedisStore({ url: own.url, namespace: freshNamespace('startup') })
    try {
      assert.equal(store.isReady, false)
      assert.deepEqual(await store.get(['a1']), [undefined])
      await own.kill()
      const { ms } = await timed(() => assert.rejects(store.get(['a1']), StoreError))
      assert.ok(ms < 50, `a call while disconnected waited ${ms.toFixed(0)} ms`)
    } finally {
      await store.close()
      await own.stop()
    }
  })

  it('nothing listens: a call before the first connect fails once the first attempt does, fast', async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, namespace: freshNamespace('startup') })
    try {
      const { ms } = await timed(() => assert.rejects(store.get(['a1']), (error: unknown) => error instanceof StoreError && /ECONNREFUSED/.test(error.message)))
      assert.ok(ms < 200, `took ${ms.toFixed(0)} ms`)
    } finally {
      await store.close()
    }
  })

  it('a first connect that never settles: the guard bounds the first request, and close() releases a call still waiting', async () => {
    // Accepts the connection and never answers: with a password, the client waits for AUTH forever.
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => void sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as AddressInfo
    const store = new RedisStore({ url: `redis://:secret@127.0.0.1:${port}`, namespace: freshNamespace('startup') })
    const { dispatcher, close } = cachedAgent({ store, commandTimeout: 100 })
    try {
      const { value: reply, ms } = await timed(() => send(dispatcher, `${origin.url}/silent`))
      assert.equal(reply.text, 'body of /silent')
      assert.ok(ms < 600, `the first request took ${ms.toFixed(0)} ms`)
      const waiting = store.get(['a1'])
      const closing = await timed(async () => {
        await store.close()
        await assert.rejects(waiting, StoreError)
      })
      assert.ok(closing.ms < 1500, `close took ${closing.ms.toFixed(0)} ms`)
    } finally {
      await close()
      await store.close()
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })
})
