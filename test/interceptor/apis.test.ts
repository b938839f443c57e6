/**
 * The cache works under every undici API and beside undici's own interceptors, in either order.
 */
import assert from 'node:assert/strict'
import { PassThrough, Writable } from 'node:stream'
import { pipeline as pipelineAsync } from 'node:stream/promises'
import { Agent, interceptors, pipeline, request, stream, type Dispatcher } from '../helpers/undici.js'
import { cache, MemoryStore } from '../../lib/index.js'
import { send } from '../helpers/client.js'
import { ManualClock } from '../helpers/clock.js'
import { startOrigin, type Origin } from '../helpers/origin.js'

describe('undici APIs and composition', () => {
  let origin: Origin
  let flaky = 0
  before(async () => {
    origin = await startOrigin((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname.startsWith('/moved')) {
        res.writeHead(301, { location: `/target${url.search}`, 'content-length': 0 })
        return res.end()
      }
      if (url.pathname.startsWith('/flaky') && flaky++ % 2 === 0) {
        res.writeHead(503, { 'content-length': 4 })
        return res.end('busy')
      }
      const text = `body of ${url.pathname}${url.search}`
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    })
  })
  after(() => origin.close())

  let agent: Agent
  beforeEach(() => {
    agent = new Agent({ keepAliveTimeout: 500 })
  })
  afterEach(() => agent.close())

  const composed = (...list: Dispatcher.DispatcherComposeInterceptor[]): Dispatcher => agent.compose(...list)

  it('request(): miss then hit', async () => {
    const dispatcher = composed(cache({ store: new MemoryStore() }))
    const a = await request(`${origin.url}/request`, { dispatcher })
    assert.equal(await a.body.text(), 'body of /request')
    const b = await request(`${origin.url}/request`, { dispatcher })
    assert.equal(await b.body.text(), 'body of /request')
    assert.match(String(b.headers['cache-status']), /; hit; /)
    assert.equal(origin.count('/request'), 1)
  })

  it('stream(): the replayed body arrives through the factory stream', async () => {
    const dispatcher = composed(cache({ store: new MemoryStore() }))
    const read = async (): Promise<{ text: string; status: string }> => {
      const chunks: Buffer[] = []
      let status = ''
      await stream(`${origin.url}/stream`, { dispatcher, method: 'GET' }, ({ headers }) => {
        status = String(headers['cache-status'])
        return new Writable({
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk)
            cb()
          },
        })
      })
      return { text: Buffer.concat(chunks).toString(), status }
    }
    assert.equal((await read()).text, 'body of /stream')
    const second = await read()
    assert.equal(second.text, 'body of /stream')
    assert.match(second.status, /; hit; /)
    assert.equal(origin.count('/stream'), 1)
  })

  it('pipeline(): the replayed body flows through the pipeline', async () => {
    const dispatcher = composed(cache({ store: new MemoryStore() }))
    const read = async (): Promise<string> => {
      const chunks: Buffer[] = []
      await pipelineAsync(
        new PassThrough().end(),
        pipeline(`${origin.url}/pipeline`, { dispatcher, method: 'GET' }, ({ body }) => body),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk)
            cb()
          },
        }),
      )
      return Buffer.concat(chunks).toString()
    }
    assert.equal(await read(), 'body of /pipeline')
    assert.equal(await read(), 'body of /pipeline')
    assert.equal(origin.count('/pipeline'), 1)
  })

  it('HEAD is answered from a stored GET, with headers and no body (RFC 9110 §9.3.2)', async () => {
    const dispatcher = composed(cache({ store: new MemoryStore() }))
    await send(dispatcher, `${origin.url}/head`)
    const head = await send(dispatcher, `${origin.url}/head`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.body.byteLength, 0)
    assert.equal(head.headers['content-length'], String(Buffer.byteLength('body of /head')))
    assert.match(head.cacheStatus ?? '', /; hit; /)
    assert.equal(origin.count('/head'), 1)
  })

  it('a HEAD 200 with the stored validator freshens the stale GET entry; another validator drops it (RFC 9111 §4.3.5)', async () => {
    let version = 'a'
    const clock = new ManualClock(Date.now())
    const head = await startOrigin((req, res) => {
      const body = `version ${version}`
      res.writeHead(200, { date: new Date(clock.now()).toUTCString(), etag: `"${version}"`, 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    })
    const dispatcher = composed(cache({ store: new MemoryStore({ ttl: false }), clock }))
    try {
      await send(dispatcher, `${head.url}/r`)
      // Stale now, so the HEAD below goes to the origin.
      clock.advanceSeconds(61)
      const freshened = await send(dispatcher, `${head.url}/r`, { method: 'HEAD' })
      assert.match(freshened.cacheStatus ?? '', /fwd=stale; fwd-status=200; ttl=(59|60)$/)
      const hit = await send(dispatcher, `${head.url}/r`)
      assert.equal(hit.text, 'version a')
      assert.match(hit.cacheStatus ?? '', /; hit; /, 'the HEAD made the stored GET fresh')

      await send(dispatcher, `${head.url}/s`)
      clock.advanceSeconds(61)
      version = 'b'
      await send(dispatcher, `${head.url}/s`, { method: 'HEAD' })
      const refetched = await send(dispatcher, `${head.url}/s`)
      assert.equal(refetched.text, 'version b')
      assert.match(refetched.cacheStatus ?? '', /fwd=miss/, 'the HEAD showed a new representation: the entry was dropped')
    } finally {
      await head.close()
    }
  })

  it('HEAD without a stored GET goes to the origin and stores nothing', async () => {
    const dispatcher = composed(cache({ store: new MemoryStore() }))
    const head = await send(dispatcher, `${origin.url}/head-only`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    const get = await send(dispatcher, `${origin.url}/head-only`)
    assert.equal(get.text, 'body of /head-only')
    assert.equal(origin.requests.filter((r) => r.url === '/head-only').map((r) => r.method).join(','), 'HEAD,GET')
  })

  for (const order of ['cache outside retry', 'cache inside retry'] as const) {
    it(`composes with interceptors.retry (${order})`, async () => {
      const retry = interceptors.retry({ maxRetries: 2, minTimeout: 5, timeoutFactor: 1, statusCodes: [503], methods: ['GET'] })
      const c = cache({ store: new MemoryStore() })
      const dispatcher = order === 'cache outside retry' ? composed(retry, c) : composed(c, retry)
      const path = `/flaky-${order.replace(/ /g, '-')}`
      const first = await send(dispatcher, `${origin.url}${path}`)
      assert.equal(first.status, 200)
      const second = await send(dispatcher, `${origin.url}${path}`)
      assert.equal(second.text, `body of ${path}`)
      assert.match(second.cacheStatus ?? '', /; hit; /)
      assert.equal(origin.count(path), 2, 'one 503 and one 200')
    })
  }

  for (const order of ['cache outside redirect', 'cache inside redirect'] as const) {
    it(`composes with interceptors.redirect (${order})`, async () => {
      const redirect = interceptors.redirect({ maxRedirections: 2 })
      const c = cache({ store: new MemoryStore() })
      const dispatcher = order === 'cache outside redirect' ? composed(redirect, c) : composed(c, redirect)
      const query = `?order=${order.split(' ')[1]}`
      const first = await send(dispatcher, `${origin.url}/moved${query}`)
      assert.equal(first.text, `body of /target${query}`)
      const second = await send(dispatcher, `${origin.url}/moved${query}`)
      assert.equal(second.text, `body of /target${query}`)
      assert.match(second.cacheStatus ?? '', /; hit; /)
      assert.equal(origin.count(`/target${query}`), 1)
    })
  }

  for (const order of ['cache outside dns', 'cache inside dns'] as const) {
    it(`composes with interceptors.dns (${order})`, async () => {
      const dns = interceptors.dns({ dualStack: false, affinity: 4 })
      const c = cache({ store: new MemoryStore() })
      const dispatcher = order === 'cache outside dns' ? composed(dns, c) : composed(c, dns)
      const path = `/dns-${order.split(' ')[1]}`
      const url = `${origin.url.replace('127.0.0.1', 'localhost')}${path}`
      assert.equal((await send(dispatcher, url)).text, `body of ${path}`)
      const second = await send(dispatcher, url)
      assert.equal(second.text, `body of ${path}`)
      assert.match(second.cacheStatus ?? '', /; hit; /)
      assert.equal(origin.count(path), 1)
    })
  }
})
