/**
 * Issue #9: the cache on every runtime a user has: undici 7 or 8 under the interceptor, undici's own
 * fetch, and the running Node's global fetch (undici 6 on Node 20 and 22, 7 on Node 24, 8 on Node 26)
 * after setGlobalDispatcher. undici 8's fetch reads response headers from the controller's
 * `rawHeaders` only: before the fix, every response through the cache reached it with no headers, and
 * a gzip body stayed compressed. CI runs this file on each Node major with each undici it allows.
 */
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { cache, type CacheStore } from '../../lib/index.js'
import { cachedAgent } from '../helpers/client.js'
import { Agent, fetch, getGlobalDispatcher, setGlobalDispatcher, undiciMajor, type Dispatcher } from '../helpers/undici.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

const TEXT = 'hello, compressed world '.repeat(50)
const GZIPPED = gzipSync(TEXT)

type FetchLike = (url: string) => Promise<Response>

for (const kind of storeKinds) {
  describe(`runtimes: Node ${process.versions.node}, undici ${undiciMajor} (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, (_req, res) => {
      res.writeHead(200, {
        'cache-control': 'max-age=60',
        'content-type': 'text/plain; charset=utf-8',
        'content-encoding': 'gzip',
        'content-length': GZIPPED.byteLength,
        etag: '"gz1"',
        'set-cookie-like': ['one', 'two'],
      })
      res.end(GZIPPED)
    })

    /** Two fetches of one URL: the miss and the hit each keep every header and decode the body. */
    async function assertMissThenHit(get: FetchLike, path: string): Promise<void> {
      const first = await get(`${origin.url}${path}`)
      assert.equal(await first.text(), TEXT)
      assert.equal(first.headers.get('content-type'), 'text/plain; charset=utf-8')
      assert.equal(first.headers.get('etag'), '"gz1"')
      // A field on two lines arrives as both values (undici 6's fetch joins them with "," alone).
      assert.deepEqual(first.headers.get('set-cookie-like')?.split(/,\s*/), ['one', 'two'])
      assert.equal(first.headers.get('cache-status'), 'undici-redis-cache; fwd=miss; fwd-status=200; stored')

      const second = await get(`${origin.url}${path}`)
      assert.equal(await second.text(), TEXT)
      assert.equal(second.headers.get('content-type'), 'text/plain; charset=utf-8')
      assert.equal(second.headers.get('etag'), '"gz1"')
      assert.equal(second.headers.get('content-encoding'), 'gzip')
      assert.match(second.headers.get('cache-status') ?? '', /^undici-redis-cache; hit; ttl=\d+$/)
      assert.match(second.headers.get('age') ?? '', /^\d+$/)
      assert.equal(origin.count(path), 1)
    }

    async function withGlobalDispatcher(store: CacheStore, run: () => Promise<void>): Promise<void> {
      const previous = getGlobalDispatcher()
      const agent = new Agent({ keepAliveTimeout: 500 })
      setGlobalDispatcher(agent.compose(cache({ store })))
      try {
        await run()
      } finally {
        setGlobalDispatcher(previous)
        await agent.close()
      }
    }

    it(`undici ${undiciMajor}'s fetch keeps every header and decodes gzip, on a miss and on a hit`, async () => {
      const { dispatcher, close } = cachedAgent({ store: await kind.make() })
      try {
        await assertMissThenHit((url) => fetch(url, { dispatcher }) as Promise<Response>, '/undici-fetch')
      } finally {
        await close()
      }
    })

    it(`undici ${undiciMajor}'s fetch after setGlobalDispatcher keeps every header and decodes gzip`, async () => {
      await withGlobalDispatcher(await kind.make(), () => assertMissThenHit((url) => fetch(url) as Promise<Response>, '/undici-global'))
    })

    it(`Node ${process.versions.node}'s global fetch (undici ${process.versions.undici}) after setGlobalDispatcher keeps every header and decodes gzip`, async () => {
      await withGlobalDispatcher(await kind.make(), () => assertMissThenHit((url) => globalThis.fetch(url), '/node-global'))
    })
  })
}

describe(`runtimes: the controller handed downstream (undici ${undiciMajor})`, () => {
  const memory = storeKinds.find((kind) => kind.name === 'memory')!
  const origin = suiteOrigin(memory, (_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', trailer: 'x-checksum' })
    res.write('body')
    res.addTrailers({ 'x-checksum': 'abc' })
    res.end()
  })

  interface Seen {
    readonly rawHeaders: Map<string, string[]>
    readonly rawTrailers: Map<string, string[]>
    readonly headers: Record<string, string | string[] | undefined>
    readonly body: string
    readonly pausedAfterPause: boolean
  }

  /** Dispatches with a handler that reads the controller as undici's own fetch does. */
  function dispatch(dispatcher: Dispatcher, url: string): Promise<Seen> {
    const { origin: base, pathname } = new URL(url)
    return new Promise((resolve, reject) => {
      let rawHeaders = new Map<string, string[]>()
      let headers: Record<string, string | string[] | undefined> = {}
      let pausedAfterPause = false
      let body = ''
      dispatcher.dispatch(
        { origin: base, path: pathname, method: 'GET', headers: {} },
        {
          // undici takes a handler without onRequestStart for one of the old API (onHeaders, onData).
          onRequestStart() {},
          onResponseStart(controller, _status, responseHeaders) {
            rawHeaders = pairs(controller.rawHeaders)
            headers = responseHeaders
            controller.pause()
            pausedAfterPause = controller.paused
            setImmediate(() => controller.resume())
          },
          onResponseData(_controller, chunk) {
            body += chunk.toString()
          },
          onResponseEnd(controller) {
            resolve({ rawHeaders, rawTrailers: pairs(controller.rawTrailers), headers, body, pausedAfterPause })
          },
          onResponseError(_controller, error) {
            reject(error)
          },
        },
      )
    })
  }

  it('carries rawHeaders matching the headers it hands over, rawTrailers, and the paused state, on a miss and a hit', async () => {
    const { dispatcher, close } = cachedAgent({ store: await memory.make() })
    try {
      for (const expected of ['fwd=miss', 'hit']) {
        const seen = await dispatch(dispatcher, `${origin.url}/controller`)
        assert.equal(seen.body, 'body')
        assert.deepEqual(seen.rawHeaders.get('content-type'), ['text/plain'])
        assert.match(seen.rawHeaders.get('cache-status')?.[0] ?? '', new RegExp(expected))
        for (const [name, value] of Object.entries(seen.headers)) {
          assert.deepEqual(seen.rawHeaders.get(name), typeof value === 'string' ? [value] : value, name)
        }
        assert.equal(seen.pausedAfterPause, true)
        // Trailers come from the origin on the miss; a replay has none (they are not stored).
        if (expected === 'fwd=miss') assert.deepEqual(seen.rawTrailers.get('x-checksum'), ['abc'])
        else assert.equal(seen.rawTrailers.size, 0)
      }
    } finally {
      await close()
    }
  })
})

/** A raw header list as name → values, names lowercased. */
function pairs(raw: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>()
  if (!Array.isArray(raw)) return out
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = String(raw[i]).toLowerCase()
    const values = out.get(name) ?? []
    values.push(String(raw[i + 1]))
    out.set(name, values)
  }
  return out
}
