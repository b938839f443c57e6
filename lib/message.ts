/**
 * The only policy-facing adapter of undici: turns DispatchOptions and response headers into the plain
 * CacheRequest / CacheResponse records (http.ts) that key.ts and policy/ read.
 */
import type { Dispatcher } from 'undici'
import { headerRecord, normalizeHeaders, type HeaderRecord } from './headers.js'
import type { CacheRequest, CacheResponse } from './http.js'

/**
 * Reads undici's request headers, which may be a record, a flat [name, value, ...] array or an
 * iterable of pairs (Dispatcher.DispatchOptions['headers']). Every record here has no prototype, so
 * a field named `__proto__` or `constructor` is just a field.
 */
export function requestHeaders(headers: Dispatcher.DispatchOptions['headers']): HeaderRecord {
  if (headers == null) return headerRecord()
  if (Array.isArray(headers)) {
    const record = headerRecord<string[]>()
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = String(headers[i]).toLowerCase()
      ;(record[name] ??= []).push(String(headers[i + 1]))
    }
    return normalizeHeaders(record)
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    const record = headerRecord<string[]>()
    for (const pair of headers as Iterable<[string, string | string[] | undefined]>) {
      const [name, value] = pair
      if (value === undefined) continue
      ;(record[name.toLowerCase()] ??= []).push(...(Array.isArray(value) ? value : [value]))
    }
    return normalizeHeaders(record)
  }
  return normalizeHeaders(headers as Record<string, unknown>)
}

/**
 * A CacheRequest from undici's dispatch options (origin + path, as undici joins them). `origin` stands
 * in when the options carry none: a Client or Pool knows its own origin and undici 8 hands it to the
 * interceptor instead.
 */
export function toCacheRequest(opts: Dispatcher.DispatchOptions, fallbackOrigin?: string): CacheRequest {
  const origin = typeof opts.origin === 'string' ? opts.origin : String(opts.origin ?? fallbackOrigin ?? '')
  return {
    method: (opts.method ?? 'GET').toUpperCase(),
    url: new URL(opts.path, origin),
    headers: requestHeaders(opts.headers),
  }
}

/** A CacheResponse from undici's onResponseStart arguments. */
export function toCacheResponse(status: number, headers: Readonly<Record<string, unknown>>, statusText: string | undefined): CacheResponse {
  return { status, statusText: statusText ?? '', headers: normalizeHeaders(headers) }
}
