/**
 * The request and response as the cache's rules read them: plain records with no undici type in
 * sight, so that key.ts and policy/ depend on nothing but this file (message.ts builds them from
 * undici's dispatch arguments).
 */
import type { HeaderRecord } from './headers.js'

/** A request as the cache sees it: uppercased method, absolute URL, lowercased header names. */
export interface CacheRequest {
  readonly method: string
  readonly url: URL
  readonly headers: HeaderRecord
}

/** A response as the cache sees it: status and lowercased header names. */
export interface CacheResponse {
  readonly status: number
  readonly statusText: string
  readonly headers: HeaderRecord
}
