/**
 * Issue 11: the diagnostics_channel hit and miss events carried the URL with `api_key=…` intact, so
 * anyone who logged them logged the secret. Every event the cache publishes carries the redacted URL
 * (ignored parameters removed, as the stored entry's URL is): hit, collapsed hit, miss, store,
 * revalidate, stale (stale-if-error and stale-while-revalidate), and nothing on the error channel.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import { MemoryStore, type CacheOptions } from '../../lib/index.js'
import { cachedAgent, eventually, send } from '../helpers/client.js'
import { startOrigin, type Origin } from '../helpers/origin.js'

const EVENTS = ['hit', 'miss', 'revalidate', 'stale', 'store'] as const
const CHANNELS = [...EVENTS.map((event) => `undici-redis-cache:cache:${event}`), 'undici-redis-cache:store:error']

/** Paths the origin answers with a 500 from now on. */
const failing = new Set<string>()

describe('diagnostics channels publish only redacted URLs', () => {
  let origin: Origin
  const seen: Array<{ channel: string; message: Record<string, unknown> }> = []
  const listeners = CHANNELS.map((channel) => (message: unknown) => void seen.push({ channel, message: message as Record<string, unknown> }))

  before(async () => {
    origin = await startOrigin((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (failing.has(path)) {
        res.writeHead(500, { 'content-length': 0 })
        return void res.end()
      }
      if (path === '/validated' && req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0' })
        return void res.end()
      }
      // `/slow` stays on the wire long enough for a second request to join it (collapsing).
      const cacheControl = path === '/fresh' || path === '/slow' ? 'max-age=60' : 'max-age=0'
      const body = `body of ${path}`
      setTimeout(() => {
        res.writeHead(200, { etag: '"v1"', 'cache-control': cacheControl, 'content-length': Buffer.byteLength(body) })
        res.end(body)
      }, path === '/slow' ? 100 : 0)
    })
    CHANNELS.forEach((channel, i) => diagnostics.subscribe(channel, listeners[i]!))
  })
  after(async () => {
    CHANNELS.forEach((channel, i) => diagnostics.unsubscribe(channel, listeners[i]!))
    await origin.close()
  })

  async function withCache(options: CacheOptions, run: (get: (path: string) => Promise<string>) => Promise<void>): Promise<void> {
    const { dispatcher, close } = cachedAgent({ store: new MemoryStore(), ignoredParameters: ['api_key'], ...options })
    try {
      await run(async (path) => (await send(dispatcher, `${origin.url}${path}`)).cacheStatus ?? '')
    } finally {
      await close()
    }
  }

  it('every event, on every channel, names the URL without the ignored parameter', async () => {
    const secrets = Array.from({ length: 9 }, (_, i) => `SECRET${i}${randomBytes(8).toString('hex')}`)
    const key = (i: number): string => `api_key=${secrets[i]}`

    await withCache({ staleIfError: true }, async (get) => {
      assert.match(await get(`/fresh?q=1&${key(0)}`), /fwd=miss/)
      await eventually(() => seen.some(({ channel }) => channel.endsWith(':store')))
      assert.match(await get(`/fresh?${key(1)}&q=1`), /; hit; /)
      const [leader, follower] = await Promise.all([get(`/slow?${key(2)}`), get(`/slow?${key(3)}`)])
      assert.match(`${leader} | ${follower}`, /collapsed/)
      await get(`/validated?${key(4)}`)
      assert.match(await get(`/validated?${key(5)}`), /fwd-status=304/)
      await get(`/failing?${key(6)}`)
      failing.add('/failing')
      assert.match(await get(`/failing?${key(7)}`), /detail=stale-if-error/)
    })
    await withCache({ staleWhileRevalidate: true }, async (get) => {
      await get(`/swr?${key(8)}`)
      assert.match(await get(`/swr?${key(8)}`), /detail=stale-while-revalidate/)
    })

    for (const event of EVENTS) {
      assert.ok(seen.some(({ channel }) => channel.endsWith(`:${event}`)), `nothing published on ${event}`)
    }
    assert.ok(seen.some(({ channel, message }) => channel.endsWith(':hit') && message['reason'] === 'collapsed'), 'no collapsed hit')
    const expected = new Set(['/fresh?q=1', '/slow', '/validated', '/failing', '/swr'].map((path) => `${origin.url}${path}`))
    for (const { channel, message } of seen) {
      const text = JSON.stringify(message, (_, value: unknown) => (value instanceof Error ? `${value.message} ${value.stack}` : value))
      for (const value of secrets) assert.equal(text.includes(value), false, `${channel} published ${text}`)
      assert.equal(text.includes('api_key'), false, `${channel} published ${text}`)
      if (!channel.endsWith(':error')) assert.ok(expected.has(String(message['url'])), `${channel} published ${text}`)
    }
  })
})
