/**
 * A composed Agent and a request helper that returns status, headers, body and Cache-Status, so
 * interceptor tests read as requests and assertions.
 */
import { Agent, request, type Dispatcher } from 'undici'
import { cache, type CacheOptions } from '../../lib/index.js'

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

/** Waits until `check` holds, polling; throws after `timeoutMs` (bounded, for background work). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
