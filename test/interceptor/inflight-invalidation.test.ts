/**
 * RFC 9111 §4.4: a response whose request was at the origin while an unsafe request invalidated the
 * URL may show what the write changed. Storing it after the invalidation would undo it, so the cache
 * does not store it (the Vary case is in vary-invalidation.test.ts). Nor does this process serve an
 * entry an invalidation could not remove (Redis away, breaker open).
 */
import assert from 'node:assert/strict'
import { cachedAgent, send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

for (const kind of storeKinds) {
  describe(`a GET in flight during an invalidation (${kind.name} store)`, () => {
    let version = 0
    /** Releases the held GET, once the PUT has changed the resource. */
    let releaseHeld: (() => void) | undefined

    const origin = suiteOrigin(kind, (req, res) => {
      if (req.method === 'PUT') {
        version++
        res.writeHead(204)
        res.end()
        return releaseHeld?.()
      }
      // The held GET reads the resource as it was before the PUT, and answers only after it.
      const body = `v${version}`
      const answer = (): void => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }
      if (req.headers['x-hold'] !== undefined) releaseHeld = answer
      else answer()
    })

    it('is passed on but not stored: the next GET reaches the origin for the new version', async () => {
      const clock = new ManualClock(Date.now())
      const { dispatcher, close } = cachedAgent({ store: await kind.make(), clock })
      try {
        const held = send(dispatcher, `${origin.url}/doc`, { headers: { 'x-hold': '1' } })
        // The PUT is sent only once the held GET is at the origin.
        while (releaseHeld === undefined) await new Promise((resolve) => setImmediate(resolve))
        clock.advance(1000)
        assert.equal((await send(dispatcher, `${origin.url}/doc`, { method: 'PUT', body: 'x' })).status, 204)
        const old = await held
        assert.equal(old.text, 'v0')
        const after = await send(dispatcher, `${origin.url}/doc`)
        assert.equal(after.text, 'v1', `served ${after.text} (${after.cacheStatus})`)
      } finally {
        releaseHeld = undefined
        await close()
      }
    })
  })
}

for (const kind of storeKinds) {
  describe(`an invalidation whose removal failed (${kind.name} store)`, () => {
    let version = 0
    const origin = suiteOrigin(kind, (req, res) => {
      if (req.method === 'PUT') version++
      const body = `v${version}`
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    it('is still honoured by this process: the old entry is not served though it stayed in the store', async () => {
      const clock = new ManualClock(Date.now())
      const real = await kind.make()
      // A store whose removals fail, as when Redis is away or refuses them.
      const store = new Proxy(real, {
        get(target, property) {
          if (property === 'remove') return async () => Promise.reject(new Error('removal refused'))
          const value: unknown = Reflect.get(target, property, target)
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
        },
      })
      const errors: string[] = []
      const { dispatcher, close } = cachedAgent({ store, clock, onError: (error) => void errors.push(error.code) })
      try {
        assert.equal((await send(dispatcher, `${origin.url}/kept`)).text, 'v0')
        assert.match((await send(dispatcher, `${origin.url}/kept`)).cacheStatus ?? '', /; hit; /)
        clock.advance(1000)
        await send(dispatcher, `${origin.url}/kept`, { method: 'PUT', body: 'x' })
        assert.ok(errors.includes('URC_ERR_STORE'), `the failed removal was reported: ${errors.join(', ')}`)
        const after = await send(dispatcher, `${origin.url}/kept`)
        assert.equal(after.text, 'v1', `served ${after.text} (${after.cacheStatus})`)
      } finally {
        await close()
      }
    })
  })
}

describe('a read behind a slow invalidation of its own URL', () => {
  const memory = storeKinds.find((kind) => kind.name === 'memory')!
  let version = 0
  const origin = suiteOrigin(memory, (req, res) => {
    if (req.method === 'PUT') version++
    const body = `v${version}`
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })

  it('waits for it one command timeout at most, then goes on (and still never serves the invalidated entry)', async () => {
    const clock = new ManualClock(Date.now())
    const real = await memory.make({ clock })
    const hang = new Promise<never>(() => {})
    let stall = false
    // While `stall` is on, removals hang: each invalidation waits one command timeout for its removal,
    // and two invalidations of one URL in a row (each after the one before) take two.
    const store = new Proxy(real, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          if (stall && property === 'remove') return hang
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    const { dispatcher, close } = cachedAgent({ store, clock, commandTimeout: 100 })
    try {
      assert.equal((await send(dispatcher, `${origin.url}/slow`)).text, 'v0')
      clock.advance(1000)
      stall = true
      const put = send(dispatcher, `${origin.url}/slow`, { method: 'PUT', body: 'x' })
      const again = send(dispatcher, `${origin.url}/slow`, { method: 'PUT', body: 'y' })
      const settled = async (promise: Promise<unknown>): Promise<boolean> => {
        let done = false
        void promise.then(() => (done = true))
        for (let i = 0; i < 50 && !done; i++) await new Promise((resolve) => setTimeout(resolve, 2))
        return done
      }
      // The PUT is held until its invalidation is done: the chain is under way.
      assert.equal(await settled(put), false)
      const get = send(dispatcher, `${origin.url}/slow`)
      assert.equal(await settled(get), false, 'the read waits for the invalidation first')
      clock.advance(100)
      // One command timeout later the read goes on, though the chain needs another.
      assert.equal(await settled(get), true, 'the read no longer waits')
      assert.equal((await get).text, 'v2')
      clock.advance(100)
      await Promise.all([put, again])
    } finally {
      stall = false
      await close()
    }
  })
})
