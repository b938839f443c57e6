/**
 * A composed Agent and a request helper that returns status, headers, body and Cache-Status, so
 * interceptor tests read as requests and assertions.
 */
import { connect } from 'node:net'
import { Agent, request, type Dispatcher } from './undici.js'
import { cache, type CacheOptions, type CacheStore } from '../../lib/index.js'
import type { Origin } from './origin.js'
import type { StoreKind } from './stores.js'

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer
  readonly text: string
  readonly cacheStatus: string | undefined
  readonly age: number | undefined
}

export function cachedAgent(options: CacheOptions = {}): { dispatcher: Dispatcher; agent: Agent; close: () => Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 500 })
  const dispatcher = agent.compose(cache(options))
  return { dispatcher, agent, close: () => agent.close() }
}

/**
 * A cached Agent whose every connection goes to `origin`, whatever host and port the URL names, so tests
 * can use several host names against one loopback server.
 */
export function pinnedAgent(origin: Origin, options: CacheOptions): { dispatcher: Dispatcher; close: () => Promise<void> } {
  const port = Number(new URL(origin.url).port)
  const agent = new Agent({
    keepAliveTimeout: 500,
    connect: (_opts, callback) => {
      const socket = connect({ host: '127.0.0.1', port })
      socket.once('connect', () => callback(null, socket))
      socket.once('error', (error) => callback(error, null))
    },
  })
  return { dispatcher: agent.compose(cache(options)), close: () => agent.close() }
}

export async function send(dispatcher: Dispatcher, url: string, init: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const res = await request(url, { dispatcher, method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.body !== undefined ? { body: init.body } : {}) })
  const body = Buffer.from(await res.body.arrayBuffer())
  const cacheStatus = res.headers['cache-status']
  const age = res.headers['age']
  return {
    status: res.statusCode,
    headers: res.headers,
    body,
    text: body.toString('utf8'),
    cacheStatus: Array.isArray(cacheStatus) ? cacheStatus.join(', ') : cacheStatus,
    age: typeof age === 'string' ? Number(age) : undefined,
  }
}

/**
 * `withCache(options, run)` for one store kind: each call runs `run` against a cached Agent over a fresh
 * store (made with `storeOptions`), and closes the Agent afterwards even when `run` throws.
 */
export function cacheRunner(
  kind: Pick<StoreKind, 'make'>,
  storeOptions?: Parameters<StoreKind['make']>[0],
): (options: CacheOptions, run: (dispatcher: Dispatcher, store: CacheStore) => Promise<void>) => Promise<void> {
  return async (options, run) => {
    const store = await kind.make(storeOptions)
    const { dispatcher, close } = cachedAgent({ store, ...options })
    try {
      await run(dispatcher, store)
    } finally {
      await close()
    }
  }
}

/** Waits until `check` holds, polling; throws after `timeoutMs` (bounded, for background work). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
