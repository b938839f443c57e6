/**
 * Secrets never reach storage (DESIGN.md "Security defaults"): ignored parameters are left out of the key
 * and redacted, credentialed requests bypass the cache by default, and the opt-in credential partition
 * keys on an HMAC, never the credential. The Redis checks read every key and value the fixture server
 * holds, as raw bytes.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dumpRedis } from '../helpers/redis-dump.js'
import type { CacheOptions } from '../../lib/index.js'
import { cacheRunner, send } from '../helpers/client.js'
import { storedIds } from '../helpers/faults.js'
import type { RedisServer } from '../helpers/redis-server.js'
import { storeKinds, suiteOrigin } from '../helpers/stores.js'

/** A secret no other test or fixture can contain by chance. */
function secret(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`
}

/**
 * The origin's answers: `/vary/*` varies on X-Api-Key; `/who/*` tells the caller who it thinks they
 * are (the personalised response a shared cache must never hand to someone else), by a digest of the
 * credential so that a stored body cannot leak it; the rest is public.
 */
function handler(req: IncomingMessage, res: ServerResponse, index: number): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname
  const headers: Record<string, string> = { 'cache-control': 'max-age=60' }
  let body = `#${index} public ${path}`
  if (path.startsWith('/vary/')) {
    headers['vary'] = 'X-Api-Key'
    body = `#${index} keyed ${path} ${req.headers['x-api-key'] === undefined ? 'anonymous' : 'with a key'}`
  } else if (path.startsWith('/who/')) {
    if (path.startsWith('/who/vary')) headers['vary'] = 'Authorization'
    const user = req.headers['authorization'] ?? req.headers['cookie']
    body = `#${index} ${user === undefined ? 'anonymous' : `private to ${who(user)}`}`
  }
  headers['content-length'] = String(Buffer.byteLength(body))
  res.writeHead(200, headers)
  res.end(body)
}

function who(credential: string | string[]): string {
  return `user-${createHash('sha256').update(String(credential)).digest('hex').slice(0, 12)}`
}

/**
 * Asserts no key or value in the fixture Redis holds any of `secrets` (plain, hex or base64). `control`
 * is a string the stored entries do hold (the request path), proving the search reads what was stored.
 */
async function assertNowhereInRedis(redis: RedisServer, control: string, secrets: readonly string[]): Promise<void> {
  const blobs = await dumpRedis(redis)
  assert.ok(blobs.some((blob) => blob.includes(control)), `nothing in Redis mentions ${control}: the search would prove nothing`)
  for (const value of secrets) {
    const forms = [value, Buffer.from(value).toString('hex'), Buffer.from(value).toString('base64')]
    for (const blob of blobs) {
      for (const form of forms) {
        assert.equal(blob.includes(form), false, `secret ${value} found in Redis: ${blob.toString('latin1').slice(0, 200)}`)
      }
    }
  }
}

for (const kind of storeKinds) {
  describe(`secrets (${kind.name} store)`, () => {
    const origin = suiteOrigin(kind, handler)

    const withCache = cacheRunner(kind)

    const ignored: CacheOptions = { ignoredParameters: ['api_key', 'X-Api-Key'], matchHeaders: true }

    it('two requests differing only in an ignored API key share one entry and the key appears nowhere in Redis', () =>
      withCache(ignored, async (dispatcher) => {
        const [one, two, three, four] = [secret('QUERY1'), secret('QUERY2'), secret('HEADER1'), secret('HEADER2')]
        const a = await send(dispatcher, `${origin.url}/data?q=1&api_key=${one}`)
        const b = await send(dispatcher, `${origin.url}/data?api_key=${two}&q=1`)
        assert.equal(b.text, a.text)
        assert.match(b.cacheStatus ?? '', /; hit; /)
        // Header spelling differs from the option's on purpose: names match case-insensitively.
        const c = await send(dispatcher, `${origin.url}/data-h`, { headers: { 'x-api-key': three } })
        const d = await send(dispatcher, `${origin.url}/data-h`, { headers: { 'X-API-KEY': four } })
        assert.equal(d.text, c.text)
        assert.match(d.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.requests.filter((r) => r.url.startsWith('/data')).length, 2)
        if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), '/data-h', [one, two, three, four])
      }))

    it('with Vary on the ignored header, each key value is its own variant and none appears in Redis', () =>
      withCache(ignored, async (dispatcher) => {
        const [one, two] = [secret('VARY1'), secret('VARY2')]
        const a = await send(dispatcher, `${origin.url}/vary/v`, { headers: { 'x-api-key': one } })
        const b = await send(dispatcher, `${origin.url}/vary/v`, { headers: { 'x-api-key': two } })
        const a2 = await send(dispatcher, `${origin.url}/vary/v`, { headers: { 'x-api-key': one } })
        // RFC 9111 §4.1: the origin said the response depends on the key, so keys do not share it.
        assert.notEqual(b.text, a.text)
        assert.equal(a2.text, a.text)
        assert.match(a2.cacheStatus ?? '', /; hit; /)
        assert.equal(origin.count('/vary/v'), 2)
        if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), '/vary/v', [one, two])
      }))

    for (const header of ['authorization', 'cookie'] as const) {
      it(`a request with ${header} bypasses the cache and is never served another user's entry`, () =>
        withCache({}, async (dispatcher, store) => {
          const path = `/who/${header}`
          const credential = header === 'authorization' ? `Bearer ${secret('TOKEN')}` : `session=${secret('SESSION')}`
          const anonymous = await send(dispatcher, `${origin.url}${path}`)
          assert.match(anonymous.cacheStatus ?? '', /fwd=miss; fwd-status=200; stored$/)
          const withCredential = await send(dispatcher, `${origin.url}${path}`, { headers: { [header]: credential } })
          assert.equal(withCredential.cacheStatus, 'undici-redis-cache; fwd=bypass; fwd-status=200; detail=credentials')
          assert.match(withCredential.text, new RegExp(`private to ${who(credential)}$`))
          const again = await send(dispatcher, `${origin.url}${path}`, { headers: { [header]: credential } })
          assert.match(again.cacheStatus ?? '', /fwd=bypass/)
          assert.equal(origin.count(path), 3)
          // The anonymous entry is still the only one, and still anonymous.
          assert.equal((await storedIds(store)).length, 1)
          const anonymousAgain = await send(dispatcher, `${origin.url}${path}`)
          assert.equal(anonymousAgain.text, anonymous.text)
          if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), path, [credential.split(/[ =]/)[1]!])
        }))
    }

    it('a credentialed request alone stores nothing', () =>
      withCache({}, async (dispatcher, store) => {
        await send(dispatcher, `${origin.url}/who/alone`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } })
        await send(dispatcher, `${origin.url}/who/alone`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } })
        assert.equal(origin.count('/who/alone'), 2)
        assert.deepEqual(await storedIds(store), [])
      }))

    it('credentials: { secret } partitions by credential: one entry per Authorization value, none of them in Redis', () => {
      const hmacSecret = secret('HMAC')
      const options: CacheOptions = { credentials: { secret: hmacSecret } }
      return withCache(options, async (dispatcher) => {
        const [alice, bob] = [`Bearer ${secret('ALICE')}`, `Bearer ${secret('BOB')}`]
        const path = '/who/partition'
        const a = await send(dispatcher, `${origin.url}${path}`, { headers: { authorization: alice } })
        const b = await send(dispatcher, `${origin.url}${path}`, { headers: { authorization: bob } })
        const a2 = await send(dispatcher, `${origin.url}${path}`, { headers: { authorization: alice } })
        const anonymous = await send(dispatcher, `${origin.url}${path}`)
        assert.match(a.text, new RegExp(`private to ${who(alice)}$`))
        assert.match(b.text, new RegExp(`private to ${who(bob)}$`))
        assert.equal(a2.text, a.text)
        assert.match(a2.cacheStatus ?? '', /; hit; /)
        assert.match(anonymous.text, /anonymous$/)
        assert.equal(origin.count(path), 3)
        if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), path, [alice.slice(7), bob.slice(7), hmacSecret])
      })
    })

    it('credentials: { secret } partitions by Cookie as well', () => {
      const options: CacheOptions = { credentials: { secret: secret('HMAC') } }
      return withCache(options, async (dispatcher) => {
        const [alice, bob] = [`session=${secret('ALICE')}`, `session=${secret('BOB')}`]
        const path = '/who/partition-cookie'
        const a = await send(dispatcher, `${origin.url}${path}`, { headers: { cookie: alice } })
        const b = await send(dispatcher, `${origin.url}${path}`, { headers: { cookie: bob } })
        const b2 = await send(dispatcher, `${origin.url}${path}`, { headers: { cookie: bob } })
        assert.notEqual(b.text, a.text)
        assert.equal(b2.text, b.text)
        assert.equal(origin.count(path), 2)
        if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), path, [alice.slice(8), bob.slice(8)])
      })
    })

    it('credentials: { secret } with Vary: Authorization from the origin: the credential is not in the stored Vary record', () =>
      withCache({ credentials: { secret: secret('HMAC') } }, async (dispatcher) => {
        const [alice, bob] = [`Bearer ${secret('ALICE')}`, `Bearer ${secret('BOB')}`]
        const path = '/who/vary-auth'
        const a = await send(dispatcher, `${origin.url}${path}`, { headers: { authorization: alice } })
        const b = await send(dispatcher, `${origin.url}${path}`, { headers: { authorization: bob } })
        const a2 = await send(dispatcher, `${origin.url}${path}`, { headers: { authorization: alice } })
        assert.notEqual(b.text, a.text)
        assert.equal(a2.text, a.text)
        assert.equal(origin.count(path), 2)
        if (kind.name === 'redis') await assertNowhereInRedis(kind.redis(), path, [alice.slice(7), bob.slice(7)])
      }))
  })
}
