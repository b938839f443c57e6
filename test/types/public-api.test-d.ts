/**
 * Type-level checks of the public API, compiled by `tsc -p test/tsconfig.json --noEmit` and never run
 * (mocha's spec is `*.test.ts`): each `@ts-expect-error` line must fail to compile, every other line
 * must compile. Bodies sit in a function nobody calls, so nothing here needs a server.
 */
import { Agent, type Dispatcher } from 'undici'
import { createClient } from 'redis'
import {
  cache,
  CacheError,
  InvalidOptionError,
  MemoryStore,
  RedisStore,
  type CacheOptions,
  type CacheRequest,
  type CacheResponse,
  type CacheStore,
  type ExpireAfter,
  type RedisStoreOptions,
  systemClock,
  type Clock,
} from '../../lib/index.js'

export function typeChecks(): void {
  const client = createClient({ url: 'redis://127.0.0.1:6390' })

  // Assignable shapes.
  const composed: Dispatcher = new Agent().compose(
    cache({ store: new RedisStore({ url: 'redis://x' }), expireAfter: 'never', urlsExpireAfter: { '*.png': false } }),
  )
  void composed
  cache()
  cache({})
  cache({ store: 'redis' })
  cache({ store: 'memory', methods: ['GET', 'HEAD', 'POST'] as const })
  cache({ store: new MemoryStore({ maxSize: 1024 * 1024, ttl: false, ttlOffset: 0 }) })
  cache({ store: new RedisStore({ client }) })
  cache({ store: new RedisStore({ client, namespace: 'app', ttl: false, ttlOffset: 60 }) })
  cache({ store: new RedisStore({ url: 'rediss://cache.internal:6380', socket: { connectTimeout: 1000 }, namespace: 'app' }) })
  cache({ expireAfter: 0 })
  cache({ expireAfter: -1 })
  cache({ expireAfter: false })
  cache({ urlsExpireAfter: { 'api.example.com/users/*': 60, '*.png': 'never', 'api.example.com/live/*': false } })
  cache({ cacheControl: false, allowableCodes: [200, 404], matchHeaders: ['x-tenant'], ignoredParameters: ['api_key'] })
  cache({ matchHeaders: true, staleIfError: true, staleWhileRevalidate: 30, maxEntrySize: 1024, cacheStatus: 'edge' })
  cache({ cacheStatus: false, commandTimeout: 100, credentials: { secret: 'a-long-enough-secret' } })
  cache({ credentials: { secret: new Uint8Array(32) } })
  cache({
    filter: (response: CacheResponse, request: CacheRequest) => response.status === 200 && request.url.hostname !== 'localhost',
    key: (request) => `${request.method} ${request.url.pathname}`,
    onError: (error) => {
      const code: string = error.code
      const isBase: boolean = error instanceof CacheError
      void code
      void isBase
    },
  })
  const lifetime: ExpireAfter = 'never'
  const options: CacheOptions = { expireAfter: lifetime }
  const store: CacheStore = new MemoryStore()
  cache({ ...options, store })
  cache({ type: 'shared' })
  cache({ type: 'private' })
  const clock: Clock = { now: () => 0, setTimer: () => () => {} }
  cache({ clock, store: new MemoryStore({ clock }) })
  void new RedisStore({ url: 'redis://x', clock })
  void systemClock.now()
  const redisOptions: RedisStoreOptions = { client }
  void new RedisStore(redisOptions)
  const error = new InvalidOptionError('expireAfter', 'a number', 'forever')
  const option: string = error.option
  const literal: 'URC_ERR_INVALID_OPTION' = error.code
  void option
  void literal

  // Cache-wide switches (issue 13): origins, readOnly, and an interceptor that can be switched off.
  cache({ origins: ['https://api.example.com', /\.example\.com$/], readOnly: true })
  cache({ origins: ['http://localhost:3000'] as const, readOnly: false })
  const interceptor = cache({ store: 'memory' })
  const asUndici: Dispatcher.DispatcherComposeInterceptor = interceptor
  void new Agent().compose(interceptor, cache())
  void asUndici
  interceptor.disable()
  interceptor.enable()
  const scoped: Promise<number> = interceptor.disabled(async () => 1)
  const sync: string = interceptor.disabled(() => 'x')
  void scoped
  void sync

  // Not assignable.
  // @ts-expect-error 'forever' is spelled 'never'
  cache({ expireAfter: 'forever' })
  // @ts-expect-error `true` is not a lifetime
  cache({ expireAfter: true })
  // @ts-expect-error a pattern's lifetime has the same type as expireAfter
  cache({ urlsExpireAfter: { '*.png': 'forever' } })
  // @ts-expect-error a client and client options are mutually exclusive
  void new RedisStore({ client, url: 'redis://x' })
  // @ts-expect-error cacheStatus is a boolean or a name
  cache({ cacheStatus: 1 })
  // @ts-expect-error methods is a list
  cache({ methods: 'GET' })
  // @ts-expect-error store aliases are 'memory' and 'redis'
  cache({ store: 'mongo' })
  // @ts-expect-error unknown options are rejected (requests-cache's snake_case name)
  cache({ expire_after: 60 })
  // @ts-expect-error a filter returns a boolean
  cache({ filter: () => 'yes' })
  // @ts-expect-error a key function returns a string
  cache({ key: () => 42 })
  // @ts-expect-error the credential secret is a string or bytes
  cache({ credentials: { secret: 42 } })
  // @ts-expect-error ttl is a boolean
  void new MemoryStore({ ttl: 60 })
  // @ts-expect-error maxSize is a number of bytes
  void new MemoryStore({ maxSize: '256mb' })
  // @ts-expect-error the cache type is 'shared' or 'private'
  cache({ type: 'public' })
  // @ts-expect-error a clock has now() and setTimer()
  cache({ clock: { now: () => 0 } })
  // @ts-expect-error origins is a list
  cache({ origins: 'https://api.example.com' })
  // @ts-expect-error origins are strings or RegExps
  cache({ origins: [new URL('https://api.example.com')] })
  // @ts-expect-error readOnly is a boolean
  cache({ readOnly: 'yes' })
  // @ts-expect-error requests-cache's snake_case name is not an option
  cache({ read_only: true })
  // @ts-expect-error disabled() takes the function to run
  interceptor.disabled()
  // @ts-expect-error the scope's result has fn's type
  const wrong: string = interceptor.disabled(async () => 1)
  void wrong
}
