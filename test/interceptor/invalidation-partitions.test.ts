/**
 * RFC 9111 §4.4 invalidation reaches every partition of a URL (issue #14): other users' `credentials`
 * partitions, every `matchHeaders` value, entries keyed by a custom `key` function, none of which the
 * requesting process can compute from the unsafe request alone. It goes through the store's URL index,
 * so it holds for a second cache sharing the store too. And a purge by tag from another process (the
 * CLI, a real child process) is seen by this one at once.
 */
import assert from 'node:assert/strict'
import { execFile, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { RedisStore, type CacheOptions, type CacheRequest, type CacheStore } from '../../lib/index.js'
import { cachedAgent, send } from '../helpers/client.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { redisCliTarget, redisConnection, releaseRedis, storeKinds, suiteOrigin, useRedis } from '../helpers/stores.js'
import type { Dispatcher } from '../helpers/undici.js'
import { collect } from '../stores/store-contract.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** Bound on the CLI child: tsx start-up plus the CLI's own 3 s connect timeout, with room. */
const CHILD_TIMEOUT_MS = 20_000

type Headers = Record<string, string>

for (const kind of storeKinds) {
  describe(`invalidation of every partition (${kind.name} store)`, () => {
    let n = 0
    const origin = suiteOrigin(kind, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const headers: Headers = { 'content-length': '0' }
        const location = url.searchParams.get('location')
        if (location !== null) headers['location'] = location
        const contentLocation = url.searchParams.get('content-location')
        if (contentLocation !== null) headers['content-location'] = contentLocation
        res.writeHead(Number(url.searchParams.get('status') ?? 200), headers)
        return void res.end()
      }
      const who = req.headers['authorization'] ?? req.headers['cookie'] ?? req.headers['x-tenant'] ?? 'anyone'
      const body = `${url.pathname} #${++n} for ${String(who)} in ${String(req.headers['accept-language'] ?? '-')}`
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })

    /** A cached Agent over `store` (a fresh one unless given). */
    async function agent(options: CacheOptions, store?: CacheStore): Promise<{ dispatcher: Dispatcher; store: CacheStore; close: () => Promise<void> }> {
      const own = store ?? (await kind.make())
      const { dispatcher, close } = cachedAgent({ store: own, ...options })
      return { dispatcher, store: own, close }
    }

    async function assertHit(dispatcher: Dispatcher, path: string, headers: Headers = {}): Promise<void> {
      const before = origin.count(path)
      const reply = await send(dispatcher, `${origin.url}${path}`, { headers })
      assert.match(reply.cacheStatus ?? '', /; hit; /, `${path} ${JSON.stringify(headers)} should be a hit`)
      assert.equal(origin.count(path), before)
    }

    async function assertMiss(dispatcher: Dispatcher, path: string, headers: Headers = {}): Promise<void> {
      const before = origin.count(path)
      const reply = await send(dispatcher, `${origin.url}${path}`, { headers })
      assert.match(reply.cacheStatus ?? '', /fwd=(uri-|vary-)?miss/, `${path} ${JSON.stringify(headers)} should be a miss`)
      assert.equal(origin.count(path), before + 1)
    }

    /** Stores `path` for each of `partitions` (a miss each, then a hit proving it stored). */
    async function storeAll(dispatcher: Dispatcher, path: string, partitions: readonly Headers[]): Promise<void> {
      for (const headers of partitions) await assertMiss(dispatcher, path, headers)
      for (const headers of partitions) await assertHit(dispatcher, path, headers)
    }

    /**
     * How many entries the store holds for `path` (any query), read from the store itself: this
     * process also remembers what it invalidated and treats it as a miss, so a miss alone would not
     * prove the store dropped anything.
     */
    async function held(store: CacheStore, path: string): Promise<number> {
      const pathname = new URL(path, origin.url).pathname
      return (await collect(store.entries())).filter((entry) => new URL(entry.url).pathname === pathname).length
    }

    async function unsafe(dispatcher: Dispatcher, method: Dispatcher.HttpMethod, path: string, headers: Headers = {}): Promise<void> {
      const reply = await send(dispatcher, `${origin.url}${path}`, { method, headers, body: 'change' })
      assert.ok(reply.status >= 200 && reply.status < 400, `status ${reply.status}`)
      assert.match(reply.cacheStatus ?? '', /fwd=method/)
    }

    const credentials: CacheOptions = { credentials: { secret: 'a secret of sixteen or more characters' } }
    const alice: Headers = { authorization: 'Bearer alice' }
    const bob: Headers = { authorization: 'Bearer bob' }
    const carol: Headers = { cookie: 'session=carol' }

    it("with credentials, a user's successful POST drops every user's entry for the URL, and the anonymous one", async () => {
      const { dispatcher, store, close } = await agent(credentials)
      const everyone = [alice, bob, carol, {}]
      try {
        await storeAll(dispatcher, '/doc', everyone)
        await storeAll(dispatcher, '/doc-other', [bob])
        assert.equal(await held(store, '/doc'), 4)
        await unsafe(dispatcher, 'POST', '/doc', alice)
        assert.equal(await held(store, '/doc'), 0)
        for (const headers of everyone) await assertMiss(dispatcher, '/doc', headers)
        await assertHit(dispatcher, '/doc-other', bob)

        // An anonymous DELETE reaches every partition too.
        for (const headers of everyone) await assertHit(dispatcher, '/doc', headers)
        await unsafe(dispatcher, 'DELETE', '/doc')
        assert.equal(await held(store, '/doc'), 0)
        for (const headers of everyone) await assertMiss(dispatcher, '/doc', headers)
      } finally {
        await close()
      }
    })

    it("with credentials, an error response to a user's POST drops no one's entry", async () => {
      const { dispatcher, store, close } = await agent(credentials)
      try {
        await storeAll(dispatcher, '/kept', [alice, bob])
        const reply = await send(dispatcher, `${origin.url}/kept?status=409`, { method: 'POST', headers: alice, body: 'x' })
        assert.equal(reply.status, 409)
        await unsafe(dispatcher, 'POST', '/kept-elsewhere', alice)
        assert.equal(await held(store, '/kept'), 2)
        await assertHit(dispatcher, '/kept', alice)
        await assertHit(dispatcher, '/kept', bob)
      } finally {
        await close()
      }
    })

    it('a second cache sharing the store drops the partitions the first one stored', async () => {
      const first = await agent(credentials)
      const second = await agent(credentials, first.store)
      try {
        await storeAll(first.dispatcher, '/shared', [alice, bob])
        await unsafe(second.dispatcher, 'PUT', '/shared', carol)
        assert.equal(await held(first.store, '/shared'), 0)
        await assertMiss(first.dispatcher, '/shared', alice)
        await assertMiss(second.dispatcher, '/shared', bob)
      } finally {
        await first.close()
        await second.close()
      }
    })

    it("with matchHeaders: ['accept-language'], one unsafe request drops the entry of every language", async () => {
      const { dispatcher, store, close } = await agent({ matchHeaders: ['accept-language'] })
      const languages = ['en', 'fr', 'de'].map((lang) => ({ 'accept-language': lang }))
      try {
        await storeAll(dispatcher, '/page', [...languages, {}])
        await storeAll(dispatcher, '/page-other', languages)
        assert.equal(await held(store, '/page'), 4)
        await unsafe(dispatcher, 'PATCH', '/page', { 'accept-language': 'fr' })
        assert.equal(await held(store, '/page'), 0)
        assert.equal(await held(store, '/page-other'), 3)
        for (const headers of [...languages, {}]) await assertMiss(dispatcher, '/page', headers)
        for (const headers of languages) await assertHit(dispatcher, '/page-other', headers)
      } finally {
        await close()
      }
    })

    it('with a custom key function, an unsafe request drops the entries its URL was stored under, whatever their key', async () => {
      const key = (req: CacheRequest): string => `tenant=${String(req.headers['x-tenant'] ?? 'none')} ${req.url.pathname}`
      const { dispatcher, store, close } = await agent({ key })
      const tenants = [{ 'x-tenant': 't1' }, { 'x-tenant': 't2' }]
      try {
        await storeAll(dispatcher, '/thing', tenants)
        await storeAll(dispatcher, '/thing-other', tenants)
        // The request's own key (tenant t3) names no stored entry: only the URL index finds them.
        await unsafe(dispatcher, 'DELETE', '/thing', { 'x-tenant': 't3' })
        assert.equal(await held(store, '/thing'), 0)
        assert.equal(await held(store, '/thing-other'), 2)
        for (const headers of tenants) await assertMiss(dispatcher, '/thing', headers)
        for (const headers of tenants) await assertHit(dispatcher, '/thing-other', headers)
      } finally {
        await close()
      }
    })

    it('same-origin Location and Content-Location targets lose every partition too', async () => {
      const { dispatcher, store, close } = await agent({ ...credentials, matchHeaders: ['accept-language'] })
      const partitions = [alice, bob, { 'accept-language': 'fr' }, { ...bob, 'accept-language': 'fr' }]
      try {
        await storeAll(dispatcher, '/created', partitions)
        await storeAll(dispatcher, '/content', partitions)
        await storeAll(dispatcher, '/elsewhere', [bob])
        await unsafe(dispatcher, 'POST', `/collection?location=/created&content-location=${encodeURIComponent(`${origin.url}/content`)}`, alice)
        assert.equal(await held(store, '/created'), 0)
        assert.equal(await held(store, '/content'), 0)
        // Another origin's URL is never a target (§4.4), whatever the partition.
        await unsafe(dispatcher, 'POST', `/collection?location=${encodeURIComponent('http://elsewhere.example/elsewhere')}`, alice)
        assert.equal(await held(store, '/elsewhere'), 1)
        for (const headers of partitions) await assertMiss(dispatcher, '/created', headers)
        for (const headers of partitions) await assertMiss(dispatcher, '/content', headers)
      } finally {
        await close()
      }
    })

    it('an unsafe request naming the URL with ignored parameters and another query order still reaches every partition', async () => {
      const { dispatcher, store, close } = await agent({ matchHeaders: ['accept-language'], ignoredParameters: ['api_key'] })
      const languages = [{ 'accept-language': 'en' }, { 'accept-language': 'fr' }]
      try {
        await storeAll(dispatcher, '/search?b=2&a=1&api_key=K1', languages)
        await unsafe(dispatcher, 'POST', '/search?a=2')
        assert.equal(await held(store, '/search'), 2, 'another query is another URL')
        await unsafe(dispatcher, 'POST', '/search?api_key=K2&a=1&b=2')
        assert.equal(await held(store, '/search'), 0)
        for (const headers of languages) await assertMiss(dispatcher, '/search?b=2&a=1&api_key=K1', headers)
      } finally {
        await close()
      }
    })
  })
}

describe('invalidation from another process (redis store, the CLI as a child process)', function () {
  // tsx's start-up in the child dominates; the bound is the child's own timeout.
  this.timeout(CHILD_TIMEOUT_MS + 5000)

  let redis: RedisServer
  let origin: Origin
  let child: ChildProcess | undefined

  before(async () => {
    redis = await useRedis()
    origin = await startOrigin((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const id = /^\/users\/(\d+)$/.exec(path)?.[1]
      const body = `${path} #${origin.count()}`
      res.writeHead(200, { 'cache-control': 'max-age=600', 'cache-tag': id === undefined ? 'other' : `user:${id}`, 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })

  afterEach(() => {
    // A child still running (the test failed or timed out before it ended) is killed.
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    child = undefined
  })

  after(async () => {
    await origin?.close()
    await releaseRedis()
  })

  it("a purge --tag run by another process drops this process's entry: its next request is a miss", async () => {
    const namespace = `xproc-${randomBytes(4).toString('hex')}`
    const store = new RedisStore({ ...redisConnection(), namespace })
    const { dispatcher, close } = cachedAgent({ store, tagsHeader: 'cache-tag' })
    const status = async (path: string): Promise<string> => (await send(dispatcher, `${origin.url}${path}`)).cacheStatus ?? ''
    try {
      await store.ready()
      for (const path of ['/users/42', '/users/7']) {
        assert.match(await status(path), /fwd=miss; fwd-status=200; stored/)
        assert.match(await status(path), /; hit; /)
      }

      const run = await new Promise<{ error: Error | null; stdout: string; stderr: string }>((resolve) => {
        child = execFile(
          process.execPath,
          ['--import', 'tsx', 'lib/cli.ts', 'purge', '--tag', 'user:42', ...redisCliTarget(), '--namespace', namespace],
          { cwd: ROOT, timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', env: { ...process.env, REDIS_URL: redis.url } },
          (error, stdout, stderr) => resolve({ error, stdout, stderr }),
        )
      })
      assert.equal(run.error, null, run.stderr)
      assert.equal(run.stdout, 'deleted 1\n')

      const before = origin.count('/users/42')
      assert.match(await status('/users/42'), /fwd=miss; fwd-status=200; stored/)
      assert.equal(origin.count('/users/42'), before + 1)
      assert.match(await status('/users/7'), /; hit; /)
    } finally {
      await close()
      await store.close()
    }
  })
})
