/**
 * Type-level checks of the per-request `cache` option (issue #13) and of toUndiciCacheStore (#15),
 * compiled by the typecheck and never run: each `@ts-expect-error` line must fail to compile, every other line must compile.
 */
import { Agent, interceptors, request, type Dispatcher } from 'undici'
import { cacheOption, MemoryStore, toUndiciCacheStore, CACHE_MODE_HEADER, type CacheMode, type CacheOutcomeInfo, type RequestCacheOptions } from '../../lib/index.js'

export async function perRequestTypeChecks(dispatcher: Dispatcher): Promise<void> {
  await request('http://x', { dispatcher, ...cacheOption({ mode: 'reload' }) })
  await request('http://x', { dispatcher, ...cacheOption({ expireAfter: 60, staleIfError: 300, staleWhileRevalidate: true, tags: ['user:1'] }) })
  await request('http://x', { dispatcher, ...cacheOption({ onOutcome: (info: CacheOutcomeInfo) => void info.expiresAt?.getTime() }) })
  const modes: CacheMode[] = ['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached']
  const options: RequestCacheOptions = { mode: modes[0] ?? 'default', expireAfter: 'never' }
  void options
  const header: 'x-undici-cache-mode' = CACHE_MODE_HEADER
  void header

  // @ts-expect-error not a Fetch cache mode
  cacheOption({ mode: 'reloaded' })
  // @ts-expect-error a misspelt option
  cacheOption({ expireAfer: 60 })
  // @ts-expect-error expireAfter takes seconds, 'never' or false
  cacheOption({ expireAfter: 'forever' })
  // @ts-expect-error tags are a list of strings
  cacheOption({ tags: 'user:1' })
  // @ts-expect-error stale windows are booleans or seconds
  cacheOption({ staleIfError: '5m' })
}

export function undiciStoreTypeChecks(): void {
  const store = toUndiciCacheStore(new MemoryStore(), { commandTimeout: 200, onError: (error) => void error.code })
  void new Agent().compose(interceptors.cache({ store }))
  // @ts-expect-error commandTimeout is a number of milliseconds
  toUndiciCacheStore(new MemoryStore(), { commandTimeout: '200ms' })
}
