/**
 * Resolvers of the cache options that name HTTP fields or tokens: `matchHeaders` (request fields in
 * the key), `cacheStatus` (the RFC 9211 cache name) and `tagsHeader` (the response field tags are
 * read from). Each returns the value in the shape the code uses or throws InvalidOptionError.
 */
import { InvalidOptionError } from './errors.js'
import { isNonEmptyString, list } from './option-checks.js'

export const DEFAULT_CACHE_NAME = 'undici-redis-cache'
/** RFC 9110 §5.1: a field name is a token. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export function resolveMatchHeaders(value: unknown): boolean | ReadonlySet<string> {
  if (value === undefined || value === false) return false
  if (value === true) return true
  return new Set(list(value, 'matchHeaders', isNonEmptyString, 'true, false or header names').map((name) => name.toLowerCase()))
}

export function resolveCacheStatus(value: unknown): { cacheStatusName: string | undefined; cacheStatusKey: boolean } {
  const expected = 'a boolean, a cache name that is an HTTP token, or { name?, key?: boolean }'
  if (value === undefined || value === true) return { cacheStatusName: DEFAULT_CACHE_NAME, cacheStatusKey: false }
  if (value === false) return { cacheStatusName: undefined, cacheStatusKey: false }
  if (typeof value === 'string') return { cacheStatusName: cacheName(value, expected), cacheStatusKey: false }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { name, key, ...rest } = value as { name?: unknown; key?: unknown }
    if (Object.keys(rest).length > 0 || (key !== undefined && typeof key !== 'boolean')) throw new InvalidOptionError('cacheStatus', expected, value)
    return { cacheStatusName: name === undefined ? DEFAULT_CACHE_NAME : cacheName(name, expected), cacheStatusKey: key === true }
  }
  throw new InvalidOptionError('cacheStatus', expected, value)
}

/** RFC 9211 §2: the member is an sf-token or sf-string; a token keeps it unquoted. */
function cacheName(value: unknown, expected: string): string {
  if (typeof value === 'string' && /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*$/.test(value)) return value
  throw new InvalidOptionError('cacheStatus', expected, value)
}

/** The `tagsHeader` field name, lowercased as stored headers are; undefined when unset. */
export function resolveTagsHeader(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string' && FIELD_NAME.test(value)) return value.toLowerCase()
  throw new InvalidOptionError('tagsHeader', 'a header field name (an HTTP token)', value)
}
