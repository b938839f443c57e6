/**
 * The request body's part of the cache key (key.ts): bodies of cached unsafe methods (a POST search
 * API) key on a normalized form, hashed, so equal requests written differently share an entry.
 *
 * Part of the key's format: a change to this file's output re-keys every shared store, which
 * test/key.test.ts's pinned hashes catch.
 */
import { createHash } from 'node:crypto'
import { compareCodeUnits, normalizeQuery } from './url-normalize.js'

export type BodyKind = 'json' | 'form' | 'raw'

/**
 * JSON re-serialized with sorted object keys and ignored top-level keys dropped (as requests-cache
 * does), form bodies normalized like a query, anything else (or JSON that does not parse, or that
 * normalization could change in meaning) as raw bytes; then SHA-256 as hex. The kind is keyed too, so
 * equal text under different types differs.
 */
export function bodyDigest(body: Uint8Array, contentType: string | undefined, ignoredParams: ReadonlySet<string>): [BodyKind, string] {
  const [kind, canonical] = canonicalBody(body, contentType, ignoredParams)
  // A string is hashed as its UTF-8 bytes.
  return [kind, createHash('sha256').update(canonical).digest('hex')]
}

function canonicalBody(body: Uint8Array, contentType: string | undefined, ignoredParams: ReadonlySet<string>): [BodyKind, string | Uint8Array] {
  const mediaType = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase()
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    const json = canonicalJson(body, ignoredParams)
    if (json !== undefined) return ['json', json]
  } else if (mediaType === 'application/x-www-form-urlencoded') {
    return ['form', normalizeQuery(body, ignoredParams)]
  }
  return ['raw', body]
}

function canonicalJson(body: Uint8Array, ignoredParams: ReadonlySet<string>): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(body)
    if (!numbersSurviveParsing(text)) return undefined
    const value: unknown = JSON.parse(text)
    if (isPlainObject(value)) for (const name of ignoredParams) delete value[name]
    return sortedJson(value)
  } catch {
    // Invalid UTF-8, invalid JSON, or nesting too deep to re-serialize: key on the raw bytes.
    return undefined
  }
}

/**
 * JSON.parse reads numbers as doubles, so `12345678901234567890` and `12345678901234567891` (or `1e400`
 * and `2e400`) would parse to the same value and share a key. Reject any literal a double cannot tell
 * apart from its neighbours: more than 15 significant digits, outside the normal range, or not finite.
 */
function numbersSurviveParsing(text: string): boolean {
  const tokens = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g
  for (const [token] of text.matchAll(tokens)) {
    if (token.startsWith('"')) continue
    const value = Number(token)
    const mantissa = token.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '')
    if (mantissa === '') continue
    if (mantissa.length > 15 || !Number.isFinite(value) || Math.abs(value) < 2.2250738585072014e-308) return false
  }
  return true
}

function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`
  if (isPlainObject(value)) {
    const members = Object.keys(value)
      .sort(compareCodeUnits)
      .map((name) => `${JSON.stringify(name)}:${sortedJson(value[name])}`)
    return `{${members.join(',')}}`
  }
  return JSON.stringify(value)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
