/**
 * Turning the cache off for a while without recomposing the dispatcher (issue 13; requests-cache
 * `cache_disabled()`): `disable()` / `enable()` on the interceptor cache() returns, and
 * `disabled(fn)`, which turns it off only for the requests of fn's own async call tree. A store spy
 * shows that a request the switch sends around the cache costs no store call.
 */
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { cache, type CacheInterceptor } from '../../lib/interceptor.js'
import { send } from '../helpers/client.js'
import { spyStore, type StoreCalls } from '../helpers/store-spy.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'
import { Agent, fetch, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from '../helpers/undici.js'

const BYPASSED = 'undici-redis-cache; fwd=bypass; fwd-status=200; detail=disabled'

for (const kind of storeKinds) {
  describe(`switching the cache off (${kind.name} store)`, () => {
    let n = 0
    const origin = suiteOrigin(kind, (req, res) => {
      if (req.method !== 'GET') {
        res.writeHead(204)
        return res.end()
      }
      const body = `${req.url ?? ''} #${++n}`
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    async function withSwitch(run: (interceptor: CacheInterceptor, get: (path: string, method?: 'GET' | 'POST') => ReturnType<typeof send>, calls: StoreCalls, dispatcher: Dispatcher) => Promise<void>): Promise<void> {
      const spy = spyStore(await kind.make())
      const interceptor = cache({ store: spy.store })
      const agent = new Agent({ keepAliveTimeout: 500 })
      const dispatcher = agent.compose(interceptor)
      try {
        await run(interceptor, (path, method = 'GET') => send(dispatcher, `${origin.url}${path}`, { method }), spy.calls, dispatcher)
      } finally {
        await agent.close()
      }
    }

    it('disable() sends every request straight to the origin without a store call, until enable()', async () => {
      await withSwitch(async (interceptor, get, calls) => {
        await get('/a')
        assert.match((await get('/a')).cacheStatus ?? '', /; hit; /)
        interceptor.disable()
        const before = { ...calls }
        const off = [await get('/a'), await get('/a'), await get('/new')]
        for (const reply of off) assert.equal(reply.cacheStatus, BYPASSED)
        assert.equal(origin.count('/a'), 3)
        assert.deepEqual(calls, before, 'nothing read or written while off')
        interceptor.enable()
        const back = await get('/a')
        assert.match(back.cacheStatus ?? '', /; hit; /, 'what was stored before is served again')
        assert.equal(back.text, '/a #1')
        assert.match((await get('/new')).cacheStatus ?? '', /fwd=miss/, 'nothing was stored while off')
      })
    })

    it('disabled(fn) turns it off only inside fn, across awaits, while a concurrent request outside is still a hit', async () => {
      await withSwitch(async (interceptor, get, calls, dispatcher) => {
        await get('/b')
        let release!: () => void
        const gate = new Promise<void>((resolve) => (release = resolve))
        const inside = interceptor.disabled(async () => {
          await gate
          const first = await get('/b')
          await delay(1)
          const viaFetch = await fetch(`${origin.url}/b`, { dispatcher })
          await viaFetch.arrayBuffer()
          return [first.cacheStatus, viaFetch.headers.get('cache-status')]
        })
        // Dispatched while the scope is open, but from outside it.
        const outside = get('/b')
        release()
        assert.match((await outside).cacheStatus ?? '', /; hit; /)
        assert.deepEqual(await inside, [BYPASSED, BYPASSED])
        assert.match((await get('/b')).cacheStatus ?? '', /; hit; /, 'on again after fn')
        assert.equal(calls.writes, 1, 'only the first response was stored')
      })
    })

    it('disabled(fn) returns what fn returns, and the state around it is unchanged', async () => {
      await withSwitch(async (interceptor, get) => {
        assert.equal(interceptor.disabled(() => 42), 42)
        interceptor.disable()
        await interceptor.disabled(async () => {
          interceptor.enable()
          assert.equal((await get('/c')).cacheStatus, BYPASSED, 'enable() does not end a disabled(fn) scope')
        })
        await get('/c')
        assert.match((await get('/c')).cacheStatus ?? '', /; hit; /)
        assert.throws(() => interceptor.disabled('not a function' as unknown as () => void), TypeError)
      })
    })

    it("disabled(fn) reaches Node's global fetch after setGlobalDispatcher", async () => {
      await withSwitch(async (interceptor, get, _calls, dispatcher) => {
        await get('/global')
        const previous = getGlobalDispatcher()
        setGlobalDispatcher(dispatcher)
        try {
          const status = async (): Promise<string | null> => {
            const res = await globalThis.fetch(`${origin.url}/global`)
            await res.arrayBuffer()
            return res.headers.get('cache-status')
          }
          assert.equal(await interceptor.disabled(status), BYPASSED)
          assert.match((await status()) ?? '', /; hit; /)
        } finally {
          setGlobalDispatcher(previous)
        }
      })
    })

    it('an unsafe method while off still invalidates what it changed (RFC 9111 §4.4)', async () => {
      await withSwitch(async (interceptor, get) => {
        await get('/d')
        interceptor.disable()
        assert.match((await get('/d', 'POST')).cacheStatus ?? '', /fwd=method; fwd-status=204/)
        interceptor.enable()
        assert.match((await get('/d')).cacheStatus ?? '', /fwd=miss/)
      })
    })
  })
}
