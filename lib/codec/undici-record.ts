/**
 * The record toUndiciCacheStore (undici-store.ts) keeps under one store id: every response stored for
 * one undici cache key (origin and path), one variant per method and Vary selection, newest first, each
 * with undici's own CacheValue fields, so they come back exactly as undici wrote them.
 *
 * Layout of format 1:
 *
 *   byte 0       MAGIC ('U'): never our entry frame's version byte, so each format refuses the other
 *   byte 1       UNDICI_FORMAT_VERSION
 *   bytes 2-3    variant count, uint16 big-endian
 *   per variant  metadata length (uint32 BE), body length (uint32 BE), the metadata (a plain-cbor.ts map
 *                of the fields of UndiciVariant but `body`), then the raw body bytes
 *
 * Decoding never throws and rebuilds every field from checked values: the bytes may come from a shared
 * Redis that anyone with access can write, so anything unexpected is a reason (a miss), never an error.
 */
import { decodePlainCbor, encodePlainCbor, readUint32 } from './plain-cbor.js'
import { fail, type Result } from './entry-schema.js'

export const MAGIC = 0x55
export const UNDICI_FORMAT_VERSION = 1
/** Variants kept per record; a write past it drops the oldest (a Vary on a high-cardinality header). */
export const MAX_VARIANTS = 32

type HeaderValue = string | string[]
type VaryValue = string | string[] | null
type Directive = number | true | string[]

/** One stored response: undici's CacheValue plus the request method it answers and its body. */
export interface UndiciVariant {
  readonly method: string
  readonly statusCode: number
  readonly statusMessage: string
  readonly headers: Record<string, HeaderValue>
  readonly vary?: Record<string, VaryValue>
  readonly etag?: string
  readonly cacheControlDirectives?: Record<string, Directive>
  readonly cachedAt: number
  readonly staleAt: number
  readonly deleteAt: number
  readonly body: Uint8Array
}

const PREFIX_BYTES = 4
const VARIANT_HEADER_BYTES = 8

export function encodeUndiciRecord(variants: readonly UndiciVariant[]): Uint8Array {
  const parts: Uint8Array[] = []
  let size = PREFIX_BYTES
  for (const { body, ...fields } of variants) {
    // Copied at once: encodePlainCbor returns a view of its reusable buffer.
    const meta = encodePlainCbor(withoutUndefined(fields)).slice()
    const head = new Uint8Array(VARIANT_HEADER_BYTES)
    const view = new DataView(head.buffer)
    view.setUint32(0, meta.length)
    view.setUint32(4, body.length)
    parts.push(head, meta, body)
    size += VARIANT_HEADER_BYTES + meta.length + body.length
  }
  const out = new Uint8Array(size)
  out[0] = MAGIC
  out[1] = UNDICI_FORMAT_VERSION
  new DataView(out.buffer).setUint16(2, variants.length)
  let offset = PREFIX_BYTES
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** The variants, with each body a view into `bytes`, or why the bytes were refused. Never throws. */
export function decodeUndiciRecord(bytes: Uint8Array): Result<UndiciVariant[]> {
  try {
    return decodeUnsafe(bytes)
  } catch (error) {
    return fail(`decoder threw: ${error instanceof Error ? error.message : String(error)}`)
  }
}

function decodeUnsafe(bytes: Uint8Array): Result<UndiciVariant[]> {
  if (!(bytes instanceof Uint8Array) || bytes.length < PREFIX_BYTES) return fail('shorter than the header')
  if (bytes[0] !== MAGIC) return fail('not an undici store record')
  if (bytes[1] !== UNDICI_FORMAT_VERSION) return fail(`unknown undici record version ${bytes[1]}`)
  const count = (bytes[2]! << 8) | bytes[3]!
  const variants: UndiciVariant[] = []
  let offset = PREFIX_BYTES
  for (let index = 0; index < count; index++) {
    if (offset + VARIANT_HEADER_BYTES > bytes.length) return fail(`variant ${index} truncated`)
    const metaEnd = offset + VARIANT_HEADER_BYTES + readUint32(bytes, offset)
    const bodyEnd = metaEnd + readUint32(bytes, offset + 4)
    if (bodyEnd > bytes.length) return fail(`variant ${index} runs past the ${bytes.length} bytes given`)
    const raw = decodePlainCbor(bytes, offset + VARIANT_HEADER_BYTES, metaEnd)
    if (!raw.ok) return raw
    const variant = variantOf(raw.value, bytes.subarray(metaEnd, bodyEnd))
    if (variant === undefined) return fail(`variant ${index} has malformed fields`)
    variants.push(variant)
    offset = bodyEnd
  }
  if (offset !== bytes.length) return fail('bytes after the last variant')
  return { ok: true, value: variants }
}

/** The fields rebuilt from checked values (plain objects built by Object.fromEntries, so `__proto__` stays data). */
function variantOf(raw: unknown, body: Uint8Array): UndiciVariant | undefined {
  if (!isRecord(raw)) return undefined
  const { method, statusCode, statusMessage, etag, cachedAt, staleAt, deleteAt } = raw
  if (typeof method !== 'string' || !Number.isInteger(statusCode) || typeof statusMessage !== 'string') return undefined
  if (!isTime(cachedAt) || !isTime(staleAt) || !isTime(deleteAt) || (etag !== undefined && typeof etag !== 'string')) return undefined
  const headers = mapOf(raw['headers'], isHeaderValue)
  const vary = raw['vary'] === undefined ? undefined : mapOf(raw['vary'], (v): v is VaryValue => v === null || isHeaderValue(v))
  const directives = raw['cacheControlDirectives'] === undefined ? undefined : mapOf(raw['cacheControlDirectives'], isDirective)
  if (headers === undefined || (raw['vary'] !== undefined && vary === undefined)) return undefined
  if (raw['cacheControlDirectives'] !== undefined && directives === undefined) return undefined
  return withoutUndefined({
    method,
    statusCode: statusCode as number,
    statusMessage,
    headers,
    vary,
    etag,
    cacheControlDirectives: directives,
    cachedAt,
    staleAt,
    deleteAt,
    body,
  }) as UndiciVariant
}

function mapOf<T>(value: unknown, check: (item: unknown) => item is T): Record<string, T> | undefined {
  if (!isRecord(value)) return undefined
  const entries = Object.entries(value)
  if (!entries.every(([, item]) => check(item))) return undefined
  return Object.fromEntries(entries.map(([name, item]) => [name, Array.isArray(item) ? [...item] : item])) as Record<string, T>
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && !Number.isNaN(value)
}

function isHeaderValue(value: unknown): value is HeaderValue {
  return typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'))
}

function isDirective(value: unknown): value is Directive {
  return value === true || (typeof value === 'number' && Number.isFinite(value)) || (Array.isArray(value) && value.every((item) => typeof item === 'string'))
}

/** CBOR has no `undefined` our gate admits: absent optional fields are left out rather than written. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T
}
