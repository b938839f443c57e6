/**
 * Tools for the fault-injection tests of issue 5: watch the process for errors nobody handled, time a
 * request, describe what a caller saw (status, body, or the error class) so a cached and a plain Agent
 * can be compared, and list what a store holds.
 */
import { randomBytes } from 'node:crypto'
import { request, type Dispatcher } from './undici.js'
import type { CacheError, CacheStore } from '../../lib/index.js'

export interface ProcessWatch {
  /** One line per event seen since the watch began. */
  readonly events: string[]
  stop(): void
}

/**
 * Records uncaughtException and unhandledRejection while installed. The monitor variant observes an
 * exception without changing what mocha does with it.
 */
export function watchProcess(): ProcessWatch {
  const events: string[] = []
  const onException = (error: Error): void => void events.push(`uncaughtException: ${error?.stack ?? String(error)}`)
  const onRejection = (reason: unknown): void => void events.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`)
  process.on('uncaughtExceptionMonitor', onException)
  process.on('unhandledRejection', onRejection)
  return {
    events,
    stop: () => {
      process.off('uncaughtExceptionMonitor', onException)
      process.off('unhandledRejection', onRejection)
    },
  }
}

/** What a caller saw: a whole response, or an error (at the headers or while reading the body). */
export type Seen =
  | { readonly kind: 'response'; readonly status: number; readonly body: Buffer; readonly cacheStatus: string | undefined }
  | {
      readonly kind: 'error'
      readonly stage: 'headers' | 'body'
      readonly status: number | undefined
      readonly name: string
      readonly code: string | undefined
      /** Body bytes the caller got before the error. */
      readonly received: number
    }

export interface SeeOptions {
  readonly headers?: Record<string, string>
  /** Aborts the request once this many body bytes arrived (through an AbortController). */
  readonly abortAfterBytes?: number
  /** Destroys the body stream once this many body bytes arrived. */
  readonly destroyAfterBytes?: number
}

/** Sends a GET and reports what the caller saw, never throwing. */
export async function see(dispatcher: Dispatcher, url: string, options: SeeOptions = {}): Promise<Seen> {
  const controller = new AbortController()
  let status: number | undefined
  let size = 0
  try {
    const res = await request(url, { dispatcher, headers: options.headers ?? {}, signal: controller.signal })
    status = res.statusCode
    const chunks: Buffer[] = []
    try {
      for await (const chunk of res.body) {
        chunks.push(chunk as Buffer)
        size += (chunk as Buffer).byteLength
        if (options.abortAfterBytes !== undefined && size >= options.abortAfterBytes) controller.abort()
        if (options.destroyAfterBytes !== undefined && size >= options.destroyAfterBytes) res.body.destroy(new Error('caller gave up'))
      }
    } catch (error) {
      return errorSeen('body', status, size, error)
    }
    const cacheStatus = res.headers['cache-status']
    return { kind: 'response', status, body: Buffer.concat(chunks, size), cacheStatus: Array.isArray(cacheStatus) ? cacheStatus.join(', ') : cacheStatus }
  } catch (error) {
    return errorSeen('headers', status, size, error)
  }
}

function errorSeen(stage: 'headers' | 'body', status: number | undefined, received: number, error: unknown): Seen {
  const e = error as { name?: unknown; code?: unknown } | null
  return {
    kind: 'error',
    stage,
    status,
    name: typeof e?.name === 'string' ? e.name : typeof error,
    code: typeof e?.code === 'string' ? e.code : undefined,
    received,
  }
}

/**
 * The part of a Seen that must not depend on whether the cache is there. How many bytes arrived before
 * an error counts only when the origin fixes it (`exactBytes`); a caller's abort lands wherever it lands.
 */
export function comparable(seen: Seen, exactBytes = true): unknown {
  if (seen.kind === 'response') return { kind: 'response', status: seen.status, body: seen.body.toString('base64') }
  return { kind: 'error', stage: seen.stage, status: seen.status, name: seen.name, code: seen.code, ...(exactBytes ? { received: seen.received } : {}) }
}

/** Runs `fn` and measures it in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ readonly value: T; readonly ms: number }> {
  const start = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - start }
}

/** Every id the store holds. */
export async function storedIds(store: CacheStore): Promise<string[]> {
  const ids: string[] = []
  for await (const id of store.ids()) ids.push(id)
  return ids
}

/** A namespace no other test uses. */
export function freshNamespace(prefix = 'rel'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

/** Collects what onError receives. */
export function errorLog(): { readonly errors: CacheError[]; readonly onError: (error: CacheError) => void } {
  const errors: CacheError[] = []
  return { errors, onError: (error) => void errors.push(error) }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Waits until the store answers a read (a RedisStore connects in the background). */
export async function untilReady(store: CacheStore, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await store.get(['0'])
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(20)
    }
  }
}
