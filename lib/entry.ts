/**
 * What the cache keeps per stored response, and the check every decoded value passes before use.
 * Times are epoch milliseconds; ages and lifetimes are seconds, as RFC 9111 counts them.
 */
import type { HeaderRecord } from './headers.js'

/** Request header values a response's `Vary` selected (RFC 9111 §4.1); `null` where the request lacked the field. */
export type VaryValues = Readonly<Record<string, string | null>>

/**
 * A body kept under its own store id instead of inside the entry: bodies larger than
 * INLINE_BODY_LIMIT, so that a hit streams them in chunks (memory bounded by the chunk size) while a
 * small hit stays one read of one value.
 */
export interface ExternalBody {
  /** Store id of the raw body bytes: the entry's id, `~`, and a generation unique to this write. */
  readonly id: string
  readonly size: number
  /** Bytes per chunk; the last chunk may be shorter. */
  readonly chunkSize: number
  /** CRC-32 of each chunk, so every chunk is checked before it reaches the caller. */
  readonly crcs: readonly number[]
}

/**
 * Bodies up to this size are stored inside the entry's value: a hit is one read of one value, and an
 * in-process tier hands the body out as views, as MemoryStore does. Was 256 KiB: a 1 MiB hit then
 * took five round trips (the entry, four ranges), 588 hits/s at concurrency 1 on the bench's VM
 * against 863 for one read (issue 16). What inline costs: a hit holds the whole body (above the
 * limit, two chunks), a 304 refresh writes the body again (an external one keeps its key), and a
 * read that times out is a miss (external chunks are retried and resumed from the origin).
 */
export const INLINE_BODY_LIMIT = 1024 * 1024
/** Chunk size of external bodies: the unit of each read, and what one streaming hit holds in memory. */
export const BODY_CHUNK_SIZE = 256 * 1024

/** One stored response. */
export interface StoredEntry {
  readonly kind: 'entry'
  /** Canonical request key (key.ts); compared on read, so a hash collision is a miss, never a wrong body. */
  readonly key: string
  /** Request URL with ignored parameters redacted; what the admin API lists. */
  readonly url: string
  /** Method the key was made for (`HEAD` requests share the `GET` entry). */
  readonly method: string
  readonly status: number
  readonly statusText: string
  /** Stored response header fields, lowercased names, hop-by-hop and redacted fields removed. */
  readonly headers: HeaderRecord
  /** Values of the varying request headers, or undefined when the response has no `Vary`. */
  readonly vary: VaryValues | undefined
  /** When the request that produced this response was sent (`request_time`, RFC 9111 §4.2.3). */
  readonly requestTime: number
  /** When the response was received (`response_time`, RFC 9111 §4.2.3); the "stored at" time. */
  readonly responseTime: number
  /** `corrected_initial_age` in seconds (RFC 9111 §4.2.3). */
  readonly initialAge: number
  /** Freshness lifetime in seconds decided when stored (RFC 9111 §4.2.1, or the user's expiration settings); may be Infinity. */
  readonly lifetime: number
  /** The body itself (inline), or where to read it (external). */
  readonly body: Uint8Array | ExternalBody
}

/**
 * Stored at the primary id when responses for a URL carry `Vary`: names the varying fields and the
 * generation, so a reader can compute the variant id, and lists the variants so invalidation can
 * delete them (storage/vary-records.ts).
 */
export interface VaryPointer {
  readonly kind: 'vary'
  readonly key: string
  /** Lowercased, sorted, de-duplicated field names from `Vary`. */
  readonly names: readonly string[]
  /**
   * 16 lowercase hex digits, random per pointer and part of every variant id under it, so variants
   * written before an invalidation are never found again. Absent on pointers written before
   * generations existed (the legacy generation: variant ids without one).
   */
  readonly generation?: string
  /** Ids of the variants written so far (bounded; oldest dropped). */
  readonly variants: readonly string[]
  /** When the last variant may be dropped (epoch ms), or null when kept until evicted. */
  readonly deleteAt: number | null
}

export type StoredRecord = StoredEntry | VaryPointer

/**
 * Upper bound on the variants a pointer lists; older ones are dropped from the list, so invalidation
 * does not delete them, but they go unreachable with the pointer's generation all the same.
 */
export const MAX_VARIANTS = 32

export function isInline(body: Uint8Array | ExternalBody): body is Uint8Array {
  return body instanceof Uint8Array
}

export function bodySize(entry: Pick<StoredEntry, 'body'>): number {
  return isInline(entry.body) ? entry.body.byteLength : entry.body.size
}

/** Seconds since the response was received until `now`, plus the age it arrived with (RFC 9111 §4.2.3 current_age). */
export function currentAge(entry: Pick<StoredEntry, 'initialAge' | 'responseTime'>, now: number): number {
  const resident = Math.max(0, now - entry.responseTime) / 1000
  return entry.initialAge + resident
}

/** Epoch ms at which the entry stops being fresh. */
export function staleAt(entry: Pick<StoredEntry, 'initialAge' | 'responseTime' | 'lifetime'>): number {
  return entry.responseTime + (entry.lifetime - entry.initialAge) * 1000
}
